// Memory: --cycles create/put/stop cycles (pipelined --cycle-batch at a time, on a connection
// replaced every sample interval) with a sync handler and an async subscriber attached. kvd's
// RSS is sampled as it goes and must stay flat once warmed up: a leak of even 100 bytes a
// cycle would show as ~10 MiB over 100,000 cycles.
//
// Under sanitizers RSS says nothing (ASan keeps freed memory in quarantine), so there the
// figures are only reported and LeakSanitizer does the checking: kvd must exit 0 after the
// run, which it does not when LSan finds a leak.
#include <fmt/format.h>

#include <algorithm>

#include "tests/stress/stress.hpp"

namespace kvd::stress {
namespace {

using Clock = std::chrono::steady_clock;

// The history ring is bounded by design and fills first; it is kept small so that it is
// full long before the warm-up ends and the samples after it see only what cycles leave.
constexpr int kEventHistory = 1000;

TEST(Memory, RssIsFlatOverCreateStopCycles) {
    const StressOptions& o = options();
    const int sample_every = std::clamp(o.cycles / 20, 1, 1000);
    // Samples from this cycle on are compared with the first of them.
    const int warmup = std::max(sample_every, o.cycles / 10 / sample_every * sample_every);

    TempDir dir;
    Json command = {test_handler_path(), "ack"};
    KvdOptions kvd_options;
    kvd_options.config = fmt::format(
        "[daemon]\nevent_history = {}\n\n[[handler]]\nname = \"audit\"\nmode = \"sync\"\ncommand = "
        "{}\n",
        kEventHistory, command.dump());
    KvdProcess kvd(dir, kvd_options);
    ASSERT_TRUE(kvd.ready());
    EventRecorder subscriber(kvd.socket_path(), EventRecorder::Mode::async, /*keep=*/false);
    ASSERT_TRUE(subscriber.subscribed());

    struct Sample {
        int cycle;
        long rss_kib;
    };
    std::vector<Sample> samples{{0, rss_kib(kvd.pid())}};
    const auto start = Clock::now();
    auto client = std::make_unique<Client>(kvd.socket_path());
    int64_t id = 1;
    for (int done = 0; done < o.cycles;) {
        const int n = std::min(o.cycle_batch, o.cycles - done);
        std::vector<Json> requests;
        for (int i = 0; i < n; ++i) {
            std::string name = fmt::format("m{}", done + i);
            requests.push_back({{"op", "create"}, {"bucket", name}});
            requests.push_back({{"op", "put"}, {"bucket", name}, {"key", "k"}, {"value", name}});
            requests.push_back({{"op", "stop"}, {"bucket", name}});
        }
        auto replies = pipeline(*client, std::move(requests), id);
        ASSERT_EQ(replies.size(), static_cast<std::size_t>(3 * n));
        for (const Json& r : replies) ASSERT_TRUE(is_ok(r)) << "at cycle " << done;
        const int before = done;
        done += n;
        if (done / sample_every != before / sample_every || done == o.cycles) {
            long rss = rss_kib(kvd.pid());
            samples.push_back({done, rss});
            double secs = std::chrono::duration<double>(Clock::now() - start).count();
            progress("memory: %d/%d cycles (%.0f/s), kvd RSS %.2f MiB", done, o.cycles, done / secs,
                     rss / 1024.0);
            // A new connection now and then, so that connections come and go too.
            client = std::make_unique<Client>(kvd.socket_path());
            ASSERT_TRUE(client->connected()) << client->connect_error();
            id = 1;
        }
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();

    // Every event reached the subscriber, none dropped, in order.
    Json status = client->call("status");
    ASSERT_TRUE(is_ok(status));
    EXPECT_EQ(status["result"]["buckets"], 0);
    const uint64_t last_seq = status["result"]["last_seq"].get<uint64_t>();
    EXPECT_EQ(last_seq, 2u * static_cast<uint64_t>(o.cycles));
    EXPECT_TRUE(wait_until([&] { return subscriber.last_seq() >= last_seq; }, 60s,
                           "the subscriber to receive seq " + std::to_string(last_seq)));
    subscriber.stop();
    EXPECT_EQ(subscriber.count(), last_seq);
    EXPECT_EQ(subscriber.dropped(), 0u);
    EXPECT_EQ(subscriber.out_of_order(), 0u);
    EXPECT_TRUE(bucket_children(kvd.pid()).empty());

    auto first = std::find_if(samples.begin(), samples.end(),
                              [&](const Sample& s) { return s.cycle >= warmup; });
    ASSERT_NE(first, samples.end());
    const long warm = first->rss_kib;
    const long last = samples.back().rss_kib;
    const long peak = std::max_element(samples.begin(), samples.end(), [](auto& a, auto& b) {
                          return a.rss_kib < b.rss_kib;
                      })->rss_kib;
    const double per_cycle = samples.back().cycle > first->cycle
                                 ? (last - warm) * 1024.0 / (samples.back().cycle - first->cycle)
                                 : 0.0;
    progress(
        "memory RESULT: %d cycles in %.1f s (%.0f/s); kvd RSS at start %.2f MiB, after "
        "warm-up (cycle %d) %.2f MiB, last %.2f MiB, max %.2f MiB (%+.1f bytes/cycle)",
        o.cycles, seconds, o.cycles / seconds, samples.front().rss_kib / 1024.0, first->cycle,
        warm / 1024.0, last / 1024.0, peak / 1024.0, per_cycle);
    if (kSanitized) {
        progress(
            "memory: sanitizer build, RSS not checked; kvd's exit status carries LeakSanitizer's "
            "verdict");
    } else {
        const long allowed = std::max(4L * 1024, warm / 4);
        EXPECT_LE(last, warm + allowed)
            << "kvd's RSS grew from " << warm << " KiB after warm-up to " << last << " KiB";
    }

    auto exit = kvd.terminate(60s);
    ASSERT_TRUE(exit.has_value()) << "kvd did not exit after SIGTERM";
    EXPECT_TRUE(exit->success()) << exit->describe();
}

}  // namespace
}  // namespace kvd::stress
