#include "daemon/child_reaper.hpp"

#include <sys/wait.h>

#include <cerrno>

namespace kvd {

ChildReaper::ChildReaper(uv_loop_t* loop) {
    uv_signal_init(loop, sigchld_.get());
    sigchld_.mark_initialized();
    sigchld_.get()->data = this;
    uv_signal_start(
        sigchld_.get(),
        [](uv_signal_t* s, int) {
            if (auto* self = static_cast<ChildReaper*>(s->data)) self->reap();
        },
        SIGCHLD);
    // Waiting for children is not a reason to keep the loop running by itself.
    uv_unref(sigchld_.raw());
}

void ChildReaper::watch(pid_t pid, ExitFn on_exit) { watchers_[pid] = std::move(on_exit); }

void ChildReaper::reap() {
    for (;;) {
        int status = 0;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid == 0) return;
        if (pid < 0) {
            if (errno == EINTR) continue;
            return;  // ECHILD: no children left
        }
        auto it = watchers_.find(pid);
        if (it == watchers_.end()) continue;
        ExitFn fn = std::move(it->second);
        watchers_.erase(it);
        ChildExit e;
        e.pid = pid;
        if (WIFSIGNALED(status)) {
            e.signaled = true;
            e.signal = WTERMSIG(status);
        } else {
            e.code = WEXITSTATUS(status);
        }
        fn(e);
    }
}

void ChildReaper::close() { sigchld_.close(); }

}  // namespace kvd
