// The end-to-end harness (see harness.hpp): process spawning without a shell, deadline-bound
// socket I/O, and /proc inspection.
#include "tests/e2e/harness.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "common/signals.hpp"

extern char** environ;

#ifndef KVD_TEST_TIME_SCALE
#define KVD_TEST_TIME_SCALE 1
#endif
#define KVD_TEST_STRINGIZE2(x) #x
#define KVD_TEST_STRINGIZE(x) KVD_TEST_STRINGIZE2(x)

namespace kvd::test {

namespace {

using Clock = std::chrono::steady_clock;

// Writes to a closed socket or pipe must fail with EPIPE, not kill the test binary.
// Children get the default disposition back before exec (see spawn()).
const bool g_sigpipe_ignored = [] {
    std::signal(SIGPIPE, SIG_IGN);
    return true;
}();

std::optional<double> parse_scale(const char* text) {
    if (!text || !*text) return std::nullopt;
    char* end = nullptr;
    double v = std::strtod(text, &end);
    if (end == text || *end != '\0' || !(v > 0)) return std::nullopt;
    return v;
}

int remaining_ms(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    return static_cast<int>(std::clamp<int64_t>(left, 0, 1'000'000));
}

// The environment `changes` makes of ours, as "NAME=value" strings.
std::vector<std::string> make_environment(const EnvChanges& changes) {
    std::map<std::string, std::string> env;
    for (char** e = environ; e && *e; ++e) {
        std::string_view entry(*e);
        auto eq = entry.find('=');
        if (eq == std::string_view::npos) continue;
        env.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
    }
    for (const auto& [name, value] : changes) {
        if (value)
            env[name] = *value;
        else
            env.erase(name);
    }
    std::vector<std::string> out;
    out.reserve(env.size());
    for (const auto& [name, value] : env) out.push_back(name + "=" + value);
    return out;
}

struct ChildFds {
    int in = -1;
    int out = -1;
    int err = -1;
};

// Beyond stdio, as systemd gives them to a service: `fds` become 3, 4, … in the child, and
// each variable in `own_pid_env` holds the child's pid.
struct ChildExtras {
    std::vector<int> fds;
    std::vector<std::string> own_pid_env;
    std::vector<std::pair<int, uint64_t>> rlimits;
    std::optional<std::pair<uid_t, gid_t>> user;
};

// fork + execve of `path`. Everything the child needs is prepared before fork(), so the
// child only calls async-signal-safe functions. The child's dispositions and mask are reset
// to what a freshly started program expects; with `die_with_parent` it gets SIGKILL when
// the test process dies, so an aborted run leaves nothing behind.
pid_t spawn(const std::string& path, const std::vector<std::string>& args, const EnvChanges& env,
            ChildFds fds, bool die_with_parent, const ChildExtras& extras = {}) {
    std::vector<std::string> argv_strings;
    argv_strings.push_back(path);
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : argv_strings) argv.push_back(s.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_strings = make_environment(env);
    // Room for the pid, written by the child with async-signal-safe code only.
    std::vector<std::size_t> own_pid_slots;
    for (const auto& name : extras.own_pid_env) {
        std::erase_if(env_strings,
                      [&](const std::string& e) { return e.rfind(name + "=", 0) == 0; });
        own_pid_slots.push_back(env_strings.size());
        env_strings.push_back(name + "=" + std::string(20, '\0'));
    }
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);

    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0) return pid;  // parent (or -1)

