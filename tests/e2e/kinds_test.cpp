// Kinds: buckets that run any program ([[kind]]), with restart policies (temporary,
// transient, permanent), capped backoff, `failed` after max_restarts, readiness by sd_notify,
// `restart`, and [[bucket.start]] buckets reconciled on reload. Every scenario runs the real
// kvd with real programs (shell scripts and tests/helpers/notify_child).
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <map>
#include <string>
#include <vector>

#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

// A kvd with `config` and a subscriber that sees every event from the first.
class Kinds : public ::testing::Test {
  protected:
    void start(const std::string& config) {
        KvdOptions options;
        options.config = config;
        kvd_ = std::make_unique<KvdProcess>(dir_, options);
        ASSERT_TRUE(kvd_->ready()) << kvd_->log();
        client_ = std::make_unique<Client>(kvd_->socket_path());
        ASSERT_TRUE(client_->connected());
        events_ = std::make_unique<Client>(kvd_->socket_path());
        ASSERT_TRUE(is_ok(events_->call("subscribe", {{"from_seq", 1}})));
    }

    // Writes an executable shell script into the test's directory.
    std::string script(const std::string& name, const std::string& body) {
        std::string path = dir_.write_file(name, "#!/bin/sh\n" + body);
        chmod(path.c_str(), 0755);
        return path;
    }

    // The next event of a type in `types` (others are skipped); null at the deadline.
    Json next_event(std::initializer_list<std::string_view> types, milliseconds timeout = 10s) {
        auto deadline = std::chrono::steady_clock::now() + scaled(timeout);
        while (std::chrono::steady_clock::now() < deadline) {
            auto left = std::chrono::duration_cast<milliseconds>(deadline -
                                                                 std::chrono::steady_clock::now());
            auto ev = events_->read_json(std::max(left, milliseconds(1)));
            if (!ev) break;
            for (auto t : types)
                if ((*ev)["type"] == t) return *ev;
        }
        return nullptr;
    }

    Json entry(const std::string& bucket) {
        Json reply = client_->call("list");
        if (!is_ok(reply)) return nullptr;
        for (auto& b : reply["result"]["buckets"])
            if (b["bucket"] == bucket) return b;
        return nullptr;
    }

    TempDir dir_;
    std::unique_ptr<KvdProcess> kvd_;
    std::unique_ptr<Client> client_;
    std::unique_ptr<Client> events_;
};

TEST_F(Kinds, RunsAnyProgramWithItsSettings) {
    std::string out = dir_.file("out");
    std::string work = dir_.file("work");
    mkdir(work.c_str(), 0755);
    std::string prog = script(
        "worker.sh", "echo \"$1 $MODE $KVD_BUCKET $(pwd)\" > " + out + "\nexec sleep 1000\n");
    start("[[kind]]\nname = \"worker\"\ncommand = [\"" + prog +
          "\", \"--name={name}\"]\nenv = { MODE = \"prod\" }\ncwd = \"" + work + "\"\n");
    Json reply = client_->call("create", {{"bucket", "w1"}, {"kind", "worker"}});
    ASSERT_TRUE(is_ok(reply));
    EXPECT_EQ(reply["result"]["created"], true);
    pid_t pid = pid_in(reply);
    ASSERT_GT(pid, 0);
    ASSERT_TRUE(wait_until([&] { return !read_lines(out).empty(); }, 10s, "the script's line"));
    EXPECT_EQ(read_lines(out)[0], "--name=w1 prod w1 " + work);

    Json create = next_event({"create"});
    EXPECT_EQ(create["bucket"], "w1");
    EXPECT_EQ(create["kind"], "worker");
    EXPECT_FALSE(create.contains("restart"));

    Json e = entry("w1");
    EXPECT_EQ(e["kind"], "worker");
    EXPECT_EQ(e["state"], "running");
    EXPECT_EQ(e["pid"], pid);
    EXPECT_EQ(e["restarts"], 0);
    EXPECT_TRUE(e["last_exit"].is_null());
    EXPECT_TRUE(e["uptime_ms"].is_number_integer());
    EXPECT_TRUE(e["rss_bytes"].is_number_integer());
    EXPECT_TRUE(e["cpu_ms"].is_number_integer());

    // A program that holds no data refuses data ops clearly.
    EXPECT_TRUE(is_error(client_->call("put", {{"bucket", "w1"}, {"key", "k"}, {"value", "v"}}),
                         "bad_request"));
    EXPECT_TRUE(is_error(client_->call("keys", {{"bucket", "w1"}}), "bad_request"));
    // Its name is taken by this kind.
    EXPECT_TRUE(is_error(client_->call("create", {{"bucket", "w1"}, {"kind", "kv-bucket"}}),
                         "bad_request"));
    Json again = client_->call("create", {{"bucket", "w1"}, {"kind", "worker"}});
    ASSERT_TRUE(is_ok(again));
    EXPECT_EQ(again["result"]["created"], false);
    // The default kind is unchanged: kv-bucket, holding data.
    ASSERT_TRUE(is_ok(client_->call("create", {{"bucket", "kv"}})));
    EXPECT_TRUE(is_ok(client_->call("put", {{"bucket", "kv"}, {"key", "k"}, {"value", "v"}})));
    EXPECT_EQ(entry("kv")["kind"], "kv-bucket");
    EXPECT_FALSE(next_event({"create"}).contains("kind"));

    ASSERT_TRUE(is_ok(client_->call("stop", {{"bucket", "w1"}})));
    EXPECT_FALSE(process_alive(pid));
    EXPECT_TRUE(is_error(client_->call("lookup", {{"bucket", "w1"}}), "not_found"));
}

