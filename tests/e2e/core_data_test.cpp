// put / get / delete / keys proxied through kvd to the bucket processes.
#include <signal.h>

#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

class Data : public KvdTest {
  protected:
    void SetUp() override {
        KvdTest::SetUp();
        if (HasFatalFailure()) return;
        ASSERT_GT(create("b"), 0);
    }
    Json put(const std::string& key, const std::string& value, const std::string& bucket = "b") {
        return call("put", {{"bucket", bucket}, {"key", key}, {"value", value}});
    }
    Json get(const std::string& key, const std::string& bucket = "b") {
        return call("get", {{"bucket", bucket}, {"key", key}});
    }
};

// Values that tend to break hand-written framing or escaping.
std::vector<std::string> awkward_strings() {
    return {
        "plain",
        "",
        " ",
        "with  spaces ",
        "\"double\" and 'single' quotes",
        "back\\slash \\\\ \\n (not a newline)",
        "new\nline",
        "crlf\r\n",
        "\n",
        "tab\tand\vvertical\fform",
        std::string("nul\0inside", 10),
        "control \x01\x02\x1b[31m\x7f",
        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xe4\xb8\xad\xe6\x96\x87 "
        "\xd8\xb9\xd8\xb1\xd8\xa8\xd9\x8a",
        "\xe2\x80\xa8 line separator",
        "{\"looks\":[\"like\",\"json\"]}",
        "}{\"op\":\"ping\"}\n{",
        std::string(100 * 1024, 'v'),
    };
}

TEST_F(Data, PutThenGet) {
    Json reply = put("k", "v");
    ASSERT_TRUE(is_ok(reply));
    EXPECT_EQ(reply["result"], Json::object());
    reply = get("k");
    ASSERT_TRUE(is_ok(reply));
    EXPECT_EQ(reply["result"], (Json{{"value", "v"}}));
}

TEST_F(Data, AwkwardValuesRoundTrip) {
    auto values = awkward_strings();
    for (std::size_t i = 0; i < values.size(); ++i)
        ASSERT_TRUE(is_ok(put("k" + std::to_string(i), values[i]))) << "value " << i;
    for (std::size_t i = 0; i < values.size(); ++i) {
        Json reply = get("k" + std::to_string(i));
        ASSERT_TRUE(is_ok(reply)) << "value " << i;
        EXPECT_EQ(reply["result"]["value"].get<std::string>(), values[i]) << "value " << i;
    }
}

TEST_F(Data, AwkwardKeysRoundTrip) {
    auto keys = awkward_strings();
    keys.pop_back();  // a 100 KB key is covered by the value test
    for (std::size_t i = 0; i < keys.size(); ++i)
        ASSERT_TRUE(is_ok(put(keys[i], "v" + std::to_string(i)))) << "key " << i;
    for (std::size_t i = 0; i < keys.size(); ++i) {
        Json reply = get(keys[i]);
        ASSERT_TRUE(is_ok(reply)) << "key " << i;
        EXPECT_EQ(reply["result"]["value"], "v" + std::to_string(i)) << "key " << i;
    }
    Json listed = call("keys", {{"bucket", "b"}});
    ASSERT_TRUE(is_ok(listed));
    std::vector<std::string> expected = keys;
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(listed["result"]["keys"].get<std::vector<std::string>>(), expected);
}

TEST_F(Data, ValueNearTheLineLimit) {
    // About 976 KiB: the request and the reply lines stay just under the 1 MiB line limit.
    std::string big(1'000'000, 'x');
    big[0] = 'A';
    big[big.size() - 1] = 'Z';
    ASSERT_TRUE(is_ok(put("big", big)));
    Json reply = get("big");
    ASSERT_TRUE(is_ok(reply));
    EXPECT_EQ(reply["result"]["value"].get<std::string>(), big);
}

TEST_F(Data, OverwriteDeleteAndKeys) {
    ASSERT_TRUE(is_ok(put("k", "one")));
    ASSERT_TRUE(is_ok(put("k", "two")));
    EXPECT_EQ(get("k")["result"]["value"], "two");

    for (std::string k : {"c", "a", "b"}) ASSERT_TRUE(is_ok(put(k, k)));
    Json keys = call("keys", {{"bucket", "b"}});
    ASSERT_TRUE(is_ok(keys));
    EXPECT_EQ(keys["result"], (Json{{"keys", {"a", "b", "c", "k"}}}));

    Json deleted = call("delete", {{"bucket", "b"}, {"key", "k"}});
    ASSERT_TRUE(is_ok(deleted));
    EXPECT_EQ(deleted["result"], (Json{{"deleted", true}}));
    deleted = call("delete", {{"bucket", "b"}, {"key", "k"}});
    ASSERT_TRUE(is_ok(deleted));
    EXPECT_EQ(deleted["result"], (Json{{"deleted", false}}));
    EXPECT_TRUE(is_error(get("k"), "not_found"));
    EXPECT_EQ(call("keys", {{"bucket", "b"}})["result"]["keys"], (Json{"a", "b", "c"}));
}

TEST_F(Data, EmptyBucketHasNoKeys) {
    Json keys = call("keys", {{"bucket", "b"}});
    ASSERT_TRUE(is_ok(keys));
    EXPECT_EQ(keys["result"], (Json{{"keys", Json::array()}}));
}

