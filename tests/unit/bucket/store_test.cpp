// The bucket's store: request line in, reply line out, including through the bucket protocol.
#include "bucket/store.hpp"

#include <gtest/gtest.h>

#include "common/bucket_protocol.hpp"

namespace kvd {
namespace {

namespace bp = bucket_protocol;

// Drives a Store the way kvd does: through request_line() and parse_reply().
class StoreTest : public ::testing::Test {
  protected:
    bp::BucketReply call(std::string_view op, const std::string* key = nullptr,
                         const std::string* value = nullptr) {
        std::string line = bp::request_line(op, key, value);
        EXPECT_EQ(line.back(), '\n');
        line.pop_back();
        return raw(line);
    }
    bp::BucketReply raw(std::string_view line) {
        std::string reply = store_.handle_line(line);
        EXPECT_FALSE(reply.empty());
        EXPECT_EQ(reply.find('\n'), reply.size() - 1) << reply;
        auto parsed = bp::parse_reply(std::string_view(reply).substr(0, reply.size() - 1));
        EXPECT_TRUE(parsed.has_value()) << reply;
        return parsed.value_or(bp::BucketReply{});
    }
    bp::BucketReply put(const std::string& k, const std::string& v) { return call("put", &k, &v); }
    bp::BucketReply get(const std::string& k) { return call("get", &k); }
    bp::BucketReply del(const std::string& k) { return call("delete", &k); }
    Json keys() {
        auto r = call("keys");
        EXPECT_TRUE(r.ok);
        return r.result.value("keys", Json());
    }

