// create: buckets/s and per-create latency, sequential (one request at a time) and pipelined
// (every request sent at once), with one sync handler attached, against the uv_spawn floor.
// The same measurement with 10,000 buckets alive runs in the scale section, which has them.
#include <fmt/format.h>

#include <cctype>

#include "bench/floor_peer.hpp"
#include "bench/kvd_peer.hpp"
#include "bench/sections.hpp"
#include "bench/stats.hpp"

namespace kvd::bench {

namespace {

const char* kFloor = "uv_spawn floor";

// One create at a time: each waits for its reply (which waits for the handler's ack).
double sequential(KvdClient& c, const std::vector<std::string>& names, const std::string& kind,
                  std::vector<double>& lat) {
    int64_t start = mono_ns();
    for (const auto& name : names) {
        int64_t t0 = mono_ns();
        c.send(create_fields(name, kind));
        std::string_view line = c.next_reply_line(deadline_in_ms(30'000));
        lat.push_back(ns_to_us(mono_ns() - t0));
        if (!reply_ok(line)) throw BenchError(fmt::format("create {}: {}", name, line));
    }
    return static_cast<double>(names.size()) / ns_to_s(mono_ns() - start);
}

double pipelined(KvdClient& c, const std::vector<std::string>& names, const std::string& kind) {
    int64_t start = mono_ns();
    c.create_all(names, names.size(), kind);
    return static_cast<double>(names.size()) / ns_to_s(mono_ns() - start);
}

// CPU and fault counters of a process around a run; for kvd, with its spawner's.
struct Usage {
    long long cpu_ns, faults;
    explicit Usage(pid_t pid) : cpu_ns(proc_cpu_ns(pid)), faults(proc_minor_faults(pid)) {
        if (pid_t spawner = kvd_spawner_of(pid)) {
            cpu_ns += proc_cpu_ns(spawner);
            faults += proc_minor_faults(spawner);
        }
    }
};

void record_usage(CreateRuns& r, const Usage& before, const Usage& after, std::size_t n) {
    r.cpu_us.push_back(static_cast<double>(after.cpu_ns - before.cpu_ns) / 1e3 /
                       static_cast<double>(n));
    r.faults.push_back(static_cast<double>(after.faults - before.faults) / static_cast<double>(n));
}

}  // namespace

void measure_creates(Bench& b, KvdClient& kvd, pid_t kvd_pid, FloorProcess& floor,
                     std::size_t alive, std::size_t n, const std::string& handler, CreateRuns& k,
                     CreateRuns& f, const std::string& kind, const char* section) {
    // Names unique over the whole run: a handler's tag and the count alive tell them apart.
    std::string tag;
    for (char ch : handler.substr(0, handler.find(' ')))
        if (std::isalnum(static_cast<unsigned char>(ch))) tag += ch;
    tag += "-" + std::to_string(alive) + kind;
    for (std::size_t rep = 0; rep < b.opt.reps; ++rep) {
        auto run_kvd = [&] {
            auto seq = bucket_names(fmt::format("s{}-{}-", tag, rep), n);
            std::vector<double> lat;
            k.seq_rate.push_back(sequential(kvd, seq, kind, lat));
            k.seq_lat.push_back(std::move(lat));
            kvd.stop_all(seq);
            auto pipe = bucket_names(fmt::format("p{}-{}-", tag, rep), n);
            Usage before(kvd_pid);
            k.pipe_rate.push_back(pipelined(kvd, pipe, kind));
            record_usage(k, before, Usage(kvd_pid), n);
            kvd.stop_all(pipe);
        };
        auto run_floor = [&] {
            Usage before(floor.pid());
            auto r = floor.command("spawn", static_cast<long>(n));
            record_usage(f, before, Usage(floor.pid()), n);
            double rate = static_cast<double>(n) / r["seconds"].get<double>();
            // The floor has no client round trip: its one rate stands for both modes.
            f.seq_rate.push_back(rate);
            f.pipe_rate.push_back(rate);
            f.seq_lat.push_back(r["lat_us"].get<std::vector<double>>());
            floor.command("stop", 0);
        };
        // Alternate which goes first, so neither always runs on a machine warmed by the other.
        if (rep % 2 == 0) {
            run_kvd();
            run_floor();
        } else {
            run_floor();
            run_kvd();
        }
        b.progress(section,
                   "{} handler, {} alive, rep {}/{}: kvd {:.0f}/{:.0f} buckets/s "
                   "(sequential/pipelined), floor {:.0f}",
                   handler, alive, rep + 1, b.opt.reps, k.seq_rate.back(), k.pipe_rate.back(),
                   f.seq_rate.back());
    }

    std::string where = fmt::format("{} handler, {} alive", handler, alive);
    if (!kind.empty()) where = fmt::format("kind {}, {}", kind, where);
    b.report.add(paired_row(section, fmt::format("create {}, sequential, {}", n, where),
                            "buckets/s", Better::higher, k.seq_rate, kFloor, f.seq_rate,
                            ratio_at_least(0.8, "floor")));
    b.report.add(paired_row(section, fmt::format("create {}, pipelined, {}", n, where), "buckets/s",
                            Better::higher, k.pipe_rate, kFloor, f.pipe_rate,
                            ratio_at_least(0.8, "floor")));
    b.report.add(latency_row(section, fmt::format("create latency p50, sequential, {}", where), 50,
                             k.seq_lat, kFloor, f.seq_lat));
    b.report.add(latency_row(section, fmt::format("create latency p99, sequential, {}", where), 99,
                             k.seq_lat, kFloor, f.seq_lat));
    b.report.add(paired_row(
        section,
        fmt::format("CPU per create in kvd (with its spawner) / the floor, pipelined, {}", where),
        "µs", Better::lower, k.cpu_us, kFloor, f.cpu_us));
    b.report.add(paired_row(
        section,
        fmt::format("minor page faults per create in kvd (with its spawner) / the floor, {}",
                    where),
        "faults", Better::lower, k.faults, kFloor, f.faults));
}

void run_create(Bench& b) {
    FloorProcess floor("spawn floor", b.paths.bin("kvd-bench-spawn-floor"),
                       b.paths.bin("kv-bucket"), b.tmp.file("spawn-floor.log"));
    // The C++ acking handler: the cost of the sync protocol itself.
    {
        KvdSetup setup;
        setup.handler = HandlerKind::ack;
        setup.handler_arg = "/dev/null";
        KvdServer server(b.paths, b.tmp, "create-ack", setup);
        KvdClient kvd(server.socket());
        measure_creates(b, kvd, server.pid(), floor, 0, b.opt.creates, "C++ ack",
                        b.shared.kvd_create_at_0, b.shared.floor_create_at_0);
    }
    // The handler users start from: config/handlers/log-events, a shell `while read` loop.
    {
        KvdSetup setup;
        setup.handler = HandlerKind::log_events;
        setup.handler_arg = b.tmp.file("log-events.log");
        KvdServer server(b.paths, b.tmp, "create-sh", setup);
        KvdClient kvd(server.socket());
        CreateRuns k, f;
        measure_creates(b, kvd, server.pid(), floor, 0, b.opt.creates, "log-events (sh)", k, f);
    }
}

Row self_ratio_row(const std::string& section, const std::string& name, const Side& a,
                   const Side& b, Target target) {
    Row r;
    r.section = section;
    r.name = name;
    r.unit = "×";
    r.better = Better::higher;
    r.kvd.present = a.present && b.present && b.value != 0;
    if (r.kvd.present) {
        r.kvd.value = a.value / b.value;
        r.kvd.per_rep = ratios(a.per_rep, b.per_rep);
        Spread s = spread_of(r.kvd.per_rep);
        r.kvd.lo = s.min;
        r.kvd.hi = s.max;
    }
    r.target = std::move(target);
    return r;
}

void add_growth_rows(Bench& b) {
    const Shared& s = b.shared;
    const std::size_t n = b.opt.many_alive;
    if (!s.kvd_create_at_0.pipe_rate.empty() && !s.kvd_create_at_many.pipe_rate.empty()) {
        Target no_fall = value_at_least(0.9, "≥ 0.9 (must not fall)");
        b.report.add(self_ratio_row(
            "create", fmt::format("kvd create rate at {} alive ÷ at 0, sequential", n),
            side_from_reps(s.kvd_create_at_many.seq_rate),
            side_from_reps(s.kvd_create_at_0.seq_rate), no_fall));
        b.report.add(self_ratio_row("create",
                                    fmt::format("kvd create rate at {} alive ÷ at 0, pipelined", n),
                                    side_from_reps(s.kvd_create_at_many.pipe_rate),
                                    side_from_reps(s.kvd_create_at_0.pipe_rate), no_fall));
        b.report.add(self_ratio_row("create",
                                    fmt::format("floor spawn rate at {} alive ÷ at 0 (not kvd)", n),
                                    side_from_reps(s.floor_create_at_many.pipe_rate),
                                    side_from_reps(s.floor_create_at_0.pipe_rate), {}));
    }
    if (!s.kills_at_0.subscriber.empty() && !s.kills_at_many.subscriber.empty()) {
        auto p50 = [](const std::vector<std::vector<double>>& v) { return side_pooled(v, 50); };
        Target within2 = value_at_most(2, "≤ 2 (within 2× of at 0)");
        b.report.add(self_ratio_row("exit", fmt::format("kvd subscriber p50 at {} alive ÷ at 0", n),
                                    p50(s.kills_at_many.subscriber), p50(s.kills_at_0.subscriber),
                                    within2));
        b.report.add(self_ratio_row("exit", fmt::format("kvd handler p50 at {} alive ÷ at 0", n),
                                    p50(s.kills_at_many.handler), p50(s.kills_at_0.handler),
                                    within2));
        b.report.add(self_ratio_row(
            "exit",
            fmt::format("one-hop floor p50 at {} alive ÷ at 0 (not kvd; libuv's O(n) reaping)", n),
            p50(s.kills_at_many.one_hop), p50(s.kills_at_0.one_hop), {}));
    }
    if (!s.kills_at_0.two_hop.empty() && !s.kills_at_many.two_hop.empty()) {
        b.report.add(self_ratio_row(
            "exit", fmt::format("two-hop floor p50 at {} alive ÷ at 0 (not kvd; pidfd reaping)", n),
            side_pooled(s.kills_at_many.two_hop, 50), side_pooled(s.kills_at_0.two_hop, 50), {}));
    }
}

}  // namespace kvd::bench