    // Child.
    if (die_with_parent) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int s = 1; s < NSIG; ++s) {
        if (s != SIGKILL && s != SIGSTOP) ::signal(s, SIG_DFL);
    }
    // Passed fds move out of the way first, so that neither stdio nor each other clobbers them.
    std::size_t n_extra = std::min<std::size_t>(extras.fds.size(), 32);
    int parked[32];
    for (std::size_t i = 0; i < n_extra; ++i) {
        parked[i] = fcntl(extras.fds[i], F_DUPFD_CLOEXEC, 100);
        if (parked[i] < 0) _exit(127);
    }
    for (std::size_t slot : own_pid_slots) {
        char* value = envp[slot] + std::strlen(envp[slot]);  // just after '='
        char digits[20];
        int n = 0;
        for (long v = getpid(); v > 0 && n < 20; v /= 10)
            digits[n++] = static_cast<char>('0' + v % 10);
        while (n > 0) *value++ = digits[--n];
        *value = '\0';
    }
    int targets[3] = {fds.in, fds.out, fds.err};
    for (int i = 0; i < 3; ++i) {
        if (targets[i] < 0) continue;
        if (targets[i] == i) {
            // Already in place: only the close-on-exec flag must go.
            fcntl(i, F_SETFD, 0);
        } else if (dup2(targets[i], i) < 0) {
            _exit(127);
        }
    }
    // Only what is passed on purpose crosses into the program under test, as under systemd:
    // descriptors the test runner itself inherited must not show up in kvd or, through it,
    // in buckets. Marked close-on-exec rather than closed, so that descriptors dup2()ed
    // into place after this (which clears the flag) still get through.
    if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
        for (int fd = 3; fd < 65536; ++fd) fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    for (std::size_t i = 0; i < n_extra; ++i) {
        if (dup2(parked[i], 3 + static_cast<int>(i)) < 0) _exit(127);  // dup2 clears CLOEXEC
    }
    for (const auto& [resource, value] : extras.rlimits) {
        rlimit limit{static_cast<rlim_t>(value), static_cast<rlim_t>(value)};
        if (setrlimit(resource, &limit) != 0) _exit(127);
    }
    if (extras.user) {
        if (setgroups(0, nullptr) != 0 || setgid(extras.user->second) != 0 ||
            setuid(extras.user->first) != 0)
            _exit(127);
    }
    execve(path.c_str(), argv.data(), envp.data());
    const char msg[] = "e2e harness: execve failed\n";
    ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)ignored;
    _exit(127);
}

// Reads /proc/<pid>/stat: the name, the state letter, the parent pid and the CPU time used
// (in clock ticks), if the process exists.
struct ProcStat {
    std::string comm;
    char state = '?';
    pid_t ppid = 0;
    unsigned long long cpu_ticks = 0;  // utime + stime
};

std::optional<ProcStat> read_proc_stat(pid_t pid) {
    std::string text = read_file("/proc/" + std::to_string(pid) + "/stat");
    // "pid (comm) S ppid ..." where comm may itself hold spaces and parentheses.
    auto close_paren = text.rfind(')');
    if (close_paren == std::string::npos || close_paren + 2 >= text.size()) return std::nullopt;
    std::istringstream rest(text.substr(close_paren + 2));
    ProcStat st;
    if (auto open_paren = text.find('('); open_paren < close_paren)
        st.comm = text.substr(open_paren + 1, close_paren - open_paren - 1);
    if (!(rest >> st.state >> st.ppid)) return std::nullopt;
    // Fields 5 to 13 (pgrp … cmajflt), then utime and stime.
    std::string skip;
    for (int i = 0; i < 9; ++i) rest >> skip;
    unsigned long long utime = 0, stime = 0;
    if (rest >> utime >> stime) st.cpu_ticks = utime + stime;
    return st;
}

bool connect_once(const std::string& path) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
}

}  // namespace

// ---- time ---------------------------------------------------------------------------------

double time_scale() {
    static const double scale = [] {
        if (auto v = parse_scale(std::getenv("KVD_TEST_TIME_SCALE"))) return *v;
        if (auto v = parse_scale(KVD_TEST_STRINGIZE(KVD_TEST_TIME_SCALE))) return *v;
        return 1.0;
    }();
    return scale;
}

milliseconds scaled(milliseconds timeout) {
    return milliseconds(static_cast<int64_t>(static_cast<double>(timeout.count()) * time_scale()));
}

::testing::AssertionResult wait_until(const std::function<bool()>& pred, milliseconds timeout,
                                      std::string_view what) {
    auto start = Clock::now();
    auto deadline = start + scaled(timeout);
    auto pause = milliseconds(2);
    for (;;) {
        if (pred()) return ::testing::AssertionSuccess();
        if (Clock::now() >= deadline) break;
        std::this_thread::sleep_for(std::min<Clock::duration>(pause, deadline - Clock::now()));
        pause = std::min(pause * 3 / 2, milliseconds(10));
    }
    // One last look: the deadline may have passed while the condition became true.
    if (pred()) return ::testing::AssertionSuccess();
    auto waited = std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
    return ::testing::AssertionFailure()
           << "timed out after " << waited << " ms waiting for " << what;
}

// ---- files --------------------------------------------------------------------------------

TempDir::TempDir() {
    char templ[] = "/tmp/kvdt-XXXXXX";
    if (!mkdtemp(templ)) {
        ADD_FAILURE() << "mkdtemp: " << std::strerror(errno);
        return;
    }
    path_ = templ;
}

