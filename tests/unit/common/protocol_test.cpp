// The control protocol as values: request parsing, reply building and reply parsing.
#include "common/protocol.hpp"

#include <gtest/gtest.h>

namespace kvd {
namespace {

const Request& as_request(const std::variant<Request, RequestError>& v) {
    static const Request empty{};
    if (!std::holds_alternative<Request>(v)) {
        ADD_FAILURE() << "expected a request, got error: " << std::get<RequestError>(v).message;
        return empty;
    }
    return std::get<Request>(v);
}

const RequestError& as_error(const std::variant<Request, RequestError>& v) {
    static const RequestError empty{};
    if (!std::holds_alternative<RequestError>(v)) {
        ADD_FAILURE() << "expected an error, got op " << std::get<Request>(v).op;
        return empty;
    }
    return std::get<RequestError>(v);
}

TEST(ParseRequest, Minimal) {
    auto parsed = parse_request(R"({"op":"ping"})");
    const Request& r = as_request(parsed);
    EXPECT_EQ(r.op, "ping");
    EXPECT_TRUE(r.id.is_null());
    EXPECT_EQ(r.body, Json::parse(R"({"op":"ping"})"));
}

TEST(ParseRequest, BodyCarriesTheArguments) {
    auto parsed = parse_request(R"({"id":7,"op":"put","bucket":"b","key":"k","value":"v"})");
    const Request& r = as_request(parsed);
    EXPECT_EQ(r.op, "put");
    EXPECT_EQ(r.id, Json(7));
    EXPECT_EQ(r.body.at("bucket"), "b");
    EXPECT_EQ(r.body.at("key"), "k");
    EXPECT_EQ(r.body.at("value"), "v");
}

TEST(ParseRequest, UnknownOpIsStillARequest) {
    // Whether an op exists is the dispatcher's business, not the parser's.
    EXPECT_EQ(as_request(parse_request(R"({"op":"frobnicate"})")).op, "frobnicate");
    EXPECT_EQ(as_request(parse_request(R"({"op":""})")).op, "");
}

TEST(ParseRequest, IdOfAnyJsonTypeIsEchoedVerbatim) {
    for (const char* id : {"1", "0", "-5", "1.5", "18446744073709551615", "\"abc\"", "\"\"", "null",
                           "true", "false", "[1,2,{\"x\":null}]", "{\"nested\":{\"k\":[]}}"}) {
        std::string line = std::string(R"({"id":)") + id + R"(,"op":"ping"})";
        auto parsed = parse_request(line);
        EXPECT_EQ(as_request(parsed).id, Json::parse(id)) << line;
    }
}

TEST(ParseRequest, AbsentIdIsNull) {
    EXPECT_TRUE(as_request(parse_request(R"({"op":"ping","x":1})")).id.is_null());
}

TEST(ParseRequest, WhitespaceAroundIsFine) {
    EXPECT_EQ(as_request(parse_request("  {\"op\" : \"list\"}\t\r")).op, "list");
}

TEST(ParseRequest, NotJson) {
    for (std::string_view line :
         {"", " ", "hello", "{", "{\"op\":\"ping\"", "{'op':'ping'}", "{\"op\":\"ping\"} trailing",
          "{\"op\":\"ping\"}{}", "\xff\xfe", "{\"op\":\"\xff\"}"}) {
        auto parsed = parse_request(line);
        const RequestError& e = as_error(parsed);
        EXPECT_TRUE(e.id.is_null()) << line;
        EXPECT_NE(e.message.find("JSON"), std::string::npos) << e.message;
    }
}

TEST(ParseRequest, NotAnObject) {
    for (std::string_view line : {"[]", "[{\"op\":\"ping\"}]", "1", "\"ping\"", "null", "true"}) {
        auto parsed = parse_request(line);
        const RequestError& e = as_error(parsed);
        EXPECT_TRUE(e.id.is_null()) << line;
        EXPECT_NE(e.message.find("object"), std::string::npos) << e.message;
    }
}

TEST(ParseRequest, MissingOpKeepsTheId) {
    auto parsed = parse_request(R"({"id":"req-1","bucket":"b"})");
    const RequestError& e = as_error(parsed);
    EXPECT_EQ(e.id, "req-1");
    EXPECT_NE(e.message.find("op"), std::string::npos) << e.message;

    EXPECT_TRUE(as_error(parse_request("{}")).id.is_null());
}

TEST(ParseRequest, OpNotAStringKeepsTheId) {
    for (const char* op : {"1", "null", "true", "[\"ping\"]", "{\"op\":\"ping\"}"}) {
        std::string line = std::string(R"({"id":42,"op":)") + op + "}";
        auto parsed = parse_request(line);
        const RequestError& e = as_error(parsed);
        EXPECT_EQ(e.id, Json(42)) << line;
        EXPECT_NE(e.message.find("string"), std::string::npos) << e.message;
    }
}

// `depth` nested arrays: [[[...]]]
std::string nested(std::size_t depth) {
    return std::string(depth, '[') + std::string(depth, ']');
}

TEST(ParseRequest, NestingUpTo256LevelsIsAccepted) {
    // The request object itself is the first level.
    auto parsed = parse_request(R"({"op":"notify","data":)" + nested(255) + "}");
    EXPECT_EQ(as_request(parsed).op, "notify");
}

TEST(ParseRequest, DeeperNestingIsRefusedBeforeItCanOverflowTheStack) {
    for (std::string line : {R"({"op":"notify","data":)" + nested(256) + "}",
                             R"({"op":"ping","id":)" + nested(100'000) + "}", nested(500'000),
                             std::string(500'000, '{')}) {
        auto parsed = parse_request(line);
        const RequestError& e = as_error(parsed);
        EXPECT_TRUE(e.id.is_null());
        EXPECT_NE(e.message.find("nested"), std::string::npos) << e.message;
    }
}

TEST(ParseRequest, BracketsInsideStringsDoNotCountAsNesting) {
    std::string brackets(1000, '[');
    auto parsed = parse_request(R"({"op":"put","value":")" + brackets + R"(\"[[{"})");
    EXPECT_EQ(as_request(parsed).body.at("value"), brackets + "\"[[{");
}

TEST(DumpLine, IsOneLineEvenWithNewlinesInStrings) {
    std::string line = dump_line(Json{{"v", "a\nb\r\n"}});
    EXPECT_EQ(line.find('\n'), std::string::npos);
    EXPECT_EQ(Json::parse(line).at("v"), "a\nb\r\n");
}

TEST(DumpLine, InvalidUtf8IsReplacedNotThrown) {
    std::string line;
    EXPECT_NO_THROW(line = dump_line(Json{{"v", std::string("a\xff"
                                                            "b")}}));
    Json back = Json::parse(line);
    EXPECT_EQ(back.at("v"),
              "a\xef\xbf\xbd"
              "b");  // U+FFFD
}

TEST(ReplyOk, Shape) {
    std::string line = reply_ok(Json(3), Json{{"bucket", "b"}, {"pid", 42}});
    ASSERT_FALSE(line.empty());
    EXPECT_EQ(line.back(), '\n');
    EXPECT_EQ(line.find('\n'), line.size() - 1);
    Json j = Json::parse(line);
    EXPECT_EQ(j, Json::parse(R"({"id":3,"ok":true,"result":{"bucket":"b","pid":42}})"));
}

TEST(ReplyOk, NullAndStringIds) {
    EXPECT_EQ(Json::parse(reply_ok(nullptr, Json::object())),
              Json::parse(R"({"id":null,"ok":true,"result":{}})"));
    EXPECT_EQ(Json::parse(reply_ok("x", Json::object())).at("id"), "x");
    Json object_id = {{"a", {1, 2}}};
    EXPECT_EQ(Json::parse(reply_ok(object_id, Json::object())).at("id"), object_id);
}

TEST(ReplyError, Shape) {
    std::string line = reply_error(Json(2), wire::ErrorCode::not_found, "no bucket named 'nope'");
    EXPECT_EQ(line.back(), '\n');
    EXPECT_EQ(line.find('\n'), line.size() - 1);
    EXPECT_EQ(Json::parse(line), Json::parse(R"({"id":2,"ok":false,"error":{"code":"not_found",
              "message":"no bucket named 'nope'"}})"));
}

TEST(ReplyError, EveryCodeIsSpelledAsTheSpecSays) {
    const std::pair<wire::ErrorCode, const char*> codes[] = {
        {wire::ErrorCode::bad_request, "bad_request"},
        {wire::ErrorCode::invalid_name, "invalid_name"},
        {wire::ErrorCode::not_found, "not_found"},
        {wire::ErrorCode::limit, "limit"},
        {wire::ErrorCode::spawn_failed, "spawn_failed"},
        {wire::ErrorCode::timeout, "timeout"},
        {wire::ErrorCode::unavailable, "unavailable"},
        {wire::ErrorCode::history_lost, "history_lost"},
        {wire::ErrorCode::permission_denied, "permission_denied"},
        {wire::ErrorCode::internal, "internal"},
    };
    for (auto [code, name] : codes) {
        EXPECT_EQ(Json::parse(reply_error(nullptr, code, "m")).at("error").at("code"), name);
        EXPECT_EQ(wire::error_code_name(code), name);
        EXPECT_EQ(wire::parse_error_code(name), code);
    }
    EXPECT_EQ(wire::parse_error_code("no_such_code"), std::nullopt);
    EXPECT_EQ(wire::parse_error_code(""), std::nullopt);
}

TEST(ReplyError, MessageWithInvalidUtf8DoesNotThrow) {
    std::string line;
    EXPECT_NO_THROW(line = reply_error(1, wire::ErrorCode::invalid_name, "bad \xc3 name"));
    EXPECT_TRUE(Json::accept(line)) << line;
}

TEST(ParseReply, RoundTripsReplyOk) {
    auto r = parse_reply(reply_ok(Json(9), Json{{"value", "v"}}));
    ASSERT_TRUE(r.has_value());
    EXPECT_TRUE(r->ok);
    EXPECT_EQ(r->id, Json(9));
    EXPECT_EQ(r->result, (Json{{"value", "v"}}));
    EXPECT_EQ(r->raw.at("ok"), true);
}

TEST(ParseReply, RoundTripsReplyError) {
    auto r = parse_reply(reply_error("a", wire::ErrorCode::limit, "too long"));
    ASSERT_TRUE(r.has_value());
    EXPECT_FALSE(r->ok);
    EXPECT_EQ(r->id, "a");
    EXPECT_EQ(r->error.code, "limit");
    EXPECT_EQ(r->error.message, "too long");
}

TEST(ParseReply, OkWithoutResultIsAnEmptyObject) {
    auto r = parse_reply(R"({"id":1,"ok":true})");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->result, Json::object());
}

TEST(ParseReply, AbsentIdIsNull) {
    auto r = parse_reply(R"({"ok":true,"result":{}})");
    ASSERT_TRUE(r.has_value());
    EXPECT_TRUE(r->id.is_null());
}

TEST(ParseReply, UnknownErrorCodeIsKeptAsSent) {
    auto r = parse_reply(R"({"id":1,"ok":false,"error":{"code":"from_the_future","message":"m"}})");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->error.code, "from_the_future");
}

TEST(ParseReply, ErrorWithoutCodeOrMessage) {
    auto r = parse_reply(R"({"id":1,"ok":false,"error":{}})");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->error.code, "internal");
    EXPECT_EQ(r->error.message, "");
}

