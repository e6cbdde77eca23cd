#include "fleet/settings.hpp"

#include <unistd.h>

#include <toml.hpp>

#include "fleet/names.hpp"

namespace kvd::fleet {

namespace {

std::string where(const toml::value& v, const std::string& path) {
    const toml::source_location loc = v.location();
    return path + ":" + std::to_string(loc.line()) + ":" + std::to_string(loc.column()) + ": ";
}

}  // namespace

std::string load_settings_file(const std::string& path, Settings& s) {
    toml::value doc;
    try {
        doc = toml::parse(path);
    } catch (const std::exception& e) {
        return std::string(e.what());
    }
    std::string errors;
    auto fail = [&](const toml::value& v, const std::string& message) {
        errors += where(v, path) + message + "\n";
    };
    auto get_string = [&](const toml::value& v, const std::string& key, std::string& out) {
        if (!v.is_string()) return fail(v, "'" + key + "' must be a string");
        out = v.as_string().str;
    };
    auto get_int = [&](const toml::value& v, const std::string& key, int& out, int lo, int hi) {
        if (!v.is_integer() || v.as_integer() < lo || v.as_integer() > hi)
            return fail(v, "'" + key + "' must be an integer from " + std::to_string(lo) + " to " +
                               std::to_string(hi));
        out = static_cast<int>(v.as_integer());
    };
    auto get_duration = [&](const toml::value& v, const std::string& key, Millis& out) {
        std::string text, error;
        if (!v.is_string())
            return fail(v, "'" + key + "' must be a duration string such as \"5s\"");
        text = v.as_string().str;
        auto d = parse_duration(text, &error);
        if (!d) return fail(v, "'" + key + "': " + error);
        out = *d;
    };
    auto get_list = [&](const toml::value& v, const std::string& key,
                        std::vector<std::string>& out) {
        if (!v.is_array()) return fail(v, "'" + key + "' must be an array of strings");
        std::vector<std::string> list;
        for (const auto& item : v.as_array()) {
            if (!item.is_string()) return fail(item, "'" + key + "' must be an array of strings");
            list.push_back(item.as_string().str);
        }
        out = std::move(list);
    };
    if (!doc.is_table()) return path + ": not a TOML table\n";
    for (const auto& [key, v] : doc.as_table()) {
        if (key == "servers") {
            get_list(v, key, s.servers);
        } else if (key == "creds") {
            get_string(v, key, s.creds);
        } else if (key == "host") {
            get_string(v, key, s.host);
        } else if (key == "stream") {
            get_string(v, key, s.stream);
        } else if (key == "registry") {
            get_string(v, key, s.registry);
        } else if (key == "replicas") {
            get_int(v, key, s.replicas, 1, 5);
        } else if (key == "max_age") {
            get_duration(v, key, s.max_age);
        } else if (key == "duplicate_window") {
            get_duration(v, key, s.duplicate_window);
        } else if (key == "window") {
            get_int(v, key, s.window, 1, 65536);
        } else if (key == "ack_wait") {
            get_duration(v, key, s.ack_wait);
        } else if (key == "request_timeout") {
            get_duration(v, key, s.request_timeout);
        } else if (key == "allow") {
            get_list(v, key, s.allow);
        } else if (key == "socket") {
            get_string(v, key, s.socket);
        } else if (key == "stream_mismatch") {
            std::string mode;
            get_string(v, key, mode);
            if (mode == "warn")
                s.stream_mismatch = StreamMismatch::warn;
            else if (mode == "refuse")
                s.stream_mismatch = StreamMismatch::refuse;
            else
                fail(v, "'stream_mismatch' must be \"warn\" or \"refuse\"");
        } else {
            fail(v, "unknown key '" + key + "'");
        }
    }
    return errors;
}

std::string default_host() {
    char name[256] = {};
    if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
    return subject_token(name);
}

}  // namespace kvd::fleet