TempDir::~TempDir() {
    if (path_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

std::string TempDir::file(std::string_view name) const {
    return path_ + "/" + std::string(name);
}

std::string TempDir::write_file(std::string_view name, std::string_view text) const {
    std::string p = file(name);
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) ADD_FAILURE() << "cannot write " << p;
    return p;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return {};
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> lines;
    std::size_t start = 0;
    while (start < text.size()) {
        auto nl = text.find('\n', start);
        if (nl == std::string::npos) nl = text.size();
        lines.push_back(text.substr(start, nl - start));
        start = nl + 1;
    }
    return lines;
}

std::vector<std::string> read_lines(const std::string& path) {
    std::string text = read_file(path);
    std::vector<std::string> lines;
    std::size_t start = 0;
    for (std::size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1)
        lines.push_back(text.substr(start, nl - start));
    return lines;
}

bool file_exists(const std::string& path) {
    struct stat st {};
    return lstat(path.c_str(), &st) == 0;
}

// ---- programs -----------------------------------------------------------------------------

std::string kvd_path() {
    return KVD_BIN_DIR "/kvd";
}
std::string kvctl_path() {
    return KVD_BIN_DIR "/kvctl";
}
std::string kv_bucket_path() {
    return KVD_BIN_DIR "/kv-bucket";
}
std::string test_handler_path() {
    return KVD_TEST_HELPER_DIR "/test_handler";
}
std::string notify_child_path() {
    return KVD_TEST_HELPER_DIR "/notify_child";
}
bool kvctl_built() {
    return access(kvctl_path().c_str(), X_OK) == 0;
}

ExitStatus ExitStatus::from_wait_status(int status) {
    ExitStatus s;
    if (WIFEXITED(status)) {
        s.exited = true;
        s.code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        s.signal = WTERMSIG(status);
    }
    return s;
}

std::string ExitStatus::describe() const {
    if (exited) return "exit " + std::to_string(code);
    if (signal) return "signal " + signal_name(signal);
    return "unknown status";
}

RunResult run_program(const std::string& path, const std::vector<std::string>& args,
                      const EnvChanges& env, milliseconds timeout, std::string_view stdin_text) {
    RunResult result;
    int in[2], out[2], err[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
        ADD_FAILURE() << "pipe2: " << std::strerror(errno);
        return result;
    }
    pid_t pid = spawn(path, args, env, {in[0], out[1], err[1]}, true);
    ::close(in[0]);
    ::close(out[1]);
    ::close(err[1]);
    if (pid < 0) {
        ADD_FAILURE() << "fork: " << std::strerror(errno);
        ::close(in[1]);
        ::close(out[0]);
        ::close(err[0]);
        return result;
    }
    fcntl(in[1], F_SETFL, O_NONBLOCK);
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    fcntl(err[0], F_SETFL, O_NONBLOCK);

    auto deadline = Clock::now() + scaled(timeout);
    std::size_t written = 0;
    int stdin_fd = in[1];
    if (stdin_text.empty()) {
        ::close(stdin_fd);
        stdin_fd = -1;
    }
    int out_fd = out[0], err_fd = err[0];
    while (out_fd >= 0 || err_fd >= 0) {
        pollfd pfds[3];
        nfds_t n = 0;
        if (out_fd >= 0) pfds[n++] = {out_fd, POLLIN, 0};
        if (err_fd >= 0) pfds[n++] = {err_fd, POLLIN, 0};
        if (stdin_fd >= 0) pfds[n++] = {stdin_fd, POLLOUT, 0};
        int left = remaining_ms(deadline);
        if (left == 0) {
            result.timed_out = true;
            break;
        }
        if (poll(pfds, n, left) < 0 && errno != EINTR) break;
        char buf[65536];
        for (nfds_t i = 0; i < n; ++i) {
            if (pfds[i].revents == 0) continue;
            int fd = pfds[i].fd;
            if (fd == stdin_fd) {
                ssize_t w = write(fd, stdin_text.data() + written, stdin_text.size() - written);
                if (w > 0) written += static_cast<std::size_t>(w);
                if (w < 0 && errno != EAGAIN && errno != EINTR) written = stdin_text.size();
                if (written == stdin_text.size()) {
                    ::close(stdin_fd);
                    stdin_fd = -1;
                }
                continue;
            }
            ssize_t r = read(fd, buf, sizeof buf);
            if (r > 0) {
                (fd == out_fd ? result.out : result.err).append(buf, static_cast<std::size_t>(r));
            } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                ::close(fd);
                (fd == out_fd ? out_fd : err_fd) = -1;
            }
        }
    }
    if (stdin_fd >= 0) ::close(stdin_fd);
    if (out_fd >= 0) ::close(out_fd);
    if (err_fd >= 0) ::close(err_fd);

    int status = 0;
    bool reaped = false;
    while (!result.timed_out) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            reaped = true;
            break;
        }
        if (r < 0 && errno != EINTR) break;
        if (Clock::now() >= deadline) {
            result.timed_out = true;
            break;
        }
        std::this_thread::sleep_for(milliseconds(2));
    }
    if (!reaped) {
        kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
    }
    ExitStatus es = ExitStatus::from_wait_status(status);
    result.exit_code = (reaped && es.exited) ? es.code : -1;
    return result;
}

