#include "bench/floor_common.hpp"

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "bench/clock.hpp"

extern char** environ;

namespace kvd::bench::floor {

namespace {
// Reaping::pidfd: descriptors kept for the floor's own (stdio, loop, a victim's socket and
// pidfd, a spawn's socket pair and pipe, the receiver's socket and pidfd).
constexpr long kFdsForTheFloor = 64;
}  // namespace

Floor::Floor(std::string program, Reaping reaping)
    : reaping_(reaping), program_(std::move(program)) {
    uv_disable_stdio_inheritance();  // as kvd does
    uv_loop_init(&loop_);
    // kv-bucket checks that its parent is the kvd named in KVD_PID.
    for (char** e = environ; *e; ++e)
        if (std::strncmp(*e, "KVD_PID=", 8) != 0 && std::strncmp(*e, "KVD_BUCKET=", 11) != 0)
            env_.emplace_back(*e);
    env_.push_back("KVD_PID=" + std::to_string(getpid()));
    env_.push_back("KVD_BUCKET=floor");
    for (auto& s : env_) envp_.push_back(s.data());
    envp_.push_back(nullptr);
}

Floor::~Floor() {
    end_all(background_, SIGKILL);
    uv_run(&loop_, UV_RUN_NOWAIT);
    uv_loop_close(&loop_);
}

void Floor::close_handle(uv_handle_t* handle) {
    uv_close(handle, [](uv_handle_t* h) {
        auto* c = static_cast<Child*>(h->data);
        if (--c->open_handles == 0) c->closed = true;
    });
}

void Floor::exited(Child& child) {
    child.exited_ns = mono_ns();
    child.exited = true;
    if (exit_hook_) exit_hook_(child);
}

void Floor::on_process_exit(uv_process_t* p, int64_t, int) {
    auto* c = static_cast<Child*>(p->data);
    c->floor->exited(*c);
    close_handle(reinterpret_cast<uv_handle_t*>(p));
}

void Floor::on_pidfd(uv_poll_t* p, int, int) {
    auto* c = static_cast<Child*>(p->data);
    int status = 0;
    pid_t r;
    do r = waitpid(c->pid, &status, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == 0) return;  // not yet: a pidfd is readable only once the child is gone
    c->floor->exited(*c);
    // The pidfd leaves the loop before it is closed.
    uv_close(reinterpret_cast<uv_handle_t*>(p), [](uv_handle_t* h) {
        auto* c = static_cast<Child*>(h->data);
        ::close(c->pidfd);
        c->pidfd = -1;
        if (--c->open_handles == 0) c->closed = true;
    });
}

int Floor::watch_pidfd(Child& child) {
    int fd = -1;
#ifdef SYS_pidfd_open
    fd = static_cast<int>(syscall(SYS_pidfd_open, child.pid, 0));
#else
    errno = ENOSYS;
#endif
    if (fd < 0) return uv_translate_sys_error(errno);
    if (int rc = uv_poll_init(&loop_, &child.pidfd_poll, fd); rc != 0) {
        ::close(fd);
        return rc;
    }
    child.pidfd = fd;
    child.watched = true;
    child.pidfd_poll.data = &child;
    ++child.open_handles;
    uv_poll_start(&child.pidfd_poll, UV_READABLE, on_pidfd);
    return 0;
}

int Floor::spawn(Child& child) {
    return spawn(child, program_, "floor");
}

int Floor::spawn(Child& child, const std::string& program, const char* arg, bool watch) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return uv_translate_sys_error(errno);
    std::string file = program;
    char* argv[] = {file.data(), const_cast<char*>(arg), nullptr};
    uv_stdio_container_t stdio[3];
    stdio[0].flags = UV_INHERIT_FD;
    stdio[0].data.fd = sv[1];
    stdio[1].flags = UV_INHERIT_FD;
    stdio[1].data.fd = sv[1];
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = 2;
    uv_process_options_t options{};
    options.file = argv[0];
    options.args = argv;
    options.env = envp_.data();
    options.stdio = stdio;
    options.stdio_count = 3;
    options.exit_cb = reaping_ == Reaping::exit_cb ? on_process_exit : nullptr;
    child.floor = this;
    child.process.data = &child;
    int rc = uv_spawn(&loop_, &child.process, &options);
    ::close(sv[1]);
    child.open_handles = 1;
    if (rc != 0) {
        ::close(sv[0]);
        child.exited = true;
        close_handle(reinterpret_cast<uv_handle_t*>(&child.process));
        run_until([&] { return child.closed; });
        return rc;
    }
    child.pid = child.process.pid;
    child.socket_fd = sv[0];
    if (reaping_ == Reaping::pidfd) {
        // Off libuv's per-SIGCHLD waitpid list at once, as in kvd's launch.cpp.
        close_handle(reinterpret_cast<uv_handle_t*>(&child.process));
        if (!watch) return 0;
        if (rc = watch_pidfd(child); rc != 0) {
            ::kill(child.pid, SIGKILL);
            while (waitpid(child.pid, nullptr, 0) < 0 && errno == EINTR) {
            }
            ::close(sv[0]);
            child.socket_fd = -1;
            child.exited = true;
            run_until([&] { return child.closed; });
            return rc;
        }
    }
    return 0;
}

void Floor::run_until(const std::function<bool()>& done) {
    while (!done()) uv_run(&loop_, UV_RUN_ONCE);
}

