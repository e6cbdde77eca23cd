// The event format of README "Writing a handler", as a handler that receives everything sees it:
// one JSON object per line, seq strictly increasing by one from 1, an RFC 3339 UTC time, and
// exactly the keys of its type. Custom events carry `data`; the reserved types cannot be published.
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

std::set<std::string> keys_of(const Json& j) {
    std::set<std::string> keys;
    for (const auto& [k, v] : j.items()) keys.insert(k);
    return keys;
}

class EventsFormat : public ::testing::Test {
  protected:
    void SetUp() override {
        out_ = dir_.file("all.out");
        Json command = {test_handler_path(), "--out", out_, "ack-json"};
        std::string config =
            "[[handler]]\nname = \"all\"\nmode = \"sync\"\ncommand = " + command.dump() + "\n";
        KvdOptions options;
        options.config = config;
        kvd_ = std::make_unique<KvdProcess>(dir_, options);
        ASSERT_TRUE(kvd_->ready());
        client_ = std::make_unique<Client>(kvd_->socket_path());
        ASSERT_TRUE(client_->connected()) << client_->connect_error();
    }

    TempDir dir_;
    std::string out_;
    std::unique_ptr<KvdProcess> kvd_;
    std::unique_ptr<Client> client_;
};

TEST_F(EventsFormat, EveryLineHasTheKeysOfItsTypeAndSeqCountsUpByOne) {
    Client& c = *client_;
    pid_t a = pid_in(c.call("create", {{"bucket", "a"}}));
    pid_t b = pid_in(c.call("create", {{"bucket", "b"}}));
    ASSERT_GT(a, 0);
    ASSERT_GT(b, 0);
    const Json data = {{"world", true},
                       {"n", 42},
                       {"list", {1, "two", nullptr}},
                       {"text", "quote \" backslash \\ newline \n unicode \u00e9\u2603"}};
    ASSERT_TRUE(is_ok(c.call("notify", {{"type", "hello"}, {"data", data}, {"sync", true}})));
    ASSERT_TRUE(is_ok(c.call("notify", {{"type", "bare"}, {"sync", true}})));
    ASSERT_TRUE(
        is_ok(c.call("notify", {{"type", "scalar"}, {"data", "just a string"}, {"sync", true}})));
    ASSERT_TRUE(is_ok(c.call("stop", {{"bucket", "a"}})));
    ASSERT_TRUE(is_ok(c.call("kill", {{"bucket", "b"}})));
    ASSERT_TRUE(is_ok(c.call("notify", {{"type", "last"}, {"sync", true}})));
    const std::size_t expected = 8;  // 2 creates, 4 custom, 2 exits

    // The exit of b is published whenever kvd reaps it; wait for everything.
    ASSERT_TRUE(wait_until([&] { return read_lines(out_).size() >= expected; }, 10s,
                           "8 events in the handler's file"));
    auto lines = read_lines(out_);
    ASSERT_EQ(lines.size(), expected) << read_file(out_);

    const std::regex rfc3339(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z)");
    const std::set<std::string> create_keys = {"seq", "type", "bucket", "pid", "time"};
    const std::set<std::string> exit_keys = {"seq",  "type",   "bucket", "pid",
                                             "code", "signal", "reason", "time"};
    const std::set<std::string> custom_keys = {"seq", "type", "data", "time"};

    std::map<std::string, Json> custom;
    std::vector<std::string> types;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        SCOPED_TRACE(lines[i]);
        Json e = Json::parse(lines[i], nullptr, false);
        ASSERT_TRUE(e.is_object());
        ASSERT_TRUE(e["seq"].is_number_unsigned());
        EXPECT_EQ(e["seq"].get<uint64_t>(), i + 1) << "seq must start at 1 and count up by one";
        ASSERT_TRUE(e["time"].is_string());
        EXPECT_TRUE(std::regex_match(e["time"].get<std::string>(), rfc3339));
        std::string type = e["type"];
        types.push_back(type);
        if (type == "create") {
            EXPECT_EQ(keys_of(e), create_keys);
            EXPECT_TRUE(e["bucket"].is_string());
            EXPECT_TRUE(e["pid"].is_number_integer());
        } else if (type == "exit") {
            EXPECT_EQ(keys_of(e), exit_keys);
            EXPECT_TRUE(e["reason"] == "stopped" || e["reason"] == "killed" ||
                        e["reason"] == "exited");
        } else {
            EXPECT_EQ(keys_of(e), custom_keys);
            custom[type] = e["data"];
        }
    }
    // Sync operations complete in order, so these six are in call order; b's exit came at
    // some point after its kill.
    std::vector<std::string> without_b_exit;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        Json e = Json::parse(lines[i]);
        if (e["type"] == "exit" && e["bucket"] == "b") {
            EXPECT_GT(i, 5u) << "b's exit came before its kill";
            EXPECT_EQ(e["pid"], b);
            EXPECT_EQ(e["reason"], "killed");
            continue;
        }
        without_b_exit.push_back(e["type"]);
    }
    EXPECT_EQ(without_b_exit, (std::vector<std::string>{"create", "create", "hello", "bare",
                                                        "scalar", "exit", "last"}));
    EXPECT_EQ(custom["hello"], data);
    EXPECT_TRUE(custom["bare"].is_null());
    EXPECT_EQ(custom["scalar"], "just a string");

    Json status = c.call("status");
    ASSERT_TRUE(is_ok(status));
    EXPECT_EQ(status["result"]["last_seq"], expected);
}

TEST_F(EventsFormat, ReservedTypesAreBadRequest) {
    for (const char* type : {"create", "exit", "dropped"}) {
        SCOPED_TRACE(type);
        EXPECT_TRUE(is_error(client_->call("notify", {{"type", type}}), "bad_request"));
        EXPECT_TRUE(is_error(
            client_->call("notify", {{"type", type}, {"data", {{"x", 1}}}, {"sync", true}}),
            "bad_request"));
    }
    // Rejected events are not published: nothing was numbered or delivered.
    Json status = client_->call("status");
    ASSERT_TRUE(is_ok(status));
    EXPECT_EQ(status["result"]["last_seq"], 0);
    ASSERT_TRUE(is_ok(client_->call("notify", {{"type", "after"}, {"sync", true}})));
    auto lines = read_lines(out_);
    ASSERT_EQ(lines.size(), 1u) << read_file(out_);
    Json e = Json::parse(lines[0]);
    EXPECT_EQ(e["seq"], 1);
    EXPECT_EQ(e["type"], "after");
}

TEST_F(EventsFormat, NotifyArgumentsAreChecked) {
    EXPECT_TRUE(is_error(client_->call("notify"), "bad_request"));
    EXPECT_TRUE(is_error(client_->call("notify", {{"type", 7}}), "bad_request"));
    EXPECT_TRUE(is_error(client_->call("notify", {{"type", ""}}), "bad_request"));
    EXPECT_TRUE(is_error(client_->call("notify", {{"type", "t"}, {"sync", "yes"}}), "bad_request"));
    // The connection stays usable after each error.
    EXPECT_TRUE(is_ok(client_->call("notify", {{"type", "t"}})));
}

}  // namespace
}  // namespace kvd::test
