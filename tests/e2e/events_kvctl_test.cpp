// kvctl's event commands against a real kvd: `events` streams JSON lines and stops after
// --count, `notify` publishes (a reserved type is the daemon's error: exit 1), `handlers`
// prints a table, `reload` says what changed.
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

class EventsKvctl : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!kvctl_built()) GTEST_SKIP() << "kvctl is not built";
        KvdOptions options;
        options.config = handler_toml("audit");
        kvd_ = std::make_unique<KvdProcess>(dir_, options);
        ASSERT_TRUE(kvd_->ready());
        client_ = std::make_unique<Client>(kvd_->socket_path());
        ASSERT_TRUE(client_->connected()) << client_->connect_error();
    }

    std::string handler_toml(const std::string& name) const {
        Json command = {test_handler_path(), "--out", dir_.file(name + ".out"), "ack"};
        return "[[handler]]\nname = \"" + name +
               "\"\nmode = \"sync\"\ncommand = " + command.dump() + "\n\n";
    }

    RunResult kvctl(std::vector<std::string> args) {
        args.insert(args.begin(), {"--socket", kvd_->socket_path()});
        return run_kvctl(args);
    }

    int64_t subscriptions() {
        Json status = client_->call("status");
        return is_ok(status) ? status["result"]["subscriptions"].get<int64_t>() : -1;
    }

    TempDir dir_;
    std::unique_ptr<KvdProcess> kvd_;
    std::unique_ptr<Client> client_;
};

TEST_F(EventsKvctl, EventsCountPrintsThatManyJsonLinesAndExits) {
    RunResult events;
    std::thread reader([&] { events = kvctl({"--json", "events", "--count", "3"}); });
    // Publish once kvctl has subscribed, so that it sees these live.
    bool subscribed = wait_until([&] { return subscriptions() == 1; }, 10s, "kvctl to subscribe");
    if (subscribed) {
        EXPECT_TRUE(is_ok(client_->call("notify", {{"type", "one"}, {"data", 1}})));
        EXPECT_TRUE(is_ok(client_->call("create", {{"bucket", "two"}})));
        EXPECT_TRUE(is_ok(client_->call("notify", {{"type", "three"}})));
        EXPECT_TRUE(is_ok(client_->call("notify", {{"type", "four"}})));
    }
    reader.join();
    ASSERT_TRUE(subscribed);
    EXPECT_EQ(events.exit_code, 0) << events;
    auto lines = split_lines(events.out);
    ASSERT_EQ(lines.size(), 3u) << events;
    std::vector<std::string> types;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        Json e = Json::parse(lines[i], nullptr, false);
        ASSERT_TRUE(e.is_object()) << lines[i];
        EXPECT_EQ(e["seq"], i + 1);
        types.push_back(e["type"]);
    }
    EXPECT_EQ(types, (std::vector<std::string>{"one", "create", "three"}));
    EXPECT_TRUE(wait_until([&] { return subscriptions() == 0; }, 10s,
                           "kvctl's subscription to end with it"));
}

TEST_F(EventsKvctl, EventsFromReplaysHistory) {
    for (int i = 0; i < 5; ++i)
        ASSERT_TRUE(is_ok(client_->call("notify", {{"type", "t"}, {"data", i}})));
    RunResult r = kvctl({"--json", "events", "--from", "3", "--count", "3"});
    EXPECT_EQ(r.exit_code, 0) << r;
    auto lines = split_lines(r.out);
    ASSERT_EQ(lines.size(), 3u) << r;
    for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(Json::parse(lines[i])["seq"], i + 3) << lines[i];

    // Human output: one line per event, naming its seq and type.
    RunResult human = kvctl({"events", "--from", "5", "--count", "1"});
    EXPECT_EQ(human.exit_code, 0) << human;
    ASSERT_EQ(split_lines(human.out).size(), 1u) << human;
    EXPECT_TRUE(std::regex_search(human.out, std::regex("\\b5\\b.*\\bt\\b"))) << human;
}

