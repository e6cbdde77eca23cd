// The exit reason of a bucket that kvd signalled on request: `kill` makes it `killed`, even
// when the bucket handles the signal and exits by itself (kv-bucket exits 0 on SIGTERM).
#include <csignal>

#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

class KillReason : public KvdTest {
  protected:
    // The exit event of `bucket`, read from a subscription opened before it was signalled.
    Json exit_event_after(const std::string& bucket, const std::string& signal) {
        auto sub = connect();
        Json reply = sub->call("subscribe", {{"types", {"exit"}}});
        EXPECT_TRUE(is_ok(reply));
        Json killed = call("kill", {{"bucket", bucket}, {"signal", signal}});
        EXPECT_TRUE(is_ok(killed));
        auto ev = sub->read_json(30s);
        EXPECT_TRUE(ev.has_value());
        return ev ? *ev : Json();
    }
};

TEST_F(KillReason, KillWithSigtermReadsKilled) {
    ASSERT_GT(create("b"), 0);
    Json ev = exit_event_after("b", "TERM");
    EXPECT_EQ(ev["bucket"], "b");
    EXPECT_EQ(ev["reason"], "killed") << ev.dump();
}

TEST_F(KillReason, KillWithSigkillReadsKilled) {
    ASSERT_GT(create("b"), 0);
    Json ev = exit_event_after("b", "KILL");
    EXPECT_EQ(ev["reason"], "killed") << ev.dump();
    EXPECT_EQ(ev["signal"], "SIGKILL");
}

}  // namespace
}  // namespace kvd::test
