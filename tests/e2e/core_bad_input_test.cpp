// Whatever a client sends, kvd answers it correctly, keeps the connection where the spec
// says so, and keeps serving everyone else (README "The control protocol").
#include <random>

#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

using BadInput = KvdTest;

constexpr std::size_t kMaxLine = 1024 * 1024;

// Sends `line`, expects one error reply with `code` and `id`, and checks that the same
// connection still answers a ping.
void expect_error_and_still_usable(Client& c, std::string_view line, std::string_view code,
                                   const Json& id = nullptr) {
    SCOPED_TRACE(std::string("line: ") + std::string(line.substr(0, 200)));
    ASSERT_TRUE(c.send_line(line));
    auto reply = c.read_json();
    ASSERT_TRUE(reply.has_value()) << (c.eof() ? "kvd closed the connection" : "no reply");
    EXPECT_TRUE(is_error(*reply, code));
    EXPECT_TRUE(reply->contains("id"))
        << "an error reply carries \"id\" (null when unknown): " << reply->dump();
    if (reply->contains("id")) {
        EXPECT_EQ((*reply)["id"], id);
    }
    Json ping = c.call("ping");
    EXPECT_TRUE(is_ok(ping)) << "connection unusable after a malformed line";
}

TEST_F(BadInput, NotJson) {
    for (std::string_view line :
         {"", "   ", "hello", "{", "}", "{\"op\":\"ping\"", "{'op':'ping'}", "{op:ping}",
          "{\"op\":\"ping\"} trailing", "{\"op\":\"ping\"}{\"op\":\"ping\"}", "nul\x01\x02",
          "{\"op\":\"ping\",}", "NaN"}) {
        expect_error_and_still_usable(client(), line, "bad_request");
    }
}

TEST_F(BadInput, InvalidUtf8) {
    expect_error_and_still_usable(client(), "{\"op\":\"ping\",\"x\":\"\xff\xfe\"}", "bad_request");
    expect_error_and_still_usable(client(), "\xc3", "bad_request");
}

TEST_F(BadInput, NotAnObject) {
    for (std::string_view line : {"[]", "[{\"op\":\"ping\"}]", "42", "\"ping\"", "null", "true"})
        expect_error_and_still_usable(client(), line, "bad_request");
}

TEST_F(BadInput, MissingOrIllTypedOpEchoesTheId) {
    expect_error_and_still_usable(client(), R"({"id":7})", "bad_request", 7);
    expect_error_and_still_usable(client(), R"({"id":"s","bucket":"b"})", "bad_request", "s");
    expect_error_and_still_usable(client(), R"({"id":[1,{"a":null}],"op":5})", "bad_request",
                                  Json::parse(R"([1,{"a":null}])"));
    expect_error_and_still_usable(client(), R"({"id":{"k":"v"},"op":null})", "bad_request",
                                  Json{{"k", "v"}});
    expect_error_and_still_usable(client(), R"({"op":["ping"]})", "bad_request");
}

TEST_F(BadInput, UnknownOp) {
    for (std::string_view op : {"frobnicate", "PING", "Ping", "", " ping", "ping "}) {
        Json reply = client().request({{"id", "u"}, {"op", op}});
        EXPECT_TRUE(is_error(reply, "bad_request")) << op;
        EXPECT_EQ(reply["id"], "u");
    }
    EXPECT_TRUE(is_ok(call("ping")));
}

TEST_F(BadInput, IdsOfEveryTypeAreEchoed) {
    for (const char* id : {"0", "-1", "3.5", "18446744073709551615", "\"\"", "\"text id\"",
                           "\"\\u00e9\\n\"", "true", "null", "[]", "{\"a\":[1,2,3]}"}) {
        Client& c = client();
        ASSERT_TRUE(c.send_line(std::string(R"({"op":"ping","id":)") + id + "}"));
        auto reply = c.read_json();
        ASSERT_TRUE(reply.has_value()) << id;
        EXPECT_TRUE(is_ok(*reply)) << id;
        EXPECT_EQ((*reply)["id"], Json::parse(id)) << reply->dump();
    }
    // No id at all: the reply's id is null.
    ASSERT_TRUE(client().send_line(R"({"op":"ping"})"));
    auto reply = client().read_json();
    ASSERT_TRUE(reply.has_value());
    EXPECT_TRUE((*reply)["id"].is_null()) << reply->dump();
}

