// Fuzzes the small parsers the config and kvctl lean on: durations, byte sizes, bucket names
// and signal names. Each line of the input is tried as all four; numbers drawn from the input
// check that what format_duration, format_size and signal_name write, the parsers read back.
#include <fuzzer/FuzzedDataProvider.h>

#include <csignal>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "common/duration.hpp"
#include "common/names.hpp"
#include "common/signals.hpp"
#include "common/size.hpp"
#include "fuzz/fuzz_support.hpp"

namespace kvd::fuzz {
namespace {

// Durations up to 2^53 ms go through a double exactly; beyond that parse_duration rounds.
constexpr int64_t kExactMillis = int64_t{1} << 53;

void check_duration_round_trip(Millis d) {
    if (d.count() < 0 || d.count() > kExactMillis) return;
    std::string text = format_duration(d);
    std::string why;
    auto back = parse_duration(text, &why);
    FUZZ_CHECK(back.has_value(), text + ": " + why);
    FUZZ_CHECK(*back == d, "format_duration wrote " + text + ", which reads back differently");
}

void fuzz_duration(std::string_view text) {
    std::string why;
    auto d = parse_duration(text, &why);
    if (!d) {
        FUZZ_CHECK(!why.empty(), "parse_duration failed without saying why");
        return;
    }
    FUZZ_CHECK(d->count() >= 0);
    check_duration_round_trip(*d);
}

void check_size_round_trip(uint64_t bytes) {
    std::string text = format_size(bytes);
    std::string why;
    auto back = parse_size(text, &why);
    FUZZ_CHECK(back.has_value(), text + ": " + why);
    FUZZ_CHECK(*back == bytes, "format_size wrote " + text + ", which reads back differently");
}

// What parse_size must accept: digits, then one of the binary suffixes, the whole without
// overflow (checked in 128 bits).
std::optional<uint64_t> reference_size(std::string_view text) {
    std::size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
    if (digits == 0) return std::nullopt;
    std::string_view suffix = text.substr(digits);
    unsigned __int128 unit = 0;
    if (suffix.empty() || suffix == "B")
        unit = 1;
    else if (suffix == "K" || suffix == "KiB")
        unit = kKiB;
    else if (suffix == "M" || suffix == "MiB")
        unit = kMiB;
    else if (suffix == "G" || suffix == "GiB")
        unit = kGiB;
    else if (suffix == "T" || suffix == "TiB")
        unit = kTiB;
    else
        return std::nullopt;
    constexpr unsigned __int128 kMax = std::numeric_limits<uint64_t>::max();
    unsigned __int128 n = 0;
    for (std::size_t i = 0; i < digits; ++i) {
        n = n * 10 + static_cast<unsigned>(text[i] - '0');
        if (n > kMax) return std::nullopt;
    }
    if (n * unit > kMax) return std::nullopt;
    return static_cast<uint64_t>(n * unit);
}

void fuzz_size(std::string_view text) {
    std::string why;
    auto bytes = parse_size(text, &why);
    FUZZ_CHECK(bytes == reference_size(text), std::string(text));
    if (!bytes) {
        FUZZ_CHECK(!why.empty(), "parse_size failed without saying why");
        return;
    }
    check_size_round_trip(*bytes);
}

bool reference_name_ok(std::string_view name) {
    if (name.empty() || name.size() > kMaxBucketNameBytes) return false;
    if (name[0] == '.' || name[0] == '-') return false;
    for (char c : name) {
        bool allowed = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                       c == '.' || c == '_' || c == ':' || c == '-';
        if (!allowed) return false;
    }
    return true;
}

void fuzz_name(std::string_view name) {
    std::string problem = bucket_name_problem(name);
    FUZZ_CHECK(problem.empty() == reference_name_ok(name), problem);
    FUZZ_CHECK(is_valid_bucket_name(name) == problem.empty());
    // The problem is quoted in error replies and config errors: printable ASCII, one line.
    for (char c : problem) FUZZ_CHECK(c >= 0x20 && c < 0x7f, problem);
}

void check_signal_round_trip(int signo) {
    std::string name = signal_name(signo);
    FUZZ_CHECK(name.rfind("SIG", 0) == 0, name);
    if (signo <= 0 || signo >= NSIG) return;
    auto back = parse_signal(name);
    FUZZ_CHECK(back && *back == signo,
               "signal_name wrote " + name + ", which reads back differently");
}

void fuzz_signal(std::string_view text) {
    auto signo = parse_signal(text);
    if (!signo) return;
    FUZZ_CHECK(*signo > 0 && *signo < NSIG);
    check_signal_round_trip(*signo);
}

}  // namespace
}  // namespace kvd::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    using namespace kvd::fuzz;
    for (std::string_view line : split_lines(as_text(data, size))) {
        fuzz_duration(line);
        fuzz_size(line);
        fuzz_name(line);
        fuzz_signal(line);
    }
    FuzzedDataProvider provider(data, size);
    check_duration_round_trip(kvd::Millis(provider.ConsumeIntegral<int64_t>()));
    check_duration_round_trip(
        kvd::Millis(provider.ConsumeIntegralInRange<int64_t>(0, 1'000'000'000)));
    check_size_round_trip(provider.ConsumeIntegral<uint64_t>());
    check_signal_round_trip(provider.ConsumeIntegral<int>());
    check_signal_round_trip(provider.ConsumeIntegralInRange(1, NSIG - 1));
    return 0;
}
