// exit: the latency from SIGKILL sent to a bucket from outside to its `exit` event read by a
// subscriber (this process, `subscribe` on its own connection) and by a sync handler (which
// reports the CLOCK_MONOTONIC time it read the line through a FIFO), with 0 and 1,000 other
// buckets alive (10,000: in the scale section, which has them). The floor is the same kill →
// exit callback in a bare libuv program with as many other live children, each with its
// process handle.
#include <fmt/format.h>
#include <sys/types.h>

#include <csignal>

#include "bench/fifo.hpp"
#include "bench/floor_peer.hpp"
#include "bench/kvd_peer.hpp"
#include "bench/sections.hpp"

namespace kvd::bench {

namespace {
const char* kSection = "exit";
const char* kFloor = "libuv exit_cb floor";
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
                   FloorProcess& floor, std::size_t alive, KillRuns& runs) {
    const std::size_t per_rep = b.per_rep(b.opt.kills);
    floor.command("grow", static_cast<long>(alive));
    fifo.drain();
    sub.drain();
    for (std::size_t rep = 0; rep < b.opt.reps; ++rep) {
        auto run_kvd = [&] {
            std::vector<double> s, h;
            kill_rounds(kvd, sub, fifo, fmt::format("victim-{}-{}-", alive, rep), per_rep, s, h);
            runs.subscriber.push_back(std::move(s));
            runs.handler.push_back(std::move(h));
        };
        auto run_floor = [&] {
            auto r = floor.command("kill", static_cast<long>(per_rep));
            runs.floor.push_back(r["lat_us"].get<std::vector<double>>());
        };
        if (rep % 2 == 0) {
            run_kvd();
            run_floor();
        } else {
            run_floor();
            run_kvd();
        }
        b.progress(
            kSection,
            "{} others alive, rep {}/{}: p50 so far kvd {:.0f} µs (subscriber), floor {:.0f} µs",
            alive, rep + 1, b.opt.reps, side_pooled(runs.subscriber, 50).value,
            side_pooled(runs.floor, 50).value);
    }
    std::string where = fmt::format("{} others alive", alive);
    b.report.add(latency_row(kSection, "kill → subscriber p50, " + where, 50, runs.subscriber,
                             kFloor, runs.floor, ratio_at_most(1.5, "floor")));
    b.report.add(latency_row(kSection, "kill → subscriber p99, " + where, 99, runs.subscriber,
                             kFloor, runs.floor, ratio_at_most(2, "floor")));
    b.report.add(latency_row(kSection, "kill → sync handler p50, " + where, 50, runs.handler,
                             kFloor, runs.floor, ratio_at_most(1.5, "floor")));
    b.report.add(latency_row(kSection, "kill → sync handler p99, " + where, 99, runs.handler,
                             kFloor, runs.floor, ratio_at_most(2, "floor")));
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
    FloorProcess floor("exit floor", b.paths.bin("kvd-bench-exit-floor"), b.paths.bin("kv-bucket"),
                       b.tmp.file("exit-floor.log"));

    measure_kills(b, kvd, sub, fifo, floor, 0, b.shared.kills_at_0);
    if (b.opt.some_alive > 0) {
        b.progress(kSection, "starting {} other buckets in kvd and in the floor", b.opt.some_alive);
        kvd.create_all(bucket_names("other-", b.opt.some_alive));
        KillRuns some;
        measure_kills(b, kvd, sub, fifo, floor, b.opt.some_alive, some);
    }
}

}  // namespace kvd::bench
