// The control ops against fakes of kvd (fake_host.hpp): each op's answers, what it asks of
// kvd, and that both parsers of a request line lead to the same answer.
#include <gtest/gtest.h>

#include <csignal>

#include "tests/unit/ops/fake_host.hpp"

namespace kvd::testing {
namespace {

class Ops : public ::testing::Test {
  protected:
    // The reply to `line`, parsed; null when none came (yet).
    Json call(std::string_view line, Parser parser = Parser::fastest) {
        uint64_t serial = dispatch(host, client, recorder, line, parser);
        last_serial = serial;
        return reply_of(serial);
    }
    Json reply_of(uint64_t serial) {
        auto it = recorder->lines.find(serial);
        if (it == recorder->lines.end()) return nullptr;
        EXPECT_EQ(it->second.back(), '\n');
        EXPECT_EQ(it->second.find('\n'), it->second.size() - 1) << "one reply is one line";
        EXPECT_EQ(recorder->answers[serial], 1) << "a request is answered once";
        return Json::parse(it->second);
    }
    static std::string code_of(const Json& reply) {
        return reply.is_object() && reply.contains("error")
                   ? reply["error"]["code"].get<std::string>()
                   : std::string("ok");
    }
    static std::string message_of(const Json& reply) {
        return reply["error"]["message"].get<std::string>();
    }