TEST_F(Kinds, OutputOfAProgramIsItsBucketsLog) {
    std::string prog = script("talk.sh", "echo \"out $1\"\necho \"err $1\" >&2\nexec sleep 1000\n");
    start("[[kind]]\nname = \"talk\"\ncommand = [\"" + prog + "\", \"{name}\"]\n");
    ASSERT_TRUE(is_ok(client_->call("create", {{"bucket", "t"}, {"kind", "talk"}})));
    Json lines;
    ASSERT_TRUE(wait_until(
        [&] {
            Json reply = client_->call("logs", {{"bucket", "t"}});
            if (!is_ok(reply)) return false;
            lines = reply["result"]["lines"];
            return lines.size() >= 2;
        },
        10s, "both lines in the bucket's log"));
    std::map<std::string, std::string> by_stream;
    for (const auto& l : lines) by_stream[l["stream"]] = l["line"];
    EXPECT_EQ(by_stream["stdout"], "out t");
    EXPECT_EQ(by_stream["stderr"], "err t");
    // Never through kvd's own log.
    EXPECT_EQ(kvd_->log().find("out t"), std::string::npos);
}

TEST_F(Kinds, RunsAsTheKindsUser) {
    if (geteuid() != 0) GTEST_SKIP() << "changing a program's user needs kvd to run as root";
    // A directory the user may write in (kvd refuses a world-writable socket directory).
    std::string shared = dir_.file("shared");
    mkdir(shared.c_str(), 0777);
    chmod(shared.c_str(), 0777);
    std::string out = shared + "/who";
    std::string prog = shared + "/who.sh";
    dir_.write_file("shared/who.sh", "#!/bin/sh\nid -u > " + out + ".tmp; mv " + out + ".tmp " +
                                         out + "\nexec sleep 1000\n");
    chmod(prog.c_str(), 0755);
    chmod(dir_.path().c_str(), 0711);  // the user may pass through to its own directory
    start("[[kind]]\nname = \"who\"\ncommand = [\"" + prog + "\"]\nuser = \"nobody\"\n");
    ASSERT_TRUE(is_ok(client_->call("create", {{"bucket", "w"}, {"kind", "who"}})));
    ASSERT_TRUE(wait_until([&] { return !read_lines(out).empty(); }, 10s, "the id line"));
    EXPECT_NE(read_lines(out)[0], "0");
    EXPECT_EQ(read_lines(out)[0], std::to_string(getpwnam("nobody")->pw_uid));
}

TEST_F(Kinds, AnUnknownKindIsABadRequest) {
    start("");
    Json reply = client_->call("create", {{"bucket", "x"}, {"kind", "nope"}});
    ASSERT_TRUE(is_error(reply, "bad_request"));
    EXPECT_NE(reply["error"]["message"].get<std::string>().find("nope"), std::string::npos);
    EXPECT_TRUE(is_error(client_->call("lookup", {{"bucket", "x"}}), "not_found"));
}

