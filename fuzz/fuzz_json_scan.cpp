// Fuzzes common/json_scan against nlohmann, line by line: whatever the scanner accepts,
// nlohmann must accept as an object with the same members (no duplicates), each member's raw
// text must parse on its own to the same value, a plain string's text must be its value, and
// a value marked canonical must be exactly what nlohmann serialises. scan_value is held to
// the same rules for the whole input.
#include <string>
#include <string_view>

#include "common/json_scan.hpp"
#include "common/protocol.hpp"
#include "fuzz/fuzz_support.hpp"

namespace kvd::fuzz {
namespace {

using json_scan::Kind;

bool kind_matches(Kind kind, const Json& v) {
    switch (kind) {
        case Kind::string:
            return v.is_string();
        case Kind::number:
            return v.is_number();
        case Kind::literal_true:
            return v == true;
        case Kind::literal_false:
            return v == false;
        case Kind::null:
            return v.is_null();
        case Kind::object:
            return v.is_object();
        case Kind::array:
            return v.is_array();
    }
    return false;
}

void check_member(const json_scan::Member& m, const Json& expected) {
    Json alone = Json::parse(m.raw.begin(), m.raw.end(), nullptr, false);
    FUZZ_CHECK(!alone.is_discarded(), "a member's raw text does not parse on its own");
    FUZZ_CHECK(alone == expected, "a member's raw text parses to another value");
    FUZZ_CHECK(kind_matches(m.kind, expected), "wrong kind");
    if (m.kind == Kind::string && m.plain)
        FUZZ_CHECK(m.text() == expected.get_ref<const std::string&>(),
                   "plain text is not the value");
    if (m.canonical) FUZZ_CHECK(dump_line(expected) == m.raw, "canonical text is not nlohmann's");
}

void fuzz_line(std::string_view line) {
    json_scan::Object obj;
    if (json_scan::scan_object(line, obj)) {
        Json j = Json::parse(line.begin(), line.end(), nullptr, false);
        FUZZ_CHECK(!j.is_discarded(), "the scanner accepted what nlohmann rejects");
        FUZZ_CHECK(j.is_object());
        FUZZ_CHECK(j.size() == obj.size(), "member count differs (a duplicate key taken?)");
        for (std::size_t i = 0; i < obj.size(); ++i) {
            auto it = j.find(obj[i].key);
            FUZZ_CHECK(it != j.end(), "a scanned key is missing");
            FUZZ_CHECK(obj.find(obj[i].key) == &obj[i]);
            check_member(obj[i], *it);
        }
    }
    json_scan::Member m;
    if (json_scan::scan_value(line, m)) {
        Json j = Json::parse(line.begin(), line.end(), nullptr, false);
        FUZZ_CHECK(!j.is_discarded(), "scan_value accepted what nlohmann rejects");
        check_member(m, j);
    }
}

}  // namespace
}  // namespace kvd::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    using namespace kvd::fuzz;
    std::string_view text = as_text(data, size);
    for (std::string_view line : split_lines(text)) fuzz_line(line);
    fuzz_line(text);
    return 0;
}
