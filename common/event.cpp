#include "common/event.hpp"

#include <charconv>

#include "common/signals.hpp"
#include "common/wire.hpp"

namespace kvd {

namespace {

template <typename Int>
void append_int(std::string& out, Int v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

// `s` as a JSON string, as dump_line() writes it. Printable ASCII without a quote or a
// backslash (every string kvd makes, most event types) is copied; anything else goes through
// nlohmann, which escapes and replaces invalid UTF-8.
void append_string(std::string& out, std::string_view s) {
    for (unsigned char c : s)
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
            out += dump_line(Json(s));
            return;
        }
    out += '"';
    out += s;
    out += '"';
}

}  // namespace

std::string Event::to_line() const {
    std::string out;
    out.reserve(96 + type.size() + bucket.size() + data_json.size());
    out += R"({"seq":)";
    append_int(out, seq);
    out += R"(,"type":)";
    append_string(out, type);
    if (type == wire::event::kCreate || type == wire::event::kExit) {
        out += R"(,"bucket":)";
        append_string(out, bucket);
        out += R"(,"pid":)";
        append_int(out, pid);
        if (type == wire::event::kCreate) {
            if (!kind.empty()) {
                out += R"(,"kind":)";
                append_string(out, kind);
            }
            if (restart) {
                out += R"(,"restart":)";
                append_int(out, *restart);
            }
        }
    }
    if (type == wire::event::kFailed) {
        out += R"(,"bucket":)";
        append_string(out, bucket);
        out += R"(,"restarts":)";
        append_int(out, restart.value_or(0));
    } else if (type == wire::event::kExit) {
        out += R"(,"code":)";
        if (code)
            append_int(out, *code);
        else
            out += "null";
        out += R"(,"signal":)";
        if (signal)
            append_string(out, signal_name(*signal));
        else
            out += "null";
        out += R"(,"reason":)";
        append_string(out, reason);
    } else if (type == wire::event::kDropped) {
        out += R"(,"count":)";
        append_int(out, count);
    } else if (type != wire::event::kCreate && type != wire::event::kFailed) {
        out += R"(,"data":)";
        if (!data_json.empty())
            out += data_json;
        else
            out += dump_line(data);
    }
    out += R"(,"time":")";
    append_rfc3339(out, time);
    out += "\"}\n";
    return out;
}

}  // namespace kvd
