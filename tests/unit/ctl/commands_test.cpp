// kvctl's commands: the requests they build, and what they print and return for the
// replies of a scripted kvd.
#include "ctl/commands.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <sstream>
#include <thread>
#include <vector>

#include "ctl/exit_status.hpp"
#include "fake_kvd.hpp"
#include "kvctl_run.hpp"

namespace kvd::ctl {
namespace {

using testing::answer;
using testing::Captured;
using testing::FakeKvd;
using testing::ServerConnection;

TEST(Requests, Simple) {
    EXPECT_EQ(make_request("ping"), (Json{{"op", "ping"}}));
    EXPECT_EQ(make_bucket_request("lookup", "a"), (Json{{"op", "lookup"}, {"bucket", "a"}}));
    EXPECT_EQ(make_key_request("get", "a", "k"),
              (Json{{"op", "get"}, {"bucket", "a"}, {"key", "k"}}));
    EXPECT_EQ(make_put_request("a", "k", "v"),
              (Json{{"op", "put"}, {"bucket", "a"}, {"key", "k"}, {"value", "v"}}));
}

TEST(Requests, StopSendsTimeoutMsOnlyWhenGiven) {
    EXPECT_EQ(make_stop_request("a", std::nullopt), (Json{{"op", "stop"}, {"bucket", "a"}}));
    EXPECT_EQ(make_stop_request("a", Millis(1500)),
              (Json{{"op", "stop"}, {"bucket", "a"}, {"timeout_ms", 1500}}));
}

TEST(Requests, KillSendsTheCanonicalSignalName) {
    EXPECT_EQ(canonical_signal("term"), "SIGTERM");
    EXPECT_EQ(canonical_signal("SIGHUP"), "SIGHUP");
    EXPECT_EQ(canonical_signal("9"), "SIGKILL");
    EXPECT_EQ(canonical_signal("SIGNOPE"), std::nullopt);
    EXPECT_EQ(canonical_signal(""), std::nullopt);
    EXPECT_EQ(make_kill_request("a", "SIGTERM"),
              (Json{{"op", "kill"}, {"bucket", "a"}, {"signal", "SIGTERM"}}));
}

TEST(Requests, Notify) {
    EXPECT_EQ(make_notify_request("hello", std::nullopt, false),
              (Json{{"op", "notify"}, {"type", "hello"}}));
    EXPECT_EQ(
        make_notify_request("hello", Json{{"world", true}}, true),
        (Json{{"op", "notify"}, {"type", "hello"}, {"data", {{"world", true}}}, {"sync", true}}));
    // A JSON null is still data the user gave.
    EXPECT_EQ(make_notify_request("x", Json(nullptr), false),
              (Json{{"op", "notify"}, {"type", "x"}, {"data", nullptr}}));
}

TEST(Requests, JsonArgument) {
    EXPECT_EQ(parse_json_argument(R"({"world":true})"), (Json{{"world", true}}));
    EXPECT_EQ(parse_json_argument("42"), Json(42));
    EXPECT_EQ(parse_json_argument("null"), Json(nullptr));
    std::string error;
    EXPECT_EQ(parse_json_argument("{bad", &error), std::nullopt);
    EXPECT_EQ(error.rfind("parse error at line 1, column 2", 0), 0u) << error;
    EXPECT_EQ(parse_json_argument("world"), std::nullopt);
    EXPECT_EQ(parse_json_argument("1 2"), std::nullopt);
}

// What nlohmann cannot hold or kvd would refuse is an error value, never an exception.
TEST(Requests, JsonArgumentKvctlCannotSend) {
    std::string error;
    EXPECT_EQ(parse_json_argument("1e999", &error), std::nullopt);
    EXPECT_NE(error.find("number overflow parsing '1e999'"), std::string::npos) << error;
    EXPECT_NE(error.find("must fit in a double"), std::string::npos) << error;
    EXPECT_EQ(parse_json_argument(R"({"a":[-1e999]})"), std::nullopt);

    // kvd takes 256 levels in a request, the request object being the first.
    std::string deepest_sent = std::string(255, '[') + std::string(255, ']');
    EXPECT_NE(parse_json_argument(deepest_sent), std::nullopt);
    std::string too_deep = std::string(100'000, '[') + std::string(100'000, ']');
    EXPECT_EQ(parse_json_argument(too_deep, &error), std::nullopt);
    EXPECT_EQ(error, "nested more than 255 levels deep (kvd's limit)");
    // Brackets inside strings are text.
    EXPECT_NE(parse_json_argument('"' + std::string(1000, '[') + '"'), std::nullopt);
}

TEST(Requests, JsonText) {
    EXPECT_TRUE(is_json_text(""));
    EXPECT_TRUE(is_json_text("plain"));
    EXPECT_TRUE(is_json_text(std::string("nul \0 inside", 13)));
    EXPECT_TRUE(is_json_text("caf\xc3\xa9 \xe2\x82\xac"));
    EXPECT_FALSE(is_json_text("\xff"));
    EXPECT_FALSE(is_json_text("cut \xc3"));
    EXPECT_FALSE(is_json_text("\xed\xa0\x80"));  // a UTF-16 surrogate
}

// A pipe with `data` written into it and its write end closed; returns the read end.
int pipe_with(const std::string& data) {
    int fds[2];
    if (pipe(fds) != 0) return -1;
    std::thread([fd = fds[1], data] {
        std::string_view left = data;
        while (!left.empty()) {
            ssize_t n = write(fd, left.data(), left.size());
            if (n <= 0) break;
            left.remove_prefix(static_cast<std::size_t>(n));
        }
        close(fd);
    }).detach();
    return fds[0];
}

TEST(Requests, ValueFromAFileDescriptorIsReadWhole) {
    std::string binary("line 1\nline \"2\"\n\0\x01\x7f tab\t end\n", 27);
    std::string big(300 * 1024, 'v');  // longer than one argument may be
    for (const std::string& data : {std::string(), binary, big}) {
        int fd = pipe_with(data);
        ASSERT_GE(fd, 0);
        std::string error;
        EXPECT_EQ(read_value(fd, &error), data) << error;
        close(fd);
    }
}

TEST(Requests, ValueLargerThanARequestLineIsRefused) {
    int fd = pipe_with(std::string(wire::kMaxLineBytes + 1, 'v'));
    ASSERT_GE(fd, 0);
    std::string error;
    EXPECT_EQ(read_value(fd, &error), std::nullopt);
    EXPECT_EQ(error,
              "it is more than 1048576 bytes (1 MiB), the most one request line to kvd can hold");
    close(fd);
}

TEST(Requests, Subscribe) {
    EXPECT_EQ(make_subscribe_request({}), (Json{{"op", "subscribe"}}));
    EventsOptions o;
    o.types = {"create", "exit"};
    o.from_seq = 12;
    o.count = 3;  // kvctl's own business, not sent
    o.sync = true;
    EXPECT_EQ(make_subscribe_request(o), (Json{{"op", "subscribe"},
                                               {"types", {"create", "exit"}},
                                               {"from_seq", 12},
                                               {"mode", "sync"}}));
}

TEST(Commands, CreateSeveralIsPipelinedAndPrintsEachResult) {
    std::vector<std::string> received;
    FakeKvd kvd([&](ServerConnection& c) {
        for (int i = 0; i < 3; ++i) {
            auto line = c.read_line();
            if (!line) return;
            received.push_back(*line);
        }
        c.write(R"({"id":1,"ok":true,"result":{"bucket":"a","pid":11,"created":true}})"
                "\n"
                R"({"id":2,"ok":true,"result":{"bucket":"b","pid":12,"created":false}})"
                "\n"
                R"({"id":3,"ok":true,"result":{"bucket":"c","pid":13,"created":true}})"
                "\n");
        c.wait_closed();
    });
    Captured run(kvd.path());
    EXPECT_EQ(cmd_create(run.ctx, {"a", "b", "c"}), kExitOk);
    EXPECT_EQ(run.out.str(),
              "created a (pid 11)\n"
              "b already exists (pid 12)\n"
              "created c (pid 13)\n");
    EXPECT_EQ(run.err.str(), "");
    kvd.join();
    ASSERT_EQ(received.size(), 3u);
}

TEST(Commands, CreateSeveralWithJsonIsAnArrayAndOneFailureIsExit1) {
    std::vector<Json> requests;
    FakeKvd kvd(answer(
        {R"({"id":1,"ok":true,"result":{"bucket":"a","pid":11,"created":true}})",
         R"({"id":2,"ok":false,"error":{"code":"invalid_name","message":"'.b' starts with '.'"}})"},
        &requests));
    Captured run(kvd.path(), /*json=*/true);
    EXPECT_EQ(cmd_create(run.ctx, {"a", ".b"}), kExitDaemonError);
    EXPECT_EQ(Json::parse(run.out.str()), Json::parse(R"([{"bucket":"a","pid":11,"created":true},
                              {"code":"invalid_name","message":"'.b' starts with '.'"}])"));
    EXPECT_EQ(run.err.str(), "kvctl: invalid_name: '.b' starts with '.'\n");
}

TEST(Commands, CreateOneWithJsonIsTheResultObject) {
    std::vector<Json> requests;
    FakeKvd kvd(answer({R"({"id":1,"ok":true,"result":{"bucket":"a","pid":11,"created":true}})"},
                       &requests));
    Captured run(kvd.path(), true);
    EXPECT_EQ(cmd_create(run.ctx, {"a"}), kExitOk);
    EXPECT_EQ(run.out.str(), "{\"bucket\":\"a\",\"created\":true,\"pid\":11}\n");
}

TEST(Commands, ErrorReplyIsExit1WithOneLineOnStderr) {
    std::vector<Json> requests;
    FakeKvd kvd(answer(
        {R"({"id":1,"ok":false,"error":{"code":"not_found","message":"no bucket named 'nope'"}})"},
        &requests));
    Captured run(kvd.path());
    EXPECT_EQ(cmd_lookup(run.ctx, "nope"), kExitDaemonError);
    EXPECT_EQ(run.out.str(), "");
    EXPECT_EQ(run.err.str(), "kvctl: not_found: no bucket named 'nope'\n");
    kvd.join();
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_EQ(requests[0], (Json{{"id", 1}, {"op", "lookup"}, {"bucket", "nope"}}));
}

TEST(Commands, ErrorReplyWithJsonPrintsTheErrorObject) {
    std::vector<Json> requests;
    FakeKvd kvd(answer({R"({"id":1,"ok":false,"error":{"code":"not_found","message":"no key"}})"},
                       &requests));
    Captured run(kvd.path(), true);
    EXPECT_EQ(cmd_get(run.ctx, "a", "k"), kExitDaemonError);
    EXPECT_EQ(Json::parse(run.out.str()), (Json{{"code", "not_found"}, {"message", "no key"}}));
    EXPECT_EQ(run.err.str(), "kvctl: not_found: no key\n");
}

TEST(Commands, GetPrintsTheRawValue) {
    std::vector<Json> requests;
    FakeKvd kvd(answer({R"({"id":1,"ok":true,"result":{"value":"2 l"}})"}, &requests));
    Captured run(kvd.path());
    EXPECT_EQ(cmd_get(run.ctx, "shopping", "milk"), kExitOk);
    EXPECT_EQ(run.out.str(), "2 l\n");
}

TEST(Commands, StopAndKillSendTheirArguments) {
    std::vector<Json> requests;
    FakeKvd kvd([&](ServerConnection& c) {
        auto line = c.read_line();
        if (!line) return;
        requests.push_back(Json::parse(*line));
        c.write(R"({"id":1,"ok":true,"result":{"bucket":"a","pid":5}})"
                "\n");
        c.wait_closed();
    });
    Captured run(kvd.path());
    EXPECT_EQ(cmd_stop(run.ctx, Targets{.words = {"a"}}, Millis(2000)), kExitOk);
    EXPECT_EQ(run.out.str(), "stopped a (pid 5)\n");
    kvd.join();
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_EQ(requests[0]["timeout_ms"], 2000);
}

TEST(Commands, UnreachableKvdIsExit3WithOneLine) {
    testing::TempDir dir;
    Captured run(dir.file("kvd.sock"));
    EXPECT_EQ(cmd_ping(run.ctx), kExitUnreachable);
    EXPECT_EQ(run.out.str(), "");
    EXPECT_EQ(run.err.str(), "kvctl: cannot connect to " + dir.file("kvd.sock") +
                                 ": no such file (is kvd running?)\n");
}

TEST(Commands, PermissionDeniedFromKvdIsExit3) {
    FakeKvd kvd([](ServerConnection& c) {
        c.write(
            R"({"id":null,"ok":false,"error":{"code":"permission_denied","message":"not allowed"}})"
            "\n");
    });
    Captured run(kvd.path(), true);
    EXPECT_EQ(cmd_status(run.ctx), kExitUnreachable);
    EXPECT_EQ(run.out.str(), "");
    EXPECT_EQ(run.err.str(), "kvctl: kvd refused this client: permission_denied: not allowed\n");
}

TEST(Commands, ReplyTimeoutIsExit3) {
    FakeKvd kvd([](ServerConnection& c) { c.wait_closed(); });
    Captured run(kvd.path());
    run.ctx.timeout = Millis(200);
    EXPECT_EQ(cmd_handlers(run.ctx), kExitUnreachable);
    EXPECT_EQ(run.err.str(), "kvctl: timed out after 200ms waiting for kvd\n");
}

constexpr const char* kSubscribed = R"({"id":1,"ok":true,"result":{"seq":4}})"
                                    "\n";
constexpr const char* kEvent5 = R"({"seq":5,"type":"create","bucket":"a","pid":11,"time":"T5"})"
                                "\n";
constexpr const char* kEvent6 = R"({"seq":6,"type":"hello","data":[1],"time":"T6"})"
                                "\n";
constexpr const char* kEvent7 =
    R"({"seq":7,"type":"exit","bucket":"a","pid":11,"code":0,"signal":null,"reason":"exited","time":"T7"})"
    "\n";

EventsOptions with_count(uint64_t count) {
    EventsOptions options;
    options.count = count;
    return options;
}

TEST(Events, StopsAfterCount) {
    std::optional<std::string> request;
    FakeKvd kvd([&](ServerConnection& c) {
        request = c.read_line();
        c.write(std::string(kSubscribed) + kEvent5 + kEvent6 + kEvent7);
        c.wait_closed();
    });
    Captured run(kvd.path());
    EventsOptions options;
    options.count = 2;
    options.types = {"create", "hello"};
    EXPECT_EQ(cmd_events(run.ctx, options), kExitOk);
    EXPECT_EQ(run.out.str(), "#5 create a pid=11 T5\n#6 hello [1] T6\n");
    EXPECT_EQ(run.err.str(), "");
    kvd.join();
    ASSERT_TRUE(request);
    EXPECT_EQ(Json::parse(*request),
              (Json{{"id", 1}, {"op", "subscribe"}, {"types", {"create", "hello"}}}));
}

TEST(Events, JsonPrintsTheRawLines) {
    FakeKvd kvd([&](ServerConnection& c) {
        if (!c.read_line()) return;
        c.write(std::string(kSubscribed) + kEvent5 + kEvent7);
    });
    Captured run(kvd.path(), true);
    EXPECT_EQ(cmd_events(run.ctx, with_count(2)), kExitOk);
    EXPECT_EQ(run.out.str(), std::string(kEvent5) + kEvent7);
}

TEST(Events, SyncModeAcknowledgesEachEventBeforeTheNextIsSent) {
    std::optional<std::string> request;
    std::vector<std::string> acks;
    FakeKvd kvd([&](ServerConnection& c) {
        request = c.read_line();
        c.write(kSubscribed);
        for (const char* event : {kEvent5, kEvent6}) {
            c.write(event);
            auto ack = c.read_line();
            if (!ack) return;
            acks.push_back(*ack);
        }
        c.wait_closed();
    });
    Captured run(kvd.path());
    EventsOptions options;
    options.sync = true;
    options.count = 2;
    options.from_seq = 5;
    EXPECT_EQ(cmd_events(run.ctx, options), kExitOk);
    kvd.join();
    EXPECT_EQ(acks, (std::vector<std::string>{"ok", "ok"}));
    ASSERT_TRUE(request);
    EXPECT_EQ(Json::parse(*request),
              (Json{{"id", 1}, {"op", "subscribe"}, {"from_seq", 5}, {"mode", "sync"}}));
}

TEST(Events, KvdGoingAwayIsExit3NamingTheLastSeq) {
    FakeKvd kvd([&](ServerConnection& c) {
        if (!c.read_line()) return;
        c.write(std::string(kSubscribed) + kEvent5);
    });
    Captured run(kvd.path());
    EXPECT_EQ(cmd_events(run.ctx, with_count(5)), kExitUnreachable);
    EXPECT_EQ(run.out.str(), "#5 create a pid=11 T5\n");
    EXPECT_EQ(run.err.str(), "kvctl: kvd went away (connection closed) after seq 5\n");
}

TEST(Events, KvdGoingAwayBeforeAnyEventNamesTheSeqItSubscribedAt) {
    FakeKvd kvd([&](ServerConnection& c) {
        if (!c.read_line()) return;
        c.write(kSubscribed);
    });
    Captured run(kvd.path());
    EXPECT_EQ(cmd_events(run.ctx, {}), kExitUnreachable);
    EXPECT_EQ(run.out.str(), "");
    EXPECT_EQ(run.err.str(), "kvctl: kvd went away (connection closed) after seq 4\n");
}

constexpr RetryDelays kQuickRetry{Millis(5), Millis(20)};

// kvd's side of a reconnection: answers `status` with `boot`, then the subscribe request
// (kept in `subscribe`) with `reply`, then writes `events`.
FakeKvd::Script reconnection(std::string boot, std::optional<Json>* subscribe, std::string reply,
                             std::string events) {
    return [=](ServerConnection& c) {
        auto status = c.read_line();
        if (!status || Json::parse(*status).value("op", "") != "status") return;
        c.write(R"({"id":1,"ok":true,"result":{"boot":")" + boot +
                R"(","last_seq":9}})"
                "\n");
        auto request = c.read_line();
        if (!request) return;
        *subscribe = Json::parse(*request);
        c.write(reply + "\n" + events);
        c.wait_closed();
    };
}

