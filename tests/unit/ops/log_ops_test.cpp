// The `logs` op against fakes of kvd (fake_host.hpp): its arguments, the lines it answers
// with, and that `follow` asks the client's connection to follow after the reply.
#include <gtest/gtest.h>

#include "tests/unit/ops/fake_host.hpp"

namespace kvd::testing {
namespace {

class LogOps : public ::testing::Test {
  protected:
    Json call(std::string_view line, Parser parser = Parser::fastest) {
        uint64_t serial = dispatch(host, client, recorder, line, parser);
        auto it = recorder->lines.find(serial);
        if (it == recorder->lines.end()) return nullptr;
        EXPECT_EQ(recorder->answers[serial], 1);
        return Json::parse(it->second);
    }
    static std::string code_of(const Json& reply) {
        return reply.contains("error") ? reply["error"]["code"].get<std::string>() : "ok";
    }
    FakeLog& log_with(int lines) {
        FakeLog& log = host.add_log("web");
        for (int i = 0; i < lines; ++i)
            log.entries.push_back({i % 2 ? kvd::logs::Stream::out : kvd::logs::Stream::err,
                                   WallTime{} + std::chrono::seconds(i),
                                   "line " + std::to_string(i)});
        return log;
    }

    FakeHost host;
    FakeClient client;
    std::shared_ptr<ReplyRecorder> recorder = std::make_shared<ReplyRecorder>();
};

TEST_F(LogOps, AnswersTheNewestHundredLinesOldestFirst) {
    log_with(150).dropped_lines = 3;
    Json r = call(R"({"op":"logs","id":5,"bucket":"web"})");
    ASSERT_EQ(code_of(r), "ok") << r;
    EXPECT_EQ(r["id"], 5);
    const Json& lines = r["result"]["lines"];
    ASSERT_EQ(lines.size(), 100u);
    EXPECT_EQ(lines[0]["line"], "line 50");
    EXPECT_EQ(lines[99]["line"], "line 149");
    EXPECT_EQ(lines[99]["stream"], "stdout");
    EXPECT_EQ(lines[98]["stream"], "stderr");
    EXPECT_EQ(lines[0]["time"], "1970-01-01T00:00:50.000000Z");
    EXPECT_EQ(r["result"]["dropped"], 3);
    EXPECT_TRUE(client.follows.empty());
}

TEST_F(LogOps, LinesAndStreamChooseWhatIsSent) {
    log_with(10);
    Json r = call(R"({"op":"logs","bucket":"web","lines":3,"stream":"stderr"})");
    ASSERT_EQ(code_of(r), "ok") << r;
    ASSERT_EQ(r["result"]["lines"].size(), 3u);
    for (const auto& l : r["result"]["lines"]) EXPECT_EQ(l["stream"], "stderr");
    EXPECT_EQ(r["result"]["lines"][2]["line"], "line 8");
    r = call(R"({"op":"logs","bucket":"web","lines":0})");
    EXPECT_EQ(r["result"]["lines"], Json::array());
    EXPECT_EQ(r["result"]["dropped"], 0);
}

// A stderr kvd could not capture (its open file limit) is named; a captured one is not.
TEST_F(LogOps, SaysWhichStreamIsNotCaptured) {
    FakeLog& log = log_with(1);
    Json r = call(R"({"op":"logs","bucket":"web"})");
    ASSERT_EQ(code_of(r), "ok") << r;
    EXPECT_FALSE(r["result"].contains("uncaptured")) << r;
    log.stderr_uncaptured = true;
    r = call(R"({"op":"logs","bucket":"web"})");
    ASSERT_EQ(code_of(r), "ok") << r;
    EXPECT_EQ(r["result"]["uncaptured"], Json::array({"stderr"})) << r;
}

TEST_F(LogOps, TextIsEscapedAsJson) {
    FakeLog& log = host.add_log("web");
    log.entries.push_back({kvd::logs::Stream::err, WallTime{}, "a \"quoted\" \\ tab\t\x01 é"});
    Json r = call(R"({"op":"logs","bucket":"web"})");
    ASSERT_EQ(code_of(r), "ok") << r;
    EXPECT_EQ(r["result"]["lines"][0]["line"], "a \"quoted\" \\ tab\t\x01 é");
}

TEST_F(LogOps, FollowAsksTheConnectionAfterTheReply) {
    log_with(2);
    Json r = call(R"({"op":"logs","bucket":"web","follow":true,"stream":"stdout"})");
    ASSERT_EQ(code_of(r), "ok") << r;
    ASSERT_EQ(client.follows.size(), 1u);
    EXPECT_EQ(client.follows[0].first, "web");
    EXPECT_EQ(client.follows[0].second, kvd::logs::Stream::out);
    client.refuse = Failure{wire::ErrorCode::limit, "no"};
    r = call(R"({"op":"logs","bucket":"web","follow":true})");
    EXPECT_EQ(code_of(r), "limit");
}

TEST_F(LogOps, BadArgumentsAndUnknownBuckets) {
    log_with(1);
    EXPECT_EQ(code_of(call(R"({"op":"logs"})")), "bad_request");
    EXPECT_EQ(code_of(call(R"({"op":"logs","bucket":"web","lines":-1})")), "bad_request");
    EXPECT_EQ(code_of(call(R"({"op":"logs","bucket":"web","lines":1000001})")), "bad_request");
    EXPECT_EQ(code_of(call(R"({"op":"logs","bucket":"web","follow":"yes"})")), "bad_request");
    Json r = call(R"({"op":"logs","bucket":"web","stream":"both"})");
    EXPECT_EQ(code_of(r), "bad_request");
    EXPECT_NE(r["error"]["message"].get<std::string>().find("stdout"), std::string::npos);
    EXPECT_EQ(code_of(call(R"({"op":"logs","bucket":"no/such"})")), "invalid_name");
    r = call(R"({"op":"logs","bucket":"nope"})");
    EXPECT_EQ(code_of(r), "not_found");
    EXPECT_EQ(r["error"]["message"], "no bucket named 'nope'");
    // Read-only: answered during shutdown too.
    host.shutting = true;
    EXPECT_EQ(code_of(call(R"({"op":"logs","bucket":"web"})")), "ok");
}

TEST_F(LogOps, BothParsersAgree) {
    log_with(5);
    std::string line = R"({"op":"logs","id":"x","bucket":"web","lines":2})";
    EXPECT_EQ(call(line, Parser::fastest), call(line, Parser::nlohmann));
}

}  // namespace
}  // namespace kvd::testing
