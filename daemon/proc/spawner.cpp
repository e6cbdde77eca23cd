#include "daemon/proc/spawner.hpp"

#include <fcntl.h>
#include <linux/sockios.h>
#include <poll.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "daemon/proc/launch.hpp"
#include "daemon/proc/spawn_protocol.hpp"

extern char** environ;

namespace kvd::proc {

namespace {

using spawn_protocol::Reply;

constexpr int kSpawnerSocket = 3;  // the spawner's only fd besides 0, 1 and 2
// How long kvd waits for the spawner's answer (it comes once the child has exec'd, normally
// within milliseconds). A spawner that does not answer in time (stopped, or stuck) is
// killed and replaced, so it can never hold kvd's loop for longer.
constexpr int kReplyTimeoutMs = 2000;

// ---- the spawner process ----

struct ChildArgs {
    char* const* argv;
    char* const* envp;
    int stdio_fd;
    int stderr_fd;
    sigset_t mask;  // the child's signal mask: empty
    int error;      // set by the child when it cannot exec (memory is shared until then)
};

// Runs in the child, on the spawner's memory (CLONE_VM) while the spawner is suspended
// (CLONE_VFORK): only async-signal-safe calls, nothing that allocates or touches globals.
// The received fds are above 3 (0-3 are taken), so the dup2s cannot clobber each other.
__attribute__((no_sanitize("address", "undefined"))) int child_main(void* p) {
    auto* a = static_cast<ChildArgs*>(p);
    if (dup2(a->stdio_fd, 0) < 0 || dup2(a->stdio_fd, 1) < 0 || dup2(a->stderr_fd, 2) < 0) {
        a->error = errno;
        _exit(127);
    }
    setsid();  // a session of its own, as uv_spawn's UV_PROCESS_DETACHED
    sigprocmask(SIG_SETMASK, &a->mask, nullptr);
    execvpe(a->argv[0], a->argv, a->envp);
    a->error = errno;
    _exit(127);
}

alignas(64) char g_child_stack[256 * 1024];

Reply start_child(std::vector<char*>& argv, std::vector<char*>& envp, int stdio_fd, int stderr_fd) {
    ChildArgs args{argv.data(), envp.data(), stdio_fd, stderr_fd, {}, 0};
    sigemptyset(&args.mask);
    pid_t pid = clone(child_main, g_child_stack + sizeof g_child_stack,
                      CLONE_VM | CLONE_VFORK | CLONE_PARENT | SIGCHLD, &args);
    if (pid < 0) return Reply{0, errno};
    // The child has exec'd or exited: with CLONE_VFORK, clone returns only then.
    return Reply{pid, args.error};
}

void serve_one(const char* msg, std::size_t len, int stdio_fd, int stderr_fd) {
    Reply reply{0, EINVAL};
    if (auto request = spawn_protocol::decode(std::string_view(msg, len))) {
        std::vector<char*> argv;
        for (auto& a : request->argv) argv.push_back(a.data());
        argv.push_back(nullptr);
        // The environment inherited at fork is kvd's.
        std::vector<std::string> env = child_environment(environ, request->env_add);
        std::vector<char*> envp;
        for (auto& e : env) envp.push_back(e.data());
        envp.push_back(nullptr);
        reply = start_child(argv, envp, stdio_fd, stderr_fd);
    }
    while (send(kSpawnerSocket, &reply, sizeof reply, MSG_NOSIGNAL) < 0 && errno == EINTR) {
    }
}

[[noreturn]] void spawner_main(pid_t kvd_pid) {
    prctl(PR_SET_NAME, "kvd-spawner");
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != kvd_pid) _exit(0);  // kvd died before the prctl took effect
    // Default dispositions, and every signal stays blocked (as at the fork): nothing runs a
    // handler on the memory a CLONE_VM child shares, and a terminal's Ctrl-C is for kvd.
    // Each child unblocks them before its exec.
    for (int sig = 1; sig < NSIG; ++sig) signal(sig, SIG_DFL);

    static char msg[spawn_protocol::kMaxRequestBytes];
    alignas(cmsghdr) char control[CMSG_SPACE(2 * sizeof(int))];
    for (;;) {
        iovec iov{msg, sizeof msg};
        msghdr mh{};
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        mh.msg_control = control;
        mh.msg_controllen = sizeof control;
        ssize_t n = recvmsg(kSpawnerSocket, &mh, MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) _exit(0);  // kvd closed its end: it is exiting
        int fds[2] = {-1, -1};
        std::size_t nfds = 0;
        for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
            std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (std::size_t i = 0; i < count; ++i) {
                int fd;
                std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
                if (nfds < 2)
                    fds[nfds++] = fd;
                else
                    ::close(fd);
            }
        }
        if (nfds == 2 && !(mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
            serve_one(msg, static_cast<std::size_t>(n), fds[0], fds[1]);
        } else {
            Reply bad{0, EINVAL};
            send(kSpawnerSocket, &bad, sizeof bad, MSG_NOSIGNAL);
        }
        for (std::size_t i = 0; i < nfds; ++i) ::close(fds[i]);
    }
}

// Forks a spawner; on success sets `pid` and `fd` (kvd's end of the socket).
bool fork_spawner(pid_t& pid, int& fd) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        spdlog::warn("spawner: socketpair: {}", std::strerror(errno));
        return false;
    }
    pid_t kvd_pid = getpid();
    // Signals stay blocked across the fork: until the spawner resets them, a signal must not
    // run one of kvd's (libuv's) handlers in the copy.
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    pid_t child = fork();
    if (child != 0) sigprocmask(SIG_SETMASK, &old, nullptr);
    if (child < 0) {
        spdlog::warn("spawner: fork: {}", std::strerror(errno));
        ::close(sv[0]);
        ::close(sv[1]);
        return false;
    }
    if (child == 0) {
        // Keep 0, 1, 2 (children replace them) and the socket, as fd 3 and close-on-exec.
        if (dup3(sv[1], kSpawnerSocket, O_CLOEXEC) < 0) _exit(1);
        syscall(SYS_close_range, kSpawnerSocket + 1, ~0U, 0);
        spawner_main(kvd_pid);
    }
    ::close(sv[1]);
    pid = child;
    fd = sv[0];
    return true;
}

}  // namespace