TEST_F(Data, GetOfMissingKeyIsNotFound) {
    Json reply = get("missing");
    EXPECT_TRUE(is_error(reply, "not_found"));
    // The bucket is still there and serving.
    EXPECT_TRUE(is_ok(put("k", "v")));
}

TEST_F(Data, UnknownBucketIsNotFound) {
    EXPECT_TRUE(is_error(put("k", "v", "nope"), "not_found"));
    EXPECT_TRUE(is_error(get("k", "nope"), "not_found"));
    EXPECT_TRUE(is_error(call("delete", {{"bucket", "nope"}, {"key", "k"}}), "not_found"));
    EXPECT_TRUE(is_error(call("keys", {{"bucket", "nope"}}), "not_found"));
    EXPECT_EQ(lookup_pid("nope"), -1) << "a data op must not create the bucket";
}

TEST_F(Data, InvalidBucketNameIsInvalidName) {
    EXPECT_TRUE(is_error(put("k", "v", "a/b"), "invalid_name"));
    EXPECT_TRUE(is_error(get("k", ".x"), "invalid_name"));
    EXPECT_TRUE(is_error(call("delete", {{"bucket", ""}, {"key", "k"}}), "invalid_name"));
    EXPECT_TRUE(is_error(call("keys", {{"bucket", std::string(129, 'a')}}), "invalid_name"));
}

TEST_F(Data, IllTypedOrMissingArguments) {
    const Json bad[] = {
        {{"op", "put"}, {"bucket", "b"}, {"key", "k"}},
        {{"op", "put"}, {"bucket", "b"}, {"value", "v"}},
        {{"op", "put"}, {"bucket", "b"}, {"key", "k"}, {"value", 1}},
        {{"op", "put"}, {"bucket", "b"}, {"key", "k"}, {"value", nullptr}},
        {{"op", "put"}, {"bucket", "b"}, {"key", "k"}, {"value", {{"nested", "object"}}}},
        {{"op", "put"}, {"bucket", "b"}, {"key", 1}, {"value", "v"}},
        {{"op", "get"}, {"bucket", "b"}},
        {{"op", "get"}, {"bucket", "b"}, {"key", Json::array()}},
        {{"op", "delete"}, {"bucket", "b"}, {"key", false}},
        {{"op", "keys"}},
        {{"op", "get"}, {"key", "k"}},
    };
    for (const Json& req : bad)
        EXPECT_TRUE(is_error(client().request(req), "bad_request")) << req.dump();
    EXPECT_EQ(call("keys", {{"bucket", "b"}})["result"]["keys"], Json::array())
        << "a refused put must not store anything";
}

TEST_F(Data, BucketsAreIndependent) {
    ASSERT_GT(create("other"), 0);
    ASSERT_TRUE(is_ok(put("k", "in b")));
    ASSERT_TRUE(is_ok(put("k", "in other", "other")));
    EXPECT_EQ(get("k")["result"]["value"], "in b");
    EXPECT_EQ(get("k", "other")["result"]["value"], "in other");
    ASSERT_TRUE(is_ok(call("delete", {{"bucket", "other"}, {"key", "k"}})));
    EXPECT_EQ(get("k")["result"]["value"], "in b");
}

TEST_F(Data, RequestToABucketThatDiesIsAnsweredWithAnError) {
    pid_t pid = lookup_pid("b");
    ASSERT_GT(pid, 0);
    // Freeze the bucket so the request is certainly in flight when it dies.
    ASSERT_TRUE(freeze(pid));
    Client& c = client();
    ASSERT_TRUE(c.send_json({{"id", "pending"}, {"op", "get"}, {"bucket", "b"}, {"key", "k"}}));
    EXPECT_EQ(c.read_line(100ms), std::nullopt) << "a frozen bucket cannot have answered";
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    auto reply = c.read_json(10s);
    ASSERT_TRUE(reply.has_value()) << "kvd never answered a request whose bucket died";
    EXPECT_EQ((*reply)["id"], "pending");
    EXPECT_EQ((*reply)["ok"], false) << reply->dump();
    EXPECT_TRUE(is_ok(call("ping")));
    EXPECT_TRUE(wait_until([&] { return lookup_pid("b") == -1; }, 5s, "the dead bucket to go"));
}

TEST_F(Data, ManyBucketsManyKeys) {
    for (int b = 0; b < 10; ++b) ASSERT_GT(create("bucket" + std::to_string(b)), 0);
    for (int b = 0; b < 10; ++b)
        for (int k = 0; k < 50; ++k)
            ASSERT_TRUE(is_ok(put("key" + std::to_string(k), std::to_string(b * 1000 + k),
                                  "bucket" + std::to_string(b))));
    for (int b = 0; b < 10; ++b) {
        Json keys = call("keys", {{"bucket", "bucket" + std::to_string(b)}});
        ASSERT_TRUE(is_ok(keys));
        EXPECT_EQ(keys["result"]["keys"].size(), 50u);
        EXPECT_EQ(get("key7", "bucket" + std::to_string(b))["result"]["value"],
                  std::to_string(b * 1000 + 7));
    }
}

}  // namespace
}  // namespace kvd::test
