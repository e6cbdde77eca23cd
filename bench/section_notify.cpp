// notify: events published as fast as a pipelining client can (at most event_window
// unanswered requests), delivered to 1 and to 8 async subscribers: events/s delivered (sum
// over the subscribers) and events dropped. Reference: Redis PUBLISH/SUBSCRIBE over a Unix
// socket with the same payload, subscriber count and window. Publisher and subscribers share
// this one thread, for both systems alike.
#include <fmt/format.h>

#include <memory>

#include "bench/kvd_peer.hpp"
#include "bench/redis_peer.hpp"
#include "bench/sections.hpp"

namespace kvd::bench {

namespace {

const char* kSection = "notify";

struct Throughput {
    double delivered_per_s = 0;
    double dropped = 0;  // dropped (kvd's `dropped` events) or lost (Redis disconnects)
};

// Until every subscriber accounted for every event, or nothing moved for 10 s.
constexpr int64_t kStallNs = 10'000'000'000;

// {"p":"xxxx…"} of exactly `bytes` bytes (at least 8).
std::string payload(std::size_t bytes) {
    std::size_t pad = bytes > 8 ? bytes - 8 : 0;
    return "{\"p\":\"" + std::string(pad, 'x') + "\"}";
}

Throughput kvd_run(const std::string& socket, std::size_t subs, const Options& o) {
    std::vector<std::unique_ptr<KvdSubscriber>> subscribers;
    for (std::size_t i = 0; i < subs; ++i)
        subscribers.push_back(
            std::make_unique<KvdSubscriber>(socket, std::vector<std::string>{"bench"}));
    KvdClient pub(socket);
    std::vector<Conn*> conns = {&pub.conn()};
    for (auto& s : subscribers) conns.push_back(&s->conn());
    std::vector<uint64_t> got(subs, 0), dropped(subs, 0);
    const std::string request =
        fmt::format(R"("op":"notify","type":"bench","data":{})", payload(o.payload_bytes));
    const uint64_t n = o.events;

    uint64_t sent = 0, answered = 0;
    int64_t start = mono_ns(), last_event = start, last_progress = start;
    std::string_view line;
    for (;;) {
        while (sent < n && sent - answered < o.event_window) {
            pub.send(request);
            ++sent;
        }
        pump_all(conns, 100);
        bool progress = false;
        while (pub.conn().next_line(line)) {
            if (!reply_ok(line)) throw BenchError(fmt::format("notify: {}", line));
            ++answered;
            progress = true;
        }
        bool all_done = answered == n;
        for (std::size_t i = 0; i < subs; ++i) {
            Conn& c = subscribers[i]->conn();
            while (c.next_line(line)) {
                if (line.find(R"("type":"dropped")") != std::string_view::npos) {
                    auto at = line.find(R"("count":)");
                    dropped[i] +=
                        std::strtoull(std::string(line.substr(at + 8, 20)).c_str(), nullptr, 10);
                } else {
                    ++got[i];
                }
                progress = true;
                last_event = mono_ns();
            }
            if (got[i] + dropped[i] < n) all_done = false;
        }
        int64_t now = mono_ns();
        if (progress) last_progress = now;
        if (all_done || now - last_progress > kStallNs) break;
    }
    Throughput t;
    uint64_t total = 0, lost = 0;
    for (std::size_t i = 0; i < subs; ++i) {
        total += got[i];
        lost += n - std::min<uint64_t>(n, got[i]);
    }
    t.delivered_per_s = static_cast<double>(total) / ns_to_s(last_event - start);
    t.dropped = static_cast<double>(lost);
    return t;
}

Throughput redis_run(const std::string& socket, std::size_t subs, const Options& o) {
    std::vector<std::unique_ptr<Conn>> subscribers;
    for (std::size_t i = 0; i < subs; ++i) {
        auto c = std::make_unique<Conn>(socket);
        c->send(resp_command({"SUBSCRIBE", "bench"}));
        int64_t deadline = deadline_in_ms(10'000);
        std::size_t size;
        while ((size = resp_reply_size(c->input())) == 0) {
            if (c->eof() || mono_ns() > deadline)
                throw BenchError("redis SUBSCRIBE: no confirmation");
            c->pump(100);
        }
        c->consume(size);
        subscribers.push_back(std::move(c));
    }
    Conn pub(socket);
    std::vector<Conn*> conns = {&pub};
    for (auto& s : subscribers) conns.push_back(s.get());
    std::vector<uint64_t> got(subs, 0);
    const std::string command = resp_command({"PUBLISH", "bench", payload(o.payload_bytes)});
    const uint64_t n = o.events;

    uint64_t sent = 0, answered = 0;
    int64_t start = mono_ns(), last_event = start, last_progress = start;
    for (;;) {
        while (sent < n && sent - answered < o.event_window) {
            pub.send(command);
            ++sent;
        }
        pump_all(conns, 100);
        bool progress = false;
        for (std::size_t size; (size = resp_reply_size(pub.input())) != 0;) {
            if (pub.input()[0] == '-')
                throw BenchError("redis PUBLISH: " + std::string(pub.input().substr(0, size)));
            pub.consume(size);
            ++answered;
            progress = true;
        }
        bool all_done = answered == n;
        for (std::size_t i = 0; i < subs; ++i) {
            Conn& c = *subscribers[i];
            for (std::size_t size; (size = resp_reply_size(c.input())) != 0;) {
                if (resp_is_message(c.input())) ++got[i];
                c.consume(size);
                progress = true;
                last_event = mono_ns();
            }
            // A subscriber Redis disconnected (output buffer limit) gets nothing more.
            if (got[i] < n && !c.eof()) all_done = false;
        }
        int64_t now = mono_ns();
        if (progress) last_progress = now;
        if (all_done || now - last_progress > kStallNs) break;
        if (pub.eof()) throw BenchError("redis closed the publisher's connection");
    }
    Throughput t;
    uint64_t total = 0, lost = 0;
    for (std::size_t i = 0; i < subs; ++i) {
        total += got[i];
        lost += n - std::min<uint64_t>(n, got[i]);
    }
    t.delivered_per_s = static_cast<double>(total) / ns_to_s(last_event - start);
    t.dropped = static_cast<double>(lost);
    return t;
}

}  // namespace

void run_notify(Bench& b) {
    KvdSetup setup;
    setup.handler = HandlerKind::ack;  // attached as in every section; it wants no custom events
    setup.handler_arg = "/dev/null";
    KvdServer kvd(b.paths, b.tmp, "notify", setup);
    std::string redis_program = find_in_path("redis-server");
    std::unique_ptr<RedisServer> redis;
    std::string redis_missing;
    if (redis_program.empty())
        redis_missing = "redis-server is not installed (scripts/deps.sh bench installs it)";
    else {
        try {
            redis = std::make_unique<RedisServer>(b.tmp, redis_program);
        } catch (const BenchError& e) {
            redis_missing = e.what();
        }
    }
    if (!redis) b.report.note("notify: no Redis reference: " + redis_missing);

    for (std::size_t subs : b.opt.subscribers) {
        std::vector<double> k_rate, k_drop, r_rate, r_drop;
        for (std::size_t rep = 0; rep < b.opt.reps; ++rep) {
            auto run_kvd = [&] {
                Throughput t = kvd_run(kvd.socket(), subs, b.opt);
                k_rate.push_back(t.delivered_per_s);
                k_drop.push_back(t.dropped);
            };
            auto run_redis = [&] {
                if (!redis) return;
                Throughput t = redis_run(redis->socket(), subs, b.opt);
                r_rate.push_back(t.delivered_per_s);
                r_drop.push_back(t.dropped);
            };
            if (rep % 2 == 0) {
                run_kvd();
                run_redis();
            } else {
                run_redis();
                run_kvd();
            }
            b.progress(kSection,
                       "{} subscriber(s), rep {}/{}: kvd {:.0f} events/s ({} dropped), redis {}",
                       subs, rep + 1, b.opt.reps, k_rate.back(), k_drop.back(),
                       r_rate.empty() ? std::string("-") : fmt::format("{:.0f}", r_rate.back()));
        }
        std::string what =
            fmt::format("{} events → {} subscriber{}", b.opt.events, subs, subs == 1 ? "" : "s");
        b.report.add(paired_row(kSection, "notify " + what + ", delivered", "events/s",
                                Better::higher, k_rate, redis ? "Redis pub/sub" : "", r_rate,
                                ratio_at_least(1.0, "Redis")));
        b.report.add(paired_row(kSection, "notify " + what + ", dropped or lost", "events",
                                Better::lower, k_drop, redis ? "Redis pub/sub" : "", r_drop));
    }
}

}  // namespace kvd::bench