TEST_F(EventsKvctl, NotifyPublishesAndReservedTypesFail) {
    RunResult r = kvctl({"notify", "t", R"({"a":1})"});
    EXPECT_EQ(r.exit_code, 0) << r;
    r = kvctl({"notify", "--sync", "t2"});
    EXPECT_EQ(r.exit_code, 0) << r;
    // The sync handler has both, with the data as given.
    auto lines = read_lines(dir_.file("audit.out"));
    ASSERT_GE(lines.size(), 1u);
    Json first = Json::parse(lines[0]);
    EXPECT_EQ(first["type"], "t");
    EXPECT_EQ(first["data"], (Json{{"a", 1}}));
    ASSERT_EQ(lines.size(), 2u) << "notify --sync returned before the sync handler acked";
    EXPECT_EQ(Json::parse(lines[1])["type"], "t2");

    for (const char* reserved : {"create", "exit", "dropped"}) {
        r = kvctl({"notify", reserved});
        EXPECT_EQ(r.exit_code, 1) << reserved << ": " << r;
        EXPECT_FALSE(r.err.empty()) << r;
    }
    r = kvctl({"--json", "notify", "create"});
    EXPECT_EQ(r.exit_code, 1) << r;
    Json error = Json::parse(r.out, nullptr, false);
    EXPECT_EQ(error.value("code", ""), "bad_request") << r;

    // Bad JSON data is a usage error, caught before anything is sent.
    r = kvctl({"notify", "t", "{not json"});
    EXPECT_EQ(r.exit_code, 2) << r;
    Json status = client_->call("status");
    EXPECT_EQ(status["result"]["last_seq"], 2);
}

TEST_F(EventsKvctl, HandlersPrintsATable) {
    RunResult r = kvctl({"handlers"});
    EXPECT_EQ(r.exit_code, 0) << r;
    auto lines = split_lines(r.out);
    ASSERT_EQ(lines.size(), 2u) << r;
    EXPECT_NE(lines[0].find("NAME"), std::string::npos) << r;
    EXPECT_NE(lines[1].find("audit"), std::string::npos) << r;
    EXPECT_NE(lines[1].find("sync"), std::string::npos) << r;
    EXPECT_NE(lines[1].find("running"), std::string::npos) << r;

    RunResult json = kvctl({"--json", "handlers"});
    EXPECT_EQ(json.exit_code, 0) << json;
    Json result = Json::parse(json.out, nullptr, false);
    ASSERT_TRUE(result.is_object()) << json;
    ASSERT_EQ(result["handlers"].size(), 1u) << json;
    EXPECT_EQ(result["handlers"][0]["name"], "audit");
}

TEST_F(EventsKvctl, ReloadSaysWhatChanged) {
    dir_.write_file("kvd.toml", handler_toml("audit") + handler_toml("extra"));
    RunResult r = kvctl({"reload"});
    EXPECT_EQ(r.exit_code, 0) << r;
    EXPECT_NE(r.out.find("started"), std::string::npos) << r;
    EXPECT_NE(r.out.find("extra"), std::string::npos) << r;

    dir_.write_file("kvd.toml", handler_toml("extra"));
    RunResult json = kvctl({"--json", "reload"});
    EXPECT_EQ(json.exit_code, 0) << json;
    Json result = Json::parse(json.out, nullptr, false);
    EXPECT_EQ(
        result,
        (Json{{"started", Json::array()}, {"stopped", {"audit"}}, {"restarted", Json::array()}}))
        << json;

    dir_.write_file("kvd.toml", "[[handler]]\nname = 1\n");
    RunResult bad = kvctl({"reload"});
    EXPECT_EQ(bad.exit_code, 1) << bad;
    EXPECT_NE(bad.err.find("kvd.toml:2:"), std::string::npos) << bad;
}

}  // namespace
}  // namespace kvd::test