bool Spawner::start() {
    return fd_ >= 0 || fork_spawner(pid_, fd_);
}

Spawner::~Spawner() {
    stop();
}

void Spawner::stop() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    if (pid_ > 0) {
        // End of file would make a running spawner exit, but a stopped one would not: it
        // holds no state worth a goodbye, so it is killed, and the wait is short either way.
        ::kill(pid_, SIGKILL);
        while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
        }
    }
    pid_ = -1;
}

Spawner::Result Spawner::spawn(const std::vector<std::string>& argv,
                               const std::map<std::string, std::string>& env_add, int stdio_fd,
                               int stderr_fd) {
    if (!start()) {
        Result r;
        r.transport_failed = true;
        return r;
    }
    Result r = spawn_once(argv, env_add, stdio_fd, stderr_fd);
    if (!r.transport_failed) return r;
    if (fd_ >= 0) spdlog::warn("the bucket spawner (pid {}) is gone; starting a new one", pid_);
    stop();
    if (!fork_spawner(pid_, fd_)) return r;
    return spawn_once(argv, env_add, stdio_fd, stderr_fd);
}

Spawner::Result Spawner::spawn_once(const std::vector<std::string>& argv,
                                    const std::map<std::string, std::string>& env_add, int stdio_fd,
                                    int stderr_fd) {
    Result result;
    spawn_protocol::Request request{argv, env_add};
    if (std::string problem = spawn_protocol::request_problem(request); !problem.empty()) {
        spdlog::warn("cannot start {}: {}", argv.empty() ? "a child" : argv[0], problem);
        result.error = spawn_protocol::encode(request).size() > spawn_protocol::kMaxRequestBytes
                           ? UV_E2BIG
                           : UV_EINVAL;
        return result;
    }
    std::string msg = spawn_protocol::encode(request);

    iovec iov{msg.data(), msg.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(2 * sizeof(int))] = {};
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = control;
    mh.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(2 * sizeof(int));
    int fds[2] = {stdio_fd, stderr_fd};
    std::memcpy(CMSG_DATA(c), fds, sizeof fds);

    ssize_t n;
    do n = sendmsg(fd_, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        // EPIPE / ECONNRESET: the spawner died; EAGAIN: it stopped reading. Anything else
        // (EMFILE for the in-flight fds, ENOBUFS) is this request's own failure.
        result.transport_failed = errno == EPIPE || errno == ECONNRESET || errno == EAGAIN;
        result.error = uv_translate_sys_error(errno);
        if (errno == EAGAIN) {
            spdlog::warn("the bucket spawner (pid {}) is not reading its requests; replacing it",
                         pid_);
            stop();
        }
        return result;
    }
    pollfd answer{fd_, POLLIN, 0};
    int ready;
    do ready = poll(&answer, 1, kReplyTimeoutMs);
    while (ready < 0 && errno == EINTR);
    if (ready == 0) {
        // Whether it took the request decides what is safe: one it never read started no
        // child, so another spawner may start it; one it read may have started a child that
        // holds the caller's fds, so this attempt fails (that child sees end of file on its
        // socket when the caller closes it, and exits).
        int unread = 0;
        bool taken = ioctl(fd_, SIOCOUTQ, &unread) == 0 && unread == 0;
        spdlog::warn("the bucket spawner (pid {}) did not answer within {} ms{}; replacing it",
                     pid_, kReplyTimeoutMs, taken ? "" : " and did not read the request");
        stop();
        result.transport_failed = !taken;
        result.error = UV_ETIMEDOUT;
        return result;
    }
    Reply reply{};
    do n = recv(fd_, &reply, sizeof reply, 0);
    while (n < 0 && errno == EINTR);
    if (n != static_cast<ssize_t>(sizeof reply)) {
        result.transport_failed = true;
        result.error = n < 0 ? uv_translate_sys_error(errno) : UV_EPIPE;
        return result;
    }
    if (reply.error != 0) {
        // A child that could not exec has already exited: reap it here, it is no bucket.
        if (reply.pid > 0) {
            while (waitpid(reply.pid, nullptr, 0) < 0 && errno == EINTR) {
            }
        }
        result.error = uv_translate_sys_error(reply.error);
        return result;
    }
    result.pid = reply.pid;
    return result;
}

}  // namespace kvd::proc
