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

// kvd's resident set in KiB (VmRSS), or -1.
long rss_kib(pid_t pid) {
    std::string status = read_file("/proc/" + std::to_string(pid) + "/status");
    auto at = status.find("VmRSS:");
    return at == std::string::npos ? -1 : std::strtol(status.c_str() + at + 6, nullptr, 10);
}

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;  // ASan keeps freed memory in quarantine: RSS says little
#else
constexpr bool kSanitized = false;
#endif

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

}  // namespace
}  // namespace kvd::test
