// data: pipelined put/get through kvd to one bucket against Redis SET/GET over a Unix
// socket: same value sizes, same keys (1,000 of them, cycled), same pipelining depth.
#include <fmt/format.h>

#include <memory>

#include "bench/kvd_peer.hpp"
#include "bench/redis_peer.hpp"
#include "bench/sections.hpp"

namespace kvd::bench {

namespace {

const char* kSection = "data";
constexpr std::size_t kKeys = 1000;

double kvd_run(KvdClient& c, bool put, const std::string& value, std::size_t n, std::size_t depth) {
    int64_t start = mono_ns();
    c.pipeline(
        n, depth,
        [&](std::size_t i) {
            return put ? fmt::format(R"("op":"put","bucket":"data","key":"k{}","value":"{}")",
                                     i % kKeys, value)
                       : fmt::format(R"("op":"get","bucket":"data","key":"k{}")", i % kKeys);
        },
        [&](std::size_t, std::string_view line) {
            if (!reply_ok(line))
                throw BenchError(fmt::format("kvd {}: {}", put ? "put" : "get", line));
        });
    return static_cast<double>(n) / ns_to_s(mono_ns() - start);
}

double redis_run(Conn& c, bool put, const std::string& value, std::size_t n, std::size_t depth) {
    int64_t start = mono_ns();
    int64_t deadline = deadline_in_ms(600'000);
    std::size_t sent = 0, answered = 0;
    while (answered < n) {
        while (sent < n && sent - answered < depth) {
            std::string key = "k" + std::to_string(sent % kKeys);
            c.send(put ? resp_command({"SET", key, value}) : resp_command({"GET", key}));
            ++sent;
        }
        c.write_some();
        bool got = false;
        for (std::size_t size; (size = resp_reply_size(c.input())) != 0;) {
            char type = c.input()[0];
            if (type == '-' || (!put && type != '$'))
                throw BenchError("redis: " + std::string(c.input().substr(0, size)));
            c.consume(size);
            ++answered;
            got = true;
        }
        if (got) continue;
        if (c.eof()) throw BenchError("redis closed the connection");
        if (mono_ns() > deadline) throw BenchError("redis did not answer in time");
        c.pump(1000);
    }
    return static_cast<double>(n) / ns_to_s(mono_ns() - start);
}

}  // namespace

void run_data(Bench& b) {
    KvdSetup setup;
    setup.handler = HandlerKind::ack;
    setup.handler_arg = "/dev/null";
    KvdServer kvd(b.paths, b.tmp, "data", setup);
    KvdClient client(kvd.socket());
    client.call(R"("op":"create","bucket":"data")");

    std::string redis_program = find_in_path("redis-server");
    std::unique_ptr<RedisServer> redis;
    std::unique_ptr<Conn> redis_conn;
    try {
        if (redis_program.empty())
            throw BenchError("redis-server is not installed (scripts/deps.sh bench installs it)");
        redis = std::make_unique<RedisServer>(b.tmp, redis_program);
        redis_conn = std::make_unique<Conn>(redis->socket());
    } catch (const BenchError& e) {
        b.report.note(std::string("data: no Redis reference: ") + e.what());
    }

    for (std::size_t size : b.opt.value_sizes) {
        std::string value(size, 'v');
        std::vector<double> k_put, k_get, r_put, r_get;
        for (std::size_t rep = 0; rep < b.opt.reps; ++rep) {
            auto run_kvd = [&] {
                k_put.push_back(kvd_run(client, true, value, b.opt.data_ops, b.opt.depth));
                k_get.push_back(kvd_run(client, false, value, b.opt.data_ops, b.opt.depth));
            };
            auto run_redis = [&] {
                if (!redis_conn) return;
                r_put.push_back(redis_run(*redis_conn, true, value, b.opt.data_ops, b.opt.depth));
                r_get.push_back(redis_run(*redis_conn, false, value, b.opt.data_ops, b.opt.depth));
            };
            if (rep % 2 == 0) {
                run_kvd();
                run_redis();
            } else {
                run_redis();
                run_kvd();
            }
            b.progress(kSection, "{} B values, rep {}/{}: kvd put {:.0f}/s get {:.0f}/s; redis {}",
                       size, rep + 1, b.opt.reps, k_put.back(), k_get.back(),
                       r_put.empty()
                           ? std::string("-")
                           : fmt::format("SET {:.0f}/s GET {:.0f}/s", r_put.back(), r_get.back()));
        }
        std::string ref = redis_conn ? "Redis" : "";
        std::string what = fmt::format("{} B values, depth {}", size, b.opt.depth);
        b.report.add(paired_row(kSection, "put " + what, "ops/s", Better::higher, k_put,
                                ref.empty() ? "" : "Redis SET", r_put,
                                ratio_at_least(0.5, "Redis")));
        b.report.add(paired_row(kSection, "get " + what, "ops/s", Better::higher, k_get,
                                ref.empty() ? "" : "Redis GET", r_get,
                                ratio_at_least(0.5, "Redis")));
    }
}

}  // namespace kvd::bench
