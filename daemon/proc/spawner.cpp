#include "daemon/proc/spawner.hpp"

#include <fcntl.h>
#include <linux/sockios.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
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
// stdin, stdout, stderr and cgroup.procs.
constexpr std::size_t kMaxFds = 4;

// ---- a child's last steps before exec, in the spawner or in kvd ----

struct ChildArgs {
    char* const* argv;
    char* const* envp;
    ChildFds fds;
    const char* cwd;  // null: the parent's
    bool set_uid;
    bool set_gid;
    uid_t uid;
    gid_t gid;
    const gid_t* groups;
    std::size_t ngroups;
    bool die_with_kvd;
    pid_t kvd_pid;  // the child's parent: kvd, also from the spawner (CLONE_PARENT)
    bool rlimit_as;
    bool rlimit_nproc;
    rlim_t as;
    rlim_t nproc;
    bool reset_signals;  // kvd's own handlers must not run in the child (spawn_direct)
    sigset_t mask;       // the child's signal mask: empty
    int error;           // set by the child when it cannot exec (memory is shared until then)
};

// Runs in the child, on its parent's memory (CLONE_VM) while the parent is suspended
// (CLONE_VFORK): only async-signal-safe calls, nothing that allocates or touches globals.
// The credential changes are raw system calls: glibc's setuid() and friends would signal
// every thread of the parent, whose memory this child shares; the syscalls change this task
// alone. The order matters: the cgroup is joined while still privileged, and the parent-death
// signal is set after the switch of user, which clears it.
__attribute__((no_sanitize("address", "undefined"))) int child_main(void* p) {
    auto* a = static_cast<ChildArgs*>(p);
    int fds[3] = {a->fds.in, a->fds.out, a->fds.err};
    if (a->reset_signals) {
        // The kernel's own call: a sanitizer's sigaction() would update its state, which
        // lives in kvd's memory. All zero is SIG_DFL, no flags, an empty mask.
        struct {
            void* handler;
            unsigned long flags;
            void* restorer;
            uint64_t mask;
        } dfl{};
        for (int sig = 1; sig < NSIG; ++sig) syscall(SYS_rt_sigaction, sig, &dfl, nullptr, 8);
    }
    if (a->fds.cgroup_procs >= 0 && write(a->fds.cgroup_procs, "0", 1) != 1) goto fail;
    // Out of the way of 0, 1 and 2 first, so that the dup2s cannot clobber each other.
    for (int i = 0; i < 3; ++i)
        if (fds[i] < 3 && (fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3)) < 0) goto fail;
    for (int i = 0; i < 3; ++i)
        if (dup2(fds[i], i) < 0) goto fail;
    setsid();  // a session of its own, as uv_spawn's UV_PROCESS_DETACHED
    if (a->rlimit_as) {
        rlimit rl{a->as, a->as};
        if (setrlimit(RLIMIT_AS, &rl) != 0) goto fail;
    }
    if (a->rlimit_nproc) {
        rlimit rl{a->nproc, a->nproc};
        if (setrlimit(RLIMIT_NPROC, &rl) != 0) goto fail;
    }
    if (a->set_uid || a->set_gid) {
        if (syscall(SYS_setgroups, a->ngroups, a->groups) != 0) goto fail;
        if (a->set_gid && syscall(SYS_setresgid, a->gid, a->gid, a->gid) != 0) goto fail;
        if (a->set_uid && syscall(SYS_setresuid, a->uid, a->uid, a->uid) != 0) goto fail;
    }
    if (a->cwd && chdir(a->cwd) != 0) goto fail;
    if (a->die_with_kvd) {
        syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        if (getppid() != a->kvd_pid) _exit(127);  // kvd died before the prctl took effect
    }
    sigprocmask(SIG_SETMASK, &a->mask, nullptr);
    execvpe(a->argv[0], a->argv, a->envp);
fail:
    a->error = errno;
    _exit(127);
}

