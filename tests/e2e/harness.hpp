// The end-to-end harness: runs the real kvd, kvctl and kv-bucket in a private temporary
// directory and talks to them the way users do (the control socket, kvctl, signals, /proc).
//
// Timing contract: every timeout this API takes is the figure for a normal build; the
// harness multiplies it by time_scale() itself, so sanitizer builds get more time without
// each test remembering to ask. Nothing here sleeps "to let things settle": waiting is always
// polling a condition until a deadline.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kvd::test {

using Json = nlohmann::json;
using std::chrono::milliseconds;
using namespace std::chrono_literals;

// ---- time ---------------------------------------------------------------------------------

// How much slower this build is than a plain one: $KVD_TEST_TIME_SCALE, else the
// KVD_TEST_TIME_SCALE the build was configured with (4 under sanitizers), else 1.
double time_scale();

// A build under AddressSanitizer keeps freed memory in quarantine, so kvd's RSS says little
// there: memory bounds are checked by RSS only when this is false.
#if defined(__SANITIZE_ADDRESS__)  // GCC
inline constexpr bool kSanitized = true;
#elif defined(__has_feature)  // Clang
inline constexpr bool kSanitized = __has_feature(address_sanitizer);
#else
inline constexpr bool kSanitized = false;
#endif

// `timeout` stretched by time_scale().
milliseconds scaled(milliseconds timeout);

// Polls `pred` with short, growing pauses (2 ms up to 10 ms) until it holds or
// scaled(`timeout`) has passed. The result names `what` when it fails, so
// `ASSERT_TRUE(wait_until(...))` explains itself.
::testing::AssertionResult wait_until(const std::function<bool()>& pred, milliseconds timeout,
                                      std::string_view what);

// ---- files --------------------------------------------------------------------------------

// A fresh directory /tmp/kvdt-XXXXXX (short, because a Unix socket path holds at most 107
// bytes), removed with everything in it when the object goes away.
class TempDir {
  public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::string& path() const { return path_; }
    // path()/name
    std::string file(std::string_view name) const;
    // Writes `text` to path()/name and returns that path.
    std::string write_file(std::string_view name, std::string_view text) const;

  private:
    std::string path_;
};

// The whole file, or "" when it cannot be read.
std::string read_file(const std::string& path);
// The lines of `text` without their '\n'; a last line without one counts too.
std::vector<std::string> split_lines(const std::string& text);
// The file's '\n'-terminated lines (a last, unterminated line is left out: it is still being
// written).
std::vector<std::string> read_lines(const std::string& path);
bool file_exists(const std::string& path);

// ---- programs -----------------------------------------------------------------------------

std::string kvd_path();
std::string kvctl_path();
std::string kv_bucket_path();
std::string test_handler_path();
// tests/helpers/notify_child: sends READY=1 with sd_notify (see its header).
std::string notify_child_path();
bool kvctl_built();

// Environment changes for a child: a value sets the variable, nullopt removes it.
using EnvChanges = std::map<std::string, std::optional<std::string>>;

// How a process ended.
struct ExitStatus {
    bool exited = false;  // by exit(); else by a signal
    int code = -1;        // when exited
    int signal = 0;       // when killed

    static ExitStatus from_wait_status(int status);
    bool success() const { return exited && code == 0; }
    std::string describe() const;  // "exit 0", "signal SIGKILL"
};

struct RunResult {
    int exit_code = -1;  // -1 when the program was killed (e.g. it ran past its timeout)
    bool timed_out = false;
    std::string out;
    std::string err;
};

// Runs `path` with `args` (no shell), feeding `stdin_text`, collecting stdout and stderr,
// killing it after scaled(`timeout`).
RunResult run_program(const std::string& path, const std::vector<std::string>& args,
                      const EnvChanges& env = {}, milliseconds timeout = 10s,
                      std::string_view stdin_text = {});

// kvctl with `args`. $KVD_SOCKET and $XDG_RUNTIME_DIR are removed first so that nothing
// from the developer's environment leaks in; add them back through `env`.
RunResult run_kvctl(const std::vector<std::string>& args, const EnvChanges& env = {},
                    milliseconds timeout = 10s);

std::ostream& operator<<(std::ostream& os, const RunResult& r);

// Debian's nobody user and nogroup group, for tests that drop privileges.
inline constexpr uid_t kNobody = 65534;
inline constexpr gid_t kNogroup = 65534;

// ---- /proc --------------------------------------------------------------------------------

