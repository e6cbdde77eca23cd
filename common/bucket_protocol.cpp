#include "common/bucket_protocol.hpp"

namespace kvd::bucket_protocol {

std::string request_line(std::string_view op, const std::string* key, const std::string* value) {
    Json j = {{"op", op}};
    if (key) j["key"] = *key;
    if (value) j["value"] = *value;
    return dump_line(j) + '\n';
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
