#include "bucket/store.hpp"

#include "common/args.hpp"
#include "common/json_scan.hpp"
#include "common/protocol.hpp"

namespace kvd {

namespace {
// Each reply is `{"ok":true,"result":{…}}` (keys sorted, as nlohmann writes them).
constexpr std::string_view kOkHead = R"({"ok":true,"result":)";
constexpr std::string_view kOkTail = "}\n";

void error(std::string& out, std::string_view code, std::string_view message) {
    out += dump_line(Json{{"ok", false}, {"error", {{"code", code}, {"message", message}}}});
    out += '\n';
}
// A key as a JSON string, as nlohmann writes it: only '"', '\\' and control characters are
// escaped (and keys are valid UTF-8, having arrived as JSON).
void append_json_string(std::string& out, const std::string& s) {
    for (unsigned char c : s)
        if (c < 0x20 || c == '"' || c == '\\') {
            out += dump_line(Json(s));
            return;
        }
    out += '"';
    out += s;
    out += '"';
}
// The length of append_json_string's output for `s`.
std::size_t json_string_size(const std::string& s) {
    for (unsigned char c : s)
        if (c < 0x20 || c == '"' || c == '\\') return dump_line(Json(s)).size();
    return s.size() + 2;
}
}  // namespace

void Store::handle_line(std::string_view line, std::string& out) {
    // kvd's own lines take the scanner; anything else is read by nlohmann. Both give the
    // same Args, so a request is served the same way whichever read it.
    json_scan::Object scanned;
    if (json_scan::scan_object(line, scanned) && Args::readable(scanned))
        return handle(Args(scanned), out);
    Json req = Json::parse(line.begin(), line.end(), nullptr, false);
    if (req.is_discarded() || !req.is_object())
        return error(out, "bad_request", "request is not a JSON object");
    handle(Args(req), out);
}

void Store::put_value(std::string_view key, std::string_view value_json) {
    if (auto it = map_.find(key); it != map_.end())
        it->second.assign(value_json);
    else
        map_.emplace(std::string(key), std::string(value_json));
}

void Store::append_keys(std::string& out) const {
    const std::size_t start = out.size();
    out += kOkHead;
    out += R"({"keys":[)";
    bool first = true;
    for (auto it = map_.begin(); it != map_.end(); ++it) {
        if (!first) out += ',';
        first = false;
        append_json_string(out, it->first);
        if (out.size() - start > max_reply_bytes_) {
            // Too big to send: say how big, and send nothing of it. Counting the rest costs
            // no memory.
            std::size_t total = out.size() - start;
            for (++it; it != map_.end(); ++it) total += 1 + json_string_size(it->first);
            total += 2 + kOkTail.size();
            out.resize(start);
            return error(out, "limit",
                         "the keys reply would be " + std::to_string(total) + " bytes (" +
                             std::to_string(map_.size()) + " keys), over the " +
                             std::to_string(max_reply_bytes_) +
                             "-byte bound of one reply (max_reply_bytes)");
        }
    }
    out += "]}";
    out += kOkTail;
}

void Store::apply(std::string_view op, std::string_view key, std::string_view value_json,
                  std::string& out) {
    if (op == "get") {
        auto it = map_.find(key);
        if (it == map_.end()) return error(out, "not_found", "no key '" + std::string(key) + "'");
        out += kOkHead;
        out += R"({"value":)";
        out += it->second;
        out += '}';
    } else if (op == "put") {
        put_value(key, value_json);
        out += kOkHead;
        out += "{}";
    } else {  // delete
        auto it = map_.find(key);
        bool deleted = it != map_.end();
        if (deleted) map_.erase(it);
        out += kOkHead;
        out += deleted ? R"({"deleted":true})" : R"({"deleted":false})";
    }
    out += kOkTail;
}

void Store::handle(const Args& req, std::string& out) {
    using Type = Args::Type;
    if (req.type("op") != Type::string)
        return error(out, "bad_request", "request has no string \"op\"");
    std::string_view op = req.str("op");
    if (op == "keys") return append_keys(out);
    if (req.type("key") != Type::string)
        return error(out, "bad_request", "\"key\" must be a string");
    std::string_view key = req.str("key");
    if (op == "put") {
        if (req.type("value") != Type::string)
            return error(out, "bad_request", "\"value\" must be a string");
        std::string scratch;
        return apply(op, key, req.json("value", scratch), out);
    }
    if (op == "get" || op == "delete") return apply(op, key, {}, out);
    return error(out, "bad_request", "unknown op '" + std::string(op) + "'");
}

}  // namespace kvd
