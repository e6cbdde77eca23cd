#include "daemon/proc/launch.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <utility>

#include "daemon/proc/spawner.hpp"

namespace kvd::proc {

namespace {

// The fds of one start: each closed by the destructor unless handed over.
struct StartFds {
    int sock[2] = {-1, -1};  // kvd's end, the child's end
    int out[2] = {-1, -1};
    int err[2] = {-1, -1};
    int null = -1;

    ~StartFds() {
        for (int fd : {sock[0], sock[1], out[0], out[1], err[0], err[1], null})
            if (fd >= 0) ::close(fd);
    }
};

}  // namespace

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

int launch(Spawner* spawner, const Command& command, const Placement& placement, Launched& out) {
    spawn_protocol::Request request;
    request.argv = command.argv;
    request.env_add = command.env_add;
    request.cwd = command.cwd;
    // Asking for kvd's own ids is no change, and needs no privilege.
    bool change_ids =
        (command.uid && *command.uid != geteuid()) || (command.gid && *command.gid != getegid());
    if (change_ids && geteuid() != 0) return UV_EPERM;
    if (geteuid() == 0 && (command.uid || command.gid)) {
        request.uid = command.uid;
        request.gid = command.gid;
        request.groups.assign(command.groups.begin(), command.groups.end());
    }
    request.die_with_kvd = command.die_with_kvd;
    request.join_cgroup = placement.cgroup_procs_fd >= 0;
    request.rlimit_as = placement.rlimit_as;
    request.rlimit_nproc = placement.rlimit_nproc;

    StartFds fds;
    bool stdout_socket = command.stdout_mode == Stdio::socket;
    if (command.stdin_mode == Stdio::socket || stdout_socket) {
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds.sock) != 0)
            return uv_translate_sys_error(errno);
    }
    if (command.stdout_mode == Stdio::pipe_out && pipe2(fds.out, O_CLOEXEC) != 0)
        return uv_translate_sys_error(errno);
    if (command.capture_stderr && pipe2(fds.err, O_CLOEXEC) != 0)
        return uv_translate_sys_error(errno);
    bool stderr_null = !command.capture_stderr && command.stderr_fd < 0;
    if (command.stdin_mode != Stdio::socket || command.stdout_mode == Stdio::null || stderr_null) {
        fds.null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (fds.null < 0) return uv_translate_sys_error(errno);
    }
    ChildFds child;
    child.in = command.stdin_mode == Stdio::socket ? fds.sock[1] : fds.null;
    child.out = stdout_socket                            ? fds.sock[1]
                : command.stdout_mode == Stdio::pipe_out ? fds.out[1]
                                                         : fds.null;
    child.err = command.capture_stderr ? fds.err[1] : stderr_null ? fds.null : command.stderr_fd;
    child.cgroup_procs = placement.cgroup_procs_fd;

    pid_t pid = 0;
    int rc = 0;
    bool started = false;
    if (spawner) {
        Spawner::Result r = spawner->spawn(request, child);
        if (!r.transport_failed) {
            rc = r.error;
            pid = r.pid;
            started = true;
        }
        // Else no spawner could be started: kvd starts this child itself.
    }
    if (!started) rc = spawn_direct(request, child, pid);
    if (rc != 0) return rc;
    // The child's ends are the child's; kvd's ends are the caller's.
    out.pid = pid;
    out.stdio_fd = std::exchange(fds.sock[0], -1);
    out.stdout_fd = std::exchange(fds.out[0], -1);
    out.stderr_fd = std::exchange(fds.err[0], -1);
    return 0;
}

}  // namespace kvd::proc
