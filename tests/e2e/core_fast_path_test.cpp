// The fast path (request lines scanned without a JSON document) answers exactly as the
// general nlohmann path does. Two kvds get the same requests; the second gets each line
// after a UTF-8 byte order mark, which nlohmann skips and the scanner always declines, so it
// answers every line through the general path. Replies and events must match byte for byte.
#include <regex>

#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

const std::string kBom = "\xef\xbb\xbf";

std::vector<std::string> request_lines() {
    std::vector<std::string> lines;
    const std::vector<std::string> ids = {
        "",
        R"("id":1,)",
        R"("id":-7,)",
        R"("id":0,)",
        R"("id":-0,)",
        R"("id":1.0,)",
        R"("id":1e3,)",
        R"("id":18446744073709551615,)",
        R"("id":18446744073709551616,)",
        R"("id":-9223372036854775809,)",
        R"("id":"s",)",
        R"("id":"q\"uote",)",
        R"("id":"\u00e9\/",)",
        "\"id\":\"caf\xc3\xa9\",",
        R"("id":null,)",
        R"("id":true,)",
        R"("id":{"b":1,"a":[2, 3]},)",
        R"("id":{"a":{"c":1,"b":2}},)",
        R"("id":[],)",
    };
    for (const auto& id : ids) {
        lines.push_back("{" + id + R"("op":"put","bucket":"b","key":"k","value":"v"})");
        lines.push_back("{" + id + R"("op":"get","bucket":"b","key":"k"})");
        lines.push_back("{" + id + R"("op":"notify","type":"t","data":{"x":1}})");
    }
    const std::vector<std::string> bodies = {
        // data ops, well-formed
        R"("op":"put","bucket":"b","key":"k2","value":"two words")",
        R"("op":"put","bucket":"b","key":"q\"k","value":"v\\w\n")",
        R"("op":"put","bucket":"b","key":"\u0041","value":"\u00e9\ud83d\ude00")",
        R"("op":"put","bucket":"b","key":"A","value":"plain again")",
        R"("op":"put","bucket":"b","key":"a\/b","value":"")",
        R"("op":"put","bucket":"b","key":"","value":"empty key")",
        "\"op\":\"put\",\"bucket\":\"b\",\"key\":\"\xe2\x82\xac\",\"value\":\"\xf0\x9f\x98\x80\"",
        R"("op":"get","bucket":"b","key":"A")",
        R"("op":"get","bucket":"b","key":"q\"k")",
        R"("op":"get","bucket":"b","key":"a/b")",
        R"("op":"get","bucket":"b","key":"")",
        R"("op":"get","bucket":"b","key":"missing")",
        R"("op":"get","bucket":"b","key":"miss\"ing")",
        R"("op":"keys","bucket":"b")",
        R"("op":"delete","bucket":"b","key":"k2")",
        R"("op":"delete","bucket":"b","key":"k2")",
        R"("op":"keys","bucket":"b","key":null,"extra":[1,{"z":2}])",
        R"( "op" : "get" , "bucket" : "b" , "key" : "k" )",
        // data ops, malformed or refused
        R"("op":"get","bucket":"b")",
        R"("op":"get","bucket":"b","key":null)",
        R"("op":"get","bucket":"b","key":1)",
        R"("op":"put","bucket":"b","key":"k")",
        R"("op":"put","bucket":"b","key":"k","value":["v"])",
        R"("op":"get","key":"k")",
        R"("op":"get","bucket":null,"key":"k")",
        R"("op":"get","bucket":"nope","key":"k")",
        R"("op":"get","bucket":"-bad","key":"k")",
        R"("op":"get","bucket":"","key":"k")",
        R"("op":"get","bucket":"\u0062","key":"k")",
        R"("op":"g\u0065t","bucket":"b","key":"k")",
        R"("op":"get","op":"put","bucket":"b","key":"k","value":"v")",
        R"("op":"frob","bucket":"b")",
        R"("op":1,"bucket":"b")",
        R"("bucket":"b")",
        // notify
        R"("op":"notify","type":"t")",
        R"("op":"notify","type":"t","data":null)",
        R"("op":"notify","type":"t","data":1.5)",
        R"("op":"notify","type":"t","data":-0)",
        R"("op":"notify","type":"t","data":{"b":1,"a":2})",
        R"("op":"notify","type":"t","data":{"a":1,"a":2})",
        R"("op":"notify","type":"t","data":[1, 2,{"k":"\u00e9"}])",
        R"("op":"notify","type":"t","data":"a\"b\/c")",
        R"("op":"notify","type":"t","data":[[[[[[[[[[{"deep":true}]]]]]]]]]])",
        R"("op":"notify","type":"t","data":{"n":18446744073709551616,"m":1e300,"s":"x"})",
        R"("op":"notify","type":"t\"q","data":true)",
        R"("op":"notify","type":"\u00e9","data":false)",
        "\"op\":\"notify\",\"type\":\"caf\xc3\xa9\",\"data\":\"\xf0\x9f\x98\x80\"",
        R"("op":"notify","type":"t","sync":true)",
        R"("op":"notify","type":"t","sync":false,"data":[])",
        R"("op":"notify","type":"t","sync":null)",
        R"("op":"notify","type":"t","sync":"yes")",
        R"("op":"notify","type":"create")",
        R"("op":"notify","type":"")",
        R"("op":"notify","type":"a\u0001b")",
        R"("op":"notify","type":1)",
        R"("op":"notify")",
        // other ops still answer the same
        R"("op":"lookup","bucket":"nope")",
        R"("op":"kill","bucket":"nope","signal":"SIGNOPE")",
    };
    for (const auto& body : bodies) {
        lines.push_back("{" + body + "}");
        lines.push_back(R"({"id":"x",)" + body + "}");
    }
    for (const std::string& line : {
             std::string("{}"),
             std::string("[]"),
             std::string("nope"),
             std::string("{\"op\":\"get\""),
             std::string("{\"op\":\"get\",\"bucket\":\"b\",\"key\":\"\xff\"}"),
             std::string("{\"op\":\"get\",\"bucket\":\"b\",\"key\":\"k\"} x"),
             std::string(R"({"op":"put","bucket":"b","key":"k","value":"v","n":1e999})"),
             std::string(R"({"op":"put","bucket":"b","key":"k","value":"\ud800"})"),
         })
        lines.push_back(line);
    return lines;
}