RunResult run_kvctl(const std::vector<std::string>& args, const EnvChanges& env,
                    milliseconds timeout) {
    EnvChanges merged = {{"KVD_SOCKET", std::nullopt}, {"XDG_RUNTIME_DIR", std::nullopt}};
    for (const auto& [name, value] : env) merged[name] = value;
    return run_program(kvctl_path(), args, merged, timeout);
}

std::ostream& operator<<(std::ostream& os, const RunResult& r) {
    os << "exit code " << r.exit_code << (r.timed_out ? " (timed out)" : "") << "\n--- stdout:\n"
       << r.out << "\n--- stderr:\n"
       << r.err;
    return os;
}

// ---- /proc --------------------------------------------------------------------------------

namespace {
// A size field of /proc/PID/status ("VmRSS:", "VmHWM:") in KiB, or -1.
long status_kib(pid_t pid, std::string_view field) {
    std::istringstream status(read_file("/proc/" + std::to_string(pid) + "/status"));
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind(field, 0) == 0) return std::strtol(line.c_str() + field.size(), nullptr, 10);
    }
    return -1;
}
}  // namespace

long rss_kib(pid_t pid) {
    return status_kib(pid, "VmRSS:");
}

long peak_rss_kib(pid_t pid) {
    return status_kib(pid, "VmHWM:");
}

bool process_alive(pid_t pid) {
    if (pid <= 0) return false;
    auto st = read_proc_stat(pid);
    return st && st->state != 'Z' && st->state != 'X' && st->state != 'x';
}

::testing::AssertionResult freeze(pid_t pid) {
    if (::kill(pid, SIGSTOP) != 0)
        return ::testing::AssertionFailure()
               << "cannot SIGSTOP pid " << pid << ": " << strerror(errno);
    return wait_until(
        [&] {
            auto st = read_proc_stat(pid);
            return st && st->state == 'T';
        },
        5s, "pid " + std::to_string(pid) + " to be stopped");
}

std::vector<pid_t> children_of(pid_t pid) {
    std::vector<pid_t> children;
    DIR* dir = opendir("/proc");
    if (!dir) return children;
    while (dirent* entry = readdir(dir)) {
        char* end = nullptr;
        long candidate = std::strtol(entry->d_name, &end, 10);
        if (end == entry->d_name || *end != '\0') continue;
        auto st = read_proc_stat(static_cast<pid_t>(candidate));
        if (st && st->ppid == pid && st->comm != kSpawnerName)
            children.push_back(static_cast<pid_t>(candidate));
    }
    closedir(dir);
    std::sort(children.begin(), children.end());
    return children;
}

pid_t spawner_of(pid_t pid) {
    DIR* dir = opendir("/proc");
    if (!dir) return 0;
    pid_t found = 0;
    while (dirent* entry = readdir(dir)) {
        char* end = nullptr;
        long candidate = std::strtol(entry->d_name, &end, 10);
        if (end == entry->d_name || *end != '\0') continue;
        auto st = read_proc_stat(static_cast<pid_t>(candidate));
        if (st && st->ppid == pid && st->comm == kSpawnerName)
            found = static_cast<pid_t>(candidate);
    }
    closedir(dir);
    return found;
}

int count_open_fds(pid_t pid) {
    DIR* dir = opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
    if (!dir) return -1;
    int n = 0;
    while (dirent* entry = readdir(dir)) {
        if (entry->d_name[0] != '.') ++n;
    }
    closedir(dir);
    return n;
}

