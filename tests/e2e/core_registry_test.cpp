// The registry through the control socket: create, lookup, list, stop, kill, and buckets
// that end behind kvd's back.
#include <signal.h>

#include <algorithm>
#include <regex>

#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

using Registry = KvdTest;

bool contains(const std::vector<pid_t>& pids, pid_t pid) {
    return std::find(pids.begin(), pids.end(), pid) != pids.end();
}

TEST_F(Registry, CreateStartsAKvBucketChildOfKvd) {
    Json reply = call("create", {{"bucket", "shopping"}});
    ASSERT_TRUE(is_ok(reply));
    EXPECT_EQ(reply["result"]["bucket"], "shopping");
    EXPECT_EQ(reply["result"]["created"], true);
    pid_t pid = pid_in(reply);
    ASSERT_GT(pid, 0) << reply.dump();
    EXPECT_TRUE(process_alive(pid));
    EXPECT_TRUE(contains(children_of(kvd().pid()), pid));
    EXPECT_TRUE(wait_until([&] { return process_name(pid).ends_with("kv-bucket"); }, 5s,
                           "the bucket process to run kv-bucket"))
        << "argv[0] is " << process_name(pid);
}

TEST_F(Registry, LookupFindsTheSamePid) {
    pid_t pid = create("shopping");
    Json reply = call("lookup", {{"bucket", "shopping"}});
    ASSERT_TRUE(is_ok(reply));
    EXPECT_EQ(reply["result"], (Json{{"bucket", "shopping"}, {"pid", pid}}));
}

TEST_F(Registry, LookupOfUnknownBucketIsNotFound) {
    Json reply = call("lookup", {{"bucket", "nope"}});
    EXPECT_TRUE(is_error(reply, "not_found"));
    EXPECT_NE(reply["error"]["message"].get<std::string>().find("nope"), std::string::npos);
}

TEST_F(Registry, ListShowsEveryBucketWithPidAndStartTime) {
    Json empty = call("list");
    ASSERT_TRUE(is_ok(empty));
    EXPECT_EQ(empty["result"], (Json{{"buckets", Json::array()}}));

    std::map<std::string, pid_t> created;
    for (std::string name : {"a", "b.c", "user:42", "Z_9-x"}) created[name] = create(name);

    Json reply = call("list");
    ASSERT_TRUE(is_ok(reply));
    const Json& buckets = reply["result"]["buckets"];
    ASSERT_TRUE(buckets.is_array());
    ASSERT_EQ(buckets.size(), created.size()) << reply.dump();
    static const std::regex rfc3339(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)");
    for (const Json& b : buckets) {
        std::string name = b.at("bucket").get<std::string>();
        ASSERT_TRUE(created.count(name)) << b.dump();
        EXPECT_EQ(b.at("pid"), created[name]) << b.dump();
        EXPECT_TRUE(std::regex_match(b.at("started").get<std::string>(), rfc3339)) << b.dump();
    }
}

TEST_F(Registry, CreateIsIdempotent) {
    Json first = call("create", {{"bucket", "b"}});
    Json second = call("create", {{"bucket", "b"}});
    ASSERT_TRUE(is_ok(first));
    ASSERT_TRUE(is_ok(second));
    EXPECT_EQ(first["result"]["created"], true);
    EXPECT_EQ(second["result"]["created"], false);
    EXPECT_EQ(pid_in(first), pid_in(second));
    EXPECT_EQ(call("list")["result"]["buckets"].size(), 1u);
}

TEST_F(Registry, PipelinedDuplicateCreatesOnOneConnection) {
    Client& c = client();
    ASSERT_TRUE(c.send_raw(R"({"id":1,"op":"create","bucket":"dup"})"
                           "\n"
                           R"({"id":2,"op":"create","bucket":"dup"})"
                           "\n"
                           R"({"id":3,"op":"create","bucket":"dup"})"
                           "\n"));
    std::vector<Json> replies;
    for (int i = 0; i < 3; ++i) {
        auto r = c.read_json();
        ASSERT_TRUE(r.has_value()) << "reply " << i;
        replies.push_back(*r);
    }
    for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(is_ok(replies[i]));
        EXPECT_EQ(replies[i]["id"], i + 1);
        EXPECT_EQ(replies[i]["result"]["created"], i == 0);
        EXPECT_EQ(pid_in(replies[i]), pid_in(replies[0]));
    }
}

