// daemon/logs: the pure parts of capturing a bucket's output — splitting bytes into lines of
// bounded length (literal, split and flooding input), the text kept for a line, its JSON
// and file forms, the ring's byte bound and the token bucket that paces reading.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "daemon/logs/capture.hpp"
#include "daemon/logs/log_line.hpp"
#include "daemon/logs/ring.hpp"

namespace kvd::logs {
namespace {

using Lines = std::vector<std::pair<std::string, std::size_t>>;

Lines feed_all(LineSplitter& s, const std::vector<std::string>& chunks, bool eof = false) {
    Lines out;
    auto take = [&](std::string_view line, std::size_t cut) { out.emplace_back(line, cut); };
    for (const auto& c : chunks) s.feed(c, take);
    if (eof) s.finish(take);
    return out;
}

TEST(LineSplitter, SplitsAtNewlinesWhateverTheChunks) {
    LineSplitter s(16);
    Lines got = feed_all(s, {"one\ntw", "o\r\n", "", "three\nfo"}, /*eof=*/false);
    EXPECT_EQ(got, (Lines{{"one", 0}, {"two", 0}, {"three", 0}}));
    EXPECT_EQ(s.pending_bytes(), 2u);
    got = feed_all(s, {"ur"}, /*eof=*/true);
    EXPECT_EQ(got, (Lines{{"four", 0}}));
    EXPECT_EQ(feed_all(s, {}, true), Lines{});
    EXPECT_EQ(feed_all(s, {"\n\n"}), (Lines{{"", 0}, {"", 0}}));
}

TEST(LineSplitter, CutsLongLinesAndCountsTheRest) {
    LineSplitter s(4);
    Lines got = feed_all(s, {"abcd\n", "abcdefgh\n", "xyz", "123456", "789\nok\n"});
    EXPECT_EQ(got, (Lines{{"abcd", 0}, {"abcd", 4}, {"xyz1", 8}, {"ok", 0}}));
}

TEST(LineSplitter, AFloodWithoutNewlinesHoldsAtMostTheBound) {
    LineSplitter s(1024);
    std::string chunk(64 * 1024, 'x');
    Lines got;
    for (int i = 0; i < 100; ++i) {
        got = feed_all(s, {chunk});
        EXPECT_TRUE(got.empty());
        EXPECT_LE(s.pending_bytes(), 1024u);
    }
    got = feed_all(s, {"\n"});
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].first, std::string(1024, 'x'));
    EXPECT_EQ(got[0].second, 100u * 64 * 1024 - 1024);
}

TEST(LineText, ReplacesInvalidUtf8AndMarksCuts) {
    EXPECT_EQ(line_text("plain", 0), "plain");
    EXPECT_EQ(line_text("caf\xc3\xa9", 0), "caf\xc3\xa9");
    EXPECT_EQ(line_text("bad\xff byte", 0), "bad\xEF\xBF\xBD byte");
    // A character cut in half at the bound is replaced, and the cut is marked.
    EXPECT_EQ(line_text("ab\xc3", 10), "ab\xEF\xBF\xBD\xE2\x80\xA6[cut 10 bytes]");
}

TEST(LineText, JsonAndFileForms) {
    LogEntry e{Stream::err, WallTime{} + std::chrono::microseconds(1'500'000),
               line_text("say \"hi\"\t\\ \x01 \xff", 0)};
    std::string json = follow_line(e);
    ASSERT_EQ(json.back(), '\n');
    auto parsed = nlohmann::json::parse(json);
    EXPECT_EQ(parsed["stream"], "stderr");
    EXPECT_EQ(parsed["line"], "say \"hi\"\t\\ \x01 \xEF\xBF\xBD");
    EXPECT_EQ(parsed["time"], "1970-01-01T00:00:01.500000Z");
    EXPECT_EQ(file_line(LogEntry{Stream::out, WallTime{}, "x"}),
              "1970-01-01T00:00:00.000000Z stdout x\n");
}

TEST(LogRing, KeepsTheNewestLinesWithinItsBytes) {
    const std::size_t per = 10 + LogRing::kEntryOverhead;
    LogRing ring(per * 3);
    for (int i = 0; i < 10; ++i)
        ring.push(
            LogEntry{i % 2 ? Stream::out : Stream::err, WallTime{},
                     "line-" + std::string(5 - std::to_string(i).size(), '0') + std::to_string(i)});
    EXPECT_EQ(ring.size(), 3u);
    EXPECT_LE(ring.bytes(), per * 3);
    auto tail = ring.tail(100, std::nullopt);
    ASSERT_EQ(tail.size(), 3u);
    EXPECT_EQ(tail[0]->text, "line-00007");
    EXPECT_EQ(tail[2]->text, "line-00009");
    auto err = ring.tail(100, Stream::err);
    ASSERT_EQ(err.size(), 1u);
    EXPECT_EQ(err[0]->text, "line-00008");
    EXPECT_EQ(ring.tail(1, std::nullopt)[0]->text, "line-00009");
    EXPECT_TRUE(ring.tail(0, std::nullopt).empty());
    ring.set_limit(per);
    EXPECT_EQ(ring.size(), 1u);
    // A line larger than the bound still stays, alone.
    ring.push(LogEntry{Stream::out, WallTime{}, std::string(per * 2, 'x')});
    EXPECT_EQ(ring.size(), 1u);
}

TEST(TokenBucket, PacesToItsRate) {
    TokenBucket b(1000, 500);  // 1000 bytes/s, burst 500
    b.refill(0);
    EXPECT_TRUE(b.has_tokens());
    b.take(700);
    EXPECT_FALSE(b.has_tokens());
    EXPECT_EQ(b.wait_ms(), 201u);  // 201 bytes short at 1 byte/ms
    b.refill(100);
    EXPECT_FALSE(b.has_tokens());
    b.refill(300);
    EXPECT_TRUE(b.has_tokens());
    b.refill(100'000);  // never more than the burst
    b.take(500);
    EXPECT_FALSE(b.has_tokens());
}

}  // namespace
}  // namespace kvd::logs
