// `subscribe` with `from_seq`: the events still in the history ring from that seq on, then the
// live stream, with no gap and no duplicate at the seam, even while others keep publishing.
// A `from_seq` older than the ring is `history_lost`, saying how many events are gone.
#include <algorithm>
#include <atomic>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

// Publishes `count` notify events of `type` on `client`, pipelined in batches; false (and a
// test failure) if any is not answered ok.
bool publish(Client& client, int count, const std::string& type) {
    constexpr int kBatch = 50;
    for (int sent = 0; sent < count; sent += kBatch) {
        int n = std::min(kBatch, count - sent);
        std::string batch;
        for (int i = 0; i < n; ++i)
            batch += Json{{"id", sent + i}, {"op", "notify"}, {"type", type}, {"data", sent + i}}
                         .dump() +
                     "\n";
        if (!client.send_raw(batch)) {
            ADD_FAILURE() << "could not send notify batch at " << sent;
            return false;
        }
        for (int i = 0; i < n; ++i) {
            auto reply = client.read_json(10s);
            if (!reply || !is_ok(*reply)) {
                ADD_FAILURE() << "notify " << sent + i
                              << " failed: " << (reply ? reply->dump() : "no reply");
                return false;
            }
        }
    }
    return true;
}

class EventsFromSeq : public ::testing::Test {
  protected:
    void start(const std::string& config) {
        KvdOptions options;
        if (!config.empty()) options.config = config;
        kvd_ = std::make_unique<KvdProcess>(dir_, options);
        ASSERT_TRUE(kvd_->ready());
        client_ = std::make_unique<Client>(kvd_->socket_path());
        ASSERT_TRUE(client_->connected()) << client_->connect_error();
    }

    TempDir dir_;
    std::unique_ptr<KvdProcess> kvd_;
    std::unique_ptr<Client> client_;
};

TEST_F(EventsFromSeq, ReplayThenLiveWithoutGapOrDuplicateUnderLoad) {
    ASSERT_NO_FATAL_FAILURE(start(""));
    constexpr int kBefore = 100, kDuring = 500;
    ASSERT_TRUE(publish(*client_, kBefore, "before"));

    // Another client publishes as fast as kvd takes it while the subscription starts.
    std::atomic<bool> published{false};
    Client loader(kvd_->socket_path());
    ASSERT_TRUE(loader.connected());
    std::thread load([&] { published = publish(loader, kDuring, "during"); });
    // Subscribe once the load is under way (it usually still is when the reply comes).
    EXPECT_TRUE(wait_until(
        [&] {
            Json status = client_->call("status");
            return is_ok(status) && status["result"]["last_seq"].get<uint64_t>() > kBefore;
        },
        10s, "the loader to start publishing"));

    Client sub(kvd_->socket_path());
    Json reply = sub.call("subscribe", {{"from_seq", 50}});
    EXPECT_TRUE(is_ok(reply));
    uint64_t at_subscribe = reply["result"].value("seq", uint64_t{0});
    EXPECT_GE(at_subscribe, uint64_t{kBefore});
    EXPECT_LE(at_subscribe, uint64_t{kBefore + kDuring});

    const uint64_t last = kBefore + kDuring;
    std::vector<uint64_t> seqs;
    while (seqs.empty() || seqs.back() < last) {
        auto e = sub.read_json(20s);
        if (!e) break;
        seqs.push_back((*e)["seq"].get<uint64_t>());
        ASSERT_EQ((*e)["type"], seqs.back() <= kBefore ? "before" : "during") << e->dump();
        ASSERT_EQ((*e)["data"],
                  seqs.back() <= kBefore ? seqs.back() - 1 : seqs.back() - kBefore - 1);
    }
    load.join();
    EXPECT_TRUE(published);

    std::vector<uint64_t> expected;
    for (uint64_t s = 50; s <= last; ++s) expected.push_back(s);
    EXPECT_EQ(seqs, expected);

    // Nothing beyond the last one: the next event is the next seq.
    ASSERT_TRUE(is_ok(client_->call("notify", {{"type", "tail"}})));
    auto tail = sub.read_json(10s);
    ASSERT_TRUE(tail);
    EXPECT_EQ((*tail)["seq"], last + 1);
}

TEST_F(EventsFromSeq, FromSeqWithATypeFilterReplaysOnlyThatType) {
    ASSERT_NO_FATAL_FAILURE(start(""));
    ASSERT_TRUE(publish(*client_, 5, "skip"));
    ASSERT_TRUE(is_ok(client_->call("notify", {{"type", "keep"}, {"data", 1}})));
    ASSERT_TRUE(publish(*client_, 5, "skip"));
    ASSERT_TRUE(is_ok(client_->call("notify", {{"type", "keep"}, {"data", 2}})));

    Client sub(kvd_->socket_path());
    ASSERT_TRUE(is_ok(sub.call("subscribe", {{"from_seq", 1}, {"types", {"keep"}}})));
    ASSERT_TRUE(is_ok(client_->call("notify", {{"type", "keep"}, {"data", 3}})));
    for (int i = 1; i <= 3; ++i) {
        auto e = sub.read_json(10s);
        ASSERT_TRUE(e);
        EXPECT_EQ((*e)["type"], "keep");
        EXPECT_EQ((*e)["data"], i);
    }
}

TEST_F(EventsFromSeq, OlderThanTheRingIsHistoryLost) {
    ASSERT_NO_FATAL_FAILURE(start("[daemon]\nevent_history = 20\n"));
    ASSERT_TRUE(publish(*client_, 100, "e"));

    // The ring holds 81..100: from 1, 80 events are gone; from 5, 76; from 80, one.
    Client sub(kvd_->socket_path());
    for (auto [from, gone] : {std::pair{1, 80}, std::pair{5, 76}, std::pair{80, 1}}) {
        Json lost = sub.call("subscribe", {{"from_seq", from}});
        ASSERT_TRUE(is_error(lost, "history_lost")) << "from_seq " << from;
        std::string message = lost["error"]["message"];
        EXPECT_TRUE(std::regex_search(message, std::regex("\\b" + std::to_string(gone) + "\\b")))
            << "from_seq " << from << ": the message does not say " << gone
            << " are gone: " << message;
    }

    // The refused connection is still an ordinary one and can subscribe from what is kept.
    EXPECT_TRUE(is_ok(sub.call("ping")));
    Json ok = sub.call("subscribe", {{"from_seq", 81}});
    ASSERT_TRUE(is_ok(ok));
    EXPECT_EQ(ok["result"]["seq"], 100);
    for (uint64_t s = 81; s <= 100; ++s) {
        auto e = sub.read_json(10s);
        ASSERT_TRUE(e) << "no event " << s;
        EXPECT_EQ((*e)["seq"], s);
    }
}

}  // namespace
}  // namespace kvd::test