TEST_F(BadInput, MissingOrIllTypedBucket) {
    for (std::string_view op : {"create", "lookup", "stop", "kill", "keys"}) {
        EXPECT_TRUE(is_error(call(op), "bad_request")) << op;
        for (Json bucket : {Json(5), Json(nullptr), Json(true), Json::array({"b"}), Json::object()})
            EXPECT_TRUE(is_error(call(op, {{"bucket", bucket}}), "bad_request"))
                << op << " bucket=" << bucket.dump();
    }
    EXPECT_EQ(call("list")["result"]["buckets"], Json::array());
}

TEST_F(BadInput, InvalidNames) {
    const std::string names[] = {"",
                                 ".x",
                                 "-x",
                                 ".",
                                 "-",
                                 "a b",
                                 "a/b",
                                 "../etc",
                                 "a\nb",
                                 std::string(129, 'n'),
                                 "caf\xc3\xa9",
                                 "a\\b",
                                 "a\"b",
                                 "a*",
                                 std::string("a\0b", 3)};
    for (const std::string& name : names) {
        for (std::string_view op : {"create", "lookup", "stop", "kill", "keys"}) {
            Json reply = call(op, {{"bucket", name}});
            EXPECT_TRUE(is_error(reply, "invalid_name")) << op << " " << Json(name).dump();
        }
        EXPECT_TRUE(is_error(call("put", {{"bucket", name}, {"key", "k"}, {"value", "v"}}),
                             "invalid_name"));
        EXPECT_TRUE(is_error(call("get", {{"bucket", name}, {"key", "k"}}), "invalid_name"));
        EXPECT_TRUE(is_error(call("delete", {{"bucket", name}, {"key", "k"}}), "invalid_name"));
    }
    EXPECT_EQ(call("list")["result"]["buckets"], Json::array());
    EXPECT_TRUE(kvd().running());
}

TEST_F(BadInput, NameEdgesThatAreValid) {
    for (std::string name : {std::string(128, 'n'), std::string("a"), std::string("0"),
                             std::string("_"), std::string(":"), std::string("a.-_:Z9")}) {
        Json reply = call("create", {{"bucket", name}});
        EXPECT_TRUE(is_ok(reply)) << name;
        EXPECT_GT(lookup_pid(name), 0) << name;
    }
}

TEST_F(BadInput, CrlfLineEndingsAreAccepted) {
    ASSERT_TRUE(client().send_raw("{\"id\":1,\"op\":\"ping\"}\r\n{\"id\":2,\"op\":\"ping\"}\r\n"));
    for (int id = 1; id <= 2; ++id) {
        auto reply = client().read_json();
        ASSERT_TRUE(reply.has_value());
        EXPECT_TRUE(is_ok(*reply));
        EXPECT_EQ((*reply)["id"], id);
    }
}

TEST_F(BadInput, LineOfExactlyTheLimitIsAccepted) {
    std::string line = R"({"id":"max","op":"ping"})";
    line.append(kMaxLine - line.size(), ' ');
    ASSERT_EQ(line.size(), kMaxLine);
    ASSERT_TRUE(client().send_line(line));
    auto reply = client().read_json();
    ASSERT_TRUE(reply.has_value()) << (client().eof() ? "closed" : "no reply");
    EXPECT_TRUE(is_ok(*reply));
    EXPECT_EQ((*reply)["id"], "max");
}

TEST_F(BadInput, LineOverTheLimitGetsLimitAndIsClosed) {
    auto other = connect();
    ASSERT_TRUE(other->connected());

    Client& c = client();
    // A pending request before the long line is still answered, in order.
    ASSERT_TRUE(c.send_line(R"({"id":"before","op":"ping"})"));
    std::string line = R"({"id":"long","op":"ping"})";
    line.append(kMaxLine + 1 - line.size(), ' ');
    c.send_line(line);  // kvd may hang up before it has read every byte
    auto first = c.read_json();
    ASSERT_TRUE(first.has_value());
    EXPECT_TRUE(is_ok(*first));
    EXPECT_EQ((*first)["id"], "before");
    auto second = c.read_json();
    ASSERT_TRUE(second.has_value()) << "no limit error before the connection closed";
    EXPECT_TRUE(is_error(*second, "limit"));
    EXPECT_TRUE(c.wait_eof()) << "kvd kept the connection open after an over-long line";

    EXPECT_TRUE(is_ok(other->call("ping"))) << "another connection stopped working";
    EXPECT_TRUE(is_ok(connect()->call("ping"))) << "new connections are refused";
}

