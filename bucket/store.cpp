#include "bucket/store.hpp"

#include "common/protocol.hpp"

namespace kvd {

namespace {
std::string ok(const Json& result) {
    return dump_line(Json{{"ok", true}, {"result", result}}) + '\n';
}
std::string error(std::string_view code, std::string_view message) {
    return dump_line(Json{{"ok", false}, {"error", {{"code", code}, {"message", message}}}}) + '\n';
}
// The string field `name` of `req`, or nullptr when it is missing or not a string.
const std::string* string_field(const Json& req, const char* name) {
    auto it = req.find(name);
    if (it == req.end() || !it->is_string()) return nullptr;
    return it->get_ptr<const std::string*>();
}
}  // namespace

std::string Store::handle_line(std::string_view line) {
    Json req = Json::parse(line.begin(), line.end(), nullptr, false);
    if (req.is_discarded() || !req.is_object()) return error("bad_request", "request is not a JSON object");
    const std::string* op = string_field(req, "op");
    if (!op) return error("bad_request", "request has no string \"op\"");

    if (*op == "keys") {
        Json keys = Json::array();
        for (const auto& [k, v] : map_) keys.push_back(k);
        return ok({{"keys", std::move(keys)}});
    }
    const std::string* key = string_field(req, "key");
    if (!key) return error("bad_request", "\"key\" must be a string");
    if (*op == "get") {
        auto it = map_.find(*key);
        if (it == map_.end()) return error("not_found", "no key '" + *key + "'");
        return ok({{"value", it->second}});
    }
    if (*op == "put") {
        const std::string* value = string_field(req, "value");
        if (!value) return error("bad_request", "\"value\" must be a string");
        map_.insert_or_assign(*key, *value);
        return ok(Json::object());
    }
    if (*op == "delete") {
        bool deleted = map_.erase(*key) > 0;
        return ok({{"deleted", deleted}});
    }
    return error("bad_request", "unknown op '" + *op + "'");
}

}  // namespace kvd
