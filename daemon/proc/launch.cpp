#include "daemon/proc/launch.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "daemon/proc/spawner.hpp"
#include "daemon/uv/handle.hpp"

extern char** environ;

namespace kvd::proc {

std::string describe_spawn_error(int uv_error) {
    std::string text = uv_strerror(uv_error);
    rlimit rl{};
    switch (uv_error) {
        case UV_EAGAIN:
            if (getrlimit(RLIMIT_NPROC, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
                return fmt::format(
                    "{} (the process limit was reached: RLIMIT_NPROC is {}, or "
                    "the pids cgroup is full)",
                    text, rl.rlim_cur);
            return text + " (the process limit was reached: the pids cgroup or the system's)";
        case UV_EMFILE:
            if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
                return fmt::format("{} (kvd's open file limit, RLIMIT_NOFILE, is {})", text,
                                   rl.rlim_cur);
            return text;
        case UV_ENFILE:
            return text + " (the system-wide open file limit was reached)";
        default:
            return text;
    }
}

std::vector<std::string> child_environment(char** base,
                                           const std::map<std::string, std::string>& add) {
    std::vector<std::string> env;
    for (char** e = base; *e; ++e) {
        std::string_view kv(*e);
        auto eq = kv.find('=');
        if (eq != std::string_view::npos && add.count(std::string(kv.substr(0, eq)))) continue;
        env.emplace_back(kv);
    }
    for (const auto& [k, v] : add) env.push_back(k + "=" + v);
    return env;
}

int launch(uv_loop_t* loop, Spawner* spawner, const Command& command, Launched& out) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return uv_translate_sys_error(errno);
    int child_stderr = command.stderr_fd;
    int err_pipe[2] = {-1, -1};
    if (command.capture_stderr) {
        if (pipe2(err_pipe, O_CLOEXEC) != 0) {
            int rc = uv_translate_sys_error(errno);
            ::close(sv[0]);
            ::close(sv[1]);
            return rc;
        }
        child_stderr = err_pipe[1];
    }
    // The child's ends are the child's: kvd closes its copies whatever happened.
    auto finish = [&](int rc, pid_t pid) {
        ::close(sv[1]);
        if (err_pipe[1] >= 0) ::close(err_pipe[1]);
        if (rc != 0) {
            ::close(sv[0]);
            if (err_pipe[0] >= 0) ::close(err_pipe[0]);
            return rc;
        }
        out.pid = pid;
        out.stdio_fd = sv[0];
        out.stderr_fd = err_pipe[0];
        return 0;
    };

    if (spawner) {
        Spawner::Result r = spawner->spawn(command.argv, command.env_add, sv[1], child_stderr);
        if (!r.transport_failed) return finish(r.error, r.pid);
        // No spawner could be started: kvd starts this child itself.
    }

    std::vector<char*> argv;
    for (const auto& a : command.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);

    std::vector<std::string> env_strings = child_environment(environ, command.env_add);
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);

    uv_stdio_container_t stdio[3];
    stdio[0].flags = UV_INHERIT_FD;
    stdio[0].data.fd = sv[1];
    stdio[1].flags = UV_INHERIT_FD;
    stdio[1].data.fd = sv[1];
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = child_stderr;

    uv_process_options_t options{};
    options.file = argv[0];
    options.args = argv.data();
    options.env = envp.data();
    options.stdio = stdio;
    options.stdio_count = 3;
    options.exit_cb = nullptr;  // the process table, not libuv, learns of the exit
    // A session of its own: a terminal's Ctrl-C or a signal to kvd's process group must not
    // reach the children behind kvd's back; kvd stops them itself, in order.
    options.flags = UV_PROCESS_DETACHED;

    // The handle only serves uv_spawn: closing it at once takes the child off libuv's
    // per-SIGCHLD waitpid list (see process_table.hpp). A failed spawn must be closed too.
    uv::Handle<uv_process_t> process;
    int rc = uv_spawn(loop, process.get(), &options);
    process.mark_initialized();
    pid_t pid = rc == 0 ? process.get()->pid : 0;
    process.close();
    return finish(rc, pid);
}

}  // namespace kvd::proc