std::string process_name(pid_t pid) {
    std::string cmdline = read_file("/proc/" + std::to_string(pid) + "/cmdline");
    return cmdline.substr(0, cmdline.find('\0'));
}

milliseconds cpu_time(pid_t pid) {
    auto st = read_proc_stat(pid);
    long ticks_per_second = sysconf(_SC_CLK_TCK);
    if (!st || ticks_per_second <= 0) return milliseconds(-1);
    return milliseconds(static_cast<int64_t>(st->cpu_ticks * 1000 /
                                             static_cast<unsigned long long>(ticks_per_second)));
}

Footprint footprint_of(pid_t pid) {
    return {count_open_fds(pid), children_of(pid)};
}

std::ostream& operator<<(std::ostream& os, const Footprint& f) {
    os << f.fds << " fds, " << f.children.size() << " children [";
    for (std::size_t i = 0; i < f.children.size(); ++i) {
        pid_t child = f.children[i];
        os << (i ? " " : "") << child << ":" << process_name(child)
           << (process_alive(child) ? "" : " (zombie)");
    }
    return os << "]";
}

::testing::AssertionResult wait_footprint_back(pid_t pid, const Footprint& baseline,
                                               milliseconds timeout) {
    Footprint now;
    auto back = wait_until(
        [&] {
            now = footprint_of(pid);
            if (now.fds < 0 || now.fds > baseline.fds) return false;
            if (now.children.size() > baseline.children.size()) return false;
            return std::all_of(now.children.begin(), now.children.end(), process_alive);
        },
        timeout, "pid " + std::to_string(pid) + " to hold no more than before");
    if (back) return back;
    // Where the extra descriptors point helps more than their number.
    std::map<std::string, int> targets;
    std::string fd_dir = "/proc/" + std::to_string(pid) + "/fd";
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(fd_dir, ec)) {
        std::string target = std::filesystem::read_symlink(entry.path(), ec).string();
        if (target.rfind("socket:", 0) == 0)
            target = "socket";
        else if (target.rfind("pipe:", 0) == 0)
            target = "pipe";
        ++targets[target];
    }
    back << "; before: " << baseline << "; now: " << now << "; descriptors:";
    for (const auto& [target, n] : targets) back << " " << target << " x" << n;
    return back;
}

// ---- kvd ----------------------------------------------------------------------------------

KvdProcess::KvdProcess(const TempDir& dir, KvdOptions options)
    : socket_path_(dir.file("kvd.sock")), log_path_(dir.file("kvd.log")) {
    std::vector<std::string> args;
    if (options.pass_socket) {
        args.push_back("--socket");
        args.push_back(socket_path_);
    }
    if (options.config) {
        args.push_back("--config");
        args.push_back(dir.write_file("kvd.toml", *options.config));
    }
    args.insert(args.end(), options.args.begin(), options.args.end());
    std::string program = kvd_path();
    if (!options.wrapper.empty()) {
        args.insert(args.begin(), program);
        args.insert(args.begin(), options.wrapper.begin() + 1, options.wrapper.end());
        program = options.wrapper.front();
    }

    int log_fd = options.output_fd >= 0
                     ? ::fcntl(options.output_fd, F_DUPFD_CLOEXEC, 3)
                     : ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (log_fd < 0 || null_fd < 0) {
        ADD_FAILURE() << "cannot open " << log_path_ << " or /dev/null: " << std::strerror(errno);
    } else {
        pid_ = spawn(program, args, options.env, {null_fd, log_fd, log_fd}, true,
                     {options.pass_fds, options.env_own_pid, options.rlimits, options.user});
        if (pid_ < 0) ADD_FAILURE() << "fork: " << std::strerror(errno);
    }
    if (log_fd >= 0) ::close(log_fd);
    if (null_fd >= 0) ::close(null_fd);
    if (pid_ > 0 && options.wait_ready) {
        auto r = wait_ready(options.ready_timeout);
        if (!r) ADD_FAILURE() << r.message();
    }
}

KvdProcess::~KvdProcess() {
    if (::testing::Test::HasFailure()) {
        std::cerr << "---- kvd log (" << log_path_ << ") ----\n"
                  << log() << "---- end of kvd log ----\n";
    }
    if (pid_ <= 0 || exit_) return;
    if (!terminate(10s)) std::cerr << "kvd (pid " << pid_ << ") ignored SIGTERM; killed it\n";
}

