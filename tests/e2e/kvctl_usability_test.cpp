// kvctl as people use it, against a real kvd: `notify --sync` answering with the event's
// real seq.
#include <string>
#include <vector>

#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

class KvctlUsability : public KvdTest {
  protected:
    void SetUp() override {
        if (!kvctl_built()) GTEST_SKIP() << "kvctl is not built";
        KvdTest::SetUp();
    }
    // kvctl --socket <this kvd's socket> args...
    RunResult kvctl(std::vector<std::string> args) {
        args.insert(args.begin(), {"--socket", kvd().socket_path()});
        return run_kvctl(args);
    }
};

// Without a sync receiver for its type, the completion of a sync notify runs inside the
// publish; the reply still names the event's seq.
TEST_F(KvctlUsability, NotifySyncRepliesWithTheEventsSeq) {
    ASSERT_TRUE(is_ok(call("notify", {{"type", "first"}})));
    Json reply = call("notify", {{"type", "second"}, {"sync", true}});
    ASSERT_TRUE(is_ok(reply));
    EXPECT_EQ(reply["result"], (Json{{"seq", 2}})) << reply.dump();
    // A type with an escape takes the general path rather than the fast one.
    reply = call("notify", {{"type", "say \"hi\""}, {"data", {1, 2}}, {"sync", true}});
    ASSERT_TRUE(is_ok(reply));
    EXPECT_EQ(reply["result"], (Json{{"seq", 3}})) << reply.dump();

    RunResult r = kvctl({"notify", "--sync", "fourth"});
    EXPECT_EQ(r.exit_code, 0) << r;
    EXPECT_EQ(r.out, "published fourth (seq 4)\n");
}

}  // namespace
}  // namespace kvd::test