constexpr const char* kSubscribedBootA = R"({"id":1,"ok":true,"result":{"seq":4,"boot":"a"}})"
                                         "\n";

TEST(Events, RetryOnTheSameBootContinuesAfterTheLastSeqAndCountSpansConnections) {
    std::optional<Json> first, second;
    FakeKvd kvd(std::vector<FakeKvd::Script>{
        [&](ServerConnection& c) {
            auto request = c.read_line();
            if (!request) return;
            first = Json::parse(*request);
            c.write(std::string(kSubscribedBootA) + kEvent5);
        },
        // Event 5 again must not be printed twice, should kvd ever send it.
        reconnection("a", &second, R"({"id":2,"ok":true,"result":{"seq":7,"boot":"a"}})",
                     std::string(kEvent5) + kEvent6 + kEvent7),
    });
    Captured run(kvd.path());
    EventsOptions options;
    options.retry = true;
    options.count = 3;
    options.types = {"create", "hello", "exit"};
    EXPECT_EQ(cmd_events(run.ctx, options, kQuickRetry), kExitOk);
    kvd.join();
    EXPECT_EQ(run.out.str(),
              "#5 create a pid=11 T5\n#6 hello [1] T6\n#7 exit a pid=11 code=0 "
              "reason=exited T7\n");
    EXPECT_EQ(run.err.str(),
              "kvctl: kvd went away (connection closed) after seq 5; reconnecting\n"
              "kvctl: reconnected to kvd (same boot); continuing after seq 5\n");
    ASSERT_TRUE(first);
    EXPECT_FALSE(first->contains("from_seq")) << *first;
    ASSERT_TRUE(second);
    EXPECT_EQ(*second, (Json{{"id", 2},
                             {"op", "subscribe"},
                             {"types", {"create", "hello", "exit"}},
                             {"from_seq", 6}}));
}