TEST_F(Kinds, APermanentCrashLoopBacksOffThenFails) {
    std::string prog = script("crash.sh", "exit 3\n");
    start("[[kind]]\nname = \"crashy\"\ncommand = [\"" + prog +
          "\"]\nrestart = \"permanent\"\nrestart_delay = \"50ms\"\nrestart_delay_max = "
          "\"200ms\"\nmax_restarts = 3\nrestart_window = \"60s\"\n");
    ASSERT_TRUE(is_ok(client_->call("create", {{"bucket", "c"}, {"kind", "crashy"}})));

    // create, exit, then three restarts each followed by its exit, then failed.
    std::vector<Json> seen;
    for (int i = 0; i < 9; ++i) {
        Json ev = next_event({"create", "exit", "failed"});
        ASSERT_FALSE(ev.is_null()) << "event " << i << " did not come\n" << kvd_->log();
        seen.push_back(ev);
    }
    for (int run = 0; run < 4; ++run) {
        const Json& create = seen[static_cast<std::size_t>(run) * 2];
        const Json& exit = seen[static_cast<std::size_t>(run) * 2 + 1];
        EXPECT_EQ(create["type"], "create") << create;
        EXPECT_EQ(exit["type"], "exit") << exit;
        EXPECT_EQ(exit["code"], 3);
        EXPECT_EQ(exit["reason"], "exited");
        EXPECT_EQ(create["pid"], exit["pid"]);
        if (run == 0)
            EXPECT_FALSE(create.contains("restart"));
        else
            EXPECT_EQ(create["restart"], run);
    }
    EXPECT_EQ(seen[8]["type"], "failed");
    EXPECT_EQ(seen[8]["bucket"], "c");
    EXPECT_EQ(seen[8]["restarts"], 3);

    // Each restart waited at least its backoff: 50, 100, 200 ms (capped).
    auto at = [](const Json& ev) {
        // "…T12:34:56.123456Z": seconds of the day, enough for gaps under a minute.
        std::string t = ev["time"];
        std::string clock = t.substr(t.find('T') + 1);
        return std::stod(clock.substr(0, 2)) * 3600 + std::stod(clock.substr(3, 2)) * 60 +
               std::stod(clock.substr(6));
    };
    const double floors[] = {0.050, 0.100, 0.200};
    for (int r = 0; r < 3; ++r) {
        double gap = at(seen[static_cast<std::size_t>(r) * 2 + 2]) -
                     at(seen[static_cast<std::size_t>(r) * 2 + 1]);
        EXPECT_GE(gap + 1e-3, floors[r]) << "restart " << r + 1;
    }

    Json e = entry("c");
    EXPECT_EQ(e["state"], "failed");
    EXPECT_TRUE(e["pid"].is_null());
    EXPECT_EQ(e["restarts"], 3);
    EXPECT_EQ(e["last_exit"]["code"], 3);
    EXPECT_EQ(e["last_exit"]["reason"], "exited");
    EXPECT_TRUE(is_error(client_->call("put", {{"bucket", "c"}, {"key", "k"}, {"value", "v"}}),
                         "bad_request"));

    // Created again: it runs (and fails) anew. Stopped: it is gone.
    ASSERT_TRUE(is_ok(client_->call("create", {{"bucket", "c"}, {"kind", "crashy"}})));
    ASSERT_TRUE(wait_until([&] { return entry("c")["state"] == "failed"; }, 10s,
                           "the bucket to fail again"));
    Json stopped = client_->call("stop", {{"bucket", "c"}});
    ASSERT_TRUE(is_ok(stopped));
    EXPECT_TRUE(entry("c").is_null());
}

