// Fuzzes the reply parser kvctl reads kvd's answers with (parse_reply): each line of the
// input as a reply, and any JSON in it as the id and result of a reply kvd builds, which must
// read back unchanged.
#include <string>
#include <string_view>

#include "common/protocol.hpp"
#include "common/wire.hpp"
#include "fuzz/fuzz_support.hpp"

namespace kvd::fuzz {
namespace {

void fuzz_reply_line(std::string_view line) {
    auto reply = parse_reply(line);
    if (!reply) return;
    FUZZ_CHECK(json_depth(line) <= kMaxJsonDepth, "a reply deeper than kvd ever sends was taken");
    FUZZ_CHECK(reply->raw.is_object());
    if (reply->ok) FUZZ_CHECK(reply->error.code.empty() && reply->error.message.empty());
    if (json_depth(line) > kMaxJsonDepth) return;
    // A reply that parsed once parses the same after kvd's own serialisation.
    auto again = parse_reply(dump_line(reply->raw));
    FUZZ_CHECK(again.has_value(), "a reply stopped parsing after a round trip");
    FUZZ_CHECK(again->ok == reply->ok && again->id == reply->id);
    FUZZ_CHECK(again->result == reply->result);
    FUZZ_CHECK(again->error.code == reply->error.code);
    FUZZ_CHECK(again->error.message == reply->error.message);
    if (auto code = wire::parse_error_code(reply->error.code))
        FUZZ_CHECK(wire::error_code_name(*code) == reply->error.code);
}

void fuzz_built_reply(std::string_view line) {
    // Deeper values never reach a reply: kvd refuses such requests.
    if (json_depth(line) > kMaxJsonDepth) return;
    Json value = Json::parse(line.begin(), line.end(), nullptr, false);
    if (value.is_discarded()) return;

    std::string text = reply_ok(value, value);
    FUZZ_CHECK(text.find('\n') == text.size() - 1, "a reply is not exactly one line");
    text.pop_back();
    auto ok = parse_reply(text);
    FUZZ_CHECK(ok && ok->ok && ok->id == value && ok->result == value);

    std::string message(line.substr(0, 64));
    if (value.is_string()) message = value.get<std::string>();
    text = reply_error(value, wire::ErrorCode::not_found, message);
    text.pop_back();
    auto failed = parse_reply(text);
    FUZZ_CHECK(failed && !failed->ok && failed->id == value);
    FUZZ_CHECK(failed->error.code == "not_found");
    if (value.is_string()) FUZZ_CHECK(failed->error.message == message);
}

}  // namespace
}  // namespace kvd::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    using namespace kvd::fuzz;
    std::string_view text = as_text(data, size);
    for (std::string_view line : split_lines(text)) {
        fuzz_reply_line(line);
        fuzz_built_reply(line);
    }
    return 0;
}
