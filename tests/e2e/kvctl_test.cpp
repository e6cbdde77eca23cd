// kvctl against a real kvd: exit statuses 0/1/2/3, human and --json output (README "A five-minute
// tour").
#include <sys/stat.h>
#include <unistd.h>

#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

class Kvctl : public KvdTest {
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

// The single line of stderr, without its newline; fails the test if there is not exactly one.
std::string one_line(const std::string& text) {
    EXPECT_FALSE(text.empty());
    EXPECT_EQ(text.find('\n'), text.size() - 1) << "expected one line, got: " << text;
    return text.substr(0, text.find('\n'));
}

TEST_F(Kvctl, PingSucceeds) {
    auto r = kvctl({"ping"});
    EXPECT_EQ(r.exit_code, 0) << r;
    EXPECT_NE(r.out.find(std::to_string(kvd().pid())), std::string::npos) << r;
    EXPECT_EQ(r.err, "");
}

TEST_F(Kvctl, CreateLookupListStop) {
    auto created = kvctl({"create", "a", "b", "c"});
    EXPECT_EQ(created.exit_code, 0) << created;
    for (std::string name : {"a", "b", "c"}) EXPECT_GT(lookup_pid(name), 0) << name;

    auto lookup = kvctl({"lookup", "a"});
    EXPECT_EQ(lookup.exit_code, 0) << lookup;
    EXPECT_NE(lookup.out.find(std::to_string(lookup_pid("a"))), std::string::npos) << lookup;

    auto list = kvctl({"list"});
    EXPECT_EQ(list.exit_code, 0) << list;
    for (std::string name : {"a", "b", "c"})
        EXPECT_NE(list.out.find(name), std::string::npos) << list;

    auto stop = kvctl({"stop", "b"});
    EXPECT_EQ(stop.exit_code, 0) << stop;
    EXPECT_EQ(lookup_pid("b"), -1);
}

TEST_F(Kvctl, PutGetDeleteKeys) {
    ASSERT_GT(create("b"), 0);
    auto put = kvctl({"put", "b", "greeting", "hello, \"world\"\nsecond line"});
    EXPECT_EQ(put.exit_code, 0) << put;
    auto get = kvctl({"get", "b", "greeting"});
    EXPECT_EQ(get.exit_code, 0) << get;
    EXPECT_EQ(get.out, "hello, \"world\"\nsecond line\n") << get;

    auto json = kvctl({"--json", "get", "b", "greeting"});
    EXPECT_EQ(json.exit_code, 0) << json;
    EXPECT_EQ(Json::parse(json.out, nullptr, false),
              (Json{{"value", "hello, \"world\"\nsecond line"}}))
        << json;

    auto keys = kvctl({"keys", "b"});
    EXPECT_EQ(keys.exit_code, 0) << keys;
    EXPECT_NE(keys.out.find("greeting"), std::string::npos) << keys;

    auto del = kvctl({"delete", "b", "greeting"});
    EXPECT_EQ(del.exit_code, 0) << del;
    EXPECT_TRUE(is_error(call("get", {{"bucket", "b"}, {"key", "greeting"}}), "not_found"));
}

TEST_F(Kvctl, DaemonErrorsExitOne) {
    auto lookup = kvctl({"lookup", "nope"});
    EXPECT_EQ(lookup.exit_code, 1) << lookup;
    std::string message = one_line(lookup.err);
    EXPECT_NE(message.find("nope"), std::string::npos) << lookup;
    EXPECT_NE(message.find("not_found"), std::string::npos) << lookup;

    ASSERT_GT(create("b"), 0);
    auto get = kvctl({"get", "b", "missing"});
    EXPECT_EQ(get.exit_code, 1) << get;
    EXPECT_EQ(get.out, "") << "nothing on stdout for a missing key";

    auto invalid = kvctl({"create", ".bad"});
    EXPECT_EQ(invalid.exit_code, 1) << invalid;
    EXPECT_NE(invalid.err.find("invalid_name"), std::string::npos) << invalid;
}

TEST_F(Kvctl, JsonErrorIsTheErrorObject) {
    auto r = kvctl({"--json", "lookup", "nope"});
    EXPECT_EQ(r.exit_code, 1) << r;
    Json doc = Json::parse(r.out, nullptr, false);
    ASSERT_TRUE(doc.is_object()) << r;
    EXPECT_EQ(doc.value("code", ""), "not_found") << r;
    EXPECT_TRUE(doc.contains("message")) << r;
}

TEST_F(Kvctl, JsonResultIsTheResultObject) {
    ASSERT_GT(create("b"), 0);
    auto r = kvctl({"--json", "lookup", "b"});
    EXPECT_EQ(r.exit_code, 0) << r;
    EXPECT_EQ(Json::parse(r.out, nullptr, false), (Json{{"bucket", "b"}, {"pid", lookup_pid("b")}}))
        << r;

    auto list = kvctl({"--json", "list"});
    EXPECT_EQ(list.exit_code, 0) << list;
    Json doc = Json::parse(list.out, nullptr, false);
    ASSERT_TRUE(doc.is_object()) << list;
    EXPECT_EQ(doc["buckets"].size(), 1u) << list;
}

TEST_F(Kvctl, UsageErrorsExitTwoAndSendNothing) {
    const std::vector<std::vector<std::string>> usages = {
        {},
        {"frobnicate"},
        {"get", "b"},
        {"put", "b", "k"},
        {"lookup"},
        {"lookup", "a", "b"},
        {"--timeout", "soon", "ping"},
        {"--no-such-flag", "ping"},
    };
    for (const auto& args : usages) {
        auto r = kvctl(args);
        std::string shown;
        for (const auto& a : args) shown += " " + a;
        EXPECT_EQ(r.exit_code, 2) << "kvctl" << shown << "\n" << r;
        EXPECT_FALSE(r.err.empty()) << "kvctl" << shown << " said nothing on stderr";
    }
    EXPECT_EQ(call("list")["result"]["buckets"], Json::array());
}

TEST_F(Kvctl, UnreachableDaemonExitsThree) {
    auto r = run_kvctl({"--socket", dir_.file("nothing-here.sock"), "ping"});
    EXPECT_EQ(r.exit_code, 3) << r;
    std::string message = one_line(r.err);
    EXPECT_NE(message.find("nothing-here.sock"), std::string::npos)
        << "the message should say which socket: " << message;
    EXPECT_EQ(r.out, "");
}

TEST_F(Kvctl, DaemonGoneExitsThree) {
    std::string socket = kvd().socket_path();
    ASSERT_TRUE(kvd().terminate().has_value());
    auto r = run_kvctl({"--socket", socket, "list"});
    EXPECT_EQ(r.exit_code, 3) << r;
    one_line(r.err);
}

TEST_F(Kvctl, SocketFromEnvironment) {
    auto r = run_kvctl({"ping"}, {{"KVD_SOCKET", kvd().socket_path()}});
    EXPECT_EQ(r.exit_code, 0) << r;
    // --socket wins over $KVD_SOCKET.
    auto flag = run_kvctl({"--socket", dir_.file("nothing.sock"), "ping"},
                          {{"KVD_SOCKET", kvd().socket_path()}});
    EXPECT_EQ(flag.exit_code, 3) << flag;
}

TEST_F(Kvctl, SocketFromXdgRuntimeDir) {
    if (getuid() == 0) GTEST_SKIP() << "root uses /run/kvd/kvd.sock (see RootIgnoresXdgRuntimeDir)";
    // $XDG_RUNTIME_DIR/kvd/kvd.sock: run a second kvd there (a short path under our dir).
    std::string runtime = dir_.file("xdg");
    ASSERT_EQ(::mkdir(runtime.c_str(), 0700), 0);
    ASSERT_EQ(::mkdir((runtime + "/kvd").c_str(), 0700), 0);
    KvdOptions o;
    o.pass_socket = false;
    o.args = {"--socket", runtime + "/kvd/kvd.sock"};
    o.wait_ready = false;
    KvdProcess second(dir_, o);
    ASSERT_TRUE(second.wait_ready());
    auto r = run_kvctl({"--json", "ping"}, {{"XDG_RUNTIME_DIR", runtime}});
    EXPECT_EQ(r.exit_code, 0) << r;
    EXPECT_EQ(Json::parse(r.out, nullptr, false).value("pid", 0), second.pid()) << r;
}

TEST_F(Kvctl, RootIgnoresXdgRuntimeDir) {
    if (getuid() != 0) GTEST_SKIP() << "only root defaults to /run/kvd/kvd.sock";
    if (file_exists("/run/kvd/kvd.sock")) GTEST_SKIP() << "a system kvd is running";
    auto r = run_kvctl({"ping"}, {{"XDG_RUNTIME_DIR", dir_.path()}});
    EXPECT_EQ(r.exit_code, 3) << r;
    EXPECT_NE(r.err.find("/run/kvd/kvd.sock"), std::string::npos) << r;
}

TEST_F(Kvctl, KillWithSignal) {
    pid_t pid = create("b");
    auto r = kvctl({"kill", "b", "--signal", "TERM"});
    EXPECT_EQ(r.exit_code, 0) << r;
    EXPECT_TRUE(wait_until([&] { return !process_alive(pid); }, 5s, "the bucket to end"));
    auto missing = kvctl({"kill", "nope"});
    EXPECT_EQ(missing.exit_code, 1) << missing;
}

}  // namespace
}  // namespace kvd::test