void Floor::end_all(std::vector<std::unique_ptr<Child>>& children, int signo) {
    for (auto& c : children) {
        if (c->exited) continue;
        // Under Reaping::pidfd the process handle is already closed; the pid stays the
        // child's until it is reaped.
        if (reaping_ == Reaping::exit_cb)
            uv_process_kill(&c->process, signo);
        else
            ::kill(c->pid, signo);
    }
    run_until([&] {
        for (auto& c : children)
            if (!c->closed) return false;
        return true;
    });
    for (auto& c : children) {
        // Reaping::pidfd without a pidfd: nothing else reaps it.
        if (reaping_ == Reaping::pidfd && !c->exited && !c->watched && c->pid > 0) {
            while (waitpid(c->pid, nullptr, 0) < 0 && errno == EINTR) {
            }
            c->exited = true;
        }
        if (c->socket_fd >= 0) ::close(c->socket_fd);
    }
    children.clear();
}

int Floor::grow(std::size_t alive) {
    // Reaping::pidfd: pidfds for the background children that fit once every child's socket
    // and some descriptors for the floor itself, its victim and its receiver are counted.
    long room = 0;
    if (reaping_ == Reaping::pidfd) {
        rlimit rl{};
        long limit = getrlimit(RLIMIT_NOFILE, &rl) != 0 ? 1024
                     : rl.rlim_cur == RLIM_INFINITY     ? 1L << 20
                                                        : static_cast<long>(rl.rlim_cur);
        room = limit - kFdsForTheFloor - static_cast<long>(alive);
        for (auto& c : background_)
            if (c->watched) --room;
        if (room < static_cast<long>(alive - std::min(alive, background_.size())) &&
            !told_budget_) {
            told_budget_ = true;
            std::fprintf(stderr,
                         "floor: an open file limit of %ld leaves no pidfd for some of %zu "
                         "background children; their exits are not watched (a victim's is)\n",
                         limit, alive);
        }
    }
    while (background_.size() < alive) {
        auto c = std::make_unique<Child>();
        bool watch = room > 0;
        if (watch) --room;
        if (int rc = spawn(*c, program_, "floor", watch); rc != 0) {
            std::fprintf(stderr, "floor: spawning child %zu of %s: %s\n", background_.size() + 1,
                         program_.c_str(), uv_strerror(rc));
            return rc;
        }
        background_.push_back(std::move(c));
    }
    if (background_.size() > alive) {
        std::vector<std::unique_ptr<Child>> extra;
        while (background_.size() > alive) {
            extra.push_back(std::move(background_.back()));
            background_.pop_back();
        }
        end_all(extra, SIGKILL);
    }
    return 0;
}

bool common_command(Floor& floor, const std::string& verb, long n,
                    std::vector<std::unique_ptr<Child>>& batch) {
    if (verb == "grow") {
        if (int rc = floor.grow(static_cast<std::size_t>(n)); rc != 0)
            reply("{\"error\":\"spawning child " + std::to_string(floor.background().size() + 1) +
                  ": " + uv_strerror(rc) + "\"}");
        else
            reply("{\"alive\":" + std::to_string(floor.background().size()) + "}");
    } else if (verb == "spawn") {
        std::vector<double> lat;
        lat.reserve(static_cast<std::size_t>(n));
        int64_t start = mono_ns();
        for (long i = 0; i < n; ++i) {
            auto c = std::make_unique<Child>();
            int64_t t0 = mono_ns();
            int rc = floor.spawn(*c);
            lat.push_back(ns_to_us(mono_ns() - t0));
            if (rc != 0) {
                std::fprintf(stderr, "floor: uv_spawn: %s\n", uv_strerror(rc));
                std::exit(1);
            }
            batch.push_back(std::move(c));
        }
        double seconds = ns_to_s(mono_ns() - start);
        reply("{\"seconds\":" + std::to_string(seconds) + ",\"lat_us\":" + json_array(lat) + "}");
    } else if (verb == "stop") {
        int64_t start = mono_ns();
        floor.end_all(batch, SIGTERM);
        reply("{\"seconds\":" + std::to_string(ns_to_s(mono_ns() - start)) + "}");
    } else {
        return false;
    }
    return true;
}

bool read_command(std::string& verb, long& arg) {
    std::string line;
    if (!std::getline(std::cin, line)) return false;
    auto sp = line.find(' ');
    verb = line.substr(0, sp);
    arg = sp == std::string::npos ? 0 : std::strtol(line.c_str() + sp + 1, nullptr, 10);
    return true;
}

void reply(const std::string& json) {
    std::fwrite(json.data(), 1, json.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

std::string json_array(const std::vector<double>& values) {
    std::string out = "[";
    char buf[64];
    for (std::size_t i = 0; i < values.size(); ++i) {
        std::snprintf(buf, sizeof buf, "%s%.3f", i ? "," : "", values[i]);
        out += buf;
    }
    return out + "]";
}

long raise_fd_limit(long wanted) {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return -1;
    auto want = static_cast<rlim_t>(wanted);
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
        rlimit higher{want, want};
        if (setrlimit(RLIMIT_NOFILE, &higher) == 0) return wanted;
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? want : std::min(rl.rlim_max, want);
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur == RLIM_INFINITY ? wanted : static_cast<long>(rl.rlim_cur);
}

}  // namespace kvd::bench::floor
