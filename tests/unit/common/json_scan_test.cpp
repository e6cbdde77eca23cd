#include "common/json_scan.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "common/protocol.hpp"

using namespace kvd;
using namespace kvd::json_scan;

namespace {

// Whatever the scanner accepts, nlohmann accepts with the same members and values; what it
// calls canonical, nlohmann serialises back to the same bytes.
void expect_agrees_with_nlohmann(std::string_view line) {
    Object obj;
    if (!scan_object(line, obj)) return;
    Json j = Json::parse(line.begin(), line.end(), nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << "scanner accepted invalid JSON: " << line;
    ASSERT_TRUE(j.is_object()) << line;
    ASSERT_EQ(j.size(), obj.size()) << line;
    for (std::size_t i = 0; i < obj.size(); ++i) {
        const Member& m = obj[i];
        auto it = j.find(m.key);
        ASSERT_NE(it, j.end()) << line;
        Json v = Json::parse(m.raw);
        EXPECT_EQ(v, *it) << line;
        if (m.kind == Kind::string && m.plain) {
            EXPECT_EQ(m.text(), it->get<std::string>());
        }
        if (m.canonical) {
            EXPECT_EQ(dump_line(*it), m.raw) << line;
        }
        switch (m.kind) {
            case Kind::string:
                EXPECT_TRUE(it->is_string());
                break;
            case Kind::number:
                EXPECT_TRUE(it->is_number());
                break;
            case Kind::literal_true:
                EXPECT_EQ(*it, true);
                break;
            case Kind::literal_false:
                EXPECT_EQ(*it, false);
                break;
            case Kind::null:
                EXPECT_TRUE(it->is_null());
                break;
            case Kind::object:
                EXPECT_TRUE(it->is_object());
                break;
            case Kind::array:
                EXPECT_TRUE(it->is_array());
                break;
        }
    }
}

bool scans(std::string_view line) {
    Object obj;
    bool ok = scan_object(line, obj);
    expect_agrees_with_nlohmann(line);
    return ok;
}

const Member& member(const Object& obj, std::string_view key) {
    const Member* m = obj.find(key);
    EXPECT_NE(m, nullptr) << key;
    static const Member none{};
    return m ? *m : none;
}

}  // namespace

TEST(JsonScan, TypicalRequest) {
    Object obj;
    std::string line = R"({"id":7,"op":"put","bucket":"b","key":"k","value":"v w"})";
    ASSERT_TRUE(scan_object(line, obj));
    ASSERT_EQ(obj.size(), 5u);
    EXPECT_EQ(member(obj, "id").raw, "7");
    EXPECT_EQ(member(obj, "id").kind, Kind::number);
    EXPECT_TRUE(member(obj, "id").canonical);
    EXPECT_EQ(member(obj, "op").raw, "\"put\"");
    EXPECT_EQ(member(obj, "op").text(), "put");
    EXPECT_TRUE(member(obj, "value").plain);
    EXPECT_EQ(obj.find("nope"), nullptr);
    expect_agrees_with_nlohmann(line);
}

TEST(JsonScan, WhitespaceAroundAndInside) {
    Object obj;
    ASSERT_TRUE(scan_object(" \t{ \"op\" : \"list\" ,\r\n\"data\" : [ 1 , 2 ] }\r ", obj));
    EXPECT_EQ(member(obj, "op").text(), "list");
    EXPECT_EQ(member(obj, "data").raw, "[ 1 , 2 ]");
    EXPECT_FALSE(member(obj, "data").canonical);
    EXPECT_TRUE(scans("{}"));
    EXPECT_TRUE(scans(" { } "));
}

TEST(JsonScan, EveryKind) {
    Object obj;
    ASSERT_TRUE(scan_object(
        R"({"s":"x","n":-12.5e3,"t":true,"f":false,"z":null,"o":{"a":{}},"a":[[],"q"]})", obj));
    EXPECT_EQ(member(obj, "s").kind, Kind::string);
    EXPECT_EQ(member(obj, "n").kind, Kind::number);
    EXPECT_EQ(member(obj, "t").kind, Kind::literal_true);
    EXPECT_EQ(member(obj, "f").kind, Kind::literal_false);
    EXPECT_EQ(member(obj, "z").kind, Kind::null);
    EXPECT_EQ(member(obj, "o").kind, Kind::object);
    EXPECT_EQ(member(obj, "o").raw, R"({"a":{}})");
    EXPECT_EQ(member(obj, "a").kind, Kind::array);
    EXPECT_EQ(member(obj, "a").raw, R"([[],"q"])");
}

TEST(JsonScan, CanonicalMatchesNlohmannDump) {
    struct Case {
        const char* value;
        bool canonical;
    };
    for (Case c : std::vector<Case>{
             {"0", true},
             {"-1", true},
             {"-0", false},
             {"18446744073709551615", true},
             {"18446744073709551616", false},
             {"-9223372036854775808", true},
             {"-9223372036854775809", false},
             {"1.0", false},
             {"1e3", false},
             {"\"plain text\"", true},
             {"\"caf\xc3\xa9\"", true},
             {"\"a\\nb\"", false},
             {"\"\\/\"", false},
             {"{\"a\":1,\"b\":2}", true},
             {"{\"b\":1,\"a\":2}", false},
             {"{\"a\":1,\"a\":2}", false},
             {"{\"a\\u0062\":1}", false},
             {"{\"a\":1,\"a!\":2}", true},
             {"[1,[2,{\"x\":null}]]", true},
             {"[1, 2]", false},
             {"[1.5]", false},
             {"true", true},
             {"null", true},
         }) {
        std::string line = std::string(R"({"v":)") + c.value + "}";
        Object obj;
        ASSERT_TRUE(scan_object(line, obj)) << line;
        EXPECT_EQ(member(obj, "v").canonical, c.canonical) << c.value;
        expect_agrees_with_nlohmann(line);
    }
}

TEST(JsonScan, DeclinesInvalidJson) {
    for (const char* line : {
             "",
             " ",
             "{",
             "}",
             "[]",
             "\"x\"",
             "1",
             "null",
             "{\"a\"}",
             "{\"a\":}",
             "{\"a\":1,}",
             "{,}",
             "{\"a\":1 \"b\":2}",
             "{\"a\":1}x",
             "{\"a\":1}{}",
             "{\"a\":01}",
             "{\"a\":1.}",
             "{\"a\":.5}",
             "{\"a\":1e}",
             "{\"a\":-}",
             "{\"a\":+1}",
             "{\"a\":tru}",
             "{\"a\":truex}",
             "{\"a\":nul}",
             "{\"a\":[1,]}",
             "{\"a\":[,1]}",
             "{\"a\":{\"b\"}}",
             "{\"a\":{\"b\":1,}}",
             "{\"a\":[}",
             "{\"a\":{]}",
             "{\"a\":\"x}",
             "{\"a\":\"\\x\"}",
             "{\"a\":\"\\u12\"}",
             "{\"a\":\"\\u12g4\"}",
             "{'a':1}",
             "{a:1}",
             "{\"a\":NaN}",
             "{\"a\":Infinity}",
             "{\"a\":1}\x01",
             "\x0c{}",
         }) {
        Object obj;
        EXPECT_FALSE(scan_object(line, obj)) << line;
        Json j = Json::parse(line, nullptr, false);
        EXPECT_TRUE(j.is_discarded() || !j.is_object()) << line;
    }
}

TEST(JsonScan, DeclinesControlCharactersInStrings) {
    for (int c = 0; c < 0x20; ++c) {
        std::string line = "{\"a\":\"x";
        line += static_cast<char>(c);
        line += "\"}";
        Object obj;
        EXPECT_FALSE(scan_object(line, obj)) << c;
    }
    EXPECT_TRUE(scans("{\"a\":\"\x7f\"}"));
}

TEST(JsonScan, Utf8EdgeCases) {
    struct Case {
        const char* bytes;
        bool valid;
    };
    for (Case c : std::vector<Case>{
             {"\xc2\x80", true},           // U+0080
             {"\xdf\xbf", true},           // U+07FF
             {"\xe0\xa0\x80", true},       // U+0800
             {"\xed\x9f\xbf", true},       // U+D7FF
             {"\xee\x80\x80", true},       // U+E000
             {"\xef\xbf\xbf", true},       // U+FFFF
             {"\xf0\x90\x80\x80", true},   // U+10000
             {"\xf4\x8f\xbf\xbf", true},   // U+10FFFF
             {"\xc0\x80", false},          // overlong NUL
             {"\xc1\xbf", false},          // overlong
             {"\xe0\x9f\xbf", false},      // overlong
             {"\xed\xa0\x80", false},      // surrogate U+D800
             {"\xed\xbf\xbf", false},      // surrogate U+DFFF
             {"\xf0\x8f\xbf\xbf", false},  // overlong
             {"\xf4\x90\x80\x80", false},  // above U+10FFFF
             {"\xf5\x80\x80\x80", false},
             {"\xff", false},
             {"\x80", false},  // lone continuation
             {"\xc2", false},  // cut short
             {"\xe2\x82", false},
             {"\xf0\x9f\x98", false},
             {"\xc2\x41", false},
         }) {
        std::string line = std::string("{\"k\":\"a") + c.bytes + "b\"}";
        Object obj;
        EXPECT_EQ(scan_object(line, obj), c.valid) << line;
        EXPECT_EQ(!Json::parse(line, nullptr, false).is_discarded(), c.valid) << line;
        expect_agrees_with_nlohmann(line);
        // The same bytes in a key.
        std::string key_line = std::string("{\"a") + c.bytes + "\":1}";
        EXPECT_EQ(scan_object(key_line, obj), c.valid) << key_line;
    }
}

TEST(JsonScan, UnicodeEscapes) {
    EXPECT_TRUE(scans(R"({"a":"\u0041\u00e9\u20ac"})"));
    EXPECT_TRUE(scans(R"({"a":"\ud83d\ude00"})"));
    EXPECT_TRUE(scans(R"({"a":"\u0000"})"));
    Object obj;
    EXPECT_FALSE(scan_object(R"({"a":"\ud83d"})", obj));  // lone high surrogate
    EXPECT_FALSE(scan_object(R"({"a":"\ud83dx"})", obj));
    EXPECT_FALSE(scan_object(R"({"a":"\ud83d\u0041"})", obj));  // not followed by a low one
    EXPECT_FALSE(scan_object(R"({"a":"\ude00"})", obj));        // lone low surrogate
    EXPECT_FALSE(scan_object("{\"a\":\"x\ty\"}", obj));         // a raw tab is a control char
    ASSERT_TRUE(scan_object(R"({"a":"x\ty"})", obj));
    EXPECT_FALSE(member(obj, "a").plain);
}

TEST(JsonScan, DeclinesWhatItDoesNotHandle) {
    Object obj;
    EXPECT_FALSE(scan_object(R"({"a":1,"a":2})", obj));  // duplicate key
    EXPECT_FALSE(scan_object(R"({"\u0061":1})", obj));   // escaped key
    EXPECT_FALSE(scan_object("\xef\xbb\xbf{}", obj));    // BOM (nlohmann skips it)
    EXPECT_FALSE(scan_object(R"({"a":1e309})", obj));    // may overflow a double
    EXPECT_FALSE(scan_object("{\"a\":" + std::string(309, '9') + "}", obj));
    EXPECT_TRUE(scans("{\"a\":" + std::string(308, '9') + "}"));
    EXPECT_TRUE(scans(R"({"a":1e307,"b":0.5e308,"c":1e-99999999999,"d":-1E+2})"));
    std::string many = "{";
    for (std::size_t i = 0; i <= Object::kMaxMembers; ++i)
        many += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":1";
    many += "}";
    EXPECT_FALSE(scan_object(many, obj));
    // Nesting: the top object counts as one level.
    std::string deep =
        R"({"a":)" + std::string(kMaxDepth - 1, '[') + std::string(kMaxDepth - 1, ']') + "}";
    EXPECT_TRUE(scans(deep));
    deep = R"({"a":)" + std::string(kMaxDepth, '[') + std::string(kMaxDepth, ']') + "}";
    EXPECT_FALSE(scan_object(deep, obj));
}

TEST(JsonScan, ScanValue) {
    Member m;
    ASSERT_TRUE(scan_value(" {\"a\":[1,2]} ", m));
    EXPECT_EQ(m.kind, Kind::object);
    EXPECT_EQ(m.raw, "{\"a\":[1,2]}");
    EXPECT_TRUE(m.canonical);
    ASSERT_TRUE(scan_value("\"x\"", m));
    EXPECT_TRUE(m.plain);
    EXPECT_FALSE(scan_value("1 2", m));
    EXPECT_FALSE(scan_value("", m));
}

// Mutations of valid requests (bytes flipped, inserted, removed): nothing the scanner accepts
// may disagree with nlohmann.
TEST(JsonScan, MutatedRequestsAgreeWithNlohmann) {
    const std::vector<std::string> seeds = {
        R"({"id":1,"op":"put","bucket":"b","key":"k","value":"v"})",
        R"({"id":"x\"y","op":"notify","type":"t","data":{"a":[1,-2.5e3,true,null,"\u00e9"]}})",
        R"({"id":-0,"op":"get","bucket":"b","key":"caf\u00e9 \ud83d\ude00"})",
        "{\"op\":\"put\",\"key\":\"\xe2\x82\xac\",\"value\":\"\xf0\x9f\x98\x80\"}",
    };
    const std::string alphabet = "{}[]\":,\\ u0123456789.eE+-tfnlrsaxd\xc3\xa9\xed\xa0\xff\x01\t";
    std::mt19937 rng(12345);
    for (int round = 0; round < 20000; ++round) {
        std::string line = seeds[rng() % seeds.size()];
        int edits = 1 + static_cast<int>(rng() % 3);
        for (int e = 0; e < edits && !line.empty(); ++e) {
            std::size_t at = rng() % line.size();
            char c = alphabet[rng() % alphabet.size()];
            switch (rng() % 3) {
                case 0:
                    line[at] = c;
                    break;
                case 1:
                    line.insert(line.begin() + static_cast<std::ptrdiff_t>(at), c);
                    break;
                default:
                    line.erase(at, 1);
                    break;
            }
        }
        expect_agrees_with_nlohmann(line);
        if (HasFailure()) return;
    }
}
