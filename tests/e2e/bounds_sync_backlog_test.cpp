// A sync receiver that does not acknowledge keeps every later event it wants owed to it, so
// its backlog is bounded ([daemon] backlog_bytes, 16 MiB by default) by refusing new work:
// a `notify` that would pass the bound is `limit` naming the receiver and the bound, and so
// is a `create` once the backlog has no room for its create event (here, after exit events,
// which are never refused, took it past the bound). Nothing owed is dropped: once the
// handler acknowledges again it gets every event, and kvd takes new work again.
#include <signal.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

constexpr std::size_t kBacklogBytes = 16 * 1024 * 1024;  // the default

class BoundsSyncBacklog : public ::testing::Test {
  protected:
    void SetUp() override {
        out_ = dir_.file("gate.out");
        hold_ = dir_.file("HOLD");
        Json command = {test_handler_path(), "--out", out_, "--hold", hold_, "ack"};
        KvdOptions options;
        options.config =
            "[[handler]]\nname = \"gate\"\nmode = \"sync\"\nack_timeout = \"10m\"\n"
            "command = " +
            command.dump() + "\n";
        kvd_ = std::make_unique<KvdProcess>(dir_, options);
        ASSERT_TRUE(kvd_->ready());
        client_ = std::make_unique<Client>(kvd_->socket_path());
        ASSERT_TRUE(client_->connected()) << client_->connect_error();
    }

    // Publishes `type` events with `bytes` of payload until one is refused; returns how many
    // were published, and the refusal in `refused`.
    int notify_until_refused(std::size_t bytes, Json& refused, int at_most = 100) {
        for (int i = 0; i < at_most; ++i) {
            Json reply =
                client_->call("notify", {{"type", "fill"}, {"data", std::string(bytes, 'f')}});
            if (!is_ok(reply)) {
                refused = reply;
                return i;
            }
        }
        ADD_FAILURE() << at_most << " notifies of " << bytes << " bytes, none refused";
        return at_most;
    }

    Json gate() { return handler_info(*client_, "gate"); }

    TempDir dir_;
    std::string out_, hold_;
    std::unique_ptr<KvdProcess> kvd_;
    std::unique_ptr<Client> client_;
};

TEST_F(BoundsSyncBacklog, NotifyAndCreateAreRefusedAtTheBoundAndNothingIsLost) {
    std::vector<pid_t> pids;
    for (const char* name : {"b1", "b2", "b3"}) {
        pid_t pid = pid_in(client_->call("create", {{"bucket", name}}));
        ASSERT_GT(pid, 0);
        pids.push_back(pid);
    }
    dir_.write_file("HOLD", "");

    // About 1 MB each: the 17th would pass 16 MiB.
    Json refused;
    int published = notify_until_refused(1'000'000, refused);
    EXPECT_EQ(published, 16);
    ASSERT_TRUE(is_error(refused, "limit")) << refused.dump();
    const std::string message = refused["error"]["message"];
    EXPECT_NE(message.find("handler 'gate'"), std::string::npos) << message;
    EXPECT_NE(message.find("backlog_bytes"), std::string::npos) << message;
    EXPECT_NE(message.find(std::to_string(kBacklogBytes)), std::string::npos) << message;
    // Smaller events still fit until the room left is smaller than they are.
    for (std::size_t bytes : {100'000, 10'000, 1'000, 100}) notify_until_refused(bytes, refused);
    Json row = gate();
    ASSERT_TRUE(row.contains("queued")) << row.dump();
    const uint64_t queued = row["queued"];

    // Exit events are owed too and never refused: they take the backlog past the bound.
    for (pid_t pid : pids) ASSERT_EQ(::kill(pid, SIGKILL), 0);
    ASSERT_TRUE(wait_until([&] { return gate().value("queued", uint64_t{0}) == queued + 3; }, 10s,
                           "the three exit events to be queued for the handler"));
    Json create = client_->call("create", {{"bucket", "b4"}});
    ASSERT_TRUE(is_error(create, "limit")) << create.dump();
    EXPECT_NE(create["error"]["message"].get<std::string>().find("handler 'gate'"),
              std::string::npos)
        << create.dump();
    EXPECT_TRUE(is_error(client_->call("lookup", {{"bucket", "b4"}}), "not_found"));

    // Let it go: it gets everything, in order, and new work is taken again.
    const uint64_t last = client_->call("status")["result"]["last_seq"];
    ASSERT_EQ(::unlink(hold_.c_str()), 0);
    ASSERT_TRUE(wait_until([&] { return gate().value("acked", uint64_t{0}) == last; }, 30s,
                           "the handler to acknowledge every event"));
    auto lines = read_lines(out_);
    ASSERT_EQ(lines.size(), last);
    for (std::size_t i = 0; i < lines.size(); ++i)
        ASSERT_EQ(Json::parse(lines[i])["seq"], i + 1) << lines[i].substr(0, 200);
    EXPECT_TRUE(
        is_ok(client_->call("notify", {{"type", "fill"}, {"data", std::string(1'000'000, 'f')}})));
    EXPECT_GT(pid_in(client_->call("create", {{"bucket", "b4"}})), 0);
}

}  // namespace
}  // namespace kvd::test
