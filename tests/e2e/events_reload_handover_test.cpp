// A reload that restarts a changed sync handler hands the new instance every event the old
// one had not acknowledged, in order and before anything newer: nothing a `create` was
// answered for is lost, exactly as after a crash restart.
#include <string>
#include <vector>

#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

std::string sync_handler(const std::string& out, const std::string& mode,
                         const std::string& ack_timeout) {
    Json command = {test_handler_path(), "--out", out, mode};
    return "[[handler]]\nname = \"h\"\nmode = \"sync\"\nack_timeout = \"" + ack_timeout +
           "\"\ncommand = " + command.dump() + "\n";
}

// The bucket names of the create events in `path`, in the order they were received.
std::vector<std::string> created_in(const std::string& path) {
    std::vector<std::string> names;
    for (const auto& line : read_lines(path)) {
        Json ev = Json::parse(line, nullptr, false);
        if (ev.is_object() && ev["type"] == "create") names.push_back(ev["bucket"]);
    }
    return names;
}

TEST(EventsReloadHandover, ChangedSyncHandlerGetsTheEventsItsPredecessorOwed) {
    TempDir dir;
    const std::string before = dir.file("before.out"), after = dir.file("after.out");
    KvdOptions options;
    // The first instance reads events and never acks: they pile up behind the first one.
    options.config = sync_handler(before, "never-ack", "120s");
    KvdProcess kvd(dir, options);
    ASSERT_TRUE(kvd.ready());
    Client c(kvd.socket_path());
    ASSERT_TRUE(c.connected());
    for (int i = 0; i < 3; ++i)
        ASSERT_TRUE(
            c.send_json({{"id", i}, {"op", "create"}, {"bucket", "b" + std::to_string(i)}}));
    // The first event reached the old instance (and is unacked); the others wait behind it.
    ASSERT_TRUE(wait_until([&] { return created_in(before).size() == 1; }, 10s,
                           "the first create event at the old instance"));

    // Same name, changed command: the handler is restarted.
    dir.write_file("kvd.toml", sync_handler(after, "ack", "120s"));
    Client admin(kvd.socket_path());
    Json reload = admin.call("reload");
    ASSERT_TRUE(is_ok(reload));
    EXPECT_EQ(reload["result"]["restarted"], Json::array({"h"}));

    for (int i = 0; i < 3; ++i) {
        auto reply = c.read_json(30s);
        ASSERT_TRUE(reply.has_value()) << "no reply to create #" << i;
        EXPECT_TRUE(is_ok(*reply));
    }
    ASSERT_TRUE(is_ok(admin.call("create", {{"bucket", "later"}})));
    ASSERT_TRUE(wait_until([&] { return created_in(after).size() >= 4; }, 10s,
                           "every create event at the new instance"));
    EXPECT_EQ(created_in(after), (std::vector<std::string>{"b0", "b1", "b2", "later"}));
}

}  // namespace
}  // namespace kvd::test
