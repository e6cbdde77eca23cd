// Fuzzes the small parsers the config and kvctl lean on: durations, bucket names and signal
// names. Each line of the input is tried as all three; numbers drawn from the input check
// that what format_duration and signal_name write, the parsers read back.
#include <fuzzer/FuzzedDataProvider.h>

#include <csignal>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/duration.hpp"
#include "common/names.hpp"
#include "common/signals.hpp"
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
        fuzz_name(line);
        fuzz_signal(line);
    }
    FuzzedDataProvider provider(data, size);
    check_duration_round_trip(kvd::Millis(provider.ConsumeIntegral<int64_t>()));
    check_duration_round_trip(
        kvd::Millis(provider.ConsumeIntegralInRange<int64_t>(0, 1'000'000'000)));
    check_signal_round_trip(provider.ConsumeIntegral<int>());
    check_signal_round_trip(provider.ConsumeIntegralInRange(1, NSIG - 1));
    return 0;
}