TEST_F(Kinds, TransientRestartsOnlyAnAbnormalEnd) {
    std::string flag = dir_.file("fail");
    std::string prog = script(
        "t.sh", "if [ -e " + flag + " ]; then rm " + flag + "; exit 1; fi\nexec sleep 1000\n");
    start("[[kind]]\nname = \"t\"\ncommand = [\"" + prog +
          "\"]\nrestart = \"transient\"\nrestart_delay = \"10ms\"\n");
    ASSERT_TRUE(is_ok(client_->call("create", {{"bucket", "a"}, {"kind", "t"}})));
    Json first = next_event({"create"});
    // Killed by a signal nobody asked for as a stop: abnormal, so restarted.
    ASSERT_TRUE(is_ok(client_->call("kill", {{"bucket", "a"}, {"signal", "SIGKILL"}})));
    Json exit = next_event({"exit"});
    EXPECT_EQ(exit["reason"], "killed");
    Json second = next_event({"create"});
    EXPECT_EQ(second["restart"], 1);
    EXPECT_NE(second["pid"], first["pid"]);
    // Ended by SIGTERM sent with `kill` (not a stop): abnormal too.
    ASSERT_TRUE(is_ok(client_->call("kill", {{"bucket", "a"}, {"signal", "SIGTERM"}})));
    Json exit2 = next_event({"exit"});
    EXPECT_EQ(exit2["signal"], "SIGTERM");
    Json third = next_event({"create"});
    EXPECT_EQ(third["restart"], 2);
    // A stop is never followed by a restart.
    ASSERT_TRUE(is_ok(client_->call("stop", {{"bucket", "a"}})));
    EXPECT_EQ(next_event({"exit"})["reason"], "stopped");
    EXPECT_TRUE(entry("a").is_null());
}

TEST_F(Kinds, TransientExitZeroIsRemoved) {
    std::string go = dir_.file("go");
    std::string prog = script("z.sh", "while [ ! -e " + go + " ]; do sleep 0.01; done\nexit 0\n");
    start("[[kind]]\nname = \"z\"\ncommand = [\"" + prog +
          "\"]\nrestart = \"transient\"\nrestart_delay = \"10ms\"\n");
    ASSERT_TRUE(is_ok(client_->call("create", {{"bucket", "z"}, {"kind", "z"}})));
    dir_.write_file("go", "");
    Json exit = next_event({"exit"});
    EXPECT_EQ(exit["code"], 0);
    EXPECT_EQ(exit["reason"], "exited");
    ASSERT_TRUE(wait_until([&] { return entry("z").is_null(); }, 10s, "z to be removed"));
}

TEST_F(Kinds, ReadyNotifyRepliesOnceTheProgramSaysSo) {
    start("[[kind]]\nname = \"n\"\ncommand = [\"" + notify_child_path() +
          "\", \"300\"]\nready = \"notify\"\nready_timeout = \"20s\"\n"
          "[[kind]]\nname = \"never\"\ncommand = [\"" +
          notify_child_path() +
          "\", \"never\"]\nready = \"notify\"\nready_timeout = \"300ms\"\n"
          // READY=1 from a direct child of the bucket's process, as systemd-notify sends it.
          "[[kind]]\nname = \"wrapped\"\ncommand = [\"/bin/sh\", \"-c\", \"" +
          notify_child_path() + " 0; true\"]\nready = \"notify\"\nready_timeout = \"20s\"\n");
    auto t0 = std::chrono::steady_clock::now();
    Json reply = client_->call("create", {{"bucket", "n1"}, {"kind", "n"}}, 30s);
    auto took = std::chrono::steady_clock::now() - t0;
    ASSERT_TRUE(is_ok(reply)) << kvd_->log();
    // It waited for READY=1, which the program sends 300 ms after it starts.
    EXPECT_GE(took, 300ms);
    EXPECT_EQ(entry("n1")["state"], "running");
    Json create = next_event({"create"});
    EXPECT_EQ(create["bucket"], "n1");
    EXPECT_EQ(create["pid"], pid_in(reply));

    Json wrapped = client_->call("create", {{"bucket", "w1"}, {"kind", "wrapped"}}, 30s);
    ASSERT_TRUE(is_ok(wrapped)) << wrapped;
    EXPECT_EQ(entry("w1")["state"], "running");
    EXPECT_EQ(next_event({"create"})["bucket"], "w1");

    // Never ready: stopped at ready_timeout, and the create fails with `timeout`.
    Json late = client_->call("create", {{"bucket", "n2"}, {"kind", "never"}}, 30s);
    ASSERT_TRUE(is_error(late, "timeout")) << late;
    EXPECT_TRUE(is_error(client_->call("lookup", {{"bucket", "n2"}}), "not_found"));
    // Its process is gone: kvd's only notify_child left is n1's.
    EXPECT_TRUE(wait_until(
        [&] {
            for (pid_t c : children_of(kvd_->pid()))
                if (c != create["pid"].get<pid_t>() &&
                    process_name(c).find("notify_child") != std::string::npos)
                    return false;
            return true;
        },
        10s, "the never-ready process to be reaped"));
}

