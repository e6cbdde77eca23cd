// `reload` (and SIGHUP) re-reads the config: new handlers start, removed ones stop, changed
// ones restart, unchanged ones keep their process; an invalid config changes nothing and says
// FILE:LINE:COLUMN; buckets are never touched.
#include <signal.h>

#include <map>
#include <regex>
#include <string>
#include <vector>

#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

class EventsReload : public ::testing::Test {
  protected:
    void SetUp() override {
        KvdOptions options;
        options.config = handler_toml("A", "ack");
        kvd_ = std::make_unique<KvdProcess>(dir_, options);
        ASSERT_TRUE(kvd_->ready());
        client_ = std::make_unique<Client>(kvd_->socket_path());
        ASSERT_TRUE(client_->connected()) << client_->connect_error();
    }

    std::string out(const std::string& name) const { return dir_.file(name + ".out"); }

    // A sync [[handler]] `name`: test_handler in `mode`, writing to <name>.out.
    std::string handler_toml(const std::string& name, const std::string& mode) const {
        Json command = {test_handler_path(), "--out", out(name), mode};
        return "[[handler]]\nname = \"" + name +
               "\"\nmode = \"sync\"\ncommand = " + command.dump() + "\n\n";
    }

    void write_config(const std::string& text) { dir_.write_file("kvd.toml", text); }

    // name → the handler's row of the `handlers` op.
    std::map<std::string, Json> handlers() {
        std::map<std::string, Json> rows;
        Json reply = client_->call("handlers");
        EXPECT_TRUE(is_ok(reply));
        if (!is_ok(reply)) return rows;
        for (const auto& h : reply["result"]["handlers"]) rows[h["name"]] = h;
        return rows;
    }

    // The pid of handler `name` once it is running, or -1 at the deadline.
    pid_t running_pid(const std::string& name) {
        pid_t pid = -1;
        wait_until(
            [&] {
                auto rows = handlers();
                auto it = rows.find(name);
                if (it == rows.end() || it->second["state"] != "running" ||
                    !it->second["pid"].is_number_integer())
                    return false;
                pid = it->second["pid"];
                return true;
            },
            10s, "handler " + name + " to run");
        return pid;
    }

    // Whether the handler's file has an event of `type`.
    bool received(const std::string& name, const std::string& type) const {
        for (const auto& line : read_lines(out(name))) {
            Json e = Json::parse(line, nullptr, false);
            if (e.is_object() && e["type"] == type) return true;
        }
        return false;
    }

    TempDir dir_;
    std::unique_ptr<KvdProcess> kvd_;
    std::unique_ptr<Client> client_;
};

TEST_F(EventsReload, StartsStopsAndRestartsHandlersButLeavesBucketsAlone) {
    pid_t bucket = pid_in(client_->call("create", {{"bucket", "keep"}}));
    ASSERT_GT(bucket, 0);
    EXPECT_TRUE(received("A", "create"));
    pid_t a = running_pid("A");
    ASSERT_GT(a, 0);

    // A out, B in.
    write_config(handler_toml("B", "ack"));
    Json reply = client_->call("reload");
    ASSERT_TRUE(is_ok(reply));
    EXPECT_EQ(reply["result"],
              (Json{{"started", {"B"}}, {"stopped", {"A"}}, {"restarted", Json::array()}}))
        << reply.dump();
    EXPECT_TRUE(wait_until([&] { return !process_alive(a); }, 10s, "handler A's process to exit"));
    pid_t b = running_pid("B");
    ASSERT_GT(b, 0);
    EXPECT_EQ(handlers().count("A"), 0u);

    // B gets what is published from now on (sync: it is in the file when notify replies).
    ASSERT_TRUE(is_ok(client_->call("notify", {{"type", "after-first"}, {"sync", true}})));
    EXPECT_TRUE(received("B", "after-first"));
    EXPECT_FALSE(received("A", "after-first"));

    // Same name, different command: restarted, as a new process.
    write_config(handler_toml("B", "ack-json"));
    reply = client_->call("reload");
    ASSERT_TRUE(is_ok(reply));
    EXPECT_EQ(reply["result"],
              (Json{{"started", Json::array()}, {"stopped", Json::array()}, {"restarted", {"B"}}}))
        << reply.dump();
    EXPECT_TRUE(wait_until([&] { return !process_alive(b); }, 10s, "the old B process to exit"));
    pid_t b2 = running_pid("B");
    ASSERT_GT(b2, 0);
    EXPECT_NE(b2, b);
    ASSERT_TRUE(is_ok(client_->call("notify", {{"type", "after-second"}, {"sync", true}})));
    EXPECT_TRUE(received("B", "after-second"));

    // The same config again: nothing to do, B keeps its process.
    reply = client_->call("reload");
    ASSERT_TRUE(is_ok(reply));
    EXPECT_EQ(reply["result"], (Json{{"started", Json::array()},
                                     {"stopped", Json::array()},
                                     {"restarted", Json::array()}}))
        << reply.dump();
    EXPECT_EQ(running_pid("B"), b2);

    // The bucket never noticed.
    Json found = client_->call("lookup", {{"bucket", "keep"}});
    ASSERT_TRUE(is_ok(found));
    EXPECT_EQ(pid_in(found), bucket);
    EXPECT_TRUE(process_alive(bucket));
    EXPECT_FALSE(received("B", "exit"));
}

