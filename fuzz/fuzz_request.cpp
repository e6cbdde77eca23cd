// Fuzzes the control socket's way in: bytes framed by LineBuffer at the wire limit, each line
// through parse_request and then check_args against every op of the table (what the op's
// function may rely on once they pass), the reply that echoes the request's id read back by
// parse_reply as kvctl reads it, and the whole request run by the ops against fakes of kvd
// through both parsers, which must agree on every answer and on what kvd is asked to do.
#include <string>
#include <string_view>
#include <variant>

#include "common/line_buffer.hpp"
#include "common/protocol.hpp"
#include "common/wire.hpp"
#include "daemon/ops/ops.hpp"
#include "fuzz/fuzz_support.hpp"
#include "tests/unit/ops/fake_host.hpp"

namespace kvd::fuzz {
namespace {

// The reply kvd sends for a request with this id must carry the id back unchanged.
void check_echo(const Json& id, const std::string& message) {
    std::string line = reply_error(id, wire::ErrorCode::bad_request, message);
    FUZZ_CHECK(line.find('\n') == line.size() - 1, "a reply is not exactly one line");
    line.pop_back();
    auto reply = parse_reply(line);
    FUZZ_CHECK(reply.has_value(), "kvctl cannot read kvd's error reply");
    FUZZ_CHECK(!reply->ok && reply->error.code == "bad_request");
    FUZZ_CHECK(reply->id == id, "the echoed id changed");
    FUZZ_CHECK(reply->error.message == message);

    line = reply_ok(id, Json{{"echo", id}});
    line.pop_back();
    reply = parse_reply(line);
    FUZZ_CHECK(reply && reply->ok && reply->id == id && reply->result["echo"] == id);
}

bool argument_holds(const Json& v, ArgType type) {
    switch (type) {
        case ArgType::string:
            return v.is_string();
        case ArgType::integer:
            return v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0);
        case ArgType::boolean:
            return v.is_boolean();
        case ArgType::string_list:
            if (!v.is_array()) return false;
            for (const auto& e : v)
                if (!e.is_string()) return false;
            return true;
        case ArgType::any:
            return true;
    }
    return false;
}

void fuzz_line(std::string_view line) {
    auto parsed = parse_request(line);
    if (auto* error = std::get_if<RequestError>(&parsed)) {
        FUZZ_CHECK(!error->message.empty());
        check_echo(error->id, error->message);
        return;
    }
    const Request& request = std::get<Request>(parsed);
    FUZZ_CHECK(json_depth(line) <= kMaxJsonDepth, "a request nested too deep was taken");
    FUZZ_CHECK(request.body.is_object());
    auto op = request.body.find("op");
    FUZZ_CHECK(op != request.body.end() && op->is_string() && *op == request.op);

    for (const OpSpec& spec : op_table()) {
        std::string problem = check_args(spec, Args(request.body));
        FUZZ_CHECK(problem.find('\n') == std::string::npos);
        if (!problem.empty()) {
            if (&spec == find_op(request.op)) check_echo(request.id, problem);
            continue;
        }
        // Passed: every op function reads its arguments without checking them again.
        for (const ArgSpec& arg : spec.args) {
            auto it = request.body.find(arg.name);
            bool present = it != request.body.end() && !it->is_null();
            if (arg.required) FUZZ_CHECK(present, "check_args passed without a required argument");
            if (present) FUZZ_CHECK(argument_holds(*it, arg.type), "check_args passed a bad type");
        }
    }
    if (!find_op(request.op)) check_echo(request.id, "unknown op '" + request.op + "'");
}

// One fake kvd with a bucket `a` that answers every request.
struct FakeKvd {
    FakeKvd() { host.add_bucket("a", 10).answer = R"({"ok":true,"result":{}})"; }
    testing::FakeHost host;
    testing::FakeClient client;
    std::shared_ptr<testing::ReplyRecorder> replies = std::make_shared<testing::ReplyRecorder>();
};

void run_both_ways(std::string_view line) {
    FakeKvd fast, slow;
    uint64_t a = testing::dispatch(fast.host, fast.client, fast.replies, line, Parser::fastest);
    uint64_t b = testing::dispatch(slow.host, slow.client, slow.replies, line, Parser::nlohmann);
    FUZZ_CHECK(fast.replies->lines.count(a) == 1 && fast.replies->answers[a] == 1,
               "a request was not answered exactly once");
    FUZZ_CHECK(fast.replies->lines[a] == slow.replies->lines[b], "the parsers answer differently");
    const std::string& reply = fast.replies->lines[a];
    FUZZ_CHECK(!reply.empty() && reply.find('\n') == reply.size() - 1, "a reply is not one line");
    FUZZ_CHECK(parse_reply(std::string_view(reply).substr(0, reply.size() - 1)).has_value(),
               "kvctl cannot read the reply");
    testing::FakeBucket* fa = fast.host.bucket("a");
    testing::FakeBucket* sa = slow.host.bucket("a");
    FUZZ_CHECK((fa == nullptr) == (sa == nullptr));
    if (fa) FUZZ_CHECK(fa->lines == sa->lines, "the parsers sent the bucket different lines");
    FUZZ_CHECK(fast.host.created == slow.host.created);
    FUZZ_CHECK(fast.host.published.size() == slow.host.published.size());
    for (std::size_t i = 0; i < fast.host.published.size(); ++i)
        FUZZ_CHECK(fast.host.published[i].data_json == slow.host.published[i].data_json);
}

}  // namespace
}  // namespace kvd::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    using namespace kvd::fuzz;
    std::string_view stream = as_text(data, size);
    // As a connection reads it: framed in whatever pieces the socket delivers.
    kvd::LineBuffer buffer(kvd::wire::kMaxLineBytes);
    InputRandom random(stream);
    std::string line;
    for (std::string_view chunk : random_chunks(stream, 64, random)) {
        if (!buffer.append(chunk)) break;
        while (buffer.next_line(line)) {
            fuzz_line(line);
            run_both_ways(line);
        }
    }
    // And the whole input as one line, newlines and all.
    fuzz_line(stream);
    run_both_ways(stream);
    return 0;
}