TEST_F(Kinds, RestartStopsAndStartsAgain) {
    start("");
    pid_t first = pid_in(client_->call("create", {{"bucket", "r"}}));
    ASSERT_GT(first, 0);
    ASSERT_TRUE(is_ok(client_->call("put", {{"bucket", "r"}, {"key", "k"}, {"value", "v"}})));
    next_event({"create"});
    Json reply = client_->call("restart", {{"bucket", "r"}});
    ASSERT_TRUE(is_ok(reply)) << reply;
    EXPECT_EQ(reply["result"]["restarts"], 1);
    pid_t second = pid_in(reply);
    EXPECT_NE(second, first);
    EXPECT_FALSE(process_alive(first));
    Json exit = next_event({"exit"});
    EXPECT_EQ(exit["pid"], first);
    EXPECT_EQ(exit["reason"], "stopped");
    Json create = next_event({"create"});
    EXPECT_EQ(create["pid"], second);
    EXPECT_EQ(create["restart"], 1);
    // A new kv-bucket process: its data was in the old one.
    EXPECT_TRUE(is_error(client_->call("get", {{"bucket", "r"}, {"key", "k"}}), "not_found"));
    EXPECT_TRUE(is_error(client_->call("restart", {{"bucket", "nope"}}), "not_found"));
}

TEST_F(Kinds, BucketStartIsReconciledOnReload) {
    std::string prog = script("s.sh", "exec sleep 1000\n");
    auto config = [&](const std::string& starts, const std::string& extra_env) {
        return "[[kind]]\nname = \"s\"\ncommand = [\"" + prog +
               "\"]\nrestart = \"permanent\"\nenv = { X = \"" + extra_env + "\" }\n" + starts;
    };
    std::string both =
        "[[bucket.start]]\nname = \"a\"\nkind = \"s\"\n[[bucket.start]]\nname = \"b\"\n"
        "kind = \"s\"\n[[bucket.start]]\nname = \"kv\"\n";
    start(config(both, "1"));
    ASSERT_TRUE(wait_until(
        [&] {
            return entry("a")["state"] == "running" && entry("b")["state"] == "running" &&
                   entry("kv")["state"] == "running";
        },
        10s, "the declared buckets to run"));
    EXPECT_EQ(entry("kv")["kind"], "kv-bucket");
    ASSERT_TRUE(is_ok(client_->call("create", {{"bucket", "api"}, {"kind", "s"}})));
    pid_t a_pid = entry("a")["pid"], b_pid = entry("b")["pid"], api_pid = entry("api")["pid"];

    // b removed, c added, and kind s changed (env): a restarted, the API bucket left alone.
    dir_.write_file("kvd.toml",
                    config("[[bucket.start]]\nname = \"a\"\nkind = \"s\"\n[[bucket.start]]\nname = "
                           "\"c\"\nkind = \"s\"\n[[bucket.start]]\nname = \"kv\"\n",
                           "2"));
    Json reply = client_->call("reload");
    ASSERT_TRUE(is_ok(reply)) << reply;
    EXPECT_EQ(reply["result"]["buckets"]["started"], Json({"c"}));
    EXPECT_EQ(reply["result"]["buckets"]["stopped"], Json({"b"}));
    EXPECT_EQ(reply["result"]["buckets"]["restarted"], Json({"a"}));
    ASSERT_TRUE(wait_until(
        [&] {
            Json a = entry("a");
            return entry("b").is_null() && entry("c")["state"] == "running" &&
                   a["state"] == "running" && a["pid"] != a_pid;
        },
        10s, "the reload to be carried out"));
    EXPECT_FALSE(process_alive(b_pid));
    EXPECT_EQ(entry("api")["pid"], api_pid);
    EXPECT_EQ(entry("kv")["state"], "running");
}

}  // namespace
}  // namespace kvd::test
