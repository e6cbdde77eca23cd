// A bucket never loses its data because a reply is large: `keys` over [bucket]
// max_reply_bytes is a `limit` error that names the size, and the bucket goes on.
#include <string>

#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

class ReplyBound : public KvdTest {
  protected:
    KvdOptions options() override {
        KvdOptions o;
        o.config = "[bucket]\nmax_reply_bytes = \"64KiB\"\n";
        return o;
    }
};

TEST_F(ReplyBound, KeysOverTheBoundIsALimitAndTheBucketKeepsItsData) {
    pid_t pid = create("big");
    ASSERT_GT(pid, 0);
    constexpr int kKeys = 3000;  // 3000 keys of 30 bytes: about 100 KB of keys
    std::string batch;
    for (int i = 0; i < kKeys; ++i) {
        std::string key = "key-" + std::string(20, 'k') + std::to_string(100000 + i);
        batch +=
            Json{{"id", i}, {"op", "put"}, {"bucket", "big"}, {"key", key}, {"value", "v"}}.dump() +
            "\n";
    }
    auto c = connect();
    ASSERT_TRUE(c->send_raw(batch));
    for (int i = 0; i < kKeys; ++i) {
        auto reply = c->read_json(30s);
        ASSERT_TRUE(reply.has_value()) << "put #" << i;
        ASSERT_TRUE(is_ok(*reply)) << "put #" << i;
    }
    Json keys = call("keys", {{"bucket", "big"}});
    ASSERT_TRUE(is_error(keys, "limit")) << keys.dump().substr(0, 500);
    const std::string message = keys["error"]["message"];
    EXPECT_NE(message.find("3000 keys"), std::string::npos) << message;
    EXPECT_NE(message.find("65536-byte"), std::string::npos) << message;
    // Nothing was lost: the same process answers, with the data it had.
    EXPECT_EQ(lookup_pid("big"), pid);
    Json get = call("get", {{"bucket", "big"}, {"key", "key-" + std::string(20, 'k') + "102999"}});
    ASSERT_TRUE(is_ok(get));
    EXPECT_EQ(get["result"]["value"], "v");
    for (int i = 0; i < kKeys - 10; ++i)
        ASSERT_TRUE(
            c->send_json({{"id", i},
                          {"op", "delete"},
                          {"bucket", "big"},
                          {"key", "key-" + std::string(20, 'k') + std::to_string(100000 + i)}}));
    for (int i = 0; i < kKeys - 10; ++i) ASSERT_TRUE(c->read_json(30s).has_value());
    Json fewer = call("keys", {{"bucket", "big"}});
    ASSERT_TRUE(is_ok(fewer));
    EXPECT_EQ(fewer["result"]["keys"].size(), 10u);
}

}  // namespace
}  // namespace kvd::test
