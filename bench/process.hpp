// The processes the benchmark starts (kvd, redis-server, supervisord, the floors), its
// private temporary directory, and what it reads about processes from /proc.
//
// Cleanup contract: every Process is terminated when its object goes away (SIGTERM, a
// bounded wait, SIGKILL), and each is registered so that SIGINT/SIGTERM/SIGHUP to the
// benchmark SIGKILLs them all before it exits. Each child also gets PR_SET_PDEATHSIG, so
// even a SIGKILLed benchmark leaves nothing behind (kvd's buckets, the floors' children and
// supervisord's sleepers watch their own parents the same way).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kvd::bench {

// A fresh /tmp/kvdb-XXXXXX (short: Unix socket paths hold at most 107 bytes), removed with
// its contents on destruction unless keep() was called.
class TempDir {
  public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::string& path() const { return path_; }
    std::string file(const std::string& name) const { return path_ + "/" + name; }
    void write_file(const std::string& name, const std::string& text) const;
    void keep() { keep_ = true; }

  private:
    std::string path_;
    bool keep_ = false;
};

struct StartSpec {
    std::vector<std::string> argv;     // argv[0] is looked up in PATH when it has no '/'
    std::vector<std::string> env_set;  // "NAME=VALUE", added to (or replacing in) ours
    std::string log_path;              // stdout and stderr are appended here ("" = /dev/null)
    int stdin_fd = -1;                 // the child's stdin (-1: /dev/null); not closed here
    int stdout_fd = -1;                // the child's stdout (-1: the log)
};

class Process {
  public:
    // Starts the program; throws std::runtime_error when fork or exec fails.
    Process(std::string name, const StartSpec& spec);
    ~Process();
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;

    const std::string& name() const { return name_; }
    pid_t pid() const { return pid_; }
    // Whether it is still running (reaped here once it has exited).
    bool running();
    // Waits up to `timeout` for it to exit by itself; true if it did.
    bool wait_exit(std::chrono::milliseconds timeout);
    // SIGTERM, wait up to `grace`, then SIGKILL; true if it ended within the grace period.
    bool terminate(std::chrono::milliseconds grace);
    // How it ended, once reaped: "exit N" / "signal N".
    const std::string& ended() const { return ended_; }

  private:
    bool reap(bool block);

    std::string name_;
    pid_t pid_ = -1;
    std::string ended_;
};

// Installs the SIGINT/SIGTERM/SIGHUP cleanup and ignores SIGPIPE.
void install_cleanup_signals();
// Raises RLIMIT_NOFILE's soft limit to the hard limit; returns the new soft limit.
long raise_fd_limit();

// /proc readers; -1 when the process or the field is not there.
long proc_status_kib(pid_t pid, const char* field);        // e.g. "VmRSS"
long proc_smaps_rollup_kib(pid_t pid, const char* field);  // e.g. "Pss"
// utime + stime in clock ticks.
long long proc_cpu_ticks(pid_t pid);
long clock_ticks_per_second();
// CPU time of every thread of `pid` in nanoseconds (/proc/PID/task/*/schedstat), -1 if gone.
long long proc_cpu_ns(pid_t pid);
// Minor page faults of `pid` (field 10 of /proc/PID/stat), -1 if gone.
long long proc_minor_faults(pid_t pid);
bool process_alive(pid_t pid);
// kvd's bucket spawner (its child named kvd-spawner), or 0. It works for kvd, so kvd's CPU
// and page-fault figures include it.
pid_t kvd_spawner_of(pid_t kvd);

// Where a program is found: `name` in PATH, or "" when it is not there.
std::string find_in_path(const std::string& name);

std::string read_text_file(const std::string& path);

}  // namespace kvd::bench
