// Graceful shutdown delivers every bucket's `exit` to the sync handlers before it closes them:
// buckets stop first, kvd waits until each exit event was acked, then closes the handlers'
// stdin and exits 0, leaving no process behind.
#include <map>
#include <string>
#include <vector>

#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

constexpr int kBuckets = 20;

TEST(EventsShutdown, EveryExitReachesTheSyncHandlerBeforeItIsClosed) {
    TempDir dir;
    const std::string out = dir.file("audit.out");
    // A little slow, so that kvd really has to wait for the acks of the 20 exits.
    Json command = {test_handler_path(), "--out", out, "slow", "20"};
    KvdOptions options;
    options.config =
        "[[handler]]\nname = \"audit\"\nmode = \"sync\"\ncommand = " + command.dump() + "\n";
    KvdProcess kvd(dir, options);
    ASSERT_TRUE(kvd.ready());

    std::map<std::string, pid_t> buckets;
    pid_t handler = -1;
    {
        Client c(kvd.socket_path());
        ASSERT_TRUE(c.connected()) << c.connect_error();
        for (int i = 0; i < kBuckets; ++i) {
            std::string name = "b" + std::to_string(i);
            pid_t pid = pid_in(c.call("create", {{"bucket", name}}));
            ASSERT_GT(pid, 0);
            buckets[name] = pid;
        }
        Json reply = c.call("handlers");
        ASSERT_TRUE(is_ok(reply));
        ASSERT_EQ(reply["result"]["handlers"].size(), 1u);
        handler = reply["result"]["handlers"][0]["pid"];
    }
    ASSERT_GT(handler, 0);
    std::vector<pid_t> children = children_of(kvd.pid());
    EXPECT_EQ(children.size(), static_cast<std::size_t>(kBuckets + 1));

    auto status = kvd.terminate(20s);
    ASSERT_TRUE(status) << "kvd did not exit after SIGTERM";
    EXPECT_TRUE(status->success()) << status->describe();

    // Each bucket's exit, with its pid and reason `stopped`, after its create.
    std::map<std::string, Json> exits;
    std::map<std::string, uint64_t> create_seq;
    for (const auto& line : read_lines(out)) {
        Json e = Json::parse(line, nullptr, false);
        ASSERT_TRUE(e.is_object()) << line;
        if (e["type"] == "create") create_seq[e["bucket"]] = e["seq"];
        if (e["type"] == "exit") {
            EXPECT_EQ(exits.count(e["bucket"]), 0u) << "two exits for " << e["bucket"];
            exits[e["bucket"]] = e;
        }
    }
    EXPECT_EQ(exits.size(), static_cast<std::size_t>(kBuckets)) << read_file(out);
    for (const auto& [name, pid] : buckets) {
        SCOPED_TRACE(name);
        ASSERT_EQ(exits.count(name), 1u);
        const Json& e = exits[name];
        EXPECT_EQ(e["pid"], pid);
        EXPECT_EQ(e["reason"], "stopped");
        EXPECT_GT(e["seq"].get<uint64_t>(), create_seq[name]);
    }

    // Nothing left: not the handler, not a bucket, nor anything else kvd started.
    EXPECT_TRUE(wait_until([&] { return !process_alive(handler); }, 5s, "the handler to be gone"));
    for (const auto& [name, pid] : buckets)
        EXPECT_TRUE(
            wait_until([&, pid = pid] { return !process_alive(pid); }, 5s, name + " to be gone"));
    for (pid_t child : children) EXPECT_FALSE(process_alive(child)) << "pid " << child;
    EXPECT_FALSE(file_exists(kvd.socket_path()));
}

// The same with an async handler next to the sync one: shutdown does not wait for it to
// read, but it must still end (its stdin is closed), and kvd still exits 0.
TEST(EventsShutdown, AsyncHandlerIsClosedToo) {
    TempDir dir;
    Json sync = {test_handler_path(), "--out", dir.file("sync.out"), "ack"};
    Json async = {test_handler_path(), "--out", dir.file("async.out"), "async"};
    KvdOptions options;
    options.config = "[[handler]]\nname = \"s\"\nmode = \"sync\"\ncommand = " + sync.dump() +
                     "\n\n[[handler]]\nname = \"a\"\nmode = \"async\"\ncommand = " + async.dump() +
                     "\n";
    KvdProcess kvd(dir, options);
    ASSERT_TRUE(kvd.ready());
    std::vector<pid_t> handlers;
    {
        Client c(kvd.socket_path());
        for (int i = 0; i < 5; ++i)
            ASSERT_TRUE(is_ok(c.call("create", {{"bucket", "b" + std::to_string(i)}})));
        Json reply = c.call("handlers");
        ASSERT_TRUE(is_ok(reply));
        for (const auto& h : reply["result"]["handlers"]) handlers.push_back(h["pid"]);
    }
    ASSERT_EQ(handlers.size(), 2u);
    auto status = kvd.terminate(20s);
    ASSERT_TRUE(status);
    EXPECT_TRUE(status->success()) << status->describe();
    for (pid_t h : handlers)
        EXPECT_TRUE(wait_until([&] { return !process_alive(h); }, 5s, "a handler to be gone"));
    std::size_t sync_exits = 0;
    for (const auto& line : read_lines(dir.file("sync.out")))
        if (Json::parse(line)["type"] == "exit") ++sync_exits;
    EXPECT_EQ(sync_exits, 5u);
}

// No graceful path at all: when kvd is SIGKILLed its end of each handler's socket closes with
// it, so handlers see end of file and exit (nothing else, such as a bucket, holds it open).
TEST(EventsShutdown, HandlersSeeEndOfFileWhenKvdIsKilled) {
    TempDir dir;
    Json command = {test_handler_path(), "ack"};
    KvdOptions options;
    options.config =
        "[[handler]]\nname = \"h\"\nmode = \"sync\"\ncommand = " + command.dump() + "\n";
    KvdProcess kvd(dir, options);
    ASSERT_TRUE(kvd.ready());
    pid_t handler = -1;
    {
        Client c(kvd.socket_path());
        for (int i = 0; i < 3; ++i)
            ASSERT_TRUE(is_ok(c.call("create", {{"bucket", "b" + std::to_string(i)}})));
        Json reply = c.call("handlers");
        ASSERT_TRUE(is_ok(reply));
        handler = reply["result"]["handlers"][0]["pid"];
    }
    ASSERT_GT(handler, 0);
    kvd.kill9();
    EXPECT_TRUE(wait_until([&] { return !process_alive(handler); }, 10s,
                           "the handler to see end of file and exit"));
}

}  // namespace
}  // namespace kvd::test
