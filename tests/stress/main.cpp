// kvd-stress: the load, memory, shutdown-under-load and bounds scenarios against the real kvd.
// GoogleTest flags (--gtest_filter=Load.* …) pick scenarios; the options below set the counts.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "tests/stress/stress.hpp"

namespace {

struct Flag {
    const char* name;
    int kvd::stress::StressOptions::*field;
    const char* help;
};

constexpr Flag kFlags[] = {
    {"--buckets", &kvd::stress::StressOptions::buckets,
     "load: live buckets before the clients start"},
    {"--clients", &kvd::stress::StressOptions::clients, "load: concurrent clients"},
    {"--ops", &kvd::stress::StressOptions::ops, "load: buckets each client creates and stops"},
    {"--batch", &kvd::stress::StressOptions::batch, "load: buckets a client pipelines at a time"},
    {"--cycles", &kvd::stress::StressOptions::cycles, "memory: create/put/stop cycles"},
    {"--cycle-batch", &kvd::stress::StressOptions::cycle_batch,
     "memory: cycles pipelined at a time"},
    {"--shutdown-runs", &kvd::stress::StressOptions::shutdown_runs,
     "shutdown: SIGTERMs under load"},
    {"--shutdown-buckets", &kvd::stress::StressOptions::shutdown_buckets,
     "shutdown: buckets created before each SIGTERM"},
    {"--big-events", &kvd::stress::StressOptions::big_events,
     "bounds: 1 MB notifies published into the history"},
    {"--pileup", &kvd::stress::StressOptions::pileup,
     "bounds: requests a client pipelines without reading the replies"},
    {"--clients-over", &kvd::stress::StressOptions::clients_over,
     "bounds: connections opened beyond max_clients"},
};

[[noreturn]] void usage(int status) {
    std::FILE* out = status == 0 ? stdout : stderr;
    std::fprintf(out, "usage: kvd-stress [GTEST FLAGS] [--NAME N]...\n");
    kvd::stress::StressOptions defaults;
    for (const Flag& f : kFlags)
        std::fprintf(out, "  %-20s %s (default %d)\n", f.name, f.help, defaults.*(f.field));
    std::exit(status);
}

}  // namespace

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    auto& o = kvd::stress::mutable_options();
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") usage(0);
        const Flag* flag = nullptr;
        for (const Flag& f : kFlags)
            if (arg == f.name) flag = &f;
        if (!flag || i + 1 >= argc) {
            std::fprintf(stderr, "kvd-stress: unknown option or missing value: %s\n", argv[i]);
            usage(2);
        }
        char* end = nullptr;
        long value = std::strtol(argv[++i], &end, 10);
        if (*end != '\0' || value < 1 || value > 10'000'000) {
            std::fprintf(stderr, "kvd-stress: %s needs a positive number\n", flag->name);
            usage(2);
        }
        o.*(flag->field) = static_cast<int>(value);
    }
    kvd::stress::raise_fd_limit();
    kvd::stress::progress(
        "counts: load %d buckets + %d clients x %d (batch %d); memory %d cycles (batch %d); "
        "shutdown %d runs x %d buckets; bounds %d big events, %d piled-up requests, "
        "max_clients + %d",
        o.buckets, o.clients, o.ops, o.batch, o.cycles, o.cycle_batch, o.shutdown_runs,
        o.shutdown_buckets, o.big_events, o.pileup, o.clients_over);
    return RUN_ALL_TESTS();
}