TEST(Events, RetryAfterKvdRestartedFollowsTheNewBootFromItsFirstEvent) {
    std::optional<Json> second;
    FakeKvd kvd(std::vector<FakeKvd::Script>{
        [&](ServerConnection& c) {
            if (!c.read_line()) return;
            c.write(std::string(kSubscribedBootA) + kEvent5 + kEvent6);
        },
        reconnection("b", &second, R"({"id":2,"ok":true,"result":{"seq":1,"boot":"b"}})",
                     R"({"seq":1,"type":"create","bucket":"n","pid":3,"time":"U1"})"
                     "\n"),
    });
    Captured run(kvd.path(), true);
    EventsOptions options;
    options.retry = true;
    options.count = 3;
    EXPECT_EQ(cmd_events(run.ctx, options, kQuickRetry), kExitOk);
    kvd.join();
    EXPECT_EQ(run.out.str(), std::string(kEvent5) + kEvent6 +
                                 R"({"seq":1,"type":"create","bucket":"n","pid":3,"time":"U1"})"
                                 "\n");
    EXPECT_EQ(run.err.str(),
              "kvctl: kvd went away (connection closed) after seq 6; reconnecting\n"
              "kvctl: kvd restarted (boot b); continuing from its first event\n");
    ASSERT_TRUE(second);
    EXPECT_EQ(second->value("from_seq", Json()), 1) << *second;
}