    Store store_;
};

TEST_F(StoreTest, PutThenGet) {
    auto r = put("k", "v");
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(r.result, Json::object());
    r = get("k");
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(r.result, (Json{{"value", "v"}}));
    EXPECT_EQ(store_.size(), 1u);
}

TEST_F(StoreTest, GetMissingIsNotFound) {
    auto r = get("nope");
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.code, "not_found");
    EXPECT_NE(r.message.find("nope"), std::string::npos) << r.message;
}

TEST_F(StoreTest, PutOverwrites) {
    put("k", "one");
    put("k", "two");
    EXPECT_EQ(get("k").result.at("value"), "two");
    EXPECT_EQ(store_.size(), 1u);
}

TEST_F(StoreTest, Delete) {
    put("k", "v");
    auto r = del("k");
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(r.result, (Json{{"deleted", true}}));
    r = del("k");
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(r.result, (Json{{"deleted", false}}));
    EXPECT_EQ(get("k").code, "not_found");
    EXPECT_EQ(store_.size(), 0u);
}

TEST_F(StoreTest, KeysOfEmptyStore) {
    EXPECT_EQ(keys(), Json::array());
}

TEST_F(StoreTest, KeysAreSortedBytewise) {
    for (std::string k : {"b", "a", "B", "\xc3\xa9", "a0", "", "A", "_"}) put(k, "v");
    EXPECT_EQ(keys(), Json::parse(R"(["","A","B","_","a","a0","b","é"])"));
    del("a");
    EXPECT_EQ(keys(), Json::parse(R"(["","A","B","_","a0","b","é"])"));
}

TEST_F(StoreTest, AwkwardKeysAndValuesRoundTrip) {
    const std::vector<std::string> samples = {
        "",
        " ",
        "with spaces  inside ",
        "\"double\" and 'single' quotes",
        "back\\slash\\\\",
        "new\nline\r\n",
        "tab\there",
        "control \x01\x02\x1f",
        "unicode: \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 \xe4\xb8\xad\xe6\x96\x87",
        "{\"json\":[\"inside\"]}",
        "nul\0byte",
        std::string(100 * 1024, 'x'),
        std::string(1 << 20, 'y'),
    };
    for (std::size_t i = 0; i < samples.size(); ++i) {
        const std::string& s = samples[i];
        SCOPED_TRACE("sample " + std::to_string(i));
        ASSERT_TRUE(put("key-" + std::to_string(i), s).ok);
        ASSERT_TRUE(put(s, "value-" + std::to_string(i)).ok);
    }
    for (std::size_t i = 0; i < samples.size(); ++i) {
        const std::string& s = samples[i];
        SCOPED_TRACE("sample " + std::to_string(i));
        auto r = get("key-" + std::to_string(i));
        ASSERT_TRUE(r.ok);
        EXPECT_EQ(r.result.at("value").get<std::string>(), s);
        r = get(s);
        ASSERT_TRUE(r.ok);
        EXPECT_EQ(r.result.at("value"), "value-" + std::to_string(i));
    }
}

TEST_F(StoreTest, EmbeddedNulIsPreserved) {
    std::string key("k\0k", 3), value("v\0v\0", 4);
    ASSERT_TRUE(put(key, value).ok);
    EXPECT_EQ(get(key).result.at("value").get<std::string>(), value);
    EXPECT_EQ(get("k").code, "not_found");
}

TEST_F(StoreTest, ManyKeys) {
    for (int i = 0; i < 10000; ++i) put("k" + std::to_string(i), std::to_string(i));
    EXPECT_EQ(store_.size(), 10000u);
    EXPECT_EQ(keys().size(), 10000u);
    EXPECT_EQ(get("k4242").result.at("value"), "4242");
}

TEST_F(StoreTest, BadRequests) {
    for (std::string_view line :
         {"", "not json", "[]", "\"put\"", "{}", R"({"op":1})", R"({"op":null})", R"({"op":"get"})",
          R"({"op":"get","key":1})", R"({"op":"get","key":null})", R"({"op":"delete"})",
          R"({"op":"put","key":"k"})", R"({"op":"put","key":"k","value":1})",
          R"({"op":"put","key":"k","value":null})", R"({"op":"put","key":["k"],"value":"v"})",
          R"({"op":"frobnicate","key":"k"})", "{\"op\":\"get\",\"key\":\"\xff\"}"}) {
        auto r = raw(line);
        EXPECT_FALSE(r.ok) << line;
        EXPECT_EQ(r.code, "bad_request") << line;
        EXPECT_FALSE(r.message.empty()) << line;
    }
    EXPECT_EQ(store_.size(), 0u);
}

TEST_F(StoreTest, BadRequestChangesNothing) {
    put("k", "v");
    raw(R"({"op":"put","key":"k","value":2})");
    raw(R"({"op":"delete","key":5})");
    EXPECT_EQ(get("k").result.at("value"), "v");
}

TEST_F(StoreTest, ExtraFieldsAreIgnored) {
    auto r = raw(R"({"op":"put","key":"k","value":"v","id":3,"bucket":"b"})");
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(get("k").result.at("value"), "v");
}

TEST_F(StoreTest, NotFoundMessageWithInvalidUtf8KeyStillSerialises) {
    // The key arrives as valid JSON escapes of a lone surrogate; the reply must still be a line.
    auto r = raw(R"({"op":"get","key":"\ud800"})");
    EXPECT_FALSE(r.ok);
}

// Two escapings of one string are one key, and every reply is what nlohmann would write.
TEST_F(StoreTest, EscapedAndPlainSpellingsAreTheSameKey) {
    EXPECT_EQ(store_.handle_line(R"({"op":"put","key":"\u0041\/","value":"\u00e9\"x"})"),
              "{\"ok\":true,\"result\":{}}\n");
    EXPECT_EQ(store_.handle_line(R"({"op":"get","key":"A/"})"),
              "{\"ok\":true,\"result\":{\"value\":\"\xc3\xa9\\\"x\"}}\n");
    EXPECT_EQ(store_.handle_line(R"({"op":"put","key":"A/","value":"plain"})"),
              "{\"ok\":true,\"result\":{}}\n");
    EXPECT_EQ(store_.size(), 1u);
    EXPECT_EQ(store_.handle_line(R"({ "key" : "\u0041/" , "op" : "get" })"),
              "{\"ok\":true,\"result\":{\"value\":\"plain\"}}\n");
    EXPECT_EQ(store_.handle_line(R"({"op":"put","key":"q\"\n","value":"v"})"),
              "{\"ok\":true,\"result\":{}}\n");
    EXPECT_EQ(store_.handle_line(R"({"op":"keys"})"),
              "{\"ok\":true,\"result\":{\"keys\":[\"A/\",\"q\\\"\\n\"]}}\n");
    EXPECT_EQ(store_.handle_line(R"({"op":"delete","key":"\u0041\u002f"})"),
              "{\"ok\":true,\"result\":{\"deleted\":true}}\n");
    EXPECT_EQ(store_.handle_line(R"({"op":"get","key":"A/"})"),
              "{\"error\":{\"code\":\"not_found\",\"message\":\"no key 'A/'\"},\"ok\":false}\n");
}