// An event line without its time, which differs between the two runs.
std::string without_time(const std::string& line) {
    static const std::regex time(R"(,"time":"[^"]*")");
    return std::regex_replace(line, time, "");
}

TEST(FastPath, RepliesAndEventsMatchTheGeneralPath) {
    TempDir fast_dir, general_dir;
    KvdProcess fast_kvd(fast_dir), general_kvd(general_dir);
    ASSERT_TRUE(fast_kvd.ready() && general_kvd.ready());
    Client fast(fast_kvd.socket_path()), general(general_kvd.socket_path());
    Client fast_events(fast_kvd.socket_path()), general_events(general_kvd.socket_path());
    for (Client* c : {&fast, &general}) ASSERT_TRUE(is_ok(c->call("create", {{"bucket", "b"}})));
    for (Client* c : {&fast_events, &general_events}) {
        ASSERT_TRUE(c->send_line(R"({"op":"subscribe","types":["t","t\"q","é","café"]})"));
        auto reply = c->read_json();
        ASSERT_TRUE(reply && is_ok(*reply));
    }

    std::size_t events = 0;
    for (const std::string& line : request_lines()) {
        ASSERT_TRUE(fast.send_line(line));
        ASSERT_TRUE(general.send_line(kBom + line));
        auto a = fast.read_line();
        auto b = general.read_line();
        ASSERT_TRUE(a && b) << line;
        EXPECT_EQ(*a, *b) << "request: " << line;
        auto reply = Json::parse(*a);
        if (reply.value("ok", false) && reply["result"].contains("seq")) ++events;
    }
    for (std::size_t i = 0; i < events; ++i) {
        auto a = fast_events.read_line();
        auto b = general_events.read_line();
        ASSERT_TRUE(a && b) << "event " << i;
        EXPECT_EQ(without_time(*a), without_time(*b));
        EXPECT_NE(*a, without_time(*a)) << "an event has no time";
    }
}

}  // namespace
}  // namespace kvd::test