TEST(Events, RetryAfterARestartWhoseHistoryIsGoneContinuesLive) {
    std::vector<Json> requests;
    FakeKvd kvd(std::vector<FakeKvd::Script>{
        [&](ServerConnection& c) {
            if (!c.read_line()) return;
            c.write(std::string(kSubscribedBootA) + kEvent5);
        },
        [&](ServerConnection& c) {
            if (!c.read_line()) return;
            c.write(R"({"id":1,"ok":true,"result":{"boot":"b"}})"
                    "\n");
            auto from_one = c.read_line();
            if (!from_one) return;
            requests.push_back(Json::parse(*from_one));
            c.write(
                R"({"id":2,"ok":false,"error":{"code":"history_lost","message":"2 event(s) are gone"}})"
                "\n");
            auto live = c.read_line();
            if (!live) return;
            requests.push_back(Json::parse(*live));
            c.write(R"({"id":3,"ok":true,"result":{"seq":9,"boot":"b"}})"
                    "\n"
                    R"({"seq":10,"type":"t","data":null,"time":"U10"})"
                    "\n");
            c.wait_closed();
        },
    });
    Captured run(kvd.path());
    EventsOptions options;
    options.retry = true;
    options.count = 2;
    EXPECT_EQ(cmd_events(run.ctx, options, kQuickRetry), kExitOk);
    kvd.join();
    EXPECT_EQ(run.out.str(), "#5 create a pid=11 T5\n#10 t null U10\n");
    EXPECT_NE(run.err.str().find("kvctl: kvd restarted (boot b); continuing from its first event\n"
                                 "kvctl: history_lost: 2 event(s) are gone; continuing with the "
                                 "live stream\n"),
              std::string::npos)
        << run.err.str();
    ASSERT_EQ(requests.size(), 2u);
    EXPECT_EQ(requests[0].value("from_seq", Json()), 1);
    EXPECT_FALSE(requests[1].contains("from_seq")) << requests[1];
}

