#include "daemon/logs/log_line.hpp"

#include <fmt/format.h>

#include "common/utf8.hpp"

namespace kvd::logs {

std::string_view stream_name(Stream s) {
    return s == Stream::out ? "stdout" : "stderr";
}

std::string line_text(std::string_view raw, std::size_t cut_bytes) {
    std::string out;
    out.reserve(raw.size() + (cut_bytes ? 32 : 0));
    const char* p = raw.data();
    const char* end = p + raw.size();
    while (p < end) {
        const char* ascii = p;
        while (ascii < end && static_cast<unsigned char>(*ascii) < 0x80) ++ascii;
        out.append(p, ascii);
        p = ascii;
        if (p == end) break;
        std::size_t n = utf8::sequence_length(p, end);
        if (n == 0) {
            out.append("\xEF\xBF\xBD");  // U+FFFD
            ++p;
        } else {
            out.append(p, n);
            p += n;
        }
    }
    if (cut_bytes > 0)
        fmt::format_to(std::back_inserter(out), "\xE2\x80\xA6[cut {} bytes]", cut_bytes);
    return out;
}

void append_json_string(std::string& out, std::string_view text) {
    static constexpr char kHex[] = "0123456789abcdef";
    out.push_back('"');
    std::size_t run = 0;  // start of the bytes copied as they are
    for (std::size_t i = 0; i < text.size(); ++i) {
        auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        out.append(text.substr(run, i - run));
        run = i + 1;
        switch (c) {
            case '"':
                out.append("\\\"");
                break;
            case '\\':
                out.append("\\\\");
                break;
            case '\n':
                out.append("\\n");
                break;
            case '\t':
                out.append("\\t");
                break;
            case '\r':
                out.append("\\r");
                break;
            default:
                out.append("\\u00");
                out.push_back(kHex[c >> 4]);
                out.push_back(kHex[c & 0xf]);
        }
    }
    out.append(text.substr(run));
    out.push_back('"');
}

std::string follow_line(const LogEntry& entry) {
    std::string out;
    out.reserve(entry.text.size() + 80);
    out.append(R"({"stream":")");
    out.append(stream_name(entry.stream));
    out.append(R"(","line":)");
    append_json_string(out, entry.text);
    out.append(R"(,"time":")");
    append_rfc3339(out, entry.time);
    out.append("\"}\n");
    return out;
}

std::string file_line(const LogEntry& entry) {
    std::string out;
    out.reserve(entry.text.size() + 40);
    append_rfc3339(out, entry.time);
    out.push_back(' ');
    out.append(stream_name(entry.stream));
    out.push_back(' ');
    out.append(entry.text);
    out.push_back('\n');
    return out;
}

}  // namespace kvd::logs