TEST(ParseReply, Malformed) {
    for (std::string_view line :
         {"", "nope", "[]", "1", "{}", R"({"ok":"yes"})", R"({"ok":1})", R"({"ok":false})",
          R"({"ok":false,"error":"not_found"})", R"({"ok":false,"error":null})"}) {
        EXPECT_EQ(parse_reply(line), std::nullopt) << line;
    }
}

TEST(ParseReply, IllTypedErrorCodeIsRefusedNotThrown) {
    // A reply from a confused or hostile peer must not throw out of the parser.
    for (std::string_view line : {R"({"ok":false,"error":{"code":5,"message":"m"}})",
                                  R"({"ok":false,"error":{"code":null}})",
                                  R"({"ok":false,"error":{"code":["not_found"]}})"}) {
        std::optional<Reply> r;
        EXPECT_NO_THROW(r = parse_reply(line)) << line;
        EXPECT_EQ(r, std::nullopt) << line;
    }
}

TEST(ParseReply, IllTypedErrorMessageIsIgnoredNotThrown) {
    std::optional<Reply> r;
    EXPECT_NO_THROW(r = parse_reply(R"({"ok":false,"error":{"code":"x","message":["m"]}})"));
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->error.code, "x");
    EXPECT_EQ(r->error.message, "");
}

// Replies are built by concatenation; they must be the bytes nlohmann gives for the object.
TEST(Protocol, RepliesAreWhatNlohmannWouldSerialise) {
    for (const Json& id : {Json(nullptr), Json(1), Json(-5), Json(1.0), Json(1e300), Json("x\"y\n"),
                           Json("caf\xc3\xa9"), Json::parse(R"({"b":[1,{"z":null,"a":2}]})")}) {
        for (const Json& result : {Json::object(), Json{{"value", "v\\"}, {"a", 1}}}) {
            Json ok = {{"id", id}, {"ok", true}, {"result", result}};
            EXPECT_EQ(reply_ok(id, result), dump_line(ok) + '\n');
        }
        for (std::string_view message : {"m", "no key 'a\"b' in \x01", "bad \xc3 name"}) {
            Json err = {{"id", id},
                        {"ok", false},
                        {"error", {{"code", "not_found"}, {"message", message}}}};
            EXPECT_EQ(reply_error(id, wire::ErrorCode::not_found, message), dump_line(err) + '\n');
        }
    }
}

}  // namespace
}  // namespace kvd
