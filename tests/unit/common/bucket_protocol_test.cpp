// The kvd <-> kv-bucket line protocol: request lines and reply parsing.
#include "common/bucket_protocol.hpp"

#include <gtest/gtest.h>

namespace kvd::bucket_protocol {
namespace {

TEST(BucketRequestLine, KeysHasOnlyTheOp) {
    std::string line = request_line("keys", nullptr, nullptr);
    EXPECT_EQ(line, "{\"op\":\"keys\"}\n");
}

TEST(BucketRequestLine, GetAndPut) {
    std::string key = "k", value = "v";
    EXPECT_EQ(Json::parse(request_line("get", &key, nullptr)),
              Json::parse(R"({"op":"get","key":"k"})"));
    EXPECT_EQ(Json::parse(request_line("put", &key, &value)),
              Json::parse(R"({"op":"put","key":"k","value":"v"})"));
}

TEST(BucketRequestLine, AwkwardStringsStayOnOneLine) {
    std::string key = "a \"quoted\" key\\with\nnewline";
    std::string value = "tab\there \xe2\x82\xac \xf0\x9f\x98\x80 \r\n\x01";
    std::string line = request_line("put", &key, &value);
    EXPECT_EQ(line.find('\n'), line.size() - 1);
    Json j = Json::parse(line);
    EXPECT_EQ(j.at("key"), key);
    EXPECT_EQ(j.at("value"), value);
}

TEST(BucketRequestLine, EmptyAndLongStrings) {
    std::string empty, big(1 << 20, 'x');
    Json j = Json::parse(request_line("put", &empty, &big));
    EXPECT_EQ(j.at("key"), "");
    EXPECT_EQ(j.at("value").get<std::string>().size(), big.size());
}

TEST(BucketParseReply, Ok) {
    auto r = parse_reply(R"({"ok":true,"result":{"value":"v"}})");
    ASSERT_TRUE(r.has_value());
    EXPECT_TRUE(r->ok);
    EXPECT_EQ(r->result, (Json{{"value", "v"}}));
}

TEST(BucketParseReply, Error) {
    auto r = parse_reply(R"({"ok":false,"error":{"code":"not_found","message":"no key 'k'"}})");
    ASSERT_TRUE(r.has_value());
    EXPECT_FALSE(r->ok);
    EXPECT_EQ(r->code, "not_found");
    EXPECT_EQ(r->message, "no key 'k'");
}

TEST(BucketParseReply, ErrorWithoutMessage) {
    auto r = parse_reply(R"({"ok":false,"error":{"code":"bad_request"}})");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->code, "bad_request");
    EXPECT_EQ(r->message, "");
}

TEST(BucketParseReply, Malformed) {
    for (std::string_view line :
         {"", "garbage", "[]", "{}", R"({"ok":"true","result":{}})", R"({"ok":true})",
          R"({"ok":true,"result":[]})", R"({"ok":true,"result":"x"})", R"({"ok":false})",
          R"({"ok":false,"error":"x"})", R"({"ok":false,"error":{}})",
          R"({"ok":false,"error":{"code":1}})", R"({"ok":true,"result":{}} trailing)"}) {
        std::optional<BucketReply> r;
        EXPECT_NO_THROW(r = parse_reply(line)) << line;
        EXPECT_FALSE(r.has_value()) << line;
    }
}

TEST(BucketParseReply, IllTypedMessageIsIgnored) {
    auto r = parse_reply(R"({"ok":false,"error":{"code":"internal","message":42}})");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->code, "internal");
    EXPECT_EQ(r->message, "");
}

}  // namespace
}  // namespace kvd::bucket_protocol
