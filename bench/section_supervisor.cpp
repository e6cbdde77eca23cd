// supervisor: kvd against supervisord doing the same in the same run: bring up N processes
// and wait until all run (supervisord: startProcessGroup with wait over XML-RPC; kvd:
// pipelined creates), stop them all, and kill → event latency (supervisord: an event
// listener subscribed to PROCESS_STATE_EXITED; kvd: the sync handler and a subscriber).
#include <fmt/format.h>

#include <csignal>
#include <memory>

#include "bench/fifo.hpp"
#include "bench/kvd_peer.hpp"
#include "bench/sections.hpp"
#include "bench/supervisor_peer.hpp"

namespace kvd::bench {

namespace {
const char* kSection = "supervisord";
const char* kRef = "supervisord";
}  // namespace

void run_supervisor(Bench& b) {
    const std::size_t n = b.opt.super_procs;
    const std::size_t kills = std::min(n, b.per_rep(b.opt.super_kills));
    std::string program = find_in_path("supervisord");
    std::unique_ptr<RecordFifo> super_fifo;
    std::unique_ptr<Supervisord> super;
    std::string missing;
    if (program.empty())
        missing = "supervisord is not installed (scripts/deps.sh bench installs it)";
    else {
        try {
            super_fifo = std::make_unique<RecordFifo>(b.tmp.file("supervisor.fifo"));
            super = std::make_unique<Supervisord>(b.paths, b.tmp, program, n, super_fifo->path());
            b.report.meta["supervisord_version"] = super->version;
        } catch (const BenchError& e) {
            missing = e.what();
        }
    }
    if (!super) {
        b.report.skip(kSection, "every supervisord row", missing);
        return;
    }

    RecordFifo fifo(b.tmp.file("vs-supervisor.fifo"));
    KvdSetup setup;
    setup.handler = HandlerKind::ack;
    setup.handler_arg = fifo.path();
    KvdServer server(b.paths, b.tmp, "vs-supervisor", setup);
    KvdClient kvd(server.socket());
    KvdSubscriber sub(server.socket(), {"exit"});

    std::vector<double> k_up, k_down, s_up, s_down;
    std::vector<std::vector<double>> k_sub, k_handler, s_listener;
    for (std::size_t rep = 0; rep < b.opt.reps; ++rep) {
        auto run_kvd = [&] {
            auto names = bucket_names(fmt::format("up{}-", rep), n);
            int64_t t0 = mono_ns();
            kvd.create_all(names);
            k_up.push_back(ns_to_s(mono_ns() - t0) * 1e3);
            t0 = mono_ns();
            kvd.stop_all(names);
            k_down.push_back(ns_to_s(mono_ns() - t0) * 1e3);

            // Kill among n live buckets, as among supervisord's n processes.
            names = bucket_names(fmt::format("kill{}-", rep), n);
            auto pids = kvd.create_all(names);
            std::vector<std::pair<std::string, pid_t>> victims;
            for (std::size_t i = 0; i < kills; ++i) victims.emplace_back(names[i], pids[i]);
            fifo.drain();
            sub.drain();
            std::vector<double> s, h;
            kill_rounds(kvd, sub, fifo, "", kills, s, h, &victims);
            k_sub.push_back(std::move(s));
            k_handler.push_back(std::move(h));
            kvd.stop_all(
                std::vector<std::string>(names.begin() + static_cast<long>(kills), names.end()));
        };
        auto run_super = [&] {
            int64_t t0 = mono_ns();
            super->start_group();
            s_up.push_back(ns_to_s(mono_ns() - t0) * 1e3);
            for (const auto& p : super->sleepers())
                if (p.state != "RUNNING")
                    throw BenchError("supervisord: " + p.name + " is " + p.state + " after start");
            t0 = mono_ns();
            super->stop_group();
            s_down.push_back(ns_to_s(mono_ns() - t0) * 1e3);

            super->start_group();
            auto procs = super->sleepers();
            super_fifo->drain();
            std::vector<double> lat;
            for (std::size_t i = 0; i < kills; ++i) {
                pid_t pid = procs.at(i).pid;
                int64_t k0 = mono_ns();
                if (kill(pid, SIGKILL) != 0) throw BenchError(fmt::format("kill {} failed", pid));
                auto t = super_fifo->wait_for(std::to_string(pid), deadline_in_ms(30'000));
                if (!t)
                    throw BenchError(
                        fmt::format("supervisord's listener did not report pid {}", pid));
                lat.push_back(ns_to_us(*t - k0));
            }
            s_listener.push_back(std::move(lat));
            super->stop_group();
        };
        if (rep % 2 == 0) {
            run_kvd();
            run_super();
        } else {
            run_super();
            run_kvd();
        }
        b.progress(kSection,
                   "rep {}/{}: up {:.0f}/{:.0f} ms, stop {:.0f}/{:.0f} ms (kvd/supervisord)",
                   rep + 1, b.opt.reps, k_up.back(), s_up.back(), k_down.back(), s_down.back());
    }
    Target faster = ratio_at_most(1.0, "supervisord (faster)");
    b.report.add(paired_row(kSection, fmt::format("bring up {} processes", n), "ms", Better::lower,
                            k_up, kRef, s_up, faster));
    b.report.add(paired_row(kSection, fmt::format("stop {} processes", n), "ms", Better::lower,
                            k_down, kRef, s_down, faster));
    std::string among = fmt::format("{} alive", n);
    b.report.add(latency_row(kSection, "kill → sync handler / listener p50, " + among, 50,
                             k_handler, kRef, s_listener, faster));
    b.report.add(latency_row(kSection, "kill → sync handler / listener p99, " + among, 99,
                             k_handler, kRef, s_listener, faster));
    b.report.add(latency_row(kSection, "kill → subscriber / listener p50, " + among, 50, k_sub,
                             kRef, s_listener, faster));
    b.report.add(latency_row(kSection, "kill → subscriber / listener p99, " + among, 99, k_sub,
                             kRef, s_listener, faster));
}

}  // namespace kvd::bench
