// Starts a child whose stdin and stdout are both its end of one Unix socket pair with kvd,
// and whose stderr is a given fd. Buckets and handlers are started this way.
#pragma once

#include <sys/types.h>
#include <uv.h>

#include <map>
#include <string>
#include <vector>

#include "daemon/child_reaper.hpp"

namespace kvd {

class Spawner;

struct SpawnRequest {
    std::vector<std::string> argv;               // argv[0] is run through PATH if it has no '/'
    std::map<std::string, std::string> env_add;  // added to kvd's own environment
    int stderr_fd = 2;                           // the child's fd 2
    // How kvd learns of the exit (see child_reaper.hpp): a pidfd, or the caller's hint when
    // the child's socket reaches end of file.
    ChildReaper::Watch watch = ChildReaper::Watch::pidfd;
    // Started through this spawner (see spawner.hpp) when set, else with uv_spawn from kvd.
    Spawner* spawner = nullptr;
};

struct SpawnResult {
    int error = 0;       // a libuv error code; 0 on success
    pid_t pid = 0;
    int socket_fd = -1;  // kvd's end of the socket pair, owned by the caller
};

// What a failed spawn's libuv error means, for replies and the log: libuv's own text, and for
// the errors that come from a resource limit, which limit it was (EAGAIN from fork() is the
// process limit, "resource temporarily unavailable" alone does not say so).
std::string describe_spawn_error(int uv_error);

// The environment a child gets, as "NAME=value" strings: `base` (an environ-style array, kvd's
// own) with each name of `add` set to its value.
std::vector<std::string> child_environment(char** base,
                                           const std::map<std::string, std::string>& add);

// Spawns (through the spawner, or with uv_spawn) and hands the child to `reaper`, which calls `on_exit` when it ends.
// On failure every handle and fd made on the way is closed already.
SpawnResult spawn_child(uv_loop_t* loop, ChildReaper& reaper, const SpawnRequest& request,
                        ChildReaper::ExitFn on_exit);

}  // namespace kvd
