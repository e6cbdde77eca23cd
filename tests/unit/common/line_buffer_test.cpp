// LineBuffer: framing of literal, split and oversized input, without any I/O.
#include "common/line_buffer.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace kvd {
namespace {

// Every complete line the buffer holds right now.
std::vector<std::string> drain(LineBuffer& buf) {
    std::vector<std::string> lines;
    std::string line;
    while (buf.next_line(line)) lines.push_back(line);
    return lines;
}

using Lines = std::vector<std::string>;

TEST(LineBuffer, LiteralLine) {
    LineBuffer buf(100);
    EXPECT_TRUE(buf.append("hello\n"));
    EXPECT_EQ(drain(buf), Lines{"hello"});
    EXPECT_EQ(buf.pending_bytes(), 0u);
    EXPECT_FALSE(buf.overflowed());
}

TEST(LineBuffer, NoLineUntilNewline) {
    LineBuffer buf(100);
    EXPECT_TRUE(buf.append("partial"));
    EXPECT_EQ(drain(buf), Lines{});
    EXPECT_EQ(buf.pending_bytes(), 7u);
    EXPECT_TRUE(buf.append(" line\n"));
    EXPECT_EQ(drain(buf), Lines{"partial line"});
    EXPECT_EQ(buf.pending_bytes(), 0u);
}

TEST(LineBuffer, EmptyLines) {
    LineBuffer buf(100);
    EXPECT_TRUE(buf.append("\n\na\n\n"));
    EXPECT_EQ(drain(buf), (Lines{"", "", "a", ""}));
}

TEST(LineBuffer, SplitByteByByteWithDrainAfterEachByte) {
    const std::string input = "{\"id\":1,\"op\":\"ping\"}\nsecond\r\n\nthird\n";
    LineBuffer buf(100);
    Lines got;
    for (char c : input) {
        ASSERT_TRUE(buf.append(std::string_view(&c, 1)));
        for (auto& l : drain(buf)) got.push_back(l);
    }
    EXPECT_EQ(got, (Lines{"{\"id\":1,\"op\":\"ping\"}", "second", "", "third"}));
    EXPECT_EQ(buf.pending_bytes(), 0u);
}

TEST(LineBuffer, SplitByteByByteDrainedAtTheEnd) {
    const std::string input = "alpha\nbeta\ngamma";
    LineBuffer buf(100);
    for (char c : input) ASSERT_TRUE(buf.append(std::string_view(&c, 1)));
    EXPECT_EQ(drain(buf), (Lines{"alpha", "beta"}));
    EXPECT_EQ(buf.pending_bytes(), 5u);
    EXPECT_TRUE(buf.append("\n"));
    EXPECT_EQ(drain(buf), Lines{"gamma"});
}

TEST(LineBuffer, EverySplitPointOfTwoLines) {
    const std::string input = "first line\nsecond\n";
    for (std::size_t cut = 0; cut <= input.size(); ++cut) {
        LineBuffer buf(100);
        Lines got;
        ASSERT_TRUE(buf.append(input.substr(0, cut)));
        for (auto& l : drain(buf)) got.push_back(l);
        ASSERT_TRUE(buf.append(input.substr(cut)));
        for (auto& l : drain(buf)) got.push_back(l);
        EXPECT_EQ(got, (Lines{"first line", "second"})) << "cut at " << cut;
    }
}

TEST(LineBuffer, ManyLinesInOneChunk) {
    std::string chunk;
    Lines expected;
    for (int i = 0; i < 10000; ++i) {
        expected.push_back("line " + std::to_string(i));
        chunk += expected.back() + "\n";
    }
    LineBuffer buf(64);
    EXPECT_TRUE(buf.append(chunk));
    EXPECT_EQ(drain(buf), expected);
    EXPECT_EQ(buf.pending_bytes(), 0u);
}

TEST(LineBuffer, ManyChunksKeepWorkingAcrossCompaction) {
    // Enough traffic that the consumed prefix is compacted away several times.
    LineBuffer buf(1000);
    Lines got;
    std::string partial_tail;
    for (int i = 0; i < 5000; ++i) {
        std::string line = std::string(50, static_cast<char>('a' + i % 26)) + std::to_string(i);
        // Deliver each line in two pieces that straddle reads.
        ASSERT_TRUE(buf.append(partial_tail + line.substr(0, 20)));
        ASSERT_TRUE(buf.append(line.substr(20) + "\n"));
        partial_tail.clear();
        for (auto& l : drain(buf)) got.push_back(l);
        ASSERT_EQ(got.size(), static_cast<std::size_t>(i + 1));
        ASSERT_EQ(got.back(), line);
    }
}

TEST(LineBuffer, GivesBackTheRoomOfALongLineOnceItWasTaken) {
    LineBuffer buf(2 * 1024 * 1024);
    const std::string long_line(1024 * 1024, 'l');
    for (std::size_t at = 0; at < long_line.size(); at += 65536)
        ASSERT_TRUE(buf.append(std::string_view(long_line).substr(at, 65536)));
    EXPECT_GE(buf.held_bytes(), long_line.size());
    ASSERT_TRUE(buf.append("\n"));
    EXPECT_EQ(drain(buf), Lines{long_line});
    EXPECT_LE(buf.held_bytes(), 128u * 1024);
    // And it goes on as before.
    ASSERT_TRUE(buf.append("next\n"));
    EXPECT_EQ(drain(buf), Lines{"next"});
}

TEST(LineBuffer, CarriageReturnBeforeNewlineIsStripped) {
    LineBuffer buf(100);
    EXPECT_TRUE(buf.append("crlf\r\nplain\n\r\n"));
    EXPECT_EQ(drain(buf), (Lines{"crlf", "plain", ""}));
}

TEST(LineBuffer, CarriageReturnElsewhereIsKept) {
    LineBuffer buf(100);
    EXPECT_TRUE(buf.append("a\rb\n\r\r\n"));
    EXPECT_EQ(drain(buf), (Lines{"a\rb", "\r"}));
}

TEST(LineBuffer, CrlfSplitBetweenReads) {
    LineBuffer buf(100);
    EXPECT_TRUE(buf.append("abc\r"));
    EXPECT_EQ(drain(buf), Lines{});
    EXPECT_TRUE(buf.append("\n"));
    EXPECT_EQ(drain(buf), Lines{"abc"});
}

TEST(LineBuffer, LineExactlyAtLimitIsAccepted) {
    LineBuffer buf(10);
    EXPECT_TRUE(buf.append(std::string(10, 'x')));
    EXPECT_EQ(drain(buf), Lines{});
    EXPECT_FALSE(buf.overflowed());
    EXPECT_TRUE(buf.append("\n"));
    EXPECT_EQ(drain(buf), Lines{std::string(10, 'x')});
    EXPECT_FALSE(buf.overflowed());
}

TEST(LineBuffer, LineExactlyAtLimitInOneChunk) {
    LineBuffer buf(10);
    EXPECT_TRUE(buf.append(std::string(10, 'x') + "\n"));
    EXPECT_EQ(drain(buf), Lines{std::string(10, 'x')});
    EXPECT_FALSE(buf.overflowed());
}

TEST(LineBuffer, LineExactlyAtLimitWithCrlf) {
    // The '\r' is not part of the line, so it does not count against the limit.
    LineBuffer buf(10);
    EXPECT_TRUE(buf.append(std::string(10, 'x') + "\r\n"));
    EXPECT_EQ(drain(buf), Lines{std::string(10, 'x')});
    EXPECT_FALSE(buf.overflowed());
}

TEST(LineBuffer, LineExactlyAtLimitWithCrlfSplitBetweenReads) {
    // Same bytes as above, but the '\n' arrives in a later read: the answer must not
    // depend on how the kernel happened to split the stream.
    LineBuffer buf(10);
    EXPECT_TRUE(buf.append(std::string(10, 'x') + "\r"));
    EXPECT_EQ(drain(buf), Lines{});
    EXPECT_FALSE(buf.overflowed());
    EXPECT_TRUE(buf.append("\n"));
    EXPECT_EQ(drain(buf), Lines{std::string(10, 'x')});
    EXPECT_FALSE(buf.overflowed());
}

TEST(LineBuffer, UnterminatedLineOverLimitOverflowsOnAppend) {
    LineBuffer buf(10);
    EXPECT_FALSE(buf.append(std::string(11, 'x')));
    EXPECT_TRUE(buf.overflowed());
    EXPECT_EQ(drain(buf), Lines{});
}

TEST(LineBuffer, OverLimitGrowingByteByByte) {
    LineBuffer buf(10);
    for (int i = 0; i < 10; ++i) {
        ASSERT_TRUE(buf.append("y"));
        EXPECT_EQ(drain(buf), Lines{});
    }
    EXPECT_FALSE(buf.append("y"));
    EXPECT_TRUE(buf.overflowed());
}

TEST(LineBuffer, TerminatedLineOverLimitOverflowsWhenTaken) {
    LineBuffer buf(10);
    buf.append(std::string(11, 'x') + "\n");
    EXPECT_EQ(drain(buf), Lines{});
    EXPECT_TRUE(buf.overflowed());
}

TEST(LineBuffer, OverflowIsSticky) {
    LineBuffer buf(10);
    EXPECT_FALSE(buf.append(std::string(20, 'x')));
    EXPECT_TRUE(buf.overflowed());
    // Even a newline and short, valid lines afterwards are refused.
    EXPECT_FALSE(buf.append("\nok\n"));
    EXPECT_TRUE(buf.overflowed());
    EXPECT_EQ(drain(buf), Lines{});
    EXPECT_FALSE(buf.append("more\n"));
    EXPECT_EQ(drain(buf), Lines{});
    EXPECT_TRUE(buf.overflowed());
}

TEST(LineBuffer, OverflowOfCompleteLineIsSticky) {
    LineBuffer buf(10);
    buf.append(std::string(11, 'x') + "\nshort\n");
    EXPECT_EQ(drain(buf), Lines{});
    EXPECT_TRUE(buf.overflowed());
    EXPECT_FALSE(buf.append("again\n"));
    EXPECT_EQ(drain(buf), Lines{});
}

TEST(LineBuffer, LinesBeforeAnOverflowingUnterminatedLineAreReturned) {
    LineBuffer buf(10);
    buf.append("one\ntwo\n" + std::string(30, 'z'));
    EXPECT_EQ(drain(buf), (Lines{"one", "two"}));
    EXPECT_TRUE(buf.overflowed());
    EXPECT_FALSE(buf.append("\n"));
}

TEST(LineBuffer, LinesBeforeAnOverflowingTerminatedLineAreReturned) {
    LineBuffer buf(10);
    buf.append("one\n" + std::string(30, 'z') + "\nthree\n");
    EXPECT_EQ(drain(buf), Lines{"one"});
    EXPECT_TRUE(buf.overflowed());
}

TEST(LineBuffer, LinesInEarlierChunkSurviveLaterOverflow) {
    LineBuffer buf(10);
    EXPECT_TRUE(buf.append("one\ntw"));
    EXPECT_TRUE(buf.append("o\n"));
    buf.append(std::string(30, 'z'));
    EXPECT_EQ(drain(buf), (Lines{"one", "two"}));
    EXPECT_TRUE(buf.overflowed());
}

TEST(LineBuffer, NulBytesAreOrdinaryBytes) {
    LineBuffer buf(10);
    EXPECT_TRUE(buf.append(std::string("a\0b\n", 4)));
    EXPECT_EQ(drain(buf), Lines{std::string("a\0b", 3)});
}

}  // namespace
}  // namespace kvd
