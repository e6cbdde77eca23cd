// Fuzzes what a sync receiver's socket carries: the bytes a handler writes back, framed by
// LineBuffer however they happen to be split, each line read by parse_ack; and the event
// lines kvd writes to it (Event::to_line), which must read back as what was published.
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "common/ack.hpp"
#include "common/event.hpp"
#include "common/line_buffer.hpp"
#include "common/protocol.hpp"
#include "common/wire.hpp"
#include "fuzz/fuzz_support.hpp"

namespace kvd::fuzz {
namespace {

struct Framing {
    std::vector<std::string> lines;
    bool overflowed = false;
    std::size_t pending = 0;  // compared only when not overflowed
};

// What LineBuffer must produce for `stream`, however it is chunked: the lines up to the first
// that is longer than `max` (a "\r\n" ending not counted), and the unterminated tail.
Framing expected_framing(std::string_view stream, std::size_t max) {
    Framing f;
    for (;;) {
        std::size_t newline = stream.find('\n');
        if (newline == std::string_view::npos) {
            std::size_t n = stream.size();
            if (n > 0 && stream.back() == '\r') --n;
            f.overflowed = n > max;
            f.pending = stream.size();
            return f;
        }
        std::string_view line = stream.substr(0, newline);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.size() > max) {
            f.overflowed = true;
            return f;
        }
        f.lines.emplace_back(line);
        stream.remove_prefix(newline + 1);
    }
}

Framing actual_framing(const std::vector<std::string_view>& chunks, std::size_t max) {
    LineBuffer buffer(max);
    Framing f;
    std::string line;
    for (std::string_view chunk : chunks) {
        bool was_overflowed = buffer.overflowed();
        bool accepted = buffer.append(chunk);
        FUZZ_CHECK(accepted == !buffer.overflowed());
        FUZZ_CHECK(!was_overflowed || !accepted, "an overflowed buffer accepted more bytes");
        while (buffer.next_line(line)) f.lines.push_back(line);
    }
    while (buffer.next_line(line)) f.lines.push_back(line);
    f.overflowed = buffer.overflowed();
    f.pending = buffer.pending_bytes();
    return f;
}

void check_framing(std::string_view stream, const std::vector<std::string_view>& chunks,
                   std::size_t max) {
    Framing want = expected_framing(stream, max);
    Framing got = actual_framing(chunks, max);
    FUZZ_CHECK(got.lines == want.lines, "LineBuffer returned other lines than the stream holds");
    FUZZ_CHECK(got.overflowed == want.overflowed);
    if (!want.overflowed) FUZZ_CHECK(got.pending == want.pending);
}

void fuzz_framing(std::string_view stream) {
    InputRandom random(stream);
    std::size_t longest = 0;
    for (std::string_view line : split_lines(stream)) {
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        longest = std::max(longest, line.size());
    }
    // Limits right at the longest line are where an off-by-one would show.
    std::vector<std::size_t> limits = {0, longest, longest + 1, wire::kMaxLineBytes,
                                       random.between(0, 64)};
    if (longest > 0) limits.push_back(longest - 1);

    std::vector<std::string_view> whole = {stream};
    std::vector<std::string_view> bytes = random_chunks(stream, 1, random);
    std::vector<std::string_view> small = random_chunks(stream, 16, random);
    std::vector<std::string_view> large = random_chunks(stream, 512, random);
    for (std::size_t max : limits) {
        check_framing(stream, whole, max);
        check_framing(stream, bytes, max);
        check_framing(stream, small, max);
        check_framing(stream, large, max);
    }

    // The same stream repeated past 64 KiB, so that the buffer compacts while lines are in it.
    // Slow (a thousand times the work of the rest), so done for one input in 64.
    if (random.between(0, 63) == 0 && stream.find('\n') != std::string_view::npos) {
        std::string repeated;
        while (repeated.size() < 70 * 1024) repeated += stream;
        check_framing(repeated, random_chunks(repeated, 4096, random), wire::kMaxLineBytes);
    }
}

void fuzz_ack(std::string_view line) {
    auto ack = parse_ack(line);
    // Surrounding blanks never change the answer.
    auto padded = parse_ack(" \t" + std::string(line) + "\r ");
    FUZZ_CHECK(ack.has_value() == padded.has_value());
    if (!ack) return;
    FUZZ_CHECK(ack->seq == padded->seq);
    if (ack->seq) {
        auto again = parse_ack(dump_line(Json{{"ack", *ack->seq}}));
        FUZZ_CHECK(again && again->seq == ack->seq);
    }
}

// A custom event carrying the line as its type and, when the line is JSON, as its data.
void fuzz_event(std::string_view line, InputRandom& random) {
    Json data = Json::parse(line.begin(), line.end(), nullptr, false);
    if (data.is_discarded() || json_depth(line) > kMaxJsonDepth) data = nullptr;

    Event event;
    event.seq = random.next();
    event.type = std::string(line);
    event.data = data;
    event.time = WallTime(std::chrono::microseconds(random.next() % 4'102'444'800'000'000ULL));
    if (event.type == wire::event::kExit) event.signal = static_cast<int>(random.between(1, 64));
    std::string text = event.to_line();
    FUZZ_CHECK(!text.empty() && text.back() == '\n' && text.find('\n') == text.size() - 1,
               "an event is not exactly one line");
    Json back = Json::parse(text, nullptr, false);
    FUZZ_CHECK(back.is_object(), "an event line is not a JSON object");
    FUZZ_CHECK(back["seq"] == event.seq);
    FUZZ_CHECK(back["type"].is_string());
    if (!wire::event::is_reserved(event.type))
        FUZZ_CHECK(back["data"] == data, "the event's data changed on the way");
    FUZZ_CHECK(back["time"].is_string() && back["time"].get<std::string>().size() == 27);
}

}  // namespace
}  // namespace kvd::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    using namespace kvd::fuzz;
    std::string_view stream = as_text(data, size);
    fuzz_framing(stream);
    InputRandom random(stream);
    for (std::string_view line : split_lines(stream)) {
        fuzz_ack(line);
        fuzz_event(line, random);
    }
    return 0;
}
