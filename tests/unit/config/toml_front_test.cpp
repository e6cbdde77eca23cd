// The TOML front end (daemon/config/toml_front.hpp): where and how it reports text that is not
// TOML, or more than toml11 may be given, and that its syntax scan never refuses what toml11
// accepts.
#include "daemon/config/toml_front.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "daemon/config/toml_scan.hpp"

namespace kvd {
namespace {

// "LINE:COLUMN: message" for text the front end refuses; a test failure when it parses.
std::string problem_of(std::string_view text) {
    TomlResult result = parse_toml(text, "kvd.toml");
    auto* problem = std::get_if<TomlProblem>(&result);
    if (!problem) {
        ADD_FAILURE() << "expected a problem, the text parsed:\n" << text;
        return {};
    }
    return std::to_string(problem->at.line) + ":" + std::to_string(problem->at.column) + ": " +
           problem->message;
}

bool toml11_accepts(std::string_view text) {
    std::istringstream stream{std::string(text)};
    try {
        toml::parse(stream, "kvd.toml");
        return true;
    } catch (const std::exception&) {
        return false;
    }
}

TEST(TomlFront, SyntaxErrorsAreAtTheirExactPlace) {
    EXPECT_EQ(problem_of("[daemon]\nsocket = \n"), "2:10: missing value after '='");
    EXPECT_EQ(problem_of("a = 1\nkey\n"), "2:4: expected '=' after the key key, found end of line");
    EXPECT_EQ(problem_of("= 1\n"), "1:1: expected a key, found '='");
    EXPECT_EQ(problem_of("[daemon\nx = 1\n"),
              "1:8: expected ']' to close the table header, found end of line");
    EXPECT_EQ(problem_of("[[handler]] x\n"),
              "1:13: expected end of line after the table header, found 'x'");
    EXPECT_EQ(problem_of("a = [1 2]\n"),
              "1:8: expected ',' or ']' after a value in the array, "
              "found '2'");
    EXPECT_EQ(problem_of("a = [\n  1,\n  ,\n]\n"), "3:3: expected a value, found ','");
    EXPECT_EQ(problem_of("a = {b = 1,}\n"),
              "1:12: a trailing ',' is not allowed in an inline table");
    EXPECT_EQ(problem_of("a = {b = 1,\n c = 2}\n"), "1:12: expected a key, found end of line");
    EXPECT_EQ(problem_of("a = {b = 1\n}\n"),
              "1:11: expected ',' or '}' (an inline table ends on the line it starts), found end "
              "of line");
    EXPECT_EQ(problem_of("a = \"open\nb = 1\n"), "1:5: unterminated string");
    EXPECT_EQ(problem_of("x = 1\na = '''\nmore\n"), "2:5: unterminated multi-line string");
    EXPECT_EQ(problem_of("a = \"tab\\q\"\n"),
              "1:9: invalid escape in a string: '\\' followed by 'q'");
    EXPECT_EQ(problem_of("a = \"\\uD800\"\n"),
              "1:6: invalid escape in a string: U+D800 is not a Unicode scalar value");
    EXPECT_EQ(problem_of("a = 1 # bell \x07\n"),
              "1:14: expected a comment to run to the end of its line, found a control "
              "character (0x07)");
    EXPECT_EQ(problem_of("a = 1\rb = 2\n"),
              "1:6: expected end of line after the value, found a control character (0x0d)");
}

TEST(TomlFront, ScalarsToml11CannotReadAreNamed) {
    EXPECT_EQ(problem_of("[daemon]\nsocket_mode = 0660\n"),
              "2:15: invalid number '0660': a TOML integer has no leading zero");
    EXPECT_EQ(problem_of("[daemon]\nlog_level = info\n"),
              "2:13: invalid value 'info' (a string must be quoted)");
    EXPECT_EQ(problem_of("a = [1, 2,\n  3.]\n"), "2:3: invalid value '3.'");
    EXPECT_EQ(problem_of("a = 1979-05-27T07:32\n"), "1:5: invalid value '1979-05-27T07:32'");
}

TEST(TomlFront, ADefinitionThatConflictsIsNamedAtTheSecondPlace) {
    EXPECT_EQ(problem_of("[daemon]\nmax_buckets = 1\nmax_buckets = 2\n"),
              "3:15: 'max_buckets' conflicts with an earlier definition");
    EXPECT_EQ(problem_of("[x]\na = 1\n\n[x]\n"), "4:1: [x] conflicts with an earlier definition");
    EXPECT_EQ(problem_of("a = {b = 1, b = 2}\n"), "1:17: 'b' conflicts with an earlier definition");
    EXPECT_EQ(problem_of("a = 1\na.b = 2\n"), "2:7: 'a.b' conflicts with an earlier definition");
}

TEST(TomlFront, TooDeepNestingIsRefusedAtTheFirstLevelTooMany) {
    std::string text = "a = [\n  " + std::string(70, '[') + std::string(70, ']') + "\n]\n";
    EXPECT_EQ(problem_of(text),
              "2:66: arrays and inline tables nested more than 64 deep");  // 1 + 63 + 2
    EXPECT_TRUE(std::holds_alternative<toml::value>(
        parse_toml("a = " + std::string(64, '[') + std::string(64, ']') + "\n", "kvd.toml")));
}

TEST(TomlFront, InvalidUtf8IsPlacedByItsByteOffset) {
    EXPECT_EQ(problem_of("a = 1\n# caf\xe9\n"),
              "2:6: invalid UTF-8 (byte 0xe9); a config must be UTF-8 text");
    EXPECT_EQ(problem_of("\xc3\xa9 = 1\nb = '\xc3\xa9\xc3'\n"),
              "2:8: invalid UTF-8 (byte 0xc3); a config must be UTF-8 text");
}

TEST(TomlFront, TheDocumentKeepsEachValuesPlace) {
    TomlResult result = parse_toml("[daemon]\n  max_buckets = \"many\"\n", "/etc/kvd.toml");
    ASSERT_TRUE(std::holds_alternative<toml::value>(result));
    const toml::value& v = toml::find(std::get<toml::value>(result), "daemon", "max_buckets");
    EXPECT_EQ(v.location().line(), 2u);
    EXPECT_EQ(v.location().column(), 17u);
    EXPECT_EQ(v.location().file_name(), "/etc/kvd.toml");
}

TEST(TomlFront, ValidTomlOfEveryShapePasses) {
    const std::vector<std::string> texts = {
        "",
        "\xEF\xBB\xBF# after a byte order mark\na = 1",
        "a = 1\r\nb = 'x'\r\n",
        " \t# comment only\n\n\n",
        "a . \"b c\" . 'd' = 1\n\"\" = 2\n",
        "[ a . b ]\n[[ c.d ]]\n[[c.d]]\n",
        "a = [\n  1, # one\n  2,\n  # nothing\n]\nb = [ ]\nc = [[1], [\"x\", {y = 1}]]\n",
        "t = {}\nu = { a = 1, b.c = [ {} ], 'd' = \"e\" }\n",
        "s = \"tab\\t \\\" \\\\ \\u00e9 \\U0001F600\"\n",
        "m = \"\"\"\nline one\nline two \\\n    joined \"\" \"\"\"\n",
        "m = \"\"\"x\"\"\"\"\"\nl = '''a''b'''''\n",
        "l = 'C:\\path \"quoted\"'\n",
        "d = 1979-05-27 07:32:00Z\ne = 1979-05-27T00:32:00.999-07:00\nf = 07:32:00\ng = "
        "1979-05-27\n",
        "i = [+1, -0, 1_000, 0xDEAD_beef, 0o755, 0b1101]\nf = [1.0, -2e-3, 6.626e-34, inf, -nan]\n",
        "b = [true, false]\n",
        "handler = [{ name = \"a\", command = [\"x\"] }]\n",
    };
    for (const std::string& text : texts) {
        ASSERT_TRUE(toml11_accepts(text)) << text;
        TomlResult result = parse_toml(text, "kvd.toml");
        if (auto* problem = std::get_if<TomlProblem>(&result)) {
            ADD_FAILURE() << problem->at.line << ":" << problem->at.column << ": "
                          << problem->message << "\nfor:\n"
                          << text;
        }
    }
}

// The scan refuses text without asking toml11, so it must never refuse what toml11 accepts:
// checked on every single-byte change of a config that uses most of the grammar.
TEST(TomlFront, TheScanNeverRefusesWhatToml11Accepts) {
    const std::string config = R"([daemon]
socket = "/run/kvd/kvd.sock" # the socket
"socket_mode" = '0660'
limits = [1, [2, 3], { a = 1 }]
[[handler]]
name = """audit"""
command = ['''x''', "y\t"]
env = { A = "1", B.C = "2" }
)";
    int refused = 0;
    for (std::size_t i = 0; i < config.size(); ++i) {
        for (char c :
             {'"', '\'', '[', ']', '{', '}', '=', ',', '.', '#', '\n', ' ', 'x', '0', '\\'}) {
            std::string text = config;
            text[i] = c;
            TomlScan scan = scan_toml(text);
            if (!scan.problem || scan.over_limit) continue;
            ++refused;
            EXPECT_FALSE(toml11_accepts(text)) << "the scan refused TOML toml11 reads:\n" << text;
        }
    }
    EXPECT_GT(refused, 100);
}

}  // namespace
}  // namespace kvd
