// The history ring ([daemon] event_history, event_history_bytes) is bounded in bytes as well
// as in events: with 1 MB events, far fewer than `event_history` of them stay, the oldest go
// first, and a `from_seq` older than what is left is `history_lost`.
#include <string>

#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

constexpr int kHistoryEvents = 40;
// Each event line is about 1 MB: 40 of them pass the default 32 MiB of history.
constexpr std::size_t kHistoryPayload = 1'000'000;

TEST(BoundsHistory, BigEventsAreKeptWithinTheHistoryBytes) {
    TempDir dir;
    KvdProcess kvd(dir);
    ASSERT_TRUE(kvd.ready());
    Client publisher(kvd.socket_path());
    for (int i = 0; i < kHistoryEvents; ++i) {
        Json reply = publisher.call(
            "notify",
            {{"type", "big"}, {"data", {{"i", i}, {"pad", std::string(kHistoryPayload, 'h')}}}});
        ASSERT_TRUE(is_ok(reply)) << "notify " << i;
        ASSERT_EQ(reply["result"]["seq"], i + 1);
    }

    // The first events are gone although the ring holds 10,000 events by count.
    Client early(kvd.socket_path());
    Json lost = early.call("subscribe", {{"from_seq", 1}});
    ASSERT_TRUE(is_error(lost, "history_lost")) << lost.dump().substr(0, 300);
    const std::string message = lost["error"]["message"];
    EXPECT_NE(message.find("bytes"), std::string::npos) << message;

    // The newest 26 (about 26 MB) are all still there, in order, whole.
    constexpr int kFrom = kHistoryEvents - 25;
    Client late(kvd.socket_path());
    ASSERT_TRUE(is_ok(late.call("subscribe", {{"from_seq", kFrom}})));
    for (int seq = kFrom; seq <= kHistoryEvents; ++seq) {
        auto event = late.read_json(20s);
        ASSERT_TRUE(event.has_value()) << "no replayed event " << seq;
        ASSERT_EQ((*event)["seq"], seq);
        EXPECT_EQ((*event)["data"]["i"], seq - 1);
        EXPECT_EQ((*event)["data"]["pad"].get<std::string>().size(), kHistoryPayload);
    }
}

}  // namespace
}  // namespace kvd::test
