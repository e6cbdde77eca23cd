// A strict reader of the Prometheus text exposition format (version 0.0.4), for the tests of
// kvd's metrics: every line is empty, a comment (# HELP, # TYPE, or other), or one sample
// `name{label="value",...} value`. Header-only, no dependencies beyond the standard library.
#pragma once

#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kvd::test {

struct Exposition {
    // Each sample by its series as written, "name" or "name{a=\"x\",b=\"y\"}".
    std::map<std::string, double> samples;
    // # TYPE lines: metric name -> counter | gauge | histogram | summary | untyped.
    std::map<std::string, std::string> types;
    // Lines that are none of the above, for the failure message.
    std::vector<std::string> bad_lines;

    bool has(const std::string& series) const { return samples.count(series) > 0; }
    double value(const std::string& series) const {
        auto it = samples.find(series);
        return it == samples.end() ? NAN : it->second;
    }
    // The sum of every sample of metric `name` (any labels).
    double sum_of(std::string_view name) const {
        double total = 0;
        for (const auto& [series, v] : samples)
            if (series == name ||
                (series.size() > name.size() && series.compare(0, name.size(), name) == 0 &&
                 series[name.size()] == '{'))
                total += v;
        return total;
    }
};

namespace exposition_detail {

inline bool name_start(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}
inline bool name_char(char c) {
    return name_start(c) || (c >= '0' && c <= '9');
}

// A sample value: a float, or NaN / +Inf / -Inf in any case (Go's ParseFloat takes them).
inline std::optional<double> parse_value(std::string_view text) {
    std::string s(text);
    if (s.empty()) return std::nullopt;
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (end != s.c_str() + s.size()) return std::nullopt;
    return v;
}

// `name{labels}` at the start of `line`; the length taken, or 0 when malformed.
inline std::size_t parse_series(std::string_view line) {
    std::size_t i = 0;
    if (line.empty() || !name_start(line[0])) return 0;
    while (i < line.size() && name_char(line[i])) ++i;
    if (i < line.size() && line[i] == '{') {
        ++i;
        while (i < line.size() && line[i] != '}') {
            if (!name_start(line[i])) return 0;
            while (i < line.size() && name_char(line[i])) ++i;
            if (line.substr(i, 2) != "=\"") return 0;
            i += 2;
            while (i < line.size() && line[i] != '"') i += line[i] == '\\' ? 2 : 1;
            if (i >= line.size()) return 0;
            ++i;  // the closing quote
            if (i < line.size() && line[i] == ',') ++i;
        }
        if (i >= line.size()) return 0;
        ++i;  // '}'
    }
    return i;
}

}  // namespace exposition_detail

inline Exposition parse_exposition(std::string_view text) {
    using namespace exposition_detail;
    Exposition out;
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(start, end - start);
        start = end + 1;
        if (line.empty()) continue;
        if (line[0] == '#') {
            if (line.rfind("# TYPE ", 0) == 0) {
                std::string_view rest = line.substr(7);
                std::size_t space = rest.find(' ');
                if (space == std::string_view::npos)
                    out.bad_lines.emplace_back(line);
                else
                    out.types[std::string(rest.substr(0, space))] = rest.substr(space + 1);
            }
            continue;
        }
        std::size_t taken = parse_series(line);
        if (taken == 0 || taken >= line.size() || line[taken] != ' ') {
            out.bad_lines.emplace_back(line);
            continue;
        }
        // An optional timestamp may follow the value.
        std::string_view rest = line.substr(taken + 1);
        std::size_t space = rest.find(' ');
        auto value = parse_value(rest.substr(0, space));
        if (!value) {
            out.bad_lines.emplace_back(line);
            continue;
        }
        out.samples[std::string(line.substr(0, taken))] = *value;
    }
    return out;
}

}  // namespace kvd::test