TEST_F(StoreTest, RepliesAppendToTheOutput) {
    std::string out;
    store_.handle_line(R"({"op":"put","key":"k","value":"v"})", out);
    store_.handle_line(R"({"op":"get","key":"k"})", out);
    EXPECT_EQ(out, "{\"ok\":true,\"result\":{}}\n{\"ok\":true,\"result\":{\"value\":\"v\"}}\n");
}

}  // namespace
}  // namespace kvd

namespace kvd {
namespace {

// A `keys` reply over the bound is a `limit` error that names the size; nothing is lost.
TEST(StoreReplyBound, KeysOverTheBoundIsALimitErrorAndKeepsTheData) {
    Store store(1000);
    for (int i = 0; i < 200; ++i)
        store.handle_line(R"({"op":"put","key":"key-)" + std::to_string(i) + R"(","value":"v"})");
    auto reply = bucket_protocol::parse_reply(store.handle_line(R"({"op":"keys"})"));
    ASSERT_TRUE(reply.has_value());
    EXPECT_FALSE(reply->ok);
    EXPECT_EQ(reply->code, "limit");
    // 200 keys of 7 or 8 characters, quoted and comma-separated, in the reply's framing.
    EXPECT_NE(reply->message.find("200 keys"), std::string::npos) << reply->message;
    EXPECT_NE(reply->message.find("1000-byte"), std::string::npos) << reply->message;
    EXPECT_EQ(store.size(), 200u);
    auto get = bucket_protocol::parse_reply(store.handle_line(R"({"op":"get","key":"key-199"})"));
    ASSERT_TRUE(get.has_value());
    EXPECT_TRUE(get->ok);
    // Under the bound, the same store answers in full.
    store.handle_line(R"({"op":"delete","key":"key-0"})");
    Store small(1000);
    small.handle_line(R"({"op":"put","key":"a","value":"v"})");
    auto keys = bucket_protocol::parse_reply(small.handle_line(R"({"op":"keys"})"));
    ASSERT_TRUE(keys.has_value());
    EXPECT_TRUE(keys->ok);
    EXPECT_EQ(keys->result["keys"], Json::array({"a"}));
}

TEST(StoreReplyBound, TheSizeNamedIsTheSizeTheReplyWouldHave) {
    Store bounded(10);
    Store unbounded;
    for (const char* k : {"alpha", "be\"ta", "gamma"}) {
        std::string put = Json{{"op", "put"}, {"key", k}, {"value", "v"}}.dump();
        bounded.handle_line(put);
        unbounded.handle_line(put);
    }
    std::string full = unbounded.handle_line(R"({"op":"keys"})");
    auto reply = bucket_protocol::parse_reply(bounded.handle_line(R"({"op":"keys"})"));
    ASSERT_TRUE(reply.has_value());
    EXPECT_EQ(reply->code, "limit");
    EXPECT_NE(reply->message.find("would be " + std::to_string(full.size()) + " bytes"),
              std::string::npos)
        << reply->message << " vs " << full;
}

}  // namespace
}  // namespace kvd
