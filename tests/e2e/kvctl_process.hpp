// kvctl running in the background, the way a user leaves `kvctl events` running in a
// terminal: its stdout and stderr go to files a test can watch grow, it can be sent signals,
// and its exit is waited for under a deadline. The destructor SIGKILLs and reaps it if it is
// still running, and it also gets SIGKILL if the test process dies.
#pragma once

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "tests/e2e/harness.hpp"

namespace kvd::test {

class KvctlProcess {
  public:
    // Runs kvctl with `args`, its output in <dir>/<name>.out and <dir>/<name>.err; like
    // run_kvctl(), without $KVD_SOCKET and $XDG_RUNTIME_DIR from the developer's environment.
    KvctlProcess(const TempDir& dir, const std::string& name, std::vector<std::string> args)
        : out_path_(dir.file(name + ".out")), err_path_(dir.file(name + ".err")) {
        std::vector<std::string> argv_strings = {kvctl_path()};
        argv_strings.insert(argv_strings.end(), args.begin(), args.end());
        std::vector<char*> argv;
        for (auto& s : argv_strings) argv.push_back(s.data());
        argv.push_back(nullptr);
        std::vector<std::string> env_strings;
        for (char** e = environ; *e; ++e) {
            std::string_view entry = *e;
            if (entry.rfind("KVD_SOCKET=", 0) == 0 || entry.rfind("XDG_RUNTIME_DIR=", 0) == 0)
                continue;
            env_strings.emplace_back(entry);
        }
        std::vector<char*> envp;
        for (auto& s : env_strings) envp.push_back(s.data());
        envp.push_back(nullptr);

        int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        int out = ::open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        int err = ::open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        pid_t parent = getpid();
        if (in >= 0 && out >= 0 && err >= 0) pid_ = fork();
        if (pid_ == 0) {
            // Only async-signal-safe calls between fork and exec.
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent) _exit(127);
            sigset_t none;
            sigemptyset(&none);
            sigprocmask(SIG_SETMASK, &none, nullptr);
            ::signal(SIGINT, SIG_DFL);
            ::signal(SIGTERM, SIG_DFL);
            ::signal(SIGPIPE, SIG_DFL);
            dup2(in, 0);
            dup2(out, 1);
            dup2(err, 2);
            execve(argv[0], argv.data(), envp.data());
            _exit(127);
        }
        if (pid_ < 0) ADD_FAILURE() << "cannot start kvctl: " << std::strerror(errno);
        for (int fd : {in, out, err})
            if (fd >= 0) ::close(fd);
    }

    ~KvctlProcess() {
        if (pid_ <= 0 || exit_) return;
        ::kill(pid_, SIGKILL);
        int status = 0;
        waitpid(pid_, &status, 0);
    }
    KvctlProcess(const KvctlProcess&) = delete;
    KvctlProcess& operator=(const KvctlProcess&) = delete;

    pid_t pid() const { return pid_; }
    std::string out() const { return read_file(out_path_); }
    std::string err() const { return read_file(err_path_); }

    void signal(int signo) {
        if (pid_ > 0 && !exit_) ::kill(pid_, signo);
    }

    // Waits for kvctl to end by itself; nullopt if it still runs after scaled(`timeout`).
    std::optional<ExitStatus> wait_exit(milliseconds timeout) {
        if (pid_ <= 0) return std::nullopt;
        wait_until(
            [&] {
                int status = 0;
                if (waitpid(pid_, &status, WNOHANG) == pid_)
                    exit_ = ExitStatus::from_wait_status(status);
                return exit_.has_value();
            },
            timeout, "kvctl to exit");
        return exit_;
    }

    // Waits until stdout holds `text`.
    ::testing::AssertionResult wait_output(const std::string& text, milliseconds timeout = 10s) {
        auto r = wait_until([&] { return out().find(text) != std::string::npos; }, timeout,
                            "kvctl to print '" + text + "'");
        if (!r) r << "\n--- kvctl stdout:\n" << out() << "\n--- kvctl stderr:\n" << err();
        return r;
    }

    // Waits until stderr holds `text`.
    ::testing::AssertionResult wait_error(const std::string& text, milliseconds timeout = 10s) {
        auto r = wait_until([&] { return err().find(text) != std::string::npos; }, timeout,
                            "kvctl to say '" + text + "' on stderr");
        if (!r) r << "\n--- kvctl stdout:\n" << out() << "\n--- kvctl stderr:\n" << err();
        return r;
    }

  private:
    std::string out_path_, err_path_;
    pid_t pid_ = -1;
    std::optional<ExitStatus> exit_;
};

}  // namespace kvd::test