// True while `pid` exists and is not a zombie.
bool process_alive(pid_t pid);
// Sends SIGSTOP and waits until `pid` is stopped. A process takes the stop only when it next
// runs, so until then it may still read (and answer) what is sent to it.
::testing::AssertionResult freeze(pid_t pid);
// Processes whose parent is `pid` (zombies included), from /proc/*/stat, except kvd's
// spawner: for a kvd, its buckets and handlers.
std::vector<pid_t> children_of(pid_t pid);
// kvd's bucket spawner (daemon/proc/spawner.hpp), the child named kvd-spawner; 0 if there is none.
pid_t spawner_of(pid_t pid);
inline constexpr const char* kSpawnerName = "kvd-spawner";
// The number of open file descriptors of `pid`, or -1 if /proc cannot tell.
int count_open_fds(pid_t pid);
// argv[0] of `pid`'s command line, or "".
std::string process_name(pid_t pid);
// The CPU time `pid` has used so far (user + system), or -1 if /proc cannot tell.
milliseconds cpu_time(pid_t pid);
// The resident set size of `pid` in KiB (VmRSS), or -1 when /proc cannot tell.
long rss_kib(pid_t pid);
// The peak of it over the process's life (VmHWM), or -1.
long peak_rss_kib(pid_t pid);

// What a process holds at one moment, for "no leak" checks around a fault.
struct Footprint {
    int fds = -1;                 // count_open_fds
    std::vector<pid_t> children;  // children_of, zombies included
};
Footprint footprint_of(pid_t pid);
std::ostream& operator<<(std::ostream& os, const Footprint& f);
// Waits until `pid` holds at most `baseline.fds` descriptors and at most
// `baseline.children.size()` children, none of them a zombie (an exit kvd has not reaped).
// "At most": a baseline taken just after a connection closed may still count it. On failure
// the message lists what `pid` holds, its descriptors by target.
::testing::AssertionResult wait_footprint_back(pid_t pid, const Footprint& baseline,
                                               milliseconds timeout = 10s);

// ---- kvd ----------------------------------------------------------------------------------

struct KvdOptions {
    std::vector<std::string> args;      // extra arguments, after --socket
    std::optional<std::string> config;  // written to <dir>/kvd.toml and passed as --config
    EnvChanges env;
    bool pass_socket = true;  // --socket <dir>/kvd.sock
    bool wait_ready = true;   // block until the socket accepts connections
    milliseconds ready_timeout = 10s;
    // What systemd passes a service: these fds become kvd's fds 3, 4, … (socket activation),
    // and each variable named in `env_own_pid` is set to kvd's own pid (LISTEN_PID,
    // WATCHDOG_PID), which only the child knows before exec.
    std::vector<int> pass_fds;
    std::vector<std::string> env_own_pid;
    // Resource limits set (soft and hard alike) in kvd's process just before exec, as a
    // shell's `ulimit -H -S` would: e.g. {RLIMIT_NOFILE, 64}. Lowering the hard limit too
    // keeps kvd from raising the soft one back at start.
    std::vector<std::pair<int, uint64_t>> rlimits;
    // Runs kvd as this uid and gid (no supplementary groups) instead of the test's user;
    // needs root. The directory must then be usable by that user.
    std::optional<std::pair<uid_t, gid_t>> user;
    // When set, kvd's stdout and stderr are this fd (a pipe the test reads, or does not)
    // instead of <dir>/kvd.log; the caller keeps it.
    int output_fd = -1;
    // A program and its arguments that kvd's path and arguments are appended to, and which
    // ends by exec'ing them (so the pid is kvd's): e.g. unshare(1).
    std::vector<std::string> wrapper;
};

// One kvd run in `dir`: stdout and stderr go to <dir>/kvd.log. The process is always torn
// down by the destructor (SIGTERM, bounded wait, SIGKILL, reap), and its log is printed
// when the test has failed. kvd also gets SIGKILL if the test process dies, so an aborted
// test run leaves no daemon behind.
class KvdProcess {
  public:
    explicit KvdProcess(const TempDir& dir, KvdOptions options = {});
    ~KvdProcess();
    KvdProcess(const KvdProcess&) = delete;
    KvdProcess& operator=(const KvdProcess&) = delete;

    pid_t pid() const { return pid_; }
    const std::string& socket_path() const { return socket_path_; }
    const std::string& log_path() const { return log_path_; }
    std::string log() const;

    // Whether the constructor saw the socket accept a connection.
    bool ready() const { return ready_; }
    // Polls until a connect() to the socket succeeds or kvd has exited.
    ::testing::AssertionResult wait_ready(milliseconds timeout = 10s);