std::string KvdProcess::log() const {
    return read_file(log_path_);
}

::testing::AssertionResult KvdProcess::wait_ready(milliseconds timeout) {
    if (pid_ <= 0) return ::testing::AssertionFailure() << "kvd was not started";
    bool exited = false;
    auto r = wait_until(
        [&] {
            if (connect_once(socket_path_)) return true;
            exited = !running();
            return exited;
        },
        timeout, "kvd's socket " + socket_path_ + " to accept connections");
    if (r && !exited) {
        ready_ = true;
        return r;
    }
    if (exited) {
        return ::testing::AssertionFailure()
               << "kvd ended (" << exit_->describe() << ") before its socket accepted connections";
    }
    return r;
}

bool KvdProcess::reap(bool block) {
    if (exit_) return true;
    if (pid_ <= 0) return false;
    int status = 0;
    for (;;) {
        pid_t r = waitpid(pid_, &status, block ? 0 : WNOHANG);
        if (r == pid_) {
            exit_ = ExitStatus::from_wait_status(status);
            return true;
        }
        if (r == 0) return false;
        if (errno == EINTR) continue;
        exit_ = ExitStatus{};  // not our child any more: nothing to wait for
        return true;
    }
}

bool KvdProcess::running() {
    return pid_ > 0 && !reap(false);
}

std::optional<ExitStatus> KvdProcess::wait_exit(milliseconds timeout) {
    if (pid_ <= 0) return std::nullopt;
    if (!wait_until([&] { return reap(false); }, timeout, "kvd to exit")) return std::nullopt;
    return exit_;
}

std::optional<ExitStatus> KvdProcess::terminate(milliseconds timeout) {
    if (pid_ <= 0) return std::nullopt;
    if (exit_) return exit_;
    ::kill(pid_, SIGTERM);
    if (auto status = wait_exit(timeout)) return status;
    kill9();
    return std::nullopt;
}

ExitStatus KvdProcess::kill9() {
    if (pid_ > 0 && !exit_) {
        ::kill(pid_, SIGKILL);
        reap(true);
    }
    return exit_.value_or(ExitStatus{});
}

void KvdProcess::signal(int signo) {
    if (pid_ > 0 && !exit_) ::kill(pid_, signo);
}

// ---- the control protocol -------------------------------------------------------------------

Client::Client(const std::string& socket_path) {
    sockaddr_un addr{};
    if (socket_path.size() >= sizeof addr.sun_path) {
        connect_error_ = "socket path too long: " + socket_path;
        return;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        connect_error_ = std::string("socket: ") + std::strerror(errno);
        return;
    }
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        connect_error_ = "connect " + socket_path + ": " + std::strerror(errno);
        ::close(fd);
        return;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    fd_ = fd;
}

Client::~Client() {
    close();
}

void Client::close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

void Client::shutdown_write() {
    if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

bool Client::send_raw(std::string_view bytes, milliseconds timeout) {
    if (fd_ < 0) return false;
    auto deadline = Clock::now() + scaled(timeout);
    std::size_t off = 0;
    while (off < bytes.size()) {
        ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return false;  // EPIPE, ECONNRESET
        int left = remaining_ms(deadline);
        if (left == 0) return false;
        pollfd p{fd_, POLLOUT, 0};
        poll(&p, 1, left);
    }
    return true;
}

bool Client::send_line(std::string_view line, milliseconds timeout) {
    std::string data(line);
    data += '\n';
    return send_raw(data, timeout);
}

bool Client::send_json(const Json& j, milliseconds timeout) {
    return send_line(j.dump(), timeout);
}

std::optional<std::string> Client::read_line(milliseconds timeout) {
    return read_line_by(Clock::now() + scaled(timeout));
}

std::optional<std::string> Client::read_line_by(std::chrono::steady_clock::time_point deadline) {
    std::size_t scanned = 0;
    for (;;) {
        auto nl = buffer_.find('\n', scanned);
        if (nl != std::string::npos) {
            std::string line = buffer_.substr(0, nl);
            buffer_.erase(0, nl + 1);
            return line;
        }
        scanned = buffer_.size();
        if (eof_ || fd_ < 0) return std::nullopt;
        char buf[65536];
        ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n > 0) {
            buffer_.append(buf, static_cast<std::size_t>(n));
            continue;
        }
        if (n == 0) {
            eof_ = true;
            continue;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            // ECONNRESET: the server closed while our unread request bytes were queued on
            // its side; everything it sent before that has been read.
            eof_ = true;
            continue;
        }
        int left = remaining_ms(deadline);
        if (left == 0) return std::nullopt;
        pollfd p{fd_, POLLIN, 0};
        poll(&p, 1, left);
    }
}

