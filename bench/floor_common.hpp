// What the two floor programs share: spawning kv-bucket as kvd's uv_spawn path does
// (daemon/proc/launch.cpp: uv_spawn, stdin and stdout one end of a socket pair whose other
// end is kept, stderr inherited), but with an ordinary libuv exit callback per child, and the line
// protocol by which the benchmark drives them over stdin/stdout, one command per line, one JSON
// reply:
//   grow N   keep N background children alive (not measured); reply {"alive":N}
//   spawn N  spawn N children one after another; reply {"seconds":S,"lat_us":[...]} with
//            the duration of each spawn (socketpair + uv_spawn)
//   stop     SIGTERM the children of the last `spawn` and reap them; reply {"seconds":S}
//   (exit_floor.cpp adds `kill`)
// Both floors answer every command, so one floor grown to 10,000 children serves both
// measurements: growing one takes minutes.
// End of file on stdin: every child is SIGKILLed and reaped, then the floor exits.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace kvd::bench::floor {

struct Child {
    uv_process_t process{};
    int socket_fd = -1;  // the floor's end of the child's stdin/stdout
    pid_t pid = 0;
    bool exited = false;
    bool closed = false;
    int64_t exited_ns = 0;  // CLOCK_MONOTONIC when libuv called the exit callback
};

class Floor {
  public:
    explicit Floor(std::string program);
    ~Floor();

    uv_loop_t* loop() { return &loop_; }
    // Spawns one child; a libuv error code (0 on success). On failure nothing is left open.
    int spawn(Child& child);
    // Runs the loop until `done()` holds.
    void run_until(const std::function<bool()>& done);
    // Sends `signo` to every child of `children`, waits for their exit callbacks, closes
    // their handles and sockets, and empties the vector.
    void end_all(std::vector<std::unique_ptr<Child>>& children, int signo);

    // Background children: kept alive until grow() shrinks them or the floor exits.
    void grow(std::size_t alive);
    std::vector<std::unique_ptr<Child>>& background() { return background_; }

  private:
    static void on_exit(uv_process_t* p, int64_t status, int signo);

    uv_loop_t loop_{};
    std::string program_;
    std::string kvd_pid_env_;
    std::vector<char*> envp_;
    std::vector<std::string> env_;
    std::vector<std::unique_ptr<Child>> background_;
};

// Reads the next command line from stdin; false at end of file.
bool read_command(std::string& verb, long& arg);
// Runs grow / spawn / stop; false when `verb` is none of them. `batch` holds the children of
// the last `spawn`.
bool common_command(Floor& floor, const std::string& verb, long n,
                    std::vector<std::unique_ptr<Child>>& batch);
// Writes one reply line to stdout and flushes it.
void reply(const std::string& json);
// `{"key":[v1,v2,...]}` fragment helpers.
std::string json_array(const std::vector<double>& values);

}  // namespace kvd::bench::floor