    // Whether kvd is still running (it is reaped here if it has exited).
    bool running();
    // Waits for kvd to exit by itself; nullopt if it is still running at the deadline.
    std::optional<ExitStatus> wait_exit(milliseconds timeout);
    // SIGTERM, then waits; nullopt if kvd had to be SIGKILLed after the deadline.
    std::optional<ExitStatus> terminate(milliseconds timeout = 20s);
    // SIGKILL and reap.
    ExitStatus kill9();
    // Sends `signo` and returns at once.
    void signal(int signo);

    // The exit status, once kvd has been reaped.
    const std::optional<ExitStatus>& exit_status() const { return exit_; }

  private:
    bool reap(bool block);

    std::string socket_path_;
    std::string log_path_;
    pid_t pid_ = -1;
    bool ready_ = false;
    std::optional<ExitStatus> exit_;
};

// ---- the control protocol -------------------------------------------------------------------

// A client connection to kvd's socket. Non-blocking underneath: every read and write has a
// deadline, so a test never hangs on a daemon that stopped answering.
class Client {
  public:
    explicit Client(const std::string& socket_path);
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    bool connected() const { return fd_ >= 0; }
    const std::string& connect_error() const { return connect_error_; }
    int fd() const { return fd_; }

    // Writes every byte; false if the peer closed or the deadline passed.
    bool send_raw(std::string_view bytes, milliseconds timeout = 10s);
    bool send_line(std::string_view line, milliseconds timeout = 10s);
    bool send_json(const Json& j, milliseconds timeout = 10s);

    // The next line without its '\n'; nullopt at end of stream or at the deadline
    // (eof() tells which).
    std::optional<std::string> read_line(milliseconds timeout = 10s);
    // The next line parsed as JSON; a line that is not JSON fails the test.
    std::optional<Json> read_json(milliseconds timeout = 10s);
    // True once the server has closed the connection (and every line before that was read).
    bool eof() const { return eof_; }
    // Reads and discards lines until the server closes; false at the deadline.
    bool wait_eof(milliseconds timeout = 10s);

    // Sends `req` (with an "id" added if it has none) and returns the reply, checking that it
    // echoes the id. A missing or malformed reply fails the test and returns null.
    Json request(Json req, milliseconds timeout = 10s);
    // request({"op": op, ...args})
    Json call(std::string_view op, const Json& args = Json::object(), milliseconds timeout = 10s);

    // Half-closes the sending side, as a client does after its last request.
    void shutdown_write();
    void close();

  private:
    std::optional<std::string> read_line_by(std::chrono::steady_clock::time_point deadline);

    int fd_ = -1;
    std::string connect_error_;
    std::string buffer_;
    bool eof_ = false;
    int64_t next_id_ = 1;
};

// ---- reply checks -------------------------------------------------------------------------

// Success when `reply` is {"ok":true,...}; the failure message shows the whole reply.
::testing::AssertionResult is_ok(const Json& reply);
// Success when `reply` is {"ok":false,"error":{"code":code,"message":<non-empty>}}.
::testing::AssertionResult is_error(const Json& reply, std::string_view code);

// The row of handler `name` in kvd's `handlers` reply; an empty object if there is none (or
// kvd did not answer).
Json handler_info(Client& client, std::string_view name);

// ---- a fixture for scenarios ----------------------------------------------------------------

// A test with its own temporary directory and one kvd in it, started by SetUp() with
// options() (override it to pass a config or flags), and a lazily connected client.
class KvdTest : public ::testing::Test {
  protected:
    void SetUp() override;
    virtual KvdOptions options() { return {}; }

    KvdProcess& kvd() { return *kvd_; }
    // The test's main connection, opened on first use.
    Client& client();
    // A new connection of its own.
    std::unique_ptr<Client> connect() const;
    Json call(std::string_view op, const Json& args = Json::object(), milliseconds timeout = 10s) {
        return client().call(op, args, timeout);
    }
    // Creates `bucket` and returns its pid, or -1 after failing the test.
    pid_t create(const std::string& bucket);
    // The pid the registry has for `bucket`, or -1 when `lookup` says not_found.
    pid_t lookup_pid(const std::string& bucket);

    TempDir dir_;  // declared first: it outlives kvd and everything kvd wrote into it
    std::unique_ptr<KvdProcess> kvd_;
    std::unique_ptr<Client> client_;
};

// result.pid of a reply, or -1.
pid_t pid_in(const Json& reply);

}  // namespace kvd::test
