// Events serialise to exactly the JSON line of README "Writing a handler": key order, nulls and
// time format.
#include "common/event.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <csignal>
#include <ctime>
#include <regex>

#include "common/signals.hpp"

namespace kvd {
namespace {

using namespace std::chrono;

// 2026-11-23T19:40:00.123456Z
WallTime spec_time() {
    return WallTime(seconds(1'795'462'800) + microseconds(123'456));
}

Event make(std::string type, uint64_t seq = 1) {
    Event e;
    e.seq = seq;
    e.type = std::move(type);
    e.time = spec_time();
    return e;
}

TEST(Event, Create) {
    Event e = make("create");
    e.bucket = "shopping";
    e.pid = 4242;
    EXPECT_EQ(
        e.to_line(),
        R"({"seq":1,"type":"create","bucket":"shopping","pid":4242,"time":"2026-11-23T19:40:00.123456Z"})"
        "\n");
}

TEST(Event, ExitKilledBySignal) {
    Event e = make("exit", 2);
    e.bucket = "shopping";
    e.pid = 4242;
    e.signal = SIGKILL;
    e.reason = "killed";
    EXPECT_EQ(
        e.to_line(),
        R"({"seq":2,"type":"exit","bucket":"shopping","pid":4242,"code":null,"signal":"SIGKILL","reason":"killed","time":"2026-11-23T19:40:00.123456Z"})"
        "\n");
}

TEST(Event, ExitWithCode) {
    Event e = make("exit", 3);
    e.bucket = "b";
    e.pid = 7;
    e.code = 0;
    e.reason = "exited";
    EXPECT_EQ(
        e.to_line(),
        R"({"seq":3,"type":"exit","bucket":"b","pid":7,"code":0,"signal":null,"reason":"exited","time":"2026-11-23T19:40:00.123456Z"})"
        "\n");
    e.code = 3;
    EXPECT_NE(e.to_line().find(R"("code":3,"signal":null)"), std::string::npos);
}

TEST(Event, ExitWithUnnamedSignal) {
    Event e = make("exit");
    e.bucket = "b";
    e.pid = 7;
    e.signal = SIGRTMIN + 2;
    e.reason = "killed";
    EXPECT_NE(e.to_line().find("\"signal\":\"SIG" + std::to_string(SIGRTMIN + 2) + "\""),
              std::string::npos);
}

TEST(Event, Custom) {
    Event e = make("hello", 3);
    e.data = Json{{"world", true}};
    EXPECT_EQ(
        e.to_line(),
        R"({"seq":3,"type":"hello","data":{"world":true},"time":"2026-11-23T19:40:00.123456Z"})"
        "\n");
}

TEST(Event, CustomWithoutDataHasNullData) {
    Event e = make("ping", 5);
    EXPECT_EQ(e.to_line(),
              R"({"seq":5,"type":"ping","data":null,"time":"2026-11-23T19:40:00.123456Z"})"
              "\n");
}

TEST(Event, CustomDataOfEveryKind) {
    for (const char* data :
         {"1", "\"text\"", "[1,\"a\",null]", "{\"a\":{\"b\":[true,false]}}", "\"line\\nbreak\""}) {
        Event e = make("t");
        e.data = Json::parse(data);
        std::string line = e.to_line();
        EXPECT_EQ(line.find('\n'), line.size() - 1);
        EXPECT_EQ(Json::parse(line).at("data"), Json::parse(data));
    }
}

TEST(Event, Dropped) {
    Event e = make("dropped", 4);
    e.count = 17;
    EXPECT_EQ(e.to_line(),
              R"({"seq":4,"type":"dropped","count":17,"time":"2026-11-23T19:40:00.123456Z"})"
              "\n");
}

TEST(Event, LargeSeq) {
    Event e = make("create", 18'446'744'073'709'551'615ULL);
    e.bucket = "b";
    e.pid = 1;
    EXPECT_EQ(e.to_line().rfind(R"({"seq":18446744073709551615,)", 0), 0u);
}

TEST(Event, InvalidUtf8InDataDoesNotThrow) {
    Event e = make("t");
    e.data = Json{{"s", std::string("\xff")}};
    std::string line;
    EXPECT_NO_THROW(line = e.to_line());
    EXPECT_TRUE(Json::accept(line)) << line;
}

TEST(Clock, Rfc3339Format) {
    EXPECT_EQ(format_rfc3339(spec_time()), "2026-11-23T19:40:00.123456Z");
    EXPECT_EQ(format_rfc3339(WallTime{}), "1970-01-01T00:00:00.000000Z");
    // 2000-02-29 (leap day), with a fraction that needs leading zeros.
    EXPECT_EQ(format_rfc3339(WallTime(seconds(951'782'400) + microseconds(7))),
              "2000-02-29T00:00:00.000007Z");
    EXPECT_EQ(format_rfc3339(WallTime(seconds(951'782'400 + 86'399) + microseconds(999'999))),
              "2000-02-29T23:59:59.999999Z");
}

TEST(Clock, SubMicrosecondsAreTruncated) {
    EXPECT_EQ(
        format_rfc3339(WallTime(seconds(1) + duration_cast<WallTime::duration>(nanoseconds(999)))),
        "1970-01-01T00:00:01.000000Z");
}

TEST(Clock, BeforeTheEpoch) {
    EXPECT_EQ(format_rfc3339(WallTime(-microseconds(1))), "1969-12-31T23:59:59.999999Z");
    EXPECT_EQ(format_rfc3339(WallTime(-seconds(1))), "1969-12-31T23:59:59.000000Z");
}

TEST(Clock, NowMatchesThePattern) {
    static const std::regex pattern(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z)");
    EXPECT_TRUE(std::regex_match(format_rfc3339(system_clock::now()), pattern));
}

}  // namespace
}  // namespace kvd

