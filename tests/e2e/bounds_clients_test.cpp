// What one client connection may make kvd hold is bounded ([daemon] client_buffer_bytes, 8 MiB
// by default): replies not yet written, replies finished but waiting behind a slow request,
// and room for the replies of requests under way. At the bound kvd stops reading from that
// client, and reads again once it drains; no reply is lost.
#include <signal.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

// Bucket replies of about 100 KB: a thousand of them held would be 100 MB.
constexpr std::size_t kValueBytes = 100'000;
constexpr int kGets = 1000;
// What kvd may hold with one such client at the default bound, with room to spare: its own
// few MiB, the 8 MiB bound, and the replies to the requests it had under way when it
// stopped reading (at most 128).
constexpr long kMostKib = 48 * 1024;

class BoundsClientBuffer : public KvdTest {
  protected:
    void SetUp() override {
        KvdTest::SetUp();
        ASSERT_GT(create("big"), 0);
        ASSERT_TRUE(is_ok(call(
            "put", {{"bucket", "big"}, {"key", "v"}, {"value", std::string(kValueBytes, 'v')}})));
    }

    std::string gets_of_big(int first_id, int count) {
        std::string burst;
        for (int i = 0; i < count; ++i)
            burst +=
                Json{{"id", first_id + i}, {"op", "get"}, {"bucket", "big"}, {"key", "v"}}.dump() +
                "\n";
        return burst;
    }

    // Once this is answered, `big` has answered every request sent to it before (a bucket
    // answers in order), so whatever kvd read from other clients has come back.
    void sync_with_big() {
        Client other(kvd().socket_path());
        ASSERT_TRUE(is_ok(other.call("get", {{"bucket", "big"}, {"key", "v"}})));
    }

    void expect_rss_bounded(const char* what) {
        if (kSanitized) return;
        long rss = rss_kib(kvd().pid());
        EXPECT_GT(rss, 0);
        EXPECT_LT(rss, kMostKib) << "kvd's RSS is " << rss << " KiB " << what;
    }

    // Reads replies id first_id … first_id + count - 1, in order.
    void read_replies(Client& c, int first_id, int count, bool check_value = true) {
        for (int id = first_id; id < first_id + count; ++id) {
            auto reply = c.read_json(30s);
            ASSERT_TRUE(reply.has_value()) << "no reply " << id;
            ASSERT_EQ((*reply)["id"], id);
            if (check_value) {
                ASSERT_TRUE(is_ok(*reply)) << "reply " << id;
                ASSERT_EQ((*reply)["result"]["value"].get<std::string>().size(), kValueBytes);
            }
        }
    }
};

// A get to a frozen bucket, then a thousand gets whose replies are ready at once but must
// wait behind it: kvd holds about the bound, not 100 MB, and once the slow request ends
// (here when the bucket runs again) every reply comes, in order.
TEST_F(BoundsClientBuffer, FinishedRepliesWaitingBehindASlowRequestAreBounded) {
    pid_t frozen = create("frozen");
    ASSERT_GT(frozen, 0);
    ASSERT_TRUE(freeze(frozen));
    Client c(kvd().socket_path());
    std::string burst =
        Json{{"id", 0}, {"op", "get"}, {"bucket", "frozen"}, {"key", "k"}}.dump() + "\n";
    burst += gets_of_big(1, kGets);
    ASSERT_TRUE(c.send_raw(burst));
    ASSERT_NO_FATAL_FAILURE(sync_with_big());
    expect_rss_bounded("with a thousand replies waiting behind a frozen bucket");

    ASSERT_EQ(::kill(frozen, SIGCONT), 0);
    read_replies(c, 0, 1, /*check_value=*/false);  // not_found, or timeout if it took long
    read_replies(c, 1, kGets);
}

// A client that pipelines a thousand gets and reads nothing: kvd writes what the socket takes,
// keeps about the bound more, and reads the rest of the requests only as the client reads.
TEST_F(BoundsClientBuffer, AClientThatDoesNotReadIsBounded) {
    Client c(kvd().socket_path());
    ASSERT_TRUE(c.send_raw(gets_of_big(1, kGets)));
    ASSERT_NO_FATAL_FAILURE(sync_with_big());
    expect_rss_bounded("with a client that reads none of a thousand replies");
    read_replies(c, 1, kGets);
    EXPECT_TRUE(is_ok(c.call("ping")));
}

// The room counted for each request under way follows the connection's recent replies: after
// one reply larger than the whole bound, a few small ones bring it down again, so a request
// waiting on a frozen bucket does not stop kvd from reading the requests pipelined after it
// (they reach their bucket; their replies wait in order behind it).
class BoundsReplyRoom : public KvdTest {
  protected:
    KvdOptions options() override {
        KvdOptions o;
        // A small bound, and a request timeout no wait here comes near.
        o.config =
            "[daemon]\nclient_buffer_bytes = \"256KiB\"\n[bucket]\nrequest_timeout = \"1h\"\n";
        return o;
    }
};

TEST_F(BoundsReplyRoom, OneLargeReplyDoesNotHoldTheConnectionDown) {
    ASSERT_GT(create("wide"), 0);
    for (int i = 0; i < 10; ++i)
        ASSERT_TRUE(is_ok(call("put", {{"bucket", "wide"},
                                       {"key", std::to_string(i) + std::string(30'000, 'k')},
                                       {"value", "v"}})));
    pid_t frozen = create("frozen");
    ASSERT_GT(frozen, 0);
    ASSERT_GT(create("small"), 0);

    Client c(kvd().socket_path());
    // One reply of ~300 KB, past the 256 KiB bound, then a few small ones.
    auto keys = c.call("keys", {{"bucket", "wide"}});
    ASSERT_TRUE(is_ok(keys)) << keys.dump().substr(0, 200);
    for (int i = 0; i < 8; ++i) ASSERT_TRUE(is_ok(c.call("ping")));

    ASSERT_TRUE(freeze(frozen));
    constexpr int kPuts = 20;
    std::string burst =
        Json{{"id", 0}, {"op", "get"}, {"bucket", "frozen"}, {"key", "k"}}.dump() + "\n";
    for (int i = 1; i <= kPuts; ++i)
        burst += Json{{"id", i},
                      {"op", "put"},
                      {"bucket", "small"},
                      {"key", "k" + std::to_string(i)},
                      {"value", "v"}}
                     .dump() +
                 "\n";
    ASSERT_TRUE(c.send_raw(burst));
    // Every put reaches `small` while the get still waits on `frozen`.
    Client other(kvd().socket_path());
    ASSERT_TRUE(wait_until(
        [&] {
            auto r = other.call("keys", {{"bucket", "small"}});
            return is_ok(r) && r["result"]["keys"].size() == kPuts;
        },
        10s, "the pipelined puts to reach their bucket"));

    ASSERT_EQ(::kill(frozen, SIGCONT), 0);
    for (int id = 0; id <= kPuts; ++id) {
        auto reply = c.read_json(30s);
        ASSERT_TRUE(reply.has_value()) << "no reply " << id;
        EXPECT_EQ((*reply)["id"], id);
    }
}

}  // namespace
}  // namespace kvd::test