TEST(Events, RetryWaitsForKvdUntilInterrupted) {
    testing::TempDir dir;
    int wake[2];
    ASSERT_EQ(pipe(wake), 0);
    // Ctrl-C already pressed: the first attempt fails, and the wait before the next one ends.
    char byte = SIGINT;
    ASSERT_EQ(write(wake[1], &byte, 1), 1);
    Captured run(dir.file("kvd.sock"));
    run.ctx.wake_fd = wake[0];
    EventsOptions options;
    options.retry = true;
    EXPECT_EQ(cmd_events(run.ctx, options, kQuickRetry), 130);
    EXPECT_EQ(run.err.str(), "kvctl: cannot connect to " + dir.file("kvd.sock") +
                                 ": no such file (is kvd running?); retrying\n");
    close(wake[0]);
    close(wake[1]);
}

TEST(Events, RetryDoesNotRetryAKvdThatRefusesUs) {
    FakeKvd kvd([](ServerConnection& c) {
        c.write(
            R"({"id":null,"ok":false,"error":{"code":"permission_denied","message":"not allowed"}})"
            "\n");
    });
    Captured run(kvd.path());
    EventsOptions options;
    options.retry = true;
    EXPECT_EQ(cmd_events(run.ctx, options, kQuickRetry), kExitUnreachable);
    EXPECT_EQ(run.err.str(), "kvctl: kvd refused this client: permission_denied: not allowed\n");
}

