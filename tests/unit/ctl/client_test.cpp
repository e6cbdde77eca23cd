// kvctl's Client against a scripted socket server: pipelining, deadlines, and the
// classification of every way of not reaching kvd.
#include "ctl/client.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <csignal>
#include <vector>

#include "ctl/exit_status.hpp"
#include "fake_kvd.hpp"

namespace kvd::ctl {
namespace {

using testing::FakeKvd;
using testing::ServerConnection;
using testing::TempDir;
using namespace std::chrono_literals;

Deadline in(std::chrono::milliseconds wait) {
    return SteadyClock::now() + wait;
}

TEST(Client, PipelinedRequestsAreAllSentBeforeAnyReplyAndRepliesReadInOrder) {
    std::vector<std::string> received;
    FakeKvd kvd([&](ServerConnection& c) {
        // Reads all three before answering: this only works if kvctl does not wait.
        for (int i = 0; i < 3; ++i) {
            auto line = c.read_line();
            if (!line) return;
            received.push_back(*line);
        }
        c.write(R"({"id":1,"ok":true,"result":{"bucket":"a","pid":11,"created":true}})"
                "\n"
                R"({"id":2,"ok":true,"result":{"bucket":"b","pid":12,"created":true}})"
                "\n"
                R"({"id":3,"ok":false,"error":{"code":"invalid_name","message":"bad"}})"
                "\n");
        c.wait_closed();
    });
    {
        Client client;
        ASSERT_FALSE(client.connect(kvd.path(), 1s));
        int64_t a = client.send({{"op", "create"}, {"bucket", "a"}});
        int64_t b = client.send({{"op", "create"}, {"bucket", "b"}});
        int64_t c = client.send({{"op", "create"}, {"bucket", ".c"}});
        EXPECT_EQ(a, 1);
        EXPECT_EQ(b, 2);
        EXPECT_EQ(c, 3);
        Reply reply;
        ASSERT_FALSE(client.read_reply(reply, a, in(5s)));
        EXPECT_EQ(reply.result["pid"], 11);
        ASSERT_FALSE(client.read_reply(reply, b, in(5s)));
        EXPECT_EQ(reply.result["pid"], 12);
        ASSERT_FALSE(client.read_reply(reply, c, in(5s)));
        EXPECT_FALSE(reply.ok);
        EXPECT_EQ(reply.error.code, "invalid_name");
    }
    kvd.join();
    ASSERT_EQ(received.size(), 3u);
    EXPECT_EQ(Json::parse(received[0]), (Json{{"id", 1}, {"op", "create"}, {"bucket", "a"}}));
    EXPECT_EQ(Json::parse(received[2]), (Json{{"id", 3}, {"op", "create"}, {"bucket", ".c"}}));
}

TEST(Client, ReplySplitAcrossWritesIsReassembled) {
    FakeKvd kvd([](ServerConnection& c) {
        if (!c.read_line()) return;
        c.write(R"({"id":1,"ok":tr)");
        c.write(R"(ue,"result":{"version":"1","pid":7}})"
                "\n");
        c.wait_closed();
    });
    Client client;
    ASSERT_FALSE(client.connect(kvd.path(), 1s));
    Reply reply;
    ASSERT_FALSE(client.read_reply(reply, client.send({{"op", "ping"}}), in(5s)));
    EXPECT_EQ(reply.result["pid"], 7);
}

TEST(Client, WaitingForAReplyEndsAtTheDeadline) {
    FakeKvd kvd([](ServerConnection& c) { c.wait_closed(); });  // never answers
    Client client;
    ASSERT_FALSE(client.connect(kvd.path(), 200ms));
    auto start = SteadyClock::now();
    Reply reply;
    auto error = client.read_reply(reply, client.send({{"op", "ping"}}), in(200ms));
    auto waited = SteadyClock::now() - start;
    ASSERT_TRUE(error);
    EXPECT_EQ(error->kind, ClientErrorKind::timeout);
    EXPECT_NE(error->message.find("timed out after 200ms"), std::string::npos) << error->message;
    EXPECT_EQ(exit_status_for(*error), kExitUnreachable);
    EXPECT_GE(waited, 200ms);
    EXPECT_LT(waited, 5s);
}

TEST(Client, MissingSocketIsNoSocket) {
    TempDir dir;
    Client client;
    auto error = client.connect(dir.file("kvd.sock"), 1s);
    ASSERT_TRUE(error);
    EXPECT_EQ(error->kind, ClientErrorKind::no_socket);
    EXPECT_EQ(error->message,
              "cannot connect to " + dir.file("kvd.sock") + ": no such file (is kvd running?)");
    EXPECT_EQ(exit_status_for(*error), kExitUnreachable);
}

TEST(Client, StaleSocketFileIsConnectionRefused) {
    TempDir dir;
    std::string path = dir.file("kvd.sock");
    // Bound but never listening: what a kvd that died without cleaning up leaves behind.
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    close(fd);

    Client client;
    auto error = client.connect(path, 1s);
    ASSERT_TRUE(error);
    EXPECT_EQ(error->kind, ClientErrorKind::refused);
    EXPECT_NE(error->message.find("connection refused"), std::string::npos);
    EXPECT_EQ(exit_status_for(*error), kExitUnreachable);
}

TEST(Client, TooLongPathIsRefusedBeforeConnecting) {
    Client client;
    auto error = client.connect("/tmp/" + std::string(200, 'x'), 1s);
    ASSERT_TRUE(error);
    EXPECT_EQ(error->kind, ClientErrorKind::path_too_long);
    EXPECT_NE(error->message.find("too long (205 bytes, at most 107)"), std::string::npos);
    EXPECT_EQ(exit_status_for(*error), kExitUsage);
}

TEST(Client, ConnectErrnoIsClassified) {
    EXPECT_EQ(connect_error("/p", EACCES, 1s).kind, ClientErrorKind::access_denied);
    EXPECT_EQ(connect_error("/p", EACCES, 1s).message, "cannot connect to /p: permission denied");
    EXPECT_EQ(connect_error("/p", EPERM, 1s).kind, ClientErrorKind::access_denied);
    EXPECT_EQ(connect_error("/p", ENOTDIR, 1s).kind, ClientErrorKind::no_socket);
    EXPECT_EQ(connect_error("/p", ECONNREFUSED, 1s).kind, ClientErrorKind::refused);
    EXPECT_EQ(connect_error("/p", EAGAIN, 2s).kind, ClientErrorKind::timeout);
    EXPECT_EQ(connect_error("/p", EAGAIN, 2s).message, "cannot connect to /p: timed out after 2s");
    EXPECT_EQ(connect_error("/p", EIO, 1s).kind, ClientErrorKind::io);
    for (int e : {EACCES, ENOENT, ECONNREFUSED, EAGAIN, EIO})
        EXPECT_EQ(exit_status_for(connect_error("/p", e, 1s)), kExitUnreachable) << e;
}

TEST(Client, PermissionDeniedLineFromKvdIsRejected) {
    // README "Configuration": a refused peer gets one error line and the connection is closed,
    // without kvd reading what the client sent.
    FakeKvd kvd([](ServerConnection& c) {
        c.write(
            R"({"id":null,"ok":false,"error":{"code":"permission_denied","message":"uid 1000 is not allowed"}})"
            "\n");
    });
    Client client;
    ASSERT_FALSE(client.connect(kvd.path(), 1s));
    Reply reply;
    auto error = client.read_reply(reply, client.send({{"op", "ping"}}), in(5s));
    ASSERT_TRUE(error);
    EXPECT_EQ(error->kind, ClientErrorKind::rejected);
    EXPECT_EQ(error->message,
              "kvd refused this client: permission_denied: uid 1000 is not allowed");
    EXPECT_EQ(exit_status_for(*error), kExitUnreachable);
}

TEST(Client, CloseBeforeReplyIsClosed) {
    FakeKvd kvd([](ServerConnection& c) { c.read_line(); });
    Client client;
    ASSERT_FALSE(client.connect(kvd.path(), 1s));
    Reply reply;
    auto error = client.read_reply(reply, client.send({{"op", "ping"}}), in(5s));
    ASSERT_TRUE(error);
    EXPECT_EQ(error->kind, ClientErrorKind::closed);
    EXPECT_EQ(error->message, "kvd closed the connection before replying");
    EXPECT_EQ(exit_status_for(*error), kExitUnreachable);
}

TEST(Client, MalformedReplyOrWrongIdIsAProtocolError) {
    FakeKvd kvd([](ServerConnection& c) {
        if (!c.read_line() || !c.read_line()) return;
        c.write("not json\n");
        c.write(R"({"id":7,"ok":true,"result":{}})"
                "\n");
        c.wait_closed();
    });
    Client client;
    ASSERT_FALSE(client.connect(kvd.path(), 1s));
    int64_t first = client.send({{"op", "ping"}});
    int64_t second = client.send({{"op", "ping"}});
    Reply reply;
    auto error = client.read_reply(reply, first, in(5s));
    ASSERT_TRUE(error);
    EXPECT_EQ(error->kind, ClientErrorKind::protocol);
    EXPECT_EQ(error->message, "malformed reply from kvd: not json");
    error = client.read_reply(reply, second, in(5s));
    ASSERT_TRUE(error);
    EXPECT_EQ(error->kind, ClientErrorKind::protocol);
    EXPECT_EQ(error->message, "reply from kvd has id 7, expected 2");
}

TEST(Client, ErrorWithoutIdAnswersTheRequest) {
    // kvd cannot echo the id of a line it could not parse; the error still belongs to us.
    FakeKvd kvd([](ServerConnection& c) {
        if (!c.read_line()) return;
        c.write(R"({"id":null,"ok":false,"error":{"code":"limit","message":"line too long"}})"
                "\n");
        c.wait_closed();
    });
    Client client;
    ASSERT_FALSE(client.connect(kvd.path(), 1s));
    Reply reply;
    ASSERT_FALSE(client.read_reply(reply, client.send({{"op", "ping"}}), in(5s)));
    EXPECT_FALSE(reply.ok);
    EXPECT_EQ(reply.error.code, "limit");
}

TEST(Client, WakeFdInterruptsAWaitWithoutDeadline) {
    FakeKvd kvd([](ServerConnection& c) { c.wait_closed(); });
    int wake[2];
    ASSERT_EQ(pipe(wake), 0);
    ASSERT_EQ(write(wake[1], "x", 1), 1);
    Client client;
    client.set_wake_fd(wake[0]);
    ASSERT_FALSE(client.connect(kvd.path(), 1s));
    std::string line;
    auto error = client.read_line(line, std::nullopt);
    ASSERT_TRUE(error);
    EXPECT_EQ(error->kind, ClientErrorKind::interrupted);
    // Not a signal number kvctl handles: taken as Ctrl-C.
    EXPECT_EQ(exit_status_for(*error), 130);
    close(wake[0]);
    close(wake[1]);
}

TEST(Client, InterruptionExitsAsTheSignalSays) {
    EXPECT_EQ(exit_status_for({ClientErrorKind::interrupted, "interrupted", SIGINT}), 130);
    EXPECT_EQ(exit_status_for({ClientErrorKind::interrupted, "interrupted", SIGTERM}), 143);
}

TEST(Client, SleepEndsEarlyWhenWoken) {
    EXPECT_FALSE(sleep_unless_woken(-1, Millis(1)));
    int wake[2];
    ASSERT_EQ(pipe(wake), 0);
    char byte = SIGTERM;
    ASSERT_EQ(write(wake[1], &byte, 1), 1);
    auto error = sleep_unless_woken(wake[0], Millis(60'000));
    ASSERT_TRUE(error);
    EXPECT_EQ(error->kind, ClientErrorKind::interrupted);
    EXPECT_EQ(error->signal, SIGTERM);
    close(wake[0]);
    close(wake[1]);
}

// kvd would answer `limit` and close the connection; kvctl says so itself, sending nothing.
TEST(Client, RequestLongerThanKvdsLineLimitIsNotSent) {
    std::optional<std::string> received;
    FakeKvd kvd([&](ServerConnection& c) { received = c.read_line(); });
    {
        Client client;
        ASSERT_FALSE(client.connect(kvd.path(), 1s));
        Json put = {{"op", "put"},
                    {"bucket", "b"},
                    {"key", "k"},
                    {"value", std::string(wire::kMaxLineBytes, 'v')}};
        Reply reply;
        auto error = client.read_reply(reply, client.send(put), in(5s));
        ASSERT_TRUE(error);
        EXPECT_EQ(error->kind, ClientErrorKind::too_long);
        EXPECT_EQ(exit_status_for(*error), kExitUsage);
        EXPECT_NE(
            error->message.find("more than the 1048576 bytes (1 MiB) kvd accepts in one line"),
            std::string::npos)
            << error->message;
        EXPECT_FALSE(client.flush(in(1s)));
    }  // closed: kvd sees end of file, and no line before it
    kvd.join();
    EXPECT_EQ(received, std::nullopt);
}

TEST(Client, FlushWritesQueuedLines) {
    std::optional<std::string> received;
    FakeKvd kvd([&](ServerConnection& c) {
        received = c.read_line();
        c.wait_closed();
    });
    {
        Client client;
        ASSERT_FALSE(client.connect(kvd.path(), 1s));
        client.send_line("ok");
        ASSERT_FALSE(client.flush(in(5s)));
    }
    kvd.join();
    EXPECT_EQ(received, "ok");
}

// For a caller with its own poll loop (`kvctl top`): read_line_now never waits. It sends what
// is queued, gives whole lines only, and says `closed` once kvd's last line was taken.
TEST(Client, ReadLineNowTakesWhatHasArrivedWithoutWaiting) {
    FakeKvd kvd([&](ServerConnection& c) {
        if (c.read_line() != R"({"id":1,"op":"ping"})") return;
        c.write("{\"a\":1}\n{\"b\":");
        if (c.read_line() != "more") return;
        c.write("2}\n");
    });
    Client client;
    ASSERT_FALSE(client.connect(kvd.path(), 1s));
    client.send({{"op", "ping"}});
    EXPECT_TRUE(client.wants_write());
    // Polls the client's socket as top does, and takes a line (or an error) when there is one.
    auto next = [&](std::string& line) -> std::optional<ClientError> {
        auto deadline = SteadyClock::now() + 5s;
        while (SteadyClock::now() < deadline) {
            bool got = false;
            if (auto error = client.read_line_now(line, got)) return error;
            if (got) return std::nullopt;
            pollfd p{client.fd(), static_cast<short>(POLLIN | (client.wants_write() ? POLLOUT : 0)),
                     0};
            poll(&p, 1, 100);
        }
        ADD_FAILURE() << "nothing came from the fake kvd";
        return ClientError{ClientErrorKind::timeout, "test deadline"};
    };
    std::string line;
    ASSERT_FALSE(next(line));
    EXPECT_EQ(line, R"({"a":1})");
    EXPECT_FALSE(client.wants_write());
    bool got = true;
    EXPECT_FALSE(client.read_line_now(line, got));
    EXPECT_FALSE(got) << "half a line is not a line";
    client.send_line("more");
    ASSERT_FALSE(next(line));
    EXPECT_EQ(line, R"({"b":2})");
    auto closed = next(line);
    ASSERT_TRUE(closed);
    EXPECT_EQ(closed->kind, ClientErrorKind::closed);
}

}  // namespace
}  // namespace kvd::ctl
