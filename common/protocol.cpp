#include "common/protocol.hpp"

namespace kvd {

// nlohmann parses iteratively, but copies, compares and dumps values recursively: a request
// of 30 000 nested '[' (60 KB, well under the line limit) would overflow kvd's stack when
// its id is echoed or its data published. Such requests are refused before parsing.
bool nests_deeper_than(std::string_view text, std::size_t max_depth) {
    std::size_t depth = 0;
    bool in_string = false, escaped = false;
    for (char c : text) {
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max_depth) return true;
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return false;
}

namespace {
bool nests_too_deep(std::string_view line) {
    return nests_deeper_than(line, kMaxNestingDepth);
}
}  // namespace

std::variant<Request, RequestError> parse_request(std::string_view line) {
    if (nests_too_deep(line))
        return RequestError{nullptr, "request is nested more than 256 levels deep"};
    Json j = Json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return RequestError{nullptr, "request is not valid JSON"};
    if (!j.is_object()) return RequestError{nullptr, "request must be a JSON object"};
    Json id = nullptr;
    if (auto it = j.find("id"); it != j.end()) id = *it;
    auto op = j.find("op");
    if (op == j.end()) return RequestError{id, "request has no \"op\""};
    if (!op->is_string()) return RequestError{id, "\"op\" must be a string"};
    return Request{std::move(id), op->get<std::string>(), std::move(j)};
}

std::string dump_line(const Json& j) {
    return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string reply_ok(const Json& id, const Json& result) {
    return reply_ok_text(dump_line(id), dump_line(result));
}

std::string reply_error(const Json& id, wire::ErrorCode code, std::string_view message) {
    return reply_error_text(dump_line(id), code, message);
}

// Json objects keep their keys sorted, so a reply always reads id, ok, result (or error, id,
// ok): the order these spell out.
std::string reply_ok_text(std::string_view id_json, std::string_view result_json) {
    constexpr std::string_view kHead = R"({"id":)", kOk = R"(,"ok":true,"result":)";
    std::string line;
    line.reserve(kHead.size() + id_json.size() + kOk.size() + result_json.size() + 2);
    line += kHead;
    line += id_json;
    line += kOk;
    line += result_json;
    line += "}\n";
    return line;
}

std::string reply_error_text(std::string_view id_json, wire::ErrorCode code,
                             std::string_view message) {
    std::string line = R"({"error":{"code":")";
    line += wire::error_code_name(code);
    line += R"(","message":)";
    line += dump_line(Json(message));
    line += R"(},"id":)";
    line += id_json;
    line += R"(,"ok":false})";
    line += '\n';
    return line;
}

std::optional<Reply> parse_reply(std::string_view line) {
    // kvd never nests a reply deeper than the requests it accepts; a deeper line (from
    // something else on the socket) would overflow kvctl's stack when its id is copied.
    if (nests_too_deep(line)) return std::nullopt;
    Json j = Json::parse(line.begin(), line.end(), nullptr, false);
    if (j.is_discarded() || !j.is_object()) return std::nullopt;
    auto ok = j.find("ok");
    if (ok == j.end() || !ok->is_boolean()) return std::nullopt;
    Reply r;
    if (auto id = j.find("id"); id != j.end()) r.id = *id;
    r.ok = ok->get<bool>();
    if (r.ok) {
        auto res = j.find("result");
        r.result = res == j.end() ? Json::object() : *res;
    } else {
        auto err = j.find("error");
        if (err == j.end() || !err->is_object()) return std::nullopt;
        // Checked by hand: json::value() throws when the field has another type.
        auto code = err->find("code");
        if (code == err->end())
            r.error.code = "internal";
        else if (code->is_string())
            r.error.code = code->get<std::string>();
        else
            return std::nullopt;
        auto message = err->find("message");
        if (message != err->end() && message->is_string())
            r.error.message = message->get<std::string>();
    }
    r.raw = std::move(j);
    return r;
}

}  // namespace kvd
