// scale: 10,000 live buckets: the time to create them (pipelined, timed per 1,000-bucket
// chunk, so the rate can be seen as the population grows) and to stop them all, kvd's RSS,
// the bucket processes' memory (sum of PSS, so shared pages count once) and kvd's CPU while
// everything is idle. While the population is alive, the create and exit measurements run
// again at 10,000 buckets alive against the one-hop exit floor grown to as many children (it
// also answers the create measurement's spawns), then the exit measurement once more against
// the two-hop floor grown alike: building any population takes a while on 2 cores, so each is
// built once per run (--scale-reps repeats kvd's only).
#include <fmt/format.h>

#include <thread>

#include "bench/fifo.hpp"
#include "bench/floor_peer.hpp"
#include "bench/kvd_peer.hpp"
#include "bench/sections.hpp"

namespace kvd::bench {

namespace {
const char* kSection = "scale";
constexpr std::size_t kIdleWindows = 5;

// kvd at n buckets alive against the two-hop floor grown to n children. The one-hop floor's
// children are gone by then: three populations of 10,000 at once would come near the
// kernel's default pid_max (32,768). kvd is measured again, interleaved with this floor, so
// these rows compare runs from the same repetitions as the others do.
void measure_two_hop_at_many(Bench& b, KvdClient& kvd, KvdSubscriber& sub, RecordFifo& fifo,
                             std::size_t n) {
    b.progress(kSection, "growing the two-hop exit floor to {} children", n);
    try {
        FloorProcess floor("two-hop floor", b.paths.bin("kvd-bench-exit-floor"),
                           b.paths.bin("kv-bucket"), b.tmp.file("floor-two-hop-many.log"),
                           {"--two-hop"});
        floor.command("grow", static_cast<long>(n));
        KillRuns runs;
        measure_kills(b, kvd, sub, fifo, {nullptr, &floor}, n, runs);
        b.shared.kills_at_many.two_hop = std::move(runs.two_hop);
    } catch (const BenchError& e) {
        // Say why, and go on with the rest of this section.
        b.progress(kSection, "the two-hop floor at {} alive failed: {}", n, e.what());
        b.report.skip("exit",
                      fmt::format("kill → exit event, {} others alive, vs two-hop floor", n),
                      std::string("failed: ") + e.what());
    }
}
}  // namespace

void run_scale(Bench& b) {
    RecordFifo fifo(b.tmp.file("scale.fifo"));
    KvdSetup setup;
    setup.handler = HandlerKind::ack;
    setup.handler_arg = fifo.path();
    setup.max_buckets = b.opt.many_alive + b.opt.creates_at_many + 100;
    KvdServer server(b.paths, b.tmp, "scale", setup);
    KvdClient kvd(server.socket());
    KvdSubscriber sub(server.socket(), {"exit"});
    const std::size_t n = b.opt.many_alive;
    const std::size_t chunk = std::max<std::size_t>(1, n / 10);

    std::vector<double> create_s, chunk_rate, first_chunk, last_chunk, stop_s, rss0_mib, rss_mib,
        pss_mib, pss_per_kib, idle_pct, spawner_rss_mib;
    for (std::size_t rep = 0; rep < b.opt.scale_reps; ++rep) {
        rss0_mib.push_back(static_cast<double>(proc_status_kib(server.pid(), "VmRSS")) / 1024);
        auto names = bucket_names(fmt::format("z{}-", rep), n);
        std::vector<pid_t> pids;
        int64_t start = mono_ns();
        for (std::size_t from = 0; from < n; from += chunk) {
            std::vector<std::string> part(
                names.begin() + static_cast<long>(from),
                names.begin() + static_cast<long>(std::min(n, from + chunk)));
            int64_t t0 = mono_ns();
            auto got = kvd.create_all(part);
            chunk_rate.push_back(static_cast<double>(part.size()) / ns_to_s(mono_ns() - t0));
            pids.insert(pids.end(), got.begin(), got.end());
            b.progress(kSection, "{} buckets alive, the last {} at {:.0f}/s", pids.size(),
                       part.size(), chunk_rate.back());
        }
        create_s.push_back(ns_to_s(mono_ns() - start));
        first_chunk.push_back(chunk_rate[chunk_rate.size() - (n + chunk - 1) / chunk]);
        last_chunk.push_back(chunk_rate.back());

        rss_mib.push_back(static_cast<double>(proc_status_kib(server.pid(), "VmRSS")) / 1024);
        if (pid_t spawner = kvd_spawner_of(server.pid()))
            spawner_rss_mib.push_back(static_cast<double>(proc_status_kib(spawner, "VmRSS")) /
                                      1024);
        long long pss = 0;
        for (pid_t pid : pids) {
            long kib = proc_smaps_rollup_kib(pid, "Pss");
            if (kib < 0) throw BenchError(fmt::format("cannot read the PSS of bucket pid {}", pid));
            pss += kib;
        }
        pss_mib.push_back(static_cast<double>(pss) / 1024);
        pss_per_kib.push_back(static_cast<double>(pss) / static_cast<double>(n));

        // Idle: no client sends anything; only kvd's own timers (if any) could wake it.
        for (std::size_t w = 0; w < kIdleWindows; ++w) {
            // kvd and its spawner, which sleeps in recvmsg between creates.
            pid_t spawner = kvd_spawner_of(server.pid());
            auto ticks = [&] {
                return proc_cpu_ticks(server.pid()) + (spawner ? proc_cpu_ticks(spawner) : 0);
            };
            long long ticks0 = ticks();
            int64_t w0 = mono_ns();
            std::this_thread::sleep_for(
                std::chrono::duration<double>(b.opt.idle_seconds / kIdleWindows));
            long long ticks1 = ticks();
            double cpu_s = static_cast<double>(ticks1 - ticks0) /
                           static_cast<double>(clock_ticks_per_second());
            idle_pct.push_back(100.0 * cpu_s / ns_to_s(mono_ns() - w0));
        }
        b.progress(kSection,
                   "rep {}/{}: created {} in {:.1f}s, kvd RSS {:.1f} MiB, buckets PSS {:.0f} MiB",
                   rep + 1, b.opt.scale_reps, n, create_s.back(), rss_mib.back(), pss_mib.back());

        if (rep == 0 && (b.opt.wants("create") || b.opt.wants("exit"))) {
            b.progress(kSection, "growing the floor to {} children", n);
            FloorProcess floor("floor", b.paths.bin("kvd-bench-exit-floor"),
                               b.paths.bin("kv-bucket"), b.tmp.file("floor-many.log"));
            floor.command("grow", static_cast<long>(n));
            if (b.opt.wants("create"))
                measure_creates(b, kvd, server.pid(), floor, n, b.opt.creates_at_many, "C++ ack",
                                b.shared.kvd_create_at_many, b.shared.floor_create_at_many);
            if (b.opt.wants("exit"))
                measure_kills(b, kvd, sub, fifo, {&floor, nullptr}, n, b.shared.kills_at_many);
        }
        if (rep == 0 && b.opt.wants("exit")) measure_two_hop_at_many(b, kvd, sub, fifo, n);

        int64_t t0 = mono_ns();
        kvd.stop_all(names);
        stop_s.push_back(ns_to_s(mono_ns() - t0));
        b.progress(kSection, "rep {}/{}: stopped {} in {:.1f}s", rep + 1, b.opt.scale_reps, n,
                   stop_s.back());
    }
    b.report.add(value_row(kSection, fmt::format("create {} buckets, pipelined", n), "s",
                           Better::lower, create_s));
    b.report.add(value_row(
        kSection, fmt::format("create rate per {}-bucket chunk while growing to {}", chunk, n),
        "buckets/s", Better::higher, chunk_rate));
    b.report.add(self_ratio_row(
        kSection, fmt::format("create rate of the last {} ÷ the first {}", chunk, chunk),
        side_from_reps(last_chunk), side_from_reps(first_chunk), {}));
    b.report.add(value_row(kSection, fmt::format("stop {} buckets, pipelined", n), "s",
                           Better::lower, stop_s));
    b.report.add(value_row(kSection, fmt::format("kvd RSS with {} buckets", n), "MiB",
                           Better::lower, rss_mib, value_at_most(50, "< 50 MiB")));
    b.report.add(
        value_row(kSection, "kvd RSS with 0 buckets, before", "MiB", Better::lower, rss0_mib));
    if (!spawner_rss_mib.empty())
        b.report.add(value_row(kSection, fmt::format("kvd's spawner RSS with {} buckets", n), "MiB",
                               Better::lower, spawner_rss_mib));
    b.report.add(value_row(kSection, fmt::format("bucket processes, total PSS of {}", n), "MiB",
                           Better::lower, pss_mib));
    b.report.add(
        value_row(kSection, "bucket process PSS, each", "KiB", Better::lower, pss_per_kib));
    b.report.add(value_row(kSection,
                           fmt::format("kvd CPU while idle, {} buckets, {} windows over {} s", n,
                                       kIdleWindows, b.opt.idle_seconds),
                           "% of a core", Better::lower, idle_pct,
                           value_at_most(0.5, "≤ 0.5% (~0)")));
}

}  // namespace kvd::bench
