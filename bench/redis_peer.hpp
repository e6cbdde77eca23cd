// Redis as the reference for events and the data path: Debian's redis-server on a Unix
// socket in the temporary directory (no TCP, no persistence), and just enough RESP to
// pipeline commands and count replies.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bench/process.hpp"

namespace kvd::bench {

class RedisServer {
  public:
    // Throws BenchError when redis-server is missing or does not start.
    RedisServer(const TempDir& dir, const std::string& program);
    const std::string& socket() const { return socket_; }
    pid_t pid() const { return process_->pid(); }

  private:
    std::string socket_;
    std::unique_ptr<Process> process_;
};

// One RESP command: *N\r\n$len\r\narg\r\n...
std::string resp_command(const std::vector<std::string_view>& args);
// The byte length of the first complete reply in `buf`, or 0 when it is not complete yet.
std::size_t resp_reply_size(std::string_view buf);
// Whether a complete reply is a pub/sub message ("message" push).
inline bool resp_is_message(std::string_view reply) {
    return reply.starts_with("*3\r\n$7\r\nmessage\r\n");
}

}  // namespace kvd::bench