std::optional<Json> Client::read_json(milliseconds timeout) {
    auto line = read_line(timeout);
    if (!line) return std::nullopt;
    Json j = Json::parse(*line, nullptr, false);
    if (j.is_discarded()) {
        ADD_FAILURE() << "server sent a line that is not JSON: " << *line;
        return std::nullopt;
    }
    return j;
}

bool Client::wait_eof(milliseconds timeout) {
    auto deadline = Clock::now() + scaled(timeout);
    while (!eof_ && fd_ >= 0) {
        if (!read_line_by(deadline) && !eof_) return false;
    }
    return eof_;
}

Json Client::request(Json req, milliseconds timeout) {
    if (!req.contains("id")) req["id"] = next_id_++;
    if (!connected()) {
        ADD_FAILURE() << "not connected (" << connect_error_ << ") for request " << req.dump();
        return nullptr;
    }
    if (!send_json(req, timeout)) {
        ADD_FAILURE() << "could not send request " << req.dump();
        return nullptr;
    }
    auto reply = read_json(timeout);
    if (!reply) {
        ADD_FAILURE() << (eof_ ? "connection closed" : "no reply in time") << " for request "
                      << req.dump();
        return nullptr;
    }
    if (!reply->is_object() || !reply->contains("id") || (*reply)["id"] != req["id"]) {
        ADD_FAILURE() << "reply " << reply->dump() << " does not echo the id of " << req.dump();
    }
    return *reply;
}

Json Client::call(std::string_view op, const Json& args, milliseconds timeout) {
    Json req = args.is_object() ? args : Json::object();
    req["op"] = op;
    return request(std::move(req), timeout);
}

// ---- reply checks -------------------------------------------------------------------------

namespace {
// `j[key]` when `j` is an object holding `key`, else null; never throws.
Json field(const Json& j, const char* key) {
    if (!j.is_object()) return nullptr;
    auto it = j.find(key);
    return it == j.end() ? Json(nullptr) : *it;
}
}  // namespace

::testing::AssertionResult is_ok(const Json& reply) {
    if (field(reply, "ok") == true && field(reply, "result").is_object())
        return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "expected an ok reply, got " << reply.dump();
}

Json handler_info(Client& client, std::string_view name) {
    Json reply = client.call("handlers");
    if (!is_ok(reply)) return Json::object();
    for (const auto& h : reply["result"]["handlers"])
        if (h["name"] == name) return h;
    return Json::object();
}

::testing::AssertionResult is_error(const Json& reply, std::string_view code) {
    Json error = field(reply, "error");
    Json message = field(error, "message");
    if (field(reply, "ok") == false && field(error, "code") == code && message.is_string() &&
        !message.get<std::string>().empty())
        return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "expected error '" << code << "', got " << reply.dump();
}

// ---- a fixture for scenarios ----------------------------------------------------------------

void KvdTest::SetUp() {
    kvd_ = std::make_unique<KvdProcess>(dir_, options());
    ASSERT_TRUE(kvd_->ready()) << "kvd did not start";
}

Client& KvdTest::client() {
    if (!client_) {
        client_ = connect();
        EXPECT_TRUE(client_->connected()) << client_->connect_error();
    }
    return *client_;
}

std::unique_ptr<Client> KvdTest::connect() const {
    return std::make_unique<Client>(kvd_->socket_path());
}

pid_t KvdTest::create(const std::string& bucket) {
    Json reply = call("create", {{"bucket", bucket}});
    EXPECT_TRUE(is_ok(reply)) << "create " << bucket;
    return pid_in(reply);
}

pid_t KvdTest::lookup_pid(const std::string& bucket) {
    Json reply = call("lookup", {{"bucket", bucket}});
    if (is_error(reply, "not_found")) return -1;
    EXPECT_TRUE(is_ok(reply)) << "lookup " << bucket;
    return pid_in(reply);
}

pid_t pid_in(const Json& reply) {
    Json pid = field(field(reply, "result"), "pid");
    return pid.is_number_integer() ? pid.get<pid_t>() : -1;
}

}  // namespace kvd::test
