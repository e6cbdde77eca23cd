// The benchmark's sections. Each starts the peers it needs in the shared temporary directory,
// measures kvd and its reference interleaved repetition by repetition (so one run's ratios
// are comparable however noisy the machine is), adds its rows to the report, and stops
// everything it started before returning, also when it throws.
#pragma once

#include <fmt/format.h>
#include <sys/types.h>

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "bench/clock.hpp"
#include "bench/options.hpp"
#include "bench/process.hpp"
#include "bench/report.hpp"

namespace kvd::bench {

class KvdClient;
class KvdSubscriber;
class RecordFifo;
class FloorProcess;

// create runs of kvd or of the floor, one entry per repetition.
struct CreateRuns {
    std::vector<double> seq_rate, pipe_rate;
    std::vector<std::vector<double>> seq_lat;
    // Per create, in the supervising process only (kvd, or the floor): CPU time and minor
    // page faults of the pipelined run. Unlike rates they hardly depend on the machine's load.
    std::vector<double> cpu_us, faults;
};

// Exit latencies (µs), one vector of samples per repetition: kvd's (to the subscriber and
// to the sync handler) and each floor's (section_exit.cpp describes them).
struct KillRuns {
    std::vector<std::vector<double>> subscriber, handler, one_hop, two_hop;
};

// The exit floors kvd is measured against; either may be absent.
struct ExitFloors {
    FloorProcess* one_hop = nullptr;
    FloorProcess* two_hop = nullptr;
};

// Figures one section measures and a later one compares with (0 alive against 10,000).
// At 10,000 alive kvd is measured against each floor in turn (section_scale.cpp), and
// kills_at_many keeps kvd's runs from the first, against the one-hop floor.
struct Shared {
    CreateRuns kvd_create_at_0, floor_create_at_0, kvd_create_at_many, floor_create_at_many;
    KillRuns kills_at_0, kills_at_many;
};

struct Bench {
    const Options& opt;
    const Paths& paths;
    TempDir& tmp;
    Report& report;
    int64_t started_ns;
    Shared shared;

    // A progress line on stderr: "[  12.3s] section: message".
    template <typename... Args>
    void progress(const std::string& section, fmt::format_string<Args...> f, Args&&... args) const {
        std::fprintf(stderr, "[%7.1fs] %s: %s\n", ns_to_s(mono_ns() - started_ns), section.c_str(),
                     fmt::format(f, std::forward<Args>(args)...).c_str());
    }
    // Kills per repetition so that the total is at least `total`.
    std::size_t per_rep(std::size_t total) const { return (total + opt.reps - 1) / opt.reps; }
};

// Measures creates in kvd and the uv_spawn floor (with `alive` buckets / children already
// there, which the caller arranged) and adds the rows for them to `section`. A `kind` other
// than "" is named in each create (the floor should spawn that kind's program).
void measure_creates(Bench& b, KvdClient& kvd, pid_t kvd_pid, FloorProcess& floor,
                     std::size_t alive, std::size_t n, const std::string& handler, CreateRuns& k,
                     CreateRuns& f, const std::string& kind = {}, const char* section = "create");
// Measures exit latency in kvd (with `alive` other buckets) and in each of `floors` (grown to
// as many children), interleaved repetition by repetition, and adds kvd's rows against each
// floor. `runs` should start empty: the rows pool all of it.
void measure_kills(Bench& b, KvdClient& kvd, KvdSubscriber& sub, RecordFifo& fifo,
                   const ExitFloors& floors, std::size_t alive, KillRuns& runs);
// Rows comparing kvd at many buckets alive with kvd at 0, once both were measured.
void add_growth_rows(Bench& b);

void run_create(Bench& b);
void run_exit(Bench& b);
void run_notify(Bench& b);
void run_data(Bench& b);
void run_scale(Bench& b);
void run_supervisor(Bench& b);
void run_kinds(Bench& b);
void run_fleet(Bench& b);

// `kills` rounds of: create a bucket named prefix+k (and one request, so it is up and idle),
// SIGKILL it, wait for its exit event on `sub` and for the handler's record in `fifo`.
// Latencies (µs from kill()) are appended. With `victims`, those buckets are killed instead.
void kill_rounds(KvdClient& c, KvdSubscriber& sub, RecordFifo& fifo, const std::string& prefix,
                 std::size_t kills, std::vector<double>& sub_us, std::vector<double>& handler_us,
                 const std::vector<std::pair<std::string, pid_t>>* victims = nullptr);

// A row whose value is the ratio of two figures of kvd itself (e.g. p50 at 10,000 buckets
// alive ÷ p50 at 0): value = a.value / b.value, spread from the per-repetition ratios.
Row self_ratio_row(const std::string& section, const std::string& name, const Side& a,
                   const Side& b, Target target);

}  // namespace kvd::bench
