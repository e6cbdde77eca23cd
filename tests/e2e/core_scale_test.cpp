// Hundreds of live buckets: created in one pipelined burst, all listed, all real processes,
// and all gone after a graceful shutdown.
#include <set>

#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

using Scale = KvdTest;

TEST_F(Scale, FiveHundredBuckets) {
    constexpr int kBuckets = 500;
    Client& c = client();
    std::string batch;
    for (int i = 0; i < kBuckets; ++i)
        batch +=
            Json{{"id", i}, {"op", "create"}, {"bucket", "b" + std::to_string(i)}}.dump() + "\n";
    ASSERT_TRUE(c.send_raw(batch));
    std::set<pid_t> pids;
    for (int i = 0; i < kBuckets; ++i) {
        auto reply = c.read_json(60s);
        ASSERT_TRUE(reply.has_value()) << "no reply to create #" << i;
        ASSERT_TRUE(is_ok(*reply)) << "create #" << i;
        EXPECT_EQ((*reply)["id"], i);
        pids.insert(pid_in(*reply));
    }
    EXPECT_EQ(pids.size(), static_cast<std::size_t>(kBuckets)) << "pids are not all different";

    Json list = call("list", Json::object(), 30s);
    ASSERT_TRUE(is_ok(list));
    ASSERT_EQ(list["result"]["buckets"].size(), static_cast<std::size_t>(kBuckets));
    std::set<pid_t> listed;
    for (const Json& b : list["result"]["buckets"]) listed.insert(b["pid"].get<pid_t>());
    EXPECT_EQ(listed, pids);
    EXPECT_EQ(call("status")["result"]["buckets"], kBuckets);

    int dead = 0;
    for (pid_t pid : pids) dead += process_alive(pid) ? 0 : 1;
    EXPECT_EQ(dead, 0) << dead << " listed buckets have no live process";
    auto children = children_of(kvd().pid());
    EXPECT_EQ(std::set<pid_t>(children.begin(), children.end()), pids);

    // Every bucket still answers.
    for (int i = 0; i < kBuckets; i += 50) {
        std::string name = "b" + std::to_string(i);
        EXPECT_TRUE(is_ok(call("put", {{"bucket", name}, {"key", "k"}, {"value", name}})));
        EXPECT_EQ(call("get", {{"bucket", name}, {"key", "k"}})["result"]["value"], name);
    }

    auto status = kvd().terminate(60s);
    ASSERT_TRUE(status.has_value()) << "kvd did not finish a graceful shutdown in time";
    EXPECT_TRUE(status->success()) << status->describe();
    int survivors = 0;
    for (pid_t pid : pids) survivors += process_alive(pid) ? 1 : 0;
    EXPECT_EQ(survivors, 0) << survivors << " bucket processes outlived kvd's shutdown";
}

}  // namespace
}  // namespace kvd::test
