// A sync handler that crashes every few events is restarted with backoff, and between all
// its incarnations it still sees every event, in order: an event it had not acked is
// delivered again to the next one (at least once), nothing is skipped.
#include <string>
#include <vector>

#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

constexpr uint64_t kCrashEvents = 30;

class EventsCrashingHandler : public ::testing::Test {
  protected:
    void SetUp() override {
        out_ = dir_.file("crashy.out");
        // Acks three events, then exits with status 1.
        Json command = {test_handler_path(), "--out", out_, "exit-after", "3"};
        KvdOptions options;
        options.config =
            "[[handler]]\nname = \"crashy\"\nmode = \"sync\"\nrestart = \"always\"\n"
            "restart_delay = \"10ms\"\nrestart_delay_max = \"50ms\"\ncommand = " +
            command.dump() + "\n";
        kvd_ = std::make_unique<KvdProcess>(dir_, options);
        ASSERT_TRUE(kvd_->ready());
        client_ = std::make_unique<Client>(kvd_->socket_path());
        ASSERT_TRUE(client_->connected()) << client_->connect_error();
    }

    Json crashy_info() { return handler_info(*client_, "crashy"); }

    // The seqs in the handler's file, in the order its incarnations wrote them.
    std::vector<uint64_t> seqs_seen() {
        std::vector<uint64_t> seqs;
        for (const auto& line : read_lines(out_)) {
            Json e = Json::parse(line, nullptr, false);
            seqs.push_back(e.is_object() ? e.value("seq", uint64_t{0}) : 0);
        }
        return seqs;
    }

    TempDir dir_;
    std::string out_;
    std::unique_ptr<KvdProcess> kvd_;
    std::unique_ptr<Client> client_;
};

TEST_F(EventsCrashingHandler, EveryEventArrivesInOrderAcrossRestarts) {
    for (uint64_t i = 1; i <= kCrashEvents; ++i)
        ASSERT_TRUE(is_ok(client_->call("notify", {{"type", "tick"}, {"data", i}, {"sync", true}})))
            << "notify " << i;

    ASSERT_TRUE(wait_until(
        [&] {
            auto seqs = seqs_seen();
            return !seqs.empty() && seqs.back() == kCrashEvents;
        },
        20s, "the handler's incarnations to get every event"));

    // Redelivery may repeat an event (at least once), but only right where it was lost:
    // with consecutive repeats removed, the sequence is exactly 1..N.
    std::vector<uint64_t> seqs = seqs_seen();
    std::vector<uint64_t> unique;
    for (uint64_t s : seqs)
        if (unique.empty() || unique.back() != s) unique.push_back(s);
    std::vector<uint64_t> expected;
    for (uint64_t i = 1; i <= kCrashEvents; ++i) expected.push_back(i);
    EXPECT_EQ(unique, expected) << read_file(out_);

    // Ten incarnations acked three events each: at least nine restarts.
    ASSERT_TRUE(wait_until(
        [&] {
            Json h = crashy_info();
            return h.value("restarts", uint64_t{0}) >= kCrashEvents / 3 - 1;
        },
        10s, "nine restarts to be counted"));
    Json h = crashy_info();
    EXPECT_GE(h["acked"].get<uint64_t>(), kCrashEvents) << h.dump();
    EXPECT_EQ(h["mode"], "sync");
}

// The same with bucket events: each create and exit reaches the handler exactly in seq order
// although the handler keeps dying under it.
TEST_F(EventsCrashingHandler, BucketEventsSurviveRestartsToo) {
    constexpr int kBuckets = 10;
    for (int i = 0; i < kBuckets; ++i)
        ASSERT_TRUE(is_ok(client_->call("create", {{"bucket", "b" + std::to_string(i)}})));
    for (int i = 0; i < kBuckets; ++i)
        ASSERT_TRUE(is_ok(client_->call("stop", {{"bucket", "b" + std::to_string(i)}})));
    const uint64_t last = 2 * kBuckets;
    ASSERT_TRUE(wait_until(
        [&] {
            auto seqs = seqs_seen();
            return !seqs.empty() && seqs.back() == last;
        },
        20s, "the handler's incarnations to get every event"));

    std::vector<Json> unique;
    for (const auto& line : read_lines(out_)) {
        Json e = Json::parse(line);
        if (unique.empty() || unique.back()["seq"] != e["seq"]) unique.push_back(e);
    }
    ASSERT_EQ(unique.size(), last) << read_file(out_);
    for (uint64_t i = 0; i < last; ++i) {
        EXPECT_EQ(unique[i]["seq"], i + 1);
        std::string bucket = "b" + std::to_string(i % kBuckets);
        EXPECT_EQ(unique[i]["type"], i < kBuckets ? "create" : "exit") << unique[i].dump();
        EXPECT_EQ(unique[i]["bucket"], bucket) << unique[i].dump();
    }
}

}  // namespace
}  // namespace kvd::test
