// `kvctl top` in a real terminal: tmux runs it in a detached session on a private socket, the
// test types keys with send-keys and reads the screen with capture-pane, while it drives kvd
// through its socket. Skipped where tmux is not installed.
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <sstream>

#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

// tmux on $PATH, or "".
std::string find_tmux() {
    const char* path = std::getenv("PATH");
    std::istringstream dirs(path ? path : "/usr/bin:/bin");
    for (std::string dir; std::getline(dirs, dir, ':');) {
        std::string candidate = (dir.empty() ? "." : dir) + "/tmux";
        if (access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    return "";
}

std::vector<std::string> screen_lines(const std::string& screen) {
    std::vector<std::string> lines;
    std::istringstream in(screen);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

// The screen line whose first word is `name` (a table row), or -1.
int row_of(const std::string& screen, const std::string& name) {
    auto lines = screen_lines(screen);
    for (std::size_t i = 0; i < lines.size(); ++i)
        if (lines[i].rfind(name + " ", 0) == 0) return static_cast<int>(i);
    return -1;
}

// The words of that row.
std::vector<std::string> words_of(const std::string& screen, const std::string& name) {
    int row = row_of(screen, name);
    std::vector<std::string> words;
    if (row < 0) return words;
    std::istringstream in(screen_lines(screen)[static_cast<std::size_t>(row)]);
    for (std::string word; in >> word;) words.push_back(word);
    return words;
}

// One tmux server of the test's own (its socket in the test's directory, no user config)
// with one session running a shell command in a 120x40 window. The server is killed at the
// end, whatever runs in it.
class Tmux {
  public:
    Tmux(std::string tmux, const TempDir& dir)
        : tmux_(std::move(tmux)), socket_(dir.file("tmux")) {}
    ~Tmux() { run({"kill-server"}); }
    Tmux(const Tmux&) = delete;
    Tmux& operator=(const Tmux&) = delete;

    RunResult run(std::vector<std::string> args) const {
        args.insert(args.begin(), {"-S", socket_, "-f", "/dev/null"});
        // The pane gets the terminal type tmux emulates; nothing of the developer's leaks in.
        return run_program(tmux_, args,
                           {{"KVD_SOCKET", std::nullopt},
                            {"XDG_RUNTIME_DIR", std::nullopt},
                            {"NO_COLOR", std::nullopt},
                            {"TMUX", std::nullopt}});
    }

    ::testing::AssertionResult start(const std::string& command) const {
        auto r = run({"new-session", "-d", "-s", "top", "-x", "120", "-y", "40", command});
        if (r.exit_code != 0) return ::testing::AssertionFailure() << "tmux new-session: " << r;
        return ::testing::AssertionSuccess();
    }

    // What the pane shows now, one line per screen row; "" once the session is gone.
    std::string screen() const {
        auto r = run({"capture-pane", "-p", "-t", "top"});
        return r.exit_code == 0 ? r.out : "";
    }

    void keys(std::vector<std::string> keys) const {
        keys.insert(keys.begin(), {"send-keys", "-t", "top"});
        auto r = run(keys);
        EXPECT_EQ(r.exit_code, 0) << r;
    }

    // Waits until the screen satisfies `pred`; on failure the message shows the screen.
    ::testing::AssertionResult wait_screen(const std::function<bool(const std::string&)>& pred,
                                           const std::string& what,
                                           milliseconds timeout = 10s) const {
        std::string last;
        auto r = wait_until(
            [&] {
                last = screen();
                return pred(last);
            },
            timeout, what);
        if (!r) r << "\n--- screen:\n" << last;
        return r;
    }

  private:
    std::string tmux_, socket_;
};

class KvctlTop : public KvdTest {
  protected:
    void SetUp() override {
        if (!kvctl_built()) GTEST_SKIP() << "kvctl is not built";
        tmux_path_ = find_tmux();
        if (tmux_path_.empty()) GTEST_SKIP() << "tmux is not installed";
        KvdTest::SetUp();
        tmux_ = std::make_unique<Tmux>(tmux_path_, dir_);
    }
    void TearDown() override { tmux_.reset(); }

    KvdOptions options() override {
        Json command = {test_handler_path(), "--out", dir_.file("audit.out"), "ack"};
        KvdOptions o;
        o.config =
            "[[handler]]\nname = \"audit\"\nmode = \"sync\"\ncommand = " + command.dump() + "\n";
        return o;
    }

    // Starts `kvctl top` with `args` in the tmux session; its stderr goes to top.err and its
    // exit status to top.rc when it ends.
    void start_top(const std::vector<std::string>& args) {
        // The shell outlives a Ctrl-C meant for kvctl (`trap`), to write down how kvctl ended.
        std::string command = "trap : INT; exec 2>" + dir_.file("top.err") + "; '" + kvctl_path() +
                              "' --socket '" + kvd().socket_path() + "' top";
        for (const auto& a : args) command += " '" + a + "'";
        command += "; echo $? >" + dir_.file("top.rc.tmp") + " && mv " + dir_.file("top.rc.tmp") +
                   " " + dir_.file("top.rc");
        ASSERT_TRUE(tmux_->start(command));
    }

    // kvctl's exit status once it has ended, or -1 at the deadline.
    int wait_exit_status(milliseconds timeout = 10s) {
        std::string rc;
        wait_until(
            [&] {
                rc = read_file(dir_.file("top.rc"));
                return !rc.empty();
            },
            timeout, "kvctl top to exit");
        return rc.empty() ? -1 : std::atoi(rc.c_str());
    }

    std::string top_err() const { return read_file(dir_.file("top.err")); }

    std::string tmux_path_;
    std::unique_ptr<Tmux> tmux_;
};

// With an hour between timed refreshes, every change seen here came through the event stream:
// buckets appear with their pids and vanish when stopped; keys re-sort at once; q exits 0.
TEST_F(KvctlTop, FollowsEventsSortsByKeysAndQuits) {
    start_top({"--interval", "1h"});
    ASSERT_TRUE(tmux_->wait_screen(
        [](const std::string& s) {
            return s.find("> BUCKETS 0  sorted by NAME, ascending") != std::string::npos &&
                   s.find("(no buckets)") != std::string::npos && row_of(s, "audit") >= 0;
        },
        "top's first screen"));
    EXPECT_NE(tmux_->screen().find("q quit"), std::string::npos);

    pid_t zulu = create("zulu");
    ASSERT_TRUE(tmux_->wait_screen(
        [&](const std::string& s) {
            auto w = words_of(s, "zulu");
            return w.size() > 3 && w[2] == "running" && w[3] == std::to_string(zulu);
        },
        "zulu and its pid on the screen"));
    pid_t alpha = create("alpha");
    std::string screen;
    ASSERT_TRUE(tmux_->wait_screen(
        [&](const std::string& s) {
            screen = s;
            auto w = words_of(s, "alpha");
            return w.size() > 3 && w[3] == std::to_string(alpha);
        },
        "alpha and its pid on the screen"));
    EXPECT_LT(row_of(screen, "alpha"), row_of(screen, "zulu")) << screen;
    EXPECT_NE(screen.find("BUCKETS 2"), std::string::npos) << screen;

    // Uptime, longest first: zulu was created first.
    tmux_->keys({"u"});
    ASSERT_TRUE(tmux_->wait_screen(
        [&](const std::string& s) {
            screen = s;
            return s.find("BUCKETS 2  sorted by UPTIME, descending") != std::string::npos;
        },
        "the sort by uptime"));
    EXPECT_LT(row_of(screen, "zulu"), row_of(screen, "alpha")) << screen;
    tmux_->keys({"r"});
    ASSERT_TRUE(tmux_->wait_screen(
        [&](const std::string& s) {
            screen = s;
            return s.find("sorted by UPTIME, ascending") != std::string::npos;
        },
        "the reversed sort"));
    EXPECT_LT(row_of(screen, "alpha"), row_of(screen, "zulu")) << screen;

    // Tab: the handlers pane takes the focus and the sort keys.
    tmux_->keys({"Tab"});
    ASSERT_TRUE(tmux_->wait_screen(
        [](const std::string& s) {
            return s.find("> HANDLERS 1") != std::string::npos &&
                   s.find("  BUCKETS 2") != std::string::npos &&
                   s.find("q quit  Tab buckets") != std::string::npos;
        },
        "the focus on the handlers"));

    ASSERT_TRUE(is_ok(call("stop", {{"bucket", "zulu"}})));
    ASSERT_TRUE(tmux_->wait_screen(
        [](const std::string& s) { return s.find("BUCKETS 1") != std::string::npos; },
        "zulu gone from the screen"));
    EXPECT_EQ(row_of(tmux_->screen(), "zulu"), -1) << tmux_->screen();

    tmux_->keys({"q"});
    EXPECT_EQ(wait_exit_status(), 0) << top_err();
    EXPECT_EQ(top_err(), "");
}

// The timed refresh brings the handler's counters and the screen follows a resize; kvd going
// away ends top with a message and exit 3.
TEST_F(KvctlTop, ShowsHandlerCountersFollowsResizeAndExitsThreeWhenKvdGoesAway) {
    start_top({"--interval", "200ms"});
    ASSERT_TRUE(tmux_->wait_screen(
        [](const std::string& s) { return s.find("HANDLERS 1") != std::string::npos; },
        "top's first screen"));
    ASSERT_GT(create("one"), 0);
    ASSERT_GT(create("two"), 0);
    pid_t audit = pid_in(Json{{"result", handler_info(client(), "audit")}});
    // NAME PID STATE MODE DELIVERED ACKED DROPPED QUEUED RESTARTS EV/S
    ASSERT_TRUE(tmux_->wait_screen(
        [&](const std::string& s) {
            auto w = words_of(s, "audit");
            return w.size() == 10 && w[1] == std::to_string(audit) && w[2] == "running" &&
                   w[3] == "sync" && w[4] == "2" && w[5] == "2" && w[9] != "-";
        },
        "audit's counters: 2 delivered, 2 acked, a rate"));
    // The bucket rows carry what `list` says, RSS included.
    ASSERT_TRUE(tmux_->wait_screen(
        [](const std::string& s) {
            auto w = words_of(s, "one");
            return w.size() >= 9 && w[1] == "kv-bucket" && w[6] != "-";
        },
        "bucket one's RSS"));

    ASSERT_EQ(tmux_->run({"resize-window", "-t", "top", "-x", "60", "-y", "12"}).exit_code, 0);
    ASSERT_TRUE(tmux_->wait_screen(
        [](const std::string& s) {
            auto lines = screen_lines(s);
            return lines.size() == 12 && lines[11].rfind("q quit", 0) == 0;
        },
        "the key help on the last of 12 lines"));
    for (const auto& line : screen_lines(tmux_->screen())) EXPECT_LE(line.size(), 60u) << line;

    kvd().kill9();
    EXPECT_EQ(wait_exit_status(), 3);
    EXPECT_EQ(top_err(), "kvctl: kvd went away (connection closed)\n");
}

// A kvd that stops answering is shown on the screen, and after --timeout ends top: exit 3.
TEST_F(KvctlTop, SaysWhenKvdStopsAnsweringAndExitsThreeAtTheTimeout) {
    start_top({"--interval", "200ms", "--timeout", "3s"});
    ASSERT_TRUE(tmux_->wait_screen(
        [](const std::string& s) { return s.find("HANDLERS 1") != std::string::npos; },
        "top's first screen"));
    ASSERT_TRUE(freeze(kvd().pid()));
    EXPECT_TRUE(tmux_->wait_screen(
        [](const std::string& s) {
            return s.find("kvd has not answered for 2s") != std::string::npos;
        },
        "the note that kvd is silent"));
    EXPECT_EQ(wait_exit_status(), 3);
    EXPECT_EQ(top_err(), "kvctl: timed out after 3s waiting for kvd\n");
    kvd().signal(SIGCONT);
}

TEST_F(KvctlTop, CtrlCExits130) {
    start_top({});
    ASSERT_TRUE(tmux_->wait_screen(
        [](const std::string& s) { return s.find("HANDLERS 1") != std::string::npos; },
        "top's first screen"));
    tmux_->keys({"C-c"});
    EXPECT_EQ(wait_exit_status(), 130) << top_err();
}

// Not on a terminal: a usage error, and nothing is asked of kvd.
TEST_F(KvctlTop, RefusesWithoutATerminal) {
    auto r = run_kvctl({"--socket", kvd().socket_path(), "top"});
    EXPECT_EQ(r.exit_code, 2) << r;
    EXPECT_EQ(r.out, "");
    EXPECT_NE(r.err.find("kvctl: top: needs a terminal"), std::string::npos) << r;
}

}  // namespace
}  // namespace kvd::test