TEST_F(Registry, ConcurrentCreatesFromTwoConnectionsMakeOneBucket) {
    auto a = connect();
    auto b = connect();
    ASSERT_TRUE(a->connected() && b->connected());
    for (int round = 0; round < 20; ++round) {
        std::string name = "race" + std::to_string(round);
        Json req = {{"id", round}, {"op", "create"}, {"bucket", name}};
        ASSERT_TRUE(a->send_json(req));
        ASSERT_TRUE(b->send_json(req));
        auto ra = a->read_json();
        auto rb = b->read_json();
        ASSERT_TRUE(ra && rb);
        ASSERT_TRUE(is_ok(*ra));
        ASSERT_TRUE(is_ok(*rb));
        EXPECT_EQ(pid_in(*ra), pid_in(*rb)) << name;
        EXPECT_NE((*ra)["result"]["created"], (*rb)["result"]["created"])
            << "exactly one of the two creates must report created:true: " << ra->dump() << " "
            << rb->dump();
    }
    EXPECT_EQ(call("list")["result"]["buckets"].size(), 20u);
    EXPECT_EQ(children_of(kvd().pid()).size(), 20u);
}

TEST_F(Registry, ABucketKilledFromOutsideDisappears) {
    pid_t pid = create("victim");
    ASSERT_GT(pid, 0);
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    EXPECT_TRUE(wait_until([&] { return lookup_pid("victim") == -1; }, 5s,
                           "lookup of a SIGKILLed bucket to say not_found"));
    EXPECT_EQ(call("list")["result"]["buckets"], Json::array());
    // The dead child was reaped, not left as a zombie.
    EXPECT_TRUE(wait_until([&] { return !contains(children_of(kvd().pid()), pid); }, 5s,
                           "kvd to reap the killed bucket"));

    // The name is free again.
    Json again = call("create", {{"bucket", "victim"}});
    ASSERT_TRUE(is_ok(again));
    EXPECT_EQ(again["result"]["created"], true);
    EXPECT_NE(pid_in(again), pid);
}

TEST_F(Registry, ABucketThatExitsByItselfDisappears) {
    pid_t pid = create("leaver");
    // kv-bucket exits normally on SIGTERM; kvd did not ask for it.
    ASSERT_EQ(::kill(pid, SIGTERM), 0);
    EXPECT_TRUE(wait_until([&] { return lookup_pid("leaver") == -1; }, 5s,
                           "lookup of an exited bucket to say not_found"));
}

TEST_F(Registry, StopRepliesAfterTheProcessIsGone) {
    pid_t pid = create("b");
    ASSERT_GT(pid, 0);
    Json reply = call("stop", {{"bucket", "b"}});
    ASSERT_TRUE(is_ok(reply));
    // No waiting here: the reply itself promises that the exit was handled.
    EXPECT_FALSE(process_alive(pid));
    EXPECT_FALSE(contains(children_of(kvd().pid()), pid)) << "stopped bucket left a zombie";
    EXPECT_TRUE(is_error(call("lookup", {{"bucket", "b"}}), "not_found"));
    if (reply["result"].contains("reason")) {
        EXPECT_EQ(reply["result"]["reason"], "stopped");
    }
}

TEST_F(Registry, StopEscalatesToSigkillAfterTheTimeout) {
    pid_t pid = create("frozen");
    ASSERT_GT(pid, 0);
    // Once kv-bucket has answered a request its SIGTERM handler is installed, so a SIGTERM
    // to the stopped process stays pending (an unhandled one would kill it at once).
    ASSERT_TRUE(is_ok(call("keys", {{"bucket", "frozen"}})));
    ASSERT_TRUE(freeze(pid));
    auto start = std::chrono::steady_clock::now();
    Json reply = call("stop", {{"bucket", "frozen"}, {"timeout_ms", 300}}, 30s);
    auto elapsed = std::chrono::steady_clock::now() - start;
    ASSERT_TRUE(is_ok(reply));
    EXPECT_GE(elapsed, 250ms) << "replied before the stop timeout could have passed";
    EXPECT_FALSE(process_alive(pid));
    EXPECT_TRUE(is_error(call("lookup", {{"bucket", "frozen"}}), "not_found"));
    if (reply["result"].contains("signal")) {
        EXPECT_EQ(reply["result"]["signal"], "SIGKILL");
    }
    // Asked to stop, so "stopped" even though it took a SIGKILL (README "Stopping, timeouts and
    // exit reasons").
    if (reply["result"].contains("reason")) {
        EXPECT_EQ(reply["result"]["reason"], "stopped");
    }
}

TEST_F(Registry, StopOfUnknownOrInvalidBucket) {
    EXPECT_TRUE(is_error(call("stop", {{"bucket", "nope"}}), "not_found"));
    EXPECT_TRUE(is_error(call("stop", {{"bucket", "-bad"}}), "invalid_name"));
    create("b");
    EXPECT_TRUE(is_error(call("stop", {{"bucket", "b"}, {"timeout_ms", "5s"}}), "bad_request"));
    EXPECT_TRUE(is_error(call("stop", {{"bucket", "b"}, {"timeout_ms", -1}}), "bad_request"));
    EXPECT_GT(lookup_pid("b"), 0) << "a refused stop must not stop the bucket";
}

