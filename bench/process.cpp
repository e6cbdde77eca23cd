#include "bench/process.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace kvd::bench {

namespace {

// Pids the signal handler must kill; a fixed array because the handler may not allocate.
constexpr int kMaxTracked = 64;
volatile pid_t g_tracked[kMaxTracked];

void track(pid_t pid) {
    for (auto& slot : g_tracked)
        if (slot == 0) {
            slot = pid;
            return;
        }
}

void untrack(pid_t pid) {
    for (auto& slot : g_tracked)
        if (slot == pid) slot = 0;
}

void on_fatal_signal(int signo) {
    for (auto& slot : g_tracked)
        if (slot > 0) kill(slot, SIGKILL);
    const char msg[] = "kvd-bench: interrupted; every process it started was killed\n";
    ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)ignored;
    _exit(128 + signo);
}

int remove_entry(const char* path, const struct stat*, int, struct FTW*) {
    ::remove(path);
    return 0;
}

}  // namespace

// ---- TempDir ----------------------------------------------------------------------------------

TempDir::TempDir() {
    char tmpl[] = "/tmp/kvdb-XXXXXX";
    if (!mkdtemp(tmpl)) throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
    path_ = tmpl;
}

TempDir::~TempDir() {
    if (!keep_) nftw(path_.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void TempDir::write_file(const std::string& name, const std::string& text) const {
    std::ofstream out(file(name));
    out << text;
    if (!out) throw std::runtime_error("cannot write " + file(name));
}

// ---- Process ----------------------------------------------------------------------------------

Process::Process(std::string name, const StartSpec& spec) : name_(std::move(name)) {
    // Everything the child needs is built before fork: after it, only system calls.
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
        std::string_view kv(*e);
        std::string_view key = kv.substr(0, kv.find('='));
        bool replaced = false;
        for (const auto& s : spec.env_set)
            if (std::string_view(s).substr(0, s.find('=')) == key) replaced = true;
        if (!replaced) env.emplace_back(kv);
    }
    for (const auto& s : spec.env_set) env.push_back(s);
    std::vector<char*> envp;
    for (auto& s : env) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<char*> argv;
    for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::string file = spec.argv.at(0);
    if (file.find('/') == std::string::npos) {
        file = find_in_path(file);
        if (file.empty()) throw std::runtime_error(spec.argv[0] + ": not found in PATH");
    }

    int log_fd = open(spec.log_path.empty() ? "/dev/null" : spec.log_path.c_str(),
                      O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (log_fd < 0 || null_fd < 0)
        throw std::runtime_error("cannot open " + spec.log_path + ": " + std::strerror(errno));
    // exec failures come back through this pipe (it closes on a successful exec).
    int err_pipe[2];
    if (pipe2(err_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");

    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);
        int in = spec.stdin_fd >= 0 ? spec.stdin_fd : null_fd;
        int out = spec.stdout_fd >= 0 ? spec.stdout_fd : log_fd;
        // dup2 onto 0..2 clears close-on-exec on the copies.
        if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(log_fd, 2) < 0) _exit(127);
        signal(SIGPIPE, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        execve(file.c_str(), argv.data(), envp.data());
        int e = errno;
        ssize_t ignored = write(err_pipe[1], &e, sizeof e);
        (void)ignored;
        _exit(127);
    }
    ::close(err_pipe[1]);
    ::close(log_fd);
    ::close(null_fd);
    int child_errno = 0;
    ssize_t n;
    do n = read(err_pipe[0], &child_errno, sizeof child_errno);
    while (n < 0 && errno == EINTR);
    ::close(err_pipe[0]);
    pid_ = pid;
    if (n > 0) {
        reap(true);
        throw std::runtime_error("cannot run " + file + ": " + std::strerror(child_errno));
    }
    track(pid_);
}

Process::~Process() {
    terminate(std::chrono::seconds(20));
}

bool Process::reap(bool block) {
    if (pid_ <= 0) return true;
    int status = 0;
    pid_t r;
    do r = waitpid(pid_, &status, block ? 0 : WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == 0) return false;
    if (r == pid_) {
        ended_ = WIFSIGNALED(status) ? "signal " + std::to_string(WTERMSIG(status))
                                     : "exit " + std::to_string(WEXITSTATUS(status));
    }
    untrack(pid_);
    pid_ = -1;
    return true;
}

bool Process::running() {
    return pid_ > 0 && !reap(false);
}

bool Process::wait_exit(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (running()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
}

bool Process::terminate(std::chrono::milliseconds grace) {
    if (!running()) return true;
    kill(pid_, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + grace;
    while (std::chrono::steady_clock::now() < deadline) {
        if (reap(false)) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::fprintf(stderr, "kvd-bench: %s (pid %d) did not stop within %lld ms; SIGKILL\n",
                 name_.c_str(), pid_, static_cast<long long>(grace.count()));
    kill(pid_, SIGKILL);
    reap(true);
    return false;
}

// ---- process-wide -----------------------------------------------------------------------------

void install_cleanup_signals() {
    struct sigaction sa {};
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaction(s, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);
}

long raise_fd_limit() {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return -1;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return static_cast<long>(rl.rlim_cur);
}

std::string read_text_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

namespace {
long kib_field(const std::string& path, const char* field) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char buf[8192];
    std::string text;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) text.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    std::string key = std::string("\n") + field + ":";
    auto pos = ("\n" + text).find(key);
    if (pos == std::string::npos) return -1;
    return std::strtol(text.c_str() + pos + key.size() - 1, nullptr, 10);
}
}  // namespace

long proc_status_kib(pid_t pid, const char* field) {
    return kib_field("/proc/" + std::to_string(pid) + "/status", field);
}

long proc_smaps_rollup_kib(pid_t pid, const char* field) {
    return kib_field("/proc/" + std::to_string(pid) + "/smaps_rollup", field);
}

long long proc_cpu_ticks(pid_t pid) {
    std::string stat = read_text_file("/proc/" + std::to_string(pid) + "/stat");
    auto paren = stat.rfind(')');
    if (paren == std::string::npos) return -1;
    std::istringstream rest(stat.substr(paren + 2));
    // Fields after the name: state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt
    // majflt cmajflt utime(14) stime(15).
    std::string skip;
    for (int i = 3; i <= 13; ++i) rest >> skip;
    long long utime = 0, stime = 0;
    rest >> utime >> stime;
    return rest ? utime + stime : -1;
}

long clock_ticks_per_second() {
    return sysconf(_SC_CLK_TCK);
}

long long proc_cpu_ns(pid_t pid) {
    std::string dir = "/proc/" + std::to_string(pid) + "/task";
    DIR* d = opendir(dir.c_str());
    if (!d) return -1;
    long long total = 0;
    while (dirent* e = readdir(d)) {
        if (e->d_name[0] == '.') continue;
        std::string text = read_text_file(dir + "/" + e->d_name + "/schedstat");
        total += std::strtoll(text.c_str(), nullptr, 10);
    }
    closedir(d);
    return total;
}

long long proc_minor_faults(pid_t pid) {
    std::string stat = read_text_file("/proc/" + std::to_string(pid) + "/stat");
    auto paren = stat.rfind(')');
    if (paren == std::string::npos) return -1;
    std::istringstream rest(stat.substr(paren + 2));
    // state(3) ppid pgrp session tty_nr tpgid flags minflt(10)
    std::string skip;
    for (int i = 3; i <= 9; ++i) rest >> skip;
    long long minflt = -1;
    rest >> minflt;
    return minflt;
}

pid_t kvd_spawner_of(pid_t kvd) {
    DIR* d = opendir("/proc");
    if (!d) return 0;
    pid_t found = 0;
    while (dirent* e = readdir(d)) {
        char* end = nullptr;
        long pid = std::strtol(e->d_name, &end, 10);
        if (end == e->d_name || *end != '\0') continue;
        std::string stat = read_text_file("/proc/" + std::string(e->d_name) + "/stat");
        auto open = stat.find('('), close = stat.rfind(')');
        if (open == std::string::npos || close == std::string::npos || close < open) continue;
        if (stat.compare(open + 1, close - open - 1, "kvd-spawner") != 0) continue;
        std::istringstream rest(stat.substr(close + 2));
        std::string state;
        long ppid = 0;
        if (rest >> state >> ppid && ppid == kvd) found = static_cast<pid_t>(pid);
    }
    closedir(d);
    return found;
}

bool process_alive(pid_t pid) {
    std::string stat = read_text_file("/proc/" + std::to_string(pid) + "/stat");
    auto paren = stat.rfind(')');
    return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
}

std::string find_in_path(const std::string& name) {
    const char* path = std::getenv("PATH");
    std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
    // Debian puts some daemons in sbin, which a non-login shell's PATH may lack.
    dirs += ":/usr/sbin:/sbin";
    std::size_t start = 0;
    while (start <= dirs.size()) {
        std::size_t end = dirs.find(':', start);
        if (end == std::string::npos) end = dirs.size();
        std::string candidate = dirs.substr(start, end - start) + "/" + name;
        if (end > start && access(candidate.c_str(), X_OK) == 0) return candidate;
        start = end + 1;
    }
    return "";
}

}  // namespace kvd::bench
