// A scripted stand-in for kvd in kvctl's tests: a real Unix socket in a private temporary
// directory, whose one connection is served by a thread running a script. Every wait in it
// has a deadline, so a broken client fails the test instead of hanging it.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/line_buffer.hpp"
#include "common/protocol.hpp"

namespace kvd::ctl::testing {

using namespace std::chrono_literals;

// A private temporary directory, removed with everything in it.
class TempDir {
  public:
    TempDir() {
        char tmpl[] = "/tmp/kvctl-test-XXXXXX";
        path_ = mkdtemp(tmpl);
    }
    ~TempDir() { std::filesystem::remove_all(path_); }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string file(const std::string& name) const { return path_ + "/" + name; }

  private:
    std::string path_;
};

// kvd's end of one accepted connection.
class ServerConnection {
  public:
    explicit ServerConnection(int fd) : fd_(fd) {}

    // The next line from kvctl without '\n'; nullopt at end of file or after `wait`.
    std::optional<std::string> read_line(std::chrono::milliseconds wait = 5s) {
        auto deadline = std::chrono::steady_clock::now() + wait;
        std::string line;
        for (;;) {
            if (lines_.next_line(line)) return line;
            if (!receive(deadline)) return std::nullopt;
        }
    }

    void write(std::string_view data) {
        while (!data.empty()) {
            ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
            if (n <= 0) return;  // kvctl has gone; the test's assertions will say why
            data.remove_prefix(static_cast<std::size_t>(n));
        }
    }

    // Waits for kvctl to close its end; false if it did not within `wait`.
    bool wait_closed(std::chrono::milliseconds wait = 5s) {
        auto deadline = std::chrono::steady_clock::now() + wait;
        while (receive(deadline)) {
        }
        return eof_;
    }

  private:
    bool receive(std::chrono::steady_clock::time_point deadline) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (eof_ || left.count() <= 0) return false;
        pollfd p{fd_, POLLIN, 0};
        if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
        char buf[4096];
        ssize_t n = ::read(fd_, buf, sizeof buf);
        if (n <= 0) {
            eof_ = true;
            return false;
        }
        lines_.append(std::string_view(buf, static_cast<std::size_t>(n)));
        return true;
    }

    int fd_;
    bool eof_ = false;
    LineBuffer lines_{1 << 20};
};

// Listens at `path()`, accepts one connection and runs `script` on it in a thread; the
// connection is closed when the script returns. With several scripts, the connections that
// follow are served by the next script each, in order (a client that reconnects).
// Destruction waits for the scripts.
class FakeKvd {
  public:
    using Script = std::function<void(ServerConnection&)>;

    explicit FakeKvd(Script script) : FakeKvd(std::vector<Script>{std::move(script)}) {}

    explicit FakeKvd(std::vector<Script> scripts) : path_(dir_.file("kvd.sock")) {
        listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
        if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
            listen(listen_fd_, 8) != 0)
            std::abort();
        thread_ = std::thread([this, scripts = std::move(scripts)] {
            for (const auto& script : scripts) {
                pollfd p{listen_fd_, POLLIN, 0};
                if (poll(&p, 1, 10'000) != 1) return;
                int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
                if (fd < 0) return;
                ServerConnection connection(fd);
                script(connection);
                close(fd);
            }
        });
    }
    ~FakeKvd() {
        join();
        close(listen_fd_);
    }
    FakeKvd(const FakeKvd&) = delete;
    FakeKvd& operator=(const FakeKvd&) = delete;

    const std::string& path() const { return path_; }
    // Waits for the script to finish, so what it recorded can be checked.
    void join() {
        if (thread_.joinable()) thread_.join();
    }

  private:
    TempDir dir_;
    std::string path_;
    int listen_fd_ = -1;
    std::thread thread_;
};

// A kvd that answers by op from a table of buckets, for the commands that act on several:
// `list` returns `buckets`; `stop`, `kill` and `restart` of a bucket in the table succeed (stop
// removes it), of any other are `not_found`; every other op is `bad_request`. Replies go out
// only after `batch` requests have arrived, so a client that waits for each reply before
// sending the next request (no pipelining) gets no answer and times out. Keeps the requests.
class FakeRegistry {
  public:
    explicit FakeRegistry(std::vector<Json> buckets, std::size_t batch = 1)
        : buckets_(std::move(buckets)), batch_(batch) {}

    // Serves one connection until kvctl closes it.
    FakeKvd::Script script() {
        return [this](ServerConnection& c) {
            std::vector<Json> pending;
            while (auto line = c.read_line()) {
                requests.push_back(Json::parse(*line));
                pending.push_back(requests.back());
                // A `list` is answered at once: kvctl needs it to know what to send next.
                if (pending.size() < batch_ && pending.back()["op"] != "list") continue;
                for (const auto& request : pending) {
                    Json reply = answer(request);
                    reply["id"] = request["id"];
                    c.write(dump_line(reply) + "\n");
                }
                pending.clear();
            }
        };
    }

    std::vector<Json> requests;  // read them after FakeKvd::join()

  private:
    Json answer(const Json& request) {
        std::string op = request.value("op", "");
        if (op == "list") return {{"ok", true}, {"result", {{"buckets", buckets_}}}};
        std::string bucket = request.value("bucket", "");
        auto it = std::find_if(buckets_.begin(), buckets_.end(),
                               [&](const Json& b) { return b["bucket"] == bucket; });
        if (op != "stop" && op != "kill" && op != "restart")
            return {{"ok", false}, {"error", {{"code", "bad_request"}, {"message", "unknown op"}}}};
        if (it == buckets_.end())
            return {{"ok", false},
                    {"error",
                     {{"code", "not_found"}, {"message", "no bucket named '" + bucket + "'"}}}};
        Json result = {{"bucket", bucket}, {"pid", (*it)["pid"]}};
        if (op == "stop") buckets_.erase(it);
        if (op == "kill") result["signal"] = request["signal"];
        if (op == "restart") result["restarts"] = 1;
        return {{"ok", true}, {"result", result}};
    }

    std::vector<Json> buckets_;
    std::size_t batch_;
};

}  // namespace kvd::ctl::testing