TEST_F(EventsReload, InvalidConfigChangesNothing) {
    pid_t bucket = pid_in(client_->call("create", {{"bucket", "keep"}}));
    ASSERT_GT(bucket, 0);
    pid_t a = running_pid("A");
    ASSERT_GT(a, 0);

    // Line 3 has an unknown key.
    write_config("[[handler]]\nname = \"C\"\nmood = \"sync\"\ncommand = [\"/bin/cat\"]\n");
    Json reply = client_->call("reload");
    ASSERT_TRUE(is_error(reply, "bad_request"));
    std::string message = reply["error"]["message"];
    EXPECT_TRUE(std::regex_search(message, std::regex("kvd\\.toml:3:[0-9]+: ")))
        << "no FILE:LINE:COLUMN in: " << message;

    auto rows = handlers();
    EXPECT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows.count("C"), 0u);
    EXPECT_EQ(running_pid("A"), a);
    EXPECT_TRUE(process_alive(a));
    EXPECT_EQ(pid_in(client_->call("lookup", {{"bucket", "keep"}})), bucket);

    // A file that is not TOML at all, likewise.
    write_config("[[handler]\nname = ");
    reply = client_->call("reload");
    ASSERT_TRUE(is_error(reply, "bad_request"));
    message = reply["error"]["message"];
    EXPECT_TRUE(std::regex_search(message, std::regex("kvd\\.toml:[0-9]+:[0-9]+: ")))
        << "no FILE:LINE:COLUMN in: " << message;
    EXPECT_EQ(running_pid("A"), a);

    // Still the old config at work: A gets events.
    ASSERT_TRUE(is_ok(client_->call("notify", {{"type", "still-a"}, {"sync", true}})));
    EXPECT_TRUE(received("A", "still-a"));
}

TEST_F(EventsReload, SighupReloadsToo) {
    pid_t bucket = pid_in(client_->call("create", {{"bucket", "keep"}}));
    ASSERT_GT(bucket, 0);
    pid_t a = running_pid("A");
    ASSERT_GT(a, 0);

    write_config(handler_toml("A", "ack") + handler_toml("C", "ack"));
    kvd_->signal(SIGHUP);
    pid_t c = running_pid("C");
    ASSERT_GT(c, 0);
    // A is unchanged: same process.
    EXPECT_EQ(running_pid("A"), a);
    EXPECT_TRUE(kvd_->running());

    ASSERT_TRUE(is_ok(client_->call("notify", {{"type", "both"}, {"sync", true}})));
    EXPECT_TRUE(received("A", "both"));
    EXPECT_TRUE(received("C", "both"));
    EXPECT_EQ(pid_in(client_->call("lookup", {{"bucket", "keep"}})), bucket);
    EXPECT_NE(kvd_->log().find("SIGHUP"), std::string::npos);
}

// Removing a sync handler that holds an event releases the operation waiting on it.
TEST_F(EventsReload, RemovingABusyHandlerReleasesWhoWaitsOnIt) {
    // A handler that reads nothing until the file GO exists.
    std::string script = "while [ ! -e '" + dir_.file("GO") + "' ]; do sleep 0.02; done; exec '" +
                         test_handler_path() + "' --out '" + out("gated") + "' ack";
    Json command = {"/bin/sh", "-c", script};
    write_config(
        "[[handler]]\nname = \"gated\"\nmode = \"sync\"\nack_timeout = \"60s\"\ncommand = " +
        command.dump() + "\n");
    Json reply = client_->call("reload");
    ASSERT_TRUE(is_ok(reply));
    EXPECT_EQ(reply["result"],
              (Json{{"started", {"gated"}}, {"stopped", {"A"}}, {"restarted", Json::array()}}))
        << reply.dump();
    pid_t gated = running_pid("gated");
    ASSERT_GT(gated, 0);

    Client creator(kvd_->socket_path());
    ASSERT_TRUE(creator.send_json({{"id", 1}, {"op", "create"}, {"bucket", "held"}}));
    EXPECT_FALSE(creator.read_line(200ms)) << "create replied before the gated handler acked";

    write_config("");
    reply = client_->call("reload");
    ASSERT_TRUE(is_ok(reply));
    EXPECT_EQ(reply["result"]["stopped"], Json({"gated"})) << reply.dump();
    auto created = creator.read_json(10s);
    ASSERT_TRUE(created) << "create still waits on a handler that was removed";
    EXPECT_TRUE(is_ok(*created));

    // Let it read: it finds end of file after the event and exits.
    dir_.write_file("GO", "");
    EXPECT_TRUE(
        wait_until([&] { return !process_alive(gated); }, 10s, "the removed handler to exit"));
    EXPECT_TRUE(handlers().empty());
}

}  // namespace
}  // namespace kvd::test