TEST(Events, SubscribeErrorIsExit1) {
    FakeKvd kvd([&](ServerConnection& c) {
        if (!c.read_line()) return;
        c.write(
            R"({"id":1,"ok":false,"error":{"code":"history_lost","message":"40 events are gone"}})"
            "\n");
        c.wait_closed();
    });
    Captured run(kvd.path());
    EXPECT_EQ(cmd_events(run.ctx,
                         [] {
                             EventsOptions o;
                             o.from_seq = 1;
                             return o;
                         }()),
              kExitDaemonError);
    EXPECT_EQ(run.err.str(), "kvctl: history_lost: 40 events are gone\n");
}

// The wake pipe carries the signal's number: 130 for SIGINT (Ctrl-C), 143 for SIGTERM, as a
// shell reports a process those signals ended.
TEST(Events, InterruptionEndsTheStreamWith128PlusTheSignal) {
    for (int signo : {SIGINT, SIGTERM}) {
        int wake[2];
        ASSERT_EQ(pipe(wake), 0);
        FakeKvd kvd([&](ServerConnection& c) {
            if (!c.read_line()) return;
            c.write(std::string(kSubscribed) + kEvent5);
            // The ack proves kvctl printed the event; now "press Ctrl-C".
            if (c.read_line() != "ok") return;
            char byte = static_cast<char>(signo);
            [[maybe_unused]] ssize_t n = write(wake[1], &byte, 1);
            c.wait_closed();
        });
        Captured run(kvd.path());
        run.ctx.wake_fd = wake[0];
        EXPECT_EQ(cmd_events(run.ctx,
                             [] {
                                 EventsOptions o;
                                 o.sync = true;
                                 return o;
                             }()),
                  128 + signo);
        EXPECT_EQ(run.out.str(), "#5 create a pid=11 T5\n");
        EXPECT_EQ(run.err.str(), "");
        kvd.join();
        close(wake[0]);
        close(wake[1]);
    }
}

}  // namespace
}  // namespace kvd::ctl