TEST_F(Registry, KillDefaultsToSigkill) {
    pid_t pid = create("k");
    Json reply = call("kill", {{"bucket", "k"}});
    ASSERT_TRUE(is_ok(reply));
    EXPECT_EQ(reply["result"]["signal"], "SIGKILL");
    EXPECT_TRUE(wait_until([&] { return !process_alive(pid); }, 5s, "the bucket to die"));
    EXPECT_TRUE(
        wait_until([&] { return lookup_pid("k") == -1; }, 5s, "the bucket to leave the registry"));
}

TEST_F(Registry, KillWithEverySpellingOfASignal) {
    const std::pair<std::string, std::string> spellings[] = {
        {"SIGTERM", "SIGTERM"}, {"TERM", "SIGTERM"}, {"term", "SIGTERM"}, {"15", "SIGTERM"},
        {"SIGKILL", "SIGKILL"}, {"kill", "SIGKILL"}, {"9", "SIGKILL"}};
    for (const auto& [spelling, canonical] : spellings) {
        SCOPED_TRACE(spelling);
        pid_t pid = create("k");
        ASSERT_GT(pid, 0);
        Json reply = call("kill", {{"bucket", "k"}, {"signal", spelling}});
        ASSERT_TRUE(is_ok(reply));
        EXPECT_EQ(reply["result"]["signal"], canonical);
        EXPECT_TRUE(wait_until([&] { return lookup_pid("k") == -1; }, 5s, "the bucket to go"));
        EXPECT_FALSE(process_alive(pid));
    }
}

TEST_F(Registry, KillWithANonFatalSignalKeepsTheBucket) {
    pid_t pid = create("k");
    ASSERT_TRUE(is_ok(call("kill", {{"bucket", "k"}, {"signal", "SIGSTOP"}})));
    EXPECT_TRUE(wait_until(
        [&] {
            return read_file("/proc/" + std::to_string(pid) + "/stat").find(") T ") !=
                   std::string::npos;
        },
        5s, "the bucket to be stopped"));
    ASSERT_TRUE(is_ok(call("kill", {{"bucket", "k"}, {"signal", "CONT"}})));
    EXPECT_EQ(lookup_pid("k"), pid);
    EXPECT_TRUE(is_ok(call("put", {{"bucket", "k"}, {"key", "still"}, {"value", "here"}})));
}

TEST_F(Registry, KillErrors) {
    EXPECT_TRUE(is_error(call("kill", {{"bucket", "nope"}}), "not_found"));
    EXPECT_TRUE(is_error(call("kill", {{"bucket", ".bad"}}), "invalid_name"));
    pid_t pid = create("k");
    for (Json signal : {Json("SIGNOPE"), Json(""), Json("0"), Json(9), Json(true)}) {
        EXPECT_TRUE(is_error(call("kill", {{"bucket", "k"}, {"signal", signal}}), "bad_request"))
            << signal.dump();
    }
    EXPECT_EQ(lookup_pid("k"), pid);
    EXPECT_TRUE(process_alive(pid));
}

TEST_F(Registry, RecreatedBucketStartsEmpty) {
    pid_t first = create("b");
    ASSERT_TRUE(is_ok(call("put", {{"bucket", "b"}, {"key", "k"}, {"value", "v"}})));
    ASSERT_TRUE(is_ok(call("stop", {{"bucket", "b"}})));
    pid_t second = create("b");
    EXPECT_NE(first, second);
    EXPECT_TRUE(is_error(call("get", {{"bucket", "b"}, {"key", "k"}}), "not_found"));
}

TEST_F(Registry, PingAndStatus) {
    Json ping = call("ping");
    ASSERT_TRUE(is_ok(ping));
    EXPECT_EQ(ping["result"]["pid"], kvd().pid());
    EXPECT_TRUE(ping["result"].contains("version"));

    create("a");
    create("b");
    Json status = call("status");
    ASSERT_TRUE(is_ok(status));
    const Json& s = status["result"];
    for (const char* key :
         {"version", "pid", "uptime_ms", "buckets", "handlers", "subscriptions", "last_seq"})
        EXPECT_TRUE(s.contains(key)) << key << " missing in " << s.dump();
    EXPECT_EQ(s.value("pid", 0), kvd().pid());
    EXPECT_EQ(s.value("buckets", -1), 2);
    EXPECT_EQ(s.value("handlers", -1), 0);
    for (const char* key : {"uptime_ms", "buckets", "handlers", "subscriptions", "last_seq"})
        EXPECT_TRUE(s[key].is_number_integer()) << key << " in " << s.dump();
}

}  // namespace
}  // namespace kvd::test
