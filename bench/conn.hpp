// A non-blocking client connection to a Unix stream socket with byte buffers both ways, so
// one thread can pipeline requests on several connections and read their replies as they
// come (kvd's JSON lines, Redis' RESP, supervisord's HTTP). No protocol lives here.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace kvd::bench {

// Any failure of a benchmark step: a peer that does not answer in time, closes, or answers
// something unexpected. The section it happens in is reported as failed; the rest goes on.
struct BenchError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class Conn {
  public:
    Conn() = default;
    explicit Conn(const std::string& socket_path) { connect_unix(socket_path); }
    ~Conn();
    Conn(const Conn&) = delete;
    Conn& operator=(const Conn&) = delete;

    // Throws BenchError when the socket does not accept.
    void connect_unix(const std::string& path);
    bool connected() const { return fd_ >= 0; }
    int fd() const { return fd_; }
    void close();

    // Queues bytes; they leave during the next write_some() / pump.
    void send(std::string_view bytes) { out_.append(bytes); }
    bool wants_write() const { return out_off_ < out_.size(); }
    std::size_t unsent() const { return out_.size() - out_off_; }
    // Non-blocking I/O; false once the peer closed or failed (eof() then says so).
    bool write_some();
    bool read_some();
    bool eof() const { return eof_; }

    // Unread input. Views stay valid until the next read_some().
    std::string_view input() const { return std::string_view(in_).substr(in_off_); }
    void consume(std::size_t n) { in_off_ += n; }
    // The next complete line (without '\n') from the unread input, if there is one.
    bool next_line(std::string_view& line);

    // Blocking helpers: poll this connection until the condition holds; throw BenchError
    // at `deadline_ns` (CLOCK_MONOTONIC) or end of stream.
    std::string_view wait_line(int64_t deadline_ns);
    void flush(int64_t deadline_ns);
    // One poll round for this connection (waits at most `timeout_ms`).
    void pump(int timeout_ms);

  private:
    int fd_ = -1;
    std::string out_;
    std::size_t out_off_ = 0;
    std::string in_;
    std::size_t in_off_ = 0;
    bool eof_ = false;
};

// One poll round over `conns`: writes what each can take, reads what arrived. Waits at most
// `timeout_ms` for anything to happen.
void pump_all(const std::vector<Conn*>& conns, int timeout_ms);

// A deadline `ms` milliseconds from now.
int64_t deadline_in_ms(int64_t ms);

}  // namespace kvd::bench
