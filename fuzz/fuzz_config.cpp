// Fuzzes the config loader (parse_config) on arbitrary text: it never throws and never
// crashes, every error is one line with a position inside the text, a config it accepts
// keeps every rule the loader enforces, and the TOML front end's syntax scan never refuses
// text that toml11 reads.
#include <exception>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <toml.hpp>
#include <variant>

#include "common/names.hpp"
#include "common/utf8.hpp"
#include "daemon/config.hpp"
#include "daemon/config/toml_front.hpp"
#include "daemon/config/toml_scan.hpp"
#include "fuzz/fuzz_support.hpp"

namespace kvd::fuzz {
namespace {

// Not in the current directory, so that relative program paths are resolved against it.
const std::string kFile = "/etc/kvd/kvd.toml";

void check_errors(const std::vector<ConfigError>& errors, std::string_view text) {
    FUZZ_CHECK(!errors.empty(), "parse_config failed without saying why");
    int lines = 1;
    for (char c : text) lines += c == '\n';
    for (const ConfigError& e : errors) {
        std::string shown = e.to_string();
        FUZZ_CHECK(e.file == kFile, shown);
        FUZZ_CHECK(e.line >= 0 && e.column >= 0, shown);
        FUZZ_CHECK(e.line <= lines, shown);
        FUZZ_CHECK(!e.message.empty(), shown);
        FUZZ_CHECK(shown.find_first_of("\r\n") == std::string::npos,
                   "an error is not one line: " + shown);
    }
}

bool no_nul(const std::string& s) {
    return s.find('\0') == std::string::npos;
}

void check_config(const Config& config) {
    FUZZ_CHECK(config.path == kFile);
    const DaemonSection& d = config.daemon;
    FUZZ_CHECK(d.socket_mode <= 0777);
    FUZZ_CHECK(d.max_buckets > 0 && d.max_buckets <= 1'000'000);
    FUZZ_CHECK(d.event_history > 0 && d.event_history <= 10'000'000);
    FUZZ_CHECK(d.max_clients > 0 && d.max_clients <= 1'000'000);
    for (std::size_t bytes : {d.event_history_bytes, d.backlog_bytes, d.client_buffer_bytes,
                              config.bucket.max_reply_bytes})
        FUZZ_CHECK(bytes >= 64 * kKiB && bytes <= kTiB, std::to_string(bytes));
    FUZZ_CHECK(!d.socket || (!d.socket->empty() && no_nul(*d.socket)));
    FUZZ_CHECK(!d.socket_group || (!d.socket_group->empty() && no_nul(*d.socket_group)));
    static const std::set<std::string> kLevels = {"trace", "debug", "info", "warn", "error"};
    FUZZ_CHECK(!d.log_level || kLevels.count(*d.log_level));
    FUZZ_CHECK(!config.bucket.program.empty() && no_nul(config.bucket.program));
    const Millis day{24 * 3'600'000};
    FUZZ_CHECK(config.bucket.stop_timeout.count() > 0 && config.bucket.stop_timeout <= day);
    FUZZ_CHECK(config.bucket.request_timeout.count() > 0 && config.bucket.request_timeout <= day);
    FUZZ_CHECK(config.sources.handler_program.size() == config.handlers.size());

    std::set<std::string> names;
    for (const HandlerConfig& h : config.handlers) {
        FUZZ_CHECK(is_valid_bucket_name(h.name), h.name);
        FUZZ_CHECK(names.insert(h.name).second, "duplicate handler accepted: " + h.name);
        FUZZ_CHECK(!h.command.empty());
        for (const std::string& arg : h.command) FUZZ_CHECK(!arg.empty() && no_nul(arg));
        FUZZ_CHECK(!h.events || !h.events->empty());
        FUZZ_CHECK(h.ack_timeout.count() > 0 && h.ack_timeout <= day);
        FUZZ_CHECK(h.queue > 0 && h.queue <= 10'000'000);
        FUZZ_CHECK(h.restart_delay.count() > 0);
        FUZZ_CHECK(h.restart_delay_max >= h.restart_delay && h.restart_delay_max <= day);
        for (const auto& [name, value] : h.env) {
            FUZZ_CHECK(!name.empty() && name.find('=') == std::string::npos && no_nul(name));
            FUZZ_CHECK(no_nul(value));
        }
    }
}

// The front end gives toml11 only text the scan accepted, so a scan that refused valid TOML
// would refuse a valid config. Only text toml11 may safely be given is tried.
void check_scan_agrees(std::string_view text) {
    if (text.size() > kMaxConfigBytes || !utf8::is_valid(text)) return;
    TomlScan scan = scan_toml(text);
    if (!scan.problem || scan.over_limit) return;
    std::istringstream stream{std::string(text)};
    bool toml11_accepts = true;
    try {
        toml::parse(stream, kFile);
    } catch (const std::exception&) {
        toml11_accepts = false;
    }
    FUZZ_CHECK(!toml11_accepts,
               "the scan refused TOML that toml11 reads: " + scan.problem->message);
}

}  // namespace
}  // namespace kvd::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    using namespace kvd::fuzz;
    std::string_view text = as_text(data, size);
    kvd::ConfigResult result;
    try {
        result = kvd::parse_config(text, kFile);
    } catch (const std::exception& e) {
        check_failed("parse_config threw", __FILE__, __LINE__, {e.what()});
    } catch (...) {
        check_failed("parse_config threw", __FILE__, __LINE__, {"not a std::exception"});
    }
    if (auto* errors = std::get_if<std::vector<kvd::ConfigError>>(&result))
        check_errors(*errors, text);
    else
        check_config(std::get<kvd::Config>(result));
    check_scan_agrees(text);
    return 0;
}