namespace kvd {
namespace {

// Event::to_line as it was written with nlohmann::ordered_json: the line is built by
// concatenation now and must stay byte for byte the same.
std::string reference_line(const Event& e) {
    nlohmann::ordered_json j;
    j["seq"] = e.seq;
    j["type"] = e.type;
    if (e.type == "create" || e.type == "exit") {
        j["bucket"] = e.bucket;
        j["pid"] = e.pid;
    }
    if (e.type == "exit") {
        j["code"] = e.code ? nlohmann::ordered_json(*e.code) : nlohmann::ordered_json(nullptr);
        j["signal"] = e.signal ? nlohmann::ordered_json(signal_name(*e.signal))
                               : nlohmann::ordered_json(nullptr);
        j["reason"] = e.reason;
    } else if (e.type == "dropped") {
        j["count"] = e.count;
    } else if (e.type != "create") {
        j["data"] = e.data;
    }
    j["time"] = format_rfc3339(e.time);
    return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + '\n';
}

TEST(Event, LineIsWhatOrderedJsonGave) {
    using namespace std::chrono;
    std::vector<Event> events;
    for (const char* type : {"create", "exit", "dropped", "t", "q\"uote", "caf\xc3\xa9", "bad\xff",
                             "\x7f", "back\\slash"}) {
        Event e;
        e.type = type;
        e.seq = 18'446'744'073'709'551'615ULL;
        e.time = WallTime(seconds(1'790'000'000) + microseconds(42));
        e.bucket = "bucket.name:1";
        e.pid = 2'147'483'647;
        e.reason = "killed";
        e.count = 9;
        events.push_back(e);
        e.code = -3;
        e.signal = SIGKILL;
        e.data = Json{{"b", {1, 2.5, "\n"}}, {"a", nullptr}};
        e.time = WallTime(-microseconds(1));
        events.push_back(e);
        e.code.reset();
        e.data = "\xc3";
        events.push_back(e);
    }
    for (const Event& e : events) EXPECT_EQ(e.to_line(), reference_line(e));
    Event e = events[9];  // type "t"
    e.data_json = R"({"raw":[1,2]})";
    EXPECT_NE(e.to_line().find(R"(,"type":"t","data":{"raw":[1,2]},"time":")"), std::string::npos)
        << e.to_line();
}

TEST(Event, TimeFormattingAcrossSecondsStaysRight) {
    using namespace std::chrono;
    // The formatted seconds are cached: alternate between seconds and check each time.
    for (int i = 0; i < 50; ++i) {
        auto t = WallTime(seconds(951'782'400 + (i % 3) * 86'399) + microseconds(i * 1234));
        std::time_t secs = 951'782'400 + (i % 3) * 86'399;
        std::tm tm{};
        gmtime_r(&secs, &tm);
        char buf[64];
        std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
        EXPECT_EQ(format_rfc3339(t), fmt::format("{}.{:06}Z", buf, i * 1234));
    }
}

}  // namespace
}  // namespace kvd