TEST_F(BadInput, EndlessLineWithoutNewline) {
    // 3 MiB and no newline: kvd must give up at the limit instead of buffering it all.
    Client& c = client();
    std::string chunk(64 * 1024, 'x');
    std::size_t sent = 0;
    while (sent < 3 * kMaxLine && c.send_raw(chunk, 2s)) sent += chunk.size();
    auto reply = c.read_json();
    ASSERT_TRUE(reply.has_value());
    EXPECT_TRUE(is_error(*reply, "limit"));
    EXPECT_TRUE(c.wait_eof());
    EXPECT_TRUE(is_ok(connect()->call("ping")));
}

TEST_F(BadInput, RandomBytesThenAPing) {
    std::mt19937 rng(12345);
    std::string junk;
    for (int i = 0; i < 200'000; ++i) junk += static_cast<char>(rng() % 256);
    junk += "\n";
    Client& c = client();
    ASSERT_TRUE(c.send_raw(junk));
    ASSERT_TRUE(c.send_line(R"({"id":"after-junk","op":"ping"})"));
    // One bad_request per junk line, then the ping.
    for (;;) {
        auto reply = c.read_json();
        ASSERT_TRUE(reply.has_value()) << (c.eof() ? "closed" : "no reply");
        if ((*reply)["id"] == "after-junk") {
            EXPECT_TRUE(is_ok(*reply));
            break;
        }
        ASSERT_TRUE(is_error(*reply, "bad_request"));
    }
}

TEST_F(BadInput, DeeplyNestedJson) {
    // Deep nesting must be refused or handled, never overflow kvd's stack.
    const std::size_t depth = 100'000;
    std::string nested = std::string(depth, '[') + std::string(depth, ']');
    Client& c = client();
    ASSERT_TRUE(c.send_line(nested));
    auto r1 = c.read_json();
    ASSERT_TRUE(r1.has_value()) << "kvd died or went silent on a deeply nested array";
    EXPECT_TRUE(is_error(*r1, "bad_request"));

    ASSERT_TRUE(c.send_line(R"({"id":"deep-arg","op":"ping","x":)" + nested + "}"));
    auto r2 = c.read_json();
    ASSERT_TRUE(r2.has_value()) << "kvd died or went silent on a deeply nested argument";

    ASSERT_TRUE(c.send_line(R"({"op":"ping","id":)" + nested + "}"));
    auto r3 = c.read_json();
    ASSERT_TRUE(r3.has_value()) << "kvd died or went silent on a deeply nested id";
    EXPECT_TRUE(kvd().running());
    EXPECT_TRUE(is_ok(connect()->call("ping")));
}

TEST_F(BadInput, ClientsThatVanishMidRequest) {
    for (int i = 0; i < 50; ++i) {
        Client c(kvd().socket_path());
        ASSERT_TRUE(c.connected());
        c.send_raw(R"({"id":1,"op":"cre)");  // half a line, then gone
    }
    for (int i = 0; i < 20; ++i) {
        Client c(kvd().socket_path());
        ASSERT_TRUE(c.connected());
        // Requests whose replies nobody will read, one of them deferred (create).
        c.send_raw(R"({"op":"create","bucket":"orphan)" + std::to_string(i) + "\"}\n" +
                   R"({"op":"ping"})"
                   "\n");
    }
    EXPECT_TRUE(is_ok(call("ping")));
    // Whatever became of the abandoned creates, the registry is consistent with the processes.
    Json list = call("list");
    ASSERT_TRUE(is_ok(list));
    for (const Json& b : list["result"]["buckets"])
        EXPECT_TRUE(process_alive(b["pid"].get<pid_t>())) << b.dump();
    EXPECT_TRUE(kvd().running());
}

TEST_F(BadInput, ServerKeepsServingAfterEverything) {
    // The other tests each end with a ping; this one checks the process as a whole.
    for (std::string_view line : {"", "x", "[]", "{}", R"({"op":1})", R"({"op":"nope"})",
                                  R"({"op":"create"})", R"({"op":"create","bucket":"-"})"}) {
        client().send_line(line);
    }
    for (int i = 0; i < 8; ++i) ASSERT_TRUE(client().read_json().has_value());
    pid_t pid = create("still-works");
    EXPECT_GT(pid, 0);
    EXPECT_TRUE(kvd().running());
}

}  // namespace
}  // namespace kvd::test
