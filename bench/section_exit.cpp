// exit: the latency from SIGKILL sent to a bucket from outside to its `exit` event read by a
// subscriber (this process, `subscribe` on its own connection) and by a sync handler (which
// reports the CLOCK_MONOTONIC time it read the line through a FIFO), with 0 and 1,000 other
// buckets alive (10,000: in the scale section, which has them). Two floors, each a bare libuv
// program with as many other live children (exit_floor.cpp):
// - one-hop: kill → libuv's exit callback in the floor itself, each child with a process
//   handle, so libuv waitpid()s every child at each SIGCHLD (O(n): what libuv alone costs);
// - two-hop: kill → the floor reaps the child from its pidfd, as kvd does, and writes one
//   exit-event line over a Unix socket to a second process, whose read() ends the time: the
//   least kvd's path must do (kvd sees the exit, then writes the line to a subscriber or
//   handler).
#include <fmt/format.h>
#include <sys/types.h>

#include <csignal>
#include <functional>

#include "bench/fifo.hpp"
#include "bench/floor_peer.hpp"
#include "bench/kvd_peer.hpp"
#include "bench/sections.hpp"

namespace kvd::bench {

namespace {
const char* kSection = "exit";
const char* kOneHop = "one-hop floor: libuv exit_cb, O(n) per SIGCHLD";
const char* kTwoHop = "two-hop floor: pidfd, a line over a Unix socket";
}  // namespace

void kill_rounds(KvdClient& c, KvdSubscriber& sub, RecordFifo& fifo, const std::string& prefix,
                 std::size_t kills, std::vector<double>& sub_us, std::vector<double>& handler_us,
                 const std::vector<std::pair<std::string, pid_t>>* victims) {
    for (std::size_t k = 0; k < kills; ++k) {
        std::string name;
        pid_t pid = 0;
        if (victims) {
            name = (*victims)[k].first;
            pid = (*victims)[k].second;
        } else {
            name = prefix + std::to_string(k);
            c.send(fmt::format(R"("op":"create","bucket":"{}")", name));
            c.send(fmt::format(R"("op":"get","bucket":"{}","key":"ready")", name));
            auto created = nlohmann::json::parse(c.next_reply_line(deadline_in_ms(30'000)));
            if (!created.value("ok", false))
                throw BenchError("create " + name + ": " + created.dump());
            pid = created["result"]["pid"].get<pid_t>();
            c.next_reply_line(deadline_in_ms(30'000));  // not_found: the bucket is serving
        }
        int64_t t0 = mono_ns();
        if (kill(pid, SIGKILL) != 0) throw BenchError("kill " + std::to_string(pid) + " failed");
        int64_t t_sub = sub.wait_exit_of(name, deadline_in_ms(30'000));
        auto t_handler = fifo.wait_for(name, deadline_in_ms(30'000));
        if (t_sub < 0) throw BenchError("no exit event for " + name + " on the subscription");
        if (!t_handler) throw BenchError("the handler did not report the exit of " + name);
        sub_us.push_back(ns_to_us(t_sub - t0));
        handler_us.push_back(ns_to_us(*t_handler - t0));
    }
}

void measure_kills(Bench& b, KvdClient& kvd, KvdSubscriber& sub, RecordFifo& fifo,
                   const ExitFloors& floors, std::size_t alive, KillRuns& runs) {
    const std::size_t per_rep = b.per_rep(b.opt.kills);
    for (FloorProcess* f : {floors.one_hop, floors.two_hop})
        if (f) f->command("grow", static_cast<long>(alive));
    fifo.drain();
    sub.drain();
    std::vector<std::function<void(std::size_t)>> turns;
    turns.emplace_back([&](std::size_t rep) {
        std::vector<double> s, h;
        kill_rounds(kvd, sub, fifo, fmt::format("victim-{}-{}-", alive, rep), per_rep, s, h);
        runs.subscriber.push_back(std::move(s));
        runs.handler.push_back(std::move(h));
    });
    auto floor_turn = [&](FloorProcess* f, std::vector<std::vector<double>>& into) {
        if (f)
            turns.emplace_back([f, &into, per_rep](std::size_t) {
                auto r = f->command("kill", static_cast<long>(per_rep));
                into.push_back(r["lat_us"].get<std::vector<double>>());
            });
    };
    floor_turn(floors.one_hop, runs.one_hop);
    floor_turn(floors.two_hop, runs.two_hop);
    for (std::size_t rep = 0; rep < b.opt.reps; ++rep) {
        // Each takes its turn first in some repetition: the order rotates by one each time.
        for (std::size_t i = 0; i < turns.size(); ++i) turns[(rep + i) % turns.size()](rep);
        std::string so_far =
            fmt::format("kvd {:.0f} µs (subscriber)", side_pooled(runs.subscriber, 50).value);
        if (floors.one_hop)
            so_far += fmt::format(", one-hop floor {:.0f} µs", side_pooled(runs.one_hop, 50).value);
        if (floors.two_hop)
            so_far += fmt::format(", two-hop floor {:.0f} µs", side_pooled(runs.two_hop, 50).value);
        b.progress(kSection, "{} others alive, rep {}/{}: p50 so far {}", alive, rep + 1,
                   b.opt.reps, so_far);
    }
    // Against the one-hop floor, the targets it always had; against the two-hop floor, the
    // exit event's p50 with no other bucket alive.
    std::string where = fmt::format("{} others alive", alive);
    auto rows = [&](const std::string& what, const std::vector<std::vector<double>>& kvd_runs) {
        for (double pct : {50.0, 99.0}) {
            std::string name = fmt::format("kill → {} p{:.0f}, {}", what, pct, where);
            if (floors.one_hop)
                b.report.add(latency_row(kSection, name, pct, kvd_runs, kOneHop, runs.one_hop,
                                         ratio_at_most(pct == 50 ? 1.5 : 2, "one-hop floor")));
            if (floors.two_hop)
                b.report.add(latency_row(
                    kSection, name + ", vs two-hop floor", pct, kvd_runs, kTwoHop, runs.two_hop,
                    pct == 50 && alive == 0 ? ratio_at_most(1.2, "two-hop floor") : Target{}));
        }
    };
    rows("subscriber", runs.subscriber);
    rows("sync handler", runs.handler);
}

void run_exit(Bench& b) {
    RecordFifo fifo(b.tmp.file("exit.fifo"));
    KvdSetup setup;
    setup.handler = HandlerKind::ack;
    setup.handler_arg = fifo.path();
    setup.max_buckets = b.opt.some_alive + 100;
    KvdServer server(b.paths, b.tmp, "exit", setup);
    KvdClient kvd(server.socket());
    KvdSubscriber sub(server.socket(), {"exit"});
    FloorProcess one_hop("one-hop exit floor", b.paths.bin("kvd-bench-exit-floor"),
                         b.paths.bin("kv-bucket"), b.tmp.file("exit-floor.log"));
    FloorProcess two_hop("two-hop exit floor", b.paths.bin("kvd-bench-exit-floor"),
                         b.paths.bin("kv-bucket"), b.tmp.file("exit-floor-two-hop.log"),
                         {"--two-hop"});

    measure_kills(b, kvd, sub, fifo, {&one_hop, &two_hop}, 0, b.shared.kills_at_0);
    if (b.opt.some_alive > 0) {
        b.progress(kSection, "starting {} other buckets in kvd and in each floor",
                   b.opt.some_alive);
        kvd.create_all(bucket_names("other-", b.opt.some_alive));
        KillRuns some;
        measure_kills(b, kvd, sub, fifo, {&one_hop, &two_hop}, b.opt.some_alive, some);
    }
}

}  // namespace kvd::bench