    FakeHost host;
    FakeClient client;
    std::shared_ptr<ReplyRecorder> recorder = std::make_shared<ReplyRecorder>();
    uint64_t last_serial = 0;
};

TEST_F(Ops, PingAndStatus) {
    Json r = call(R"({"op":"ping","id":1})");
    EXPECT_EQ(r["id"], 1);
    EXPECT_EQ(r["result"]["version"], KVD_VERSION);
    host.add_bucket("a", 10);
    host.seq = 41;
    r = call(R"({"op":"status"})");
    EXPECT_EQ(r["result"]["buckets"], 1);
    EXPECT_EQ(r["result"]["last_seq"], 41);
    EXPECT_EQ(r["result"]["uptime_ms"], 1234);
    EXPECT_EQ(r["result"]["boot"], "00112233445566778899aabbccddeeff");
    EXPECT_EQ(r["result"]["tree"], "process-group");
    EXPECT_EQ(r["result"]["limits"], "memory=rlimit tasks=rlimit cpu=none");
    EXPECT_EQ(r["result"]["descriptors"], (Json{{"limit", 20000},
                                                {"for_buckets", 17952},
                                                {"in_use", 12000},
                                                {"pidfds", 100},
                                                {"without_pidfd", 3},
                                                {"stderr_uncaptured", 2}}));
}

TEST_F(Ops, CreateChecksTheNameBeforeAskingTheRegistry) {
    Json r = call(R"({"op":"create","bucket":"shopping"})");
    EXPECT_EQ(r["result"]["bucket"], "shopping");
    EXPECT_EQ(host.created, std::vector<std::string>{"shopping"});
    r = call(R"({"op":"create","bucket":"no/slash"})");
    EXPECT_EQ(code_of(r), "invalid_name");
    r = call(R"({"op":"create","bucket":""})");
    EXPECT_EQ(code_of(r), "invalid_name");
    EXPECT_EQ(host.created.size(), 1u);
}

TEST_F(Ops, LookupAndList) {
    host.add_bucket("b", 20);
    host.add_bucket("a", 10);
    Json r = call(R"({"op":"lookup","bucket":"a"})");
    EXPECT_EQ(r["result"], (Json{{"bucket", "a"}, {"pid", 10}}));
    r = call(R"({"op":"lookup","bucket":"zz"})");
    EXPECT_EQ(code_of(r), "not_found");
    EXPECT_EQ(message_of(r), "no bucket named 'zz'");
    r = call(R"({"op":"list"})");
    ASSERT_EQ(r["result"]["buckets"].size(), 2u);
    EXPECT_EQ(r["result"]["buckets"][0]["bucket"], "a");
    EXPECT_EQ(r["result"]["buckets"][1]["bucket"], "b");
    EXPECT_TRUE(r["result"]["buckets"][0]["started"].is_string());
    const Json& a = r["result"]["buckets"][0];
    EXPECT_EQ(a["kind"], "kv-bucket");
    EXPECT_EQ(a["state"], "running");
    EXPECT_EQ(a["restarts"], 0);
    EXPECT_TRUE(a["last_exit"].is_null());
    EXPECT_TRUE(a["uptime_ms"].is_number_integer());
}

TEST_F(Ops, ABucketWithoutAProcessIsListedWithNulls) {
    FakeBucket& b = host.add_bucket("f", 10);
    b.state = "failed";
    b.restarts = 5;
    Json r = call(R"({"op":"list"})");
    const Json& f = r["result"]["buckets"][0];
    EXPECT_EQ(f["state"], "failed");
    EXPECT_TRUE(f["pid"].is_null());
    EXPECT_TRUE(f["started"].is_null());
    EXPECT_TRUE(f["uptime_ms"].is_null());
    EXPECT_EQ(f["restarts"], 5);
    r = call(R"({"op":"kill","bucket":"f"})");
    EXPECT_EQ(code_of(r), "unavailable");
    r = call(R"({"op":"get","bucket":"f","key":"k"})");
    EXPECT_EQ(code_of(r), "unavailable");
    EXPECT_NE(message_of(r).find("failed"), std::string::npos) << message_of(r);
}

TEST_F(Ops, CreateTakesAKind) {
    Json r = call(R"({"op":"create","bucket":"w","kind":"worker"})");
    EXPECT_EQ(r["result"]["created"], true);
    ASSERT_EQ(host.created_kinds.size(), 1u);
    EXPECT_EQ(host.created_kinds[0], "worker");
    call(R"({"op":"create","bucket":"v"})");
    EXPECT_EQ(host.created_kinds[1], "");
    r = call(R"({"op":"create","bucket":"x","kind":""})");
    EXPECT_EQ(code_of(r), "bad_request");
    r = call(R"({"op":"create","bucket":"x","kind":7})");
    EXPECT_EQ(code_of(r), "bad_request");
}

TEST_F(Ops, DataOpsOnAKindWithoutDataAreBadRequests) {
    FakeBucket& b = host.add_bucket("w", 10);
    b.data = false;
    b.kind = "worker";
    for (const char* line :
         {R"({"op":"put","bucket":"w","key":"k","value":"v"})",
          R"({"op":"get","bucket":"w","key":"k"})", R"({"op":"delete","bucket":"w","key":"k"})",
          R"({"op":"keys","bucket":"w"})"}) {
        Json r = call(line);
        EXPECT_EQ(code_of(r), "bad_request") << line;
        EXPECT_NE(message_of(r).find("worker"), std::string::npos) << message_of(r);
    }
    EXPECT_TRUE(b.lines.empty());
}

TEST_F(Ops, RestartIsPassedOn) {
    host.add_bucket("a", 10);
    Json r = call(R"({"op":"restart","bucket":"a","timeout_ms":100})");
    EXPECT_EQ(r["result"]["restarts"], 1);
    ASSERT_EQ(host.restarted.size(), 1u);
    EXPECT_EQ(host.restarted[0].second, Millis(100));
    r = call(R"({"op":"restart","bucket":"zz"})");
    EXPECT_EQ(code_of(r), "not_found");
}

TEST_F(Ops, StopTakesItsTimeoutWithinRange) {
    host.add_bucket("a", 10);
    Json r = call(R"({"op":"stop","bucket":"a","timeout_ms":250})");
    EXPECT_EQ(r["result"]["reason"], "stopped");
    ASSERT_EQ(host.stopped.size(), 1u);
    EXPECT_EQ(host.stopped[0].second, Millis(250));

    host.add_bucket("b", 11);
    r = call(R"({"op":"stop","bucket":"b","timeout_ms":18446744073709551615})");
    EXPECT_EQ(code_of(r), "bad_request");
    EXPECT_NE(message_of(r).find("at most"), std::string::npos) << message_of(r);
    r = call(R"({"op":"stop","bucket":"b","timeout_ms":99999999999999999999})");
    EXPECT_EQ(code_of(r), "bad_request");
    EXPECT_EQ(message_of(r),
              "\"timeout_ms\" must be a non-negative integer of at most 31536000000");
    r = call(R"({"op":"stop","bucket":"b","timeout_ms":-1})");
    EXPECT_EQ(code_of(r), "bad_request");
    r = call(R"({"op":"stop","bucket":"b","timeout_ms":1.5})");
    EXPECT_EQ(code_of(r), "bad_request");
    EXPECT_EQ(host.stopped.size(), 1u) << "no stop with a bad timeout";
    r = call(R"({"op":"stop","bucket":"b"})");
    EXPECT_EQ(host.stopped.back().second, std::nullopt);
}

TEST_F(Ops, KillSendsTheNamedSignal) {
    FakeBucket& b = host.add_bucket("a", 10);
    Json r = call(R"({"op":"kill","bucket":"a","signal":"TERM"})");
    EXPECT_EQ(r["result"]["signal"], "SIGTERM");
    r = call(R"({"op":"kill","bucket":"a"})");
    EXPECT_EQ(r["result"]["signal"], "SIGKILL");
    EXPECT_EQ(b.signals, (std::vector<int>{SIGTERM, SIGKILL}));
    r = call(R"({"op":"kill","bucket":"a","signal":"SIGNOPE"})");
    EXPECT_EQ(code_of(r), "bad_request");
    EXPECT_EQ(message_of(r), "unknown signal 'SIGNOPE'");
    b.signal_result = -ESRCH;
    r = call(R"({"op":"kill","bucket":"a"})");
    EXPECT_EQ(code_of(r), "internal");
    EXPECT_NE(message_of(r).find("No such process"), std::string::npos) << message_of(r);
}

TEST_F(Ops, DataOpsForwardTheLineAndPassTheResultOn) {
    FakeBucket& b = host.add_bucket("a", 10);
    b.answer = R"({"ok":true,"result":{"value":"v\u00e9"}})";
    Json r = call(R"({"op":"get","bucket":"a","key":"k","id":"x"})");
    EXPECT_EQ(r["id"], "x");
    EXPECT_EQ(r["result"]["value"], "v\u00e9");
    b.answer = R"({"ok":true,"result":{}})";
    call(R"({"op":"put","bucket":"a","key":"k","value":"v"})");
    call(R"({"op":"put","bucket":"a","key":"k\u0041","value":"line\nbreak"})");
    call(R"({"op":"delete","bucket":"a","key":"k"})");
    call(R"({"op":"keys","bucket":"a"})");
    ASSERT_EQ(b.lines.size(), 5u);
    EXPECT_EQ(b.lines[0], "{\"op\":\"get\",\"key\":\"k\"}\n");
    EXPECT_EQ(b.lines[1], "{\"op\":\"put\",\"key\":\"k\",\"value\":\"v\"}\n");
    // Escapes are written the one way nlohmann writes them.
    EXPECT_EQ(b.lines[2], "{\"op\":\"put\",\"key\":\"kA\",\"value\":\"line\\nbreak\"}\n");
    EXPECT_EQ(b.lines[3], "{\"op\":\"delete\",\"key\":\"k\"}\n");
    EXPECT_EQ(b.lines[4], "{\"op\":\"keys\"}\n");
}

TEST_F(Ops, BucketErrorsBecomeProtocolErrors) {
    FakeBucket& b = host.add_bucket("a", 10);
    b.answer = R"({"ok":false,"error":{"code":"not_found","message":"no key"}})";
    Json r = call(R"({"op":"get","bucket":"a","key":"missing"})");
    EXPECT_EQ(code_of(r), "not_found");
    EXPECT_EQ(message_of(r), "no key 'missing' in bucket 'a'");
    b.answer = R"({"ok":false,"error":{"code":"limit","message":"too big"}})";
    EXPECT_EQ(code_of(call(R"({"op":"keys","bucket":"a"})")), "limit");
    b.answer = "not json";
    EXPECT_EQ(code_of(call(R"({"op":"keys","bucket":"a"})")), "internal");
    b.answer.reset();
    b.no_reply = OpBucket::NoReply::timed_out;
    r = call(R"({"op":"get","bucket":"a","key":"k"})");
    EXPECT_EQ(code_of(r), "timeout");
    EXPECT_EQ(message_of(r),
              "bucket 'a' (pid 10) did not answer within 5s ([bucket] request_timeout)");
    b.no_reply = OpBucket::NoReply::gone;
    EXPECT_EQ(code_of(call(R"({"op":"get","bucket":"a","key":"k"})")), "unavailable");
    b.no_reply = OpBucket::NoReply::backlogged;
    EXPECT_EQ(code_of(call(R"({"op":"get","bucket":"a","key":"k"})")), "limit");
}

TEST_F(Ops, AReplyComesWhenTheBucketAnswers) {
    FakeBucket& b = host.add_bucket("a", 10);
    Json r = call(R"({"op":"get","bucket":"a","key":"k","id":5})");
    EXPECT_TRUE(r.is_null()) << "answered before the bucket did";
    ASSERT_EQ(b.pending.size(), 1u);
    b.pending[0](std::string_view(R"({"ok":true,"result":{"value":"later"}})"));
    r = reply_of(last_serial);
    EXPECT_EQ(r["id"], 5);
    EXPECT_EQ(r["result"]["value"], "later");
}

TEST_F(Ops, AStoppingBucketTakesNoRequests) {
    FakeBucket& b = host.add_bucket("a", 10);
    b.stopping = true;
    Json r = call(R"({"op":"put","bucket":"a","key":"k","value":"v"})");
    EXPECT_EQ(code_of(r), "unavailable");
    EXPECT_TRUE(b.lines.empty());
}

TEST_F(Ops, NotifyPublishesAndAnswersItsSeq) {
    Json r = call(R"({"op":"notify","type":"deploy","data":{"b":1,"a":[1,2]}})");
    EXPECT_EQ(r["result"]["seq"], 1);
    ASSERT_EQ(host.published.size(), 1u);
    EXPECT_EQ(host.published[0].type, "deploy");
    EXPECT_EQ(host.published[0].data_json, R"({"a":[1,2],"b":1})") << "data written canonically";
    r = call(R"({"op":"notify","type":"deploy"})");
    EXPECT_EQ(host.published[1].data_json, "null");

    host.hold_delivery = true;
    r = call(R"({"op":"notify","type":"deploy","sync":true})");
    EXPECT_TRUE(r.is_null()) << "a sync notify answers once every sync receiver released it";
    uint64_t waiting = last_serial;
    ASSERT_EQ(host.undelivered.size(), 1u);
    host.undelivered[0]();
    EXPECT_EQ(reply_of(waiting)["result"]["seq"], 3);

    host.refuse_publish = Failure{wire::ErrorCode::limit, "full"};
    EXPECT_EQ(code_of(call(R"({"op":"notify","type":"deploy"})")), "limit");
}

TEST_F(Ops, NotifyRefusesBadTypes) {
    EXPECT_EQ(code_of(call(R"({"op":"notify","type":"create"})")), "bad_request");
    EXPECT_EQ(code_of(call(R"({"op":"notify","type":""})")), "bad_request");
    EXPECT_EQ(code_of(call(R"({"op":"notify","type":"a\u0001b"})")), "bad_request");
    EXPECT_EQ(code_of(call(R"({"op":"notify","type":")" + std::string(129, 'x') + "\"}")),
              "bad_request");
    EXPECT_TRUE(host.published.empty());
}

TEST_F(Ops, SubscribeHandsTheClientItsRequest) {
    host.seq = 9;
    Json r = call(R"({"op":"subscribe","mode":"sync","types":["create","exit"],"from_seq":3})");
    EXPECT_EQ(r["result"]["seq"], 9);
    EXPECT_EQ(r["result"]["boot"], "00112233445566778899aabbccddeeff");
    ASSERT_EQ(client.subscriptions.size(), 1u);
    const SubscribeRequest& s = client.subscriptions[0];
    EXPECT_EQ(s.mode, HandlerMode::sync);
    EXPECT_EQ(s.types, (std::vector<std::string>{"create", "exit"}));
    EXPECT_EQ(s.from_seq, 3u);

    EXPECT_EQ(code_of(call(R"({"op":"subscribe","mode":"fast"})")), "bad_request");
    EXPECT_EQ(code_of(call(R"({"op":"subscribe","types":["ok",""]})")), "bad_request");
    EXPECT_EQ(code_of(call(R"({"op":"subscribe","types":[1]})")), "bad_request");
    client.refuse = Failure{wire::ErrorCode::history_lost, "gone"};
    EXPECT_EQ(code_of(call(R"({"op":"subscribe","from_seq":1})")), "history_lost");
    EXPECT_EQ(client.subscriptions.size(), 1u);
}

TEST_F(Ops, HandlersAndReload) {
    host.handlers = Json::array({{{"name", "audit"}}});
    EXPECT_EQ(call(R"({"op":"handlers"})")["result"]["handlers"][0]["name"], "audit");
    host.reload_result = Failure{wire::ErrorCode::bad_request, "kvd.toml:1:1: bad"};
    Json r = call(R"({"op":"reload"})");
    EXPECT_EQ(code_of(r), "bad_request");
    EXPECT_EQ(host.reloads, 1);
}

TEST_F(Ops, ShutdownRefusesOnlyOpsThatChangeState) {
    host.add_bucket("a", 10);
    host.shutting = true;
    for (const char* line : {R"({"op":"create","bucket":"n"})", R"({"op":"stop","bucket":"a"})",
                             R"({"op":"notify","type":"t"})", R"({"op":"reload"})",
                             R"({"op":"put","bucket":"a","key":"k","value":"v"})"}) {
        EXPECT_EQ(code_of(call(line)), "unavailable") << line;
    }
    EXPECT_EQ(code_of(call(R"({"op":"ping"})")), "ok");
    EXPECT_EQ(code_of(call(R"({"op":"list"})")), "ok");
    EXPECT_TRUE(host.created.empty());
    EXPECT_TRUE(host.stopped.empty());
}

TEST_F(Ops, MalformedRequestsAreBadRequests) {
    EXPECT_EQ(code_of(call("not json")), "bad_request");
    EXPECT_EQ(code_of(call("[1]")), "bad_request");
    EXPECT_EQ(code_of(call(R"({"id":3})")), "bad_request");
    EXPECT_EQ(call(R"({"id":3})")["id"], 3) << "the id is echoed even on error";
    Json r = call(R"({"op":"fly"})");
    EXPECT_EQ(message_of(r), "unknown op 'fly'");
    r = call(R"({"op":"get","bucket":"a"})");
    EXPECT_EQ(message_of(r), "op 'get' needs \"key\" (a string)");
    r = call(R"({"op":"get","bucket":"a","key":null})");
    EXPECT_EQ(message_of(r), "\"key\" must be a string") << "a required argument may not be null";
    r = call(R"({"op":"notify","type":"t","sync":"yes"})");
    EXPECT_EQ(message_of(r), "\"sync\" must be true or false");
}

// The scanner is a speed-up only: for any line, the answer and what kvd was asked to do are
// those of the nlohmann path.
TEST_F(Ops, BothParsersGiveTheSameAnswer) {
    const std::vector<std::string> lines = {
        R"({"op":"ping","id":1})",
        R"({"op":"put","bucket":"a","key":"k","value":"v","id":[1,{"b":2,"a":1}]})",
        R"({"op":"put","bucket":"a","key":"k\"q","value":"v\u0000"})",
        R"({"op":"put","bucket":"a","key":"k","value":5})",
        R"({"op":"get","bucket":"a","key":"k","extra":{"deep":[true,null]}})",
        R"({"op":"get","bucket":"nope","key":"k"})",
        R"({"op":"keys","bucket":"bad name!"})",
        R"({"op":"stop","bucket":"a","timeout_ms":-0})",
        R"({"op":"stop","bucket":"a","timeout_ms":31536000001})",
        R"({"op":"stop","bucket":"a","timeout_ms":1e3})",
        R"({"op":"notify","type":"t","data":{"z":1, "a" : 2},"sync":false})",
        R"({"op":"notify","type":"t","data":"\u00e9"})",
        R"({"op":"notify","type":"t","sync":null})",
        R"({"op":"subscribe","types":["a","b"],"mode":"async"})",
        R"({"op":"subscribe","types":"a"})",
        R"({"op":1})",
        R"({"op":"get","op":"put"})",
        R"({ "op" : "lookup" , "bucket" : "a" , "id" : 1.50 })",
        R"({"op":"lookup","bucket":"a","id":18446744073709551616})",
    };
    for (const std::string& line : lines) {
        FakeHost fast_host, slow_host;
        fast_host.add_bucket("a", 10).answer = R"({"ok":true,"result":{}})";
        slow_host.add_bucket("a", 10).answer = R"({"ok":true,"result":{}})";
        FakeClient fast_client, slow_client;
        auto fast = std::make_shared<ReplyRecorder>(), slow = std::make_shared<ReplyRecorder>();
        uint64_t a = dispatch(fast_host, fast_client, fast, line, Parser::fastest);
        uint64_t b = dispatch(slow_host, slow_client, slow, line, Parser::nlohmann);
        EXPECT_EQ(fast->lines[a], slow->lines[b]) << line;
        FakeBucket* fa = fast_host.bucket("a");
        FakeBucket* sa = slow_host.bucket("a");
        ASSERT_EQ(fa == nullptr, sa == nullptr) << line;
        if (fa) {
            EXPECT_EQ(fa->lines, sa->lines) << line;
        }
        EXPECT_EQ(fast_host.published.size(), slow_host.published.size()) << line;
        for (std::size_t i = 0; i < fast_host.published.size() && i < slow_host.published.size();
             ++i)
            EXPECT_EQ(fast_host.published[i].data_json, slow_host.published[i].data_json) << line;
        EXPECT_EQ(fast_client.subscriptions.size(), slow_client.subscriptions.size()) << line;
    }
}

}  // namespace
}  // namespace kvd::testing
