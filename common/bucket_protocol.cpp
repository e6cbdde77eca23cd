#include "common/bucket_protocol.hpp"

namespace kvd::bucket_protocol {

std::string request_line(std::string_view op, const std::string* key, const std::string* value) {
    return request_line_json(op, key ? dump_line(Json(*key)) : std::string(),
                             value ? dump_line(Json(*value)) : std::string());
}

std::string request_line_json(std::string_view op, std::string_view key_json,
                              std::string_view value_json) {
    std::string line;
    line.reserve(32 + op.size() + key_json.size() + value_json.size());
    // `op` is one of the wire's op names: plain ASCII, nothing to escape.
    line += R"({"op":")";
    line += op;
    line += '"';
    if (!key_json.empty()) {
        line += R"(,"key":)";
        line += key_json;
    }
    if (!value_json.empty()) {
        line += R"(,"value":)";
        line += value_json;
    }
    line += "}\n";
    return line;
}

std::optional<BucketReply> parse_reply(std::string_view line) {
    Json j = Json::parse(line.begin(), line.end(), nullptr, false);
    if (j.is_discarded() || !j.is_object()) return std::nullopt;
    auto ok = j.find("ok");
    if (ok == j.end() || !ok->is_boolean()) return std::nullopt;
    BucketReply r;
    r.ok = ok->get<bool>();
    if (r.ok) {
        auto res = j.find("result");
        if (res == j.end() || !res->is_object()) return std::nullopt;
        r.result = std::move(*res);
        return r;
    }
    auto err = j.find("error");
    if (err == j.end() || !err->is_object()) return std::nullopt;
    auto code = err->find("code");
    auto message = err->find("message");
    if (code == err->end() || !code->is_string()) return std::nullopt;
    r.code = code->get<std::string>();
    if (message != err->end() && message->is_string()) r.message = message->get<std::string>();
    return r;
}

}  // namespace kvd::bucket_protocol
