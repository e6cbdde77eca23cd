// The TOML front end: limits, UTF-8, syntax scan, toml11; see toml_front.hpp.
#include "daemon/config/toml_front.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <optional>
#include <sstream>

#include "common/utf8.hpp"

namespace kvd {

namespace {

// The line and column of byte `offset`; columns count bytes, as toml11's do.
TomlPosition position_of(std::string_view text, std::size_t offset) {
    std::string_view before = text.substr(0, offset);
    std::size_t newline = before.rfind('\n');
    std::size_t line_start = newline == std::string_view::npos ? 0 : newline + 1;
    return {1 + static_cast<int>(std::count(before.begin(), before.end(), '\n')),
            static_cast<int>(offset - line_start) + 1};
}

// toml11 appends a '\n' to text that does not end in one, so a location at the very end of
// such text is on the line after the last: it is moved to just past the last character.
TomlPosition within_text(const toml::source_location& location, std::string_view text) {
    TomlPosition at{static_cast<int>(location.line()), static_cast<int>(location.column())};
    int lines = 1 + static_cast<int>(std::count(text.begin(), text.end(), '\n'));
    if (at.line > lines) at = position_of(text, text.size());
    return at;
}

// Whether toml11 parses `token` as a value on its own.
bool is_valid_scalar(std::string_view token) {
    std::istringstream stream("x = " + std::string(token) + "\n");
    try {
        toml::parse(stream, "scalar");
        return true;
    } catch (const std::exception&) {
        return false;
    }
}

// Says why toml11 refused text the syntax scan accepted, `refused_at` being toml11's location
// (nullopt if it threw without one). Scanned again, now with every scalar checked by toml11, the
// text shows either a scalar toml11 cannot read or, when each one is fine, a key that conflicts
// with one before it (toml11 locates that second definition): the grammar is right, so
// nothing else is left to refuse.
TomlProblem describe_refusal(std::string_view text, std::optional<TomlPosition> refused_at) {
    TomlScan scan = scan_toml(text, is_valid_scalar);
    if (scan.problem) return *scan.problem;
    if (refused_at) {
        const TomlDefinition* culprit = nullptr;
        for (const TomlDefinition& d : scan.definitions) {
            if (d.value.line != refused_at->line && d.key.line != refused_at->line) continue;
            // On that line, the one whose value toml11 points at, else the first.
            if (!culprit ||
                (d.value.line == refused_at->line && d.value.column == refused_at->column))
                culprit = &d;
        }
        if (culprit) {
            return TomlProblem{culprit->value,
                               fmt::format("{} conflicts with an earlier definition",
                                           culprit->written.front() == '['
                                               ? culprit->written
                                               : fmt::format("'{}'", culprit->written))};
        }
        return TomlProblem{*refused_at, "not valid TOML"};
    }
    return TomlProblem{{1, 1}, "not valid TOML"};
}

}  // namespace

TomlResult parse_toml(std::string_view text, const std::string& file) {
    if (text.size() > kMaxConfigBytes) {
        return TomlProblem{
            {},
            fmt::format("larger than {} KiB, the most a config may be", kMaxConfigBytes / 1024)};
    }
    // toml11 checks UTF-8 only per string, and its error path for a literal string with a bad
    // byte read outside the text (found by fuzz_config): the whole text is checked first.
    if (auto bad = utf8::first_invalid(text)) {
        return TomlProblem{position_of(text, *bad),
                           fmt::format("invalid UTF-8 (byte 0x{:02x}); a config must be UTF-8 text",
                                       static_cast<unsigned char>(text[*bad]))};
    }
    if (TomlScan scan = scan_toml(text); scan.problem) return std::move(*scan.problem);

    std::optional<TomlPosition> refused_at;
    try {
        std::istringstream stream{std::string(text)};
        return toml::parse(stream, file);
    } catch (const toml::exception& e) {
        refused_at = within_text(e.location(), text);
    } catch (const std::exception&) {
        // toml11 also throws standard exceptions, without a location.
    }
    return describe_refusal(text, refused_at);
}

std::variant<std::string, TomlProblem> read_toml_text(const std::string& path) {
    auto cannot_read = [](int err) {
        return TomlProblem{{}, fmt::format("cannot read: {}", std::strerror(err))};
    };
    std::FILE* file = std::fopen(path.c_str(), "rb");
    if (!file) return cannot_read(errno);
    std::string text;
    char buffer[8192];
    std::size_t n;
    while (text.size() <= kMaxConfigBytes && (n = std::fread(buffer, 1, sizeof buffer, file)) > 0)
        text.append(buffer, n);
    int read_errno = std::ferror(file) ? (errno != 0 ? errno : EIO) : 0;
    std::fclose(file);
    if (read_errno != 0) return cannot_read(read_errno);
    return text;
}

}  // namespace kvd
