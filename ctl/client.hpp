// kvctl's connection to kvd: sends request lines, reads reply and event lines with a
// deadline, and says precisely why kvd could not be reached when it cannot.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "common/duration.hpp"
#include "common/line_buffer.hpp"
#include "common/protocol.hpp"

namespace kvd::ctl {

using SteadyClock = std::chrono::steady_clock;
using Deadline = std::optional<SteadyClock::time_point>;  // nullopt: wait for ever

// Why a conversation with kvd ended before kvd could answer a request.
enum class ClientErrorKind {
    no_socket,      // nothing at the path (ENOENT, ENOTDIR): kvd is not running there
    access_denied,  // the file system refused us the path (EACCES, EPERM)
    refused,        // a socket file nobody listens on (ECONNREFUSED): a stale socket
    path_too_long,  // the path does not fit in a sockaddr_un
    timeout,        // no connection or no reply before the deadline
    closed,         // kvd closed the connection before replying
    rejected,       // kvd answered `permission_denied` (the peer credential check)
    protocol,       // a reply that is not a reply: not JSON, too long, wrong id
    interrupted,    // the wake fd became readable (kvctl got SIGINT or SIGTERM)
    too_long,       // a request longer than kvd accepts in one line; it was not sent
    io,             // any other socket error
};

struct ClientError {
    ClientErrorKind kind;
    std::string message;  // one line, without the "kvctl: " prefix
    int signal = 0;       // for `interrupted`: the signal that woke us, when known
};

// The exit status for a failed conversation: 2 for a path that cannot be used at all or a
// request too long to send, 128 + the signal for an interruption (130 for SIGINT), 3 for
// everything else.
int exit_status_for(const ClientError& error);

// Reads the byte kvctl's signal handler wrote into the wake pipe, its signal's number:
// SIGTERM, or SIGINT for anything else.
int read_wake_signal(int wake_fd);

// Waits `wait`, or less when `wake_fd` (-1: none) becomes readable: then `interrupted`.
std::optional<ClientError> sleep_unless_woken(int wake_fd, Millis wait);

// The message for a failed connect(2) to `path` with `errno_value`.
ClientError connect_error(const std::string& path, int errno_value, Millis timeout);

// One connection to kvd's control socket. Writes are queued and sent while waiting for
// input, so pipelined requests never deadlock against replies filling the socket buffer.
// Not copyable; closes the socket on destruction.
class Client {
  public:
    Client() = default;
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // Connects to the Unix socket at `path`, waiting at most `timeout` for kvd to accept.
    std::optional<ClientError> connect(const std::string& path, Millis timeout);

    // Queues `request` with the next id (1, 2, ...) and returns that id. A request longer
    // than kvd's line limit is not sent: reading its reply gives a `too_long` error.
    int64_t send(Json request);
    // Queues one raw line (such as an event ack); '\n' is added.
    void send_line(std::string_view line);

    // Waits for the next line from kvd.
    std::optional<ClientError> read_line(std::string& line, Deadline deadline);
    // Waits for the reply to request `id`. A `permission_denied` error comes back as a
    // `rejected` ClientError, since it means kvd will not talk to us at all.
    std::optional<ClientError> read_reply(Reply& reply, int64_t id, Deadline deadline);
    // Waits until every queued byte is written.
    std::optional<ClientError> flush(Deadline deadline);

    // Without waiting: writes what the socket takes and reads what has arrived, then gives the
    // next whole line if there is one (`got`). For a caller that polls fd() itself among other
    // descriptors (`kvctl top`). kvd having closed the connection is `closed` once every line
    // it sent before has been taken.
    std::optional<ClientError> read_line_now(std::string& line, bool& got);
    // The connected socket, for poll(2); -1 before connect().
    int fd() const { return fd_; }
    // Whether queued bytes wait to be written (poll fd() for POLLOUT then).
    bool wants_write() const { return !out_.empty(); }

    // While waiting, a readable `fd` ends the wait with `interrupted` (-1: none).
    void set_wake_fd(int fd) { wake_fd_ = fd; }

  private:
    // One poll(2) round: writes what it can, reads what arrived.
    std::optional<ClientError> pump(Deadline deadline);
    // The same with a poll(2) timeout in milliseconds (-1: none); `idle` when nothing happened
    // before it.
    std::optional<ClientError> pump_for(int wait_ms, bool& idle);
    ClientError timeout_error() const;

    int fd_ = -1;
    int wake_fd_ = -1;
    int64_t next_id_ = 1;
    Millis timeout_{0};  // for messages only; deadlines are passed in
    std::string out_;    // queued bytes not yet written
    bool eof_ = false;   // kvd closed its end; what is buffered can still be read
    bool write_failed_ = false;
    std::optional<ClientError> unsent_;  // the request send() refused
    LineBuffer in_{kMaxReplyBytes};

    // A sanity cap, larger than any request line: `keys` of a big bucket is one line.
    static constexpr std::size_t kMaxReplyBytes = 64 * 1024 * 1024;
};

}  // namespace kvd::ctl