// Starts `r` on `stack` with the flags given: the pid once it has exec'd, or errno.
Reply start_child(const spawn_protocol::Request& r, const ChildFds& fds, pid_t kvd_pid,
                  bool reset_signals, char* stack_top, int clone_flags) {
    std::vector<char*> argv;
    for (const auto& a : r.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    // The environment inherited (at fork, for the spawner) is kvd's.
    std::vector<std::string> env = child_environment(environ, r.env_add);
    std::vector<char*> envp;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::vector<gid_t> groups(r.groups.begin(), r.groups.end());

    ChildArgs args{};
    args.argv = argv.data();
    args.envp = envp.data();
    args.fds = fds;
    args.cwd = r.cwd ? r.cwd->c_str() : nullptr;
    args.set_uid = r.uid.has_value();
    args.set_gid = r.gid.has_value();
    args.uid = r.uid.value_or(0);
    args.gid = r.gid.value_or(0);
    args.groups = groups.data();
    args.ngroups = groups.size();
    args.die_with_kvd = r.die_with_kvd;
    args.kvd_pid = kvd_pid;
    args.rlimit_as = r.rlimit_as.has_value();
    args.rlimit_nproc = r.rlimit_nproc.has_value();
    args.as = r.rlimit_as.value_or(0);
    args.nproc = r.rlimit_nproc.value_or(0);
    args.reset_signals = reset_signals;
    sigemptyset(&args.mask);
    args.error = 0;
    pid_t pid = clone(child_main, stack_top, CLONE_VM | CLONE_VFORK | clone_flags | SIGCHLD, &args);
    if (pid < 0) return Reply{0, errno};
    // The child has exec'd or exited: with CLONE_VFORK, clone returns only then.
    return Reply{pid, args.error};
}

// ---- the spawner process ----

alignas(64) char g_child_stack[256 * 1024];
pid_t g_kvd_pid = 0;

void serve_one(const char* msg, std::size_t len, const int* fds, std::size_t nfds) {
    Reply reply{0, EINVAL};
    auto request = spawn_protocol::decode(std::string_view(msg, len));
    if (request && nfds == (request->join_cgroup ? 4u : 3u)) {
        ChildFds child_fds{fds[0], fds[1], fds[2], request->join_cgroup ? fds[3] : -1};
        reply = start_child(*request, child_fds, g_kvd_pid, false,
                            g_child_stack + sizeof g_child_stack, CLONE_PARENT);
    }
    while (send(kSpawnerSocket, &reply, sizeof reply, MSG_NOSIGNAL) < 0 && errno == EINTR) {
    }
}

[[noreturn]] void spawner_main(pid_t kvd_pid) {
    prctl(PR_SET_NAME, "kvd-spawner");
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != kvd_pid) _exit(0);
    g_kvd_pid = kvd_pid;  // kvd died before the prctl took effect
    // Default dispositions, and every signal stays blocked (as at the fork): nothing runs a
    // handler on the memory a CLONE_VM child shares, and a terminal's Ctrl-C is for kvd.
    // Each child unblocks them before its exec.
    for (int sig = 1; sig < NSIG; ++sig) signal(sig, SIG_DFL);

    static char msg[spawn_protocol::kMaxRequestBytes];
    alignas(cmsghdr) char control[CMSG_SPACE(kMaxFds * sizeof(int))];
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
        int fds[kMaxFds] = {-1, -1, -1, -1};
        std::size_t nfds = 0;
        for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
            std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (std::size_t i = 0; i < count; ++i) {
                int fd;
                std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
                if (nfds < kMaxFds)
                    fds[nfds++] = fd;
                else
                    ::close(fd);
            }
        }
        if (!(mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
            serve_one(msg, static_cast<std::size_t>(n), fds, nfds);
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

Spawner::Result Spawner::spawn(const spawn_protocol::Request& request, const ChildFds& fds) {
    if (!start()) {
        Result r;
        r.transport_failed = true;
        return r;
    }
    Result r = spawn_once(request, fds);
    if (!r.transport_failed) return r;
    if (fd_ >= 0) spdlog::warn("the bucket spawner (pid {}) is gone; starting a new one", pid_);
    stop();
    if (!fork_spawner(pid_, fd_)) return r;
    return spawn_once(request, fds);
}

Spawner::Result Spawner::spawn_once(const spawn_protocol::Request& request, const ChildFds& fds) {
    Result result;
    if (std::string problem = spawn_protocol::request_problem(request); !problem.empty()) {
        spdlog::warn("cannot start {}: {}", request.argv.empty() ? "a child" : request.argv[0],
                     problem);
        result.error = spawn_protocol::encode(request).size() > spawn_protocol::kMaxRequestBytes
                           ? UV_E2BIG
                           : UV_EINVAL;
        return result;
    }
    std::string msg = spawn_protocol::encode(request);

    iovec iov{msg.data(), msg.size()};
    int sent[kMaxFds] = {fds.in, fds.out, fds.err, fds.cgroup_procs};
    std::size_t nsent = request.join_cgroup ? 4 : 3;
    alignas(cmsghdr) char control[CMSG_SPACE(kMaxFds * sizeof(int))] = {};
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = control;
    mh.msg_controllen = CMSG_SPACE(nsent * sizeof(int));
    cmsghdr* c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(nsent * sizeof(int));
    std::memcpy(CMSG_DATA(c), sent, nsent * sizeof(int));

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

int spawn_direct(const spawn_protocol::Request& request, const ChildFds& fds, pid_t& pid) {
    if (!spawn_protocol::request_problem(request).empty()) return UV_EINVAL;
    constexpr std::size_t kStackBytes = 256 * 1024;
    void* stack = mmap(nullptr, kStackBytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) return uv_translate_sys_error(errno);
    // No signal may run one of kvd's handlers in the child, on kvd's memory, before it has
    // reset them: blocked here, and the child unblocks them just before its exec.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    Reply reply =
        start_child(request, fds, getpid(), true, static_cast<char*>(stack) + kStackBytes, 0);
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    munmap(stack, kStackBytes);
    if (reply.error != 0) {
        if (reply.pid > 0) {
            while (waitpid(reply.pid, nullptr, 0) < 0 && errno == EINTR) {
            }
        }
        return uv_translate_sys_error(reply.error);
    }
    pid = reply.pid;
    return 0;
}

}  // namespace kvd::proc
