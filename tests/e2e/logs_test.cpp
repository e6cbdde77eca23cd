// Buckets' output captured by kvd (README "Logs"): a bucket program that writes to stderr
// and then runs kv-bucket; `logs` over the socket, `follow`, log_dir files with rotation and
// reopen on SIGHUP, and a bucket flooding its output while kvd stays responsive and small.
//
// Each bucket's script writes "start NAME", then forwards to its stderr every line written
// to the FIFO <dir>/in-NAME (when the test made one), and execs kv-bucket. The forwarding
// loop ends when the test closes its end of the FIFO.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

std::string program_script(const TempDir& dir) {
    std::string script =
        "#!/bin/sh\n"
        "printf 'start %s\\n' \"$1\" >&2\n"
        "if [ -p " +
        dir.path() +
        "/in-\"$1\" ]; then\n"
        "  (while IFS= read -r l; do printf '%s\\n' \"$l\" >&2; done < " +
        dir.path() +
        "/in-\"$1\") &\n"
        "fi\n"
        "if [ -x " +
        dir.path() + "/before-\"$1\" ]; then " + dir.path() +
        "/before-\"$1\" >&2; fi\n"
        "exec " +
        kv_bucket_path() + " \"$@\"\n";
    std::string path = dir.write_file("bucket.sh", script);
    EXPECT_EQ(chmod(path.c_str(), 0755), 0);
    return path;
}

// The test's end of a bucket's FIFO: lines written here come out of the bucket's stderr.
class Feed {
  public:
    Feed(const TempDir& dir, const std::string& bucket) : path_(dir.file("in-" + bucket)) {
        EXPECT_EQ(mkfifo(path_.c_str(), 0600), 0);
    }
    // Ends the bucket's forwarding loop, also one still waiting for the test to open its end,
    // and removes the FIFO (a bucket started later does not wait on it).
    ~Feed() {
        if (fd_ < 0) fd_ = ::open(path_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        close();
        ::unlink(path_.c_str());
    }
    // Opens once the bucket's script has opened its end.
    void open() {
        ASSERT_TRUE(wait_until(
            [&] { return (fd_ = ::open(path_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC)) >= 0; },
            10s, "the bucket to read its FIFO"));
        fcntl(fd_, F_SETFL, 0);
    }
    void line(const std::string& text) {
        std::string l = text + "\n";
        ASSERT_EQ(::write(fd_, l.data(), l.size()), static_cast<ssize_t>(l.size()));
    }
    void close() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

  private:
    std::string path_;
    int fd_ = -1;
};

std::vector<std::string> texts(const Json& reply) {
    std::vector<std::string> out;
    for (const auto& l : reply["result"]["lines"]) out.push_back(l["line"]);
    return out;
}

class Logs : public KvdTest {
  protected:
    KvdOptions options() override {
        KvdOptions o;
        o.config =
            "[bucket]\nprogram = " + Json(program_script(dir_)).dump() + "\n" + extra_config();
        return o;
    }
    virtual std::string extra_config() { return ""; }

    Json logs(const std::string& bucket, Json args = Json::object()) {
        args["bucket"] = bucket;
        return call("logs", args);
    }
    // Waits until `logs` shows a line `text`.
    ::testing::AssertionResult wait_line(const std::string& bucket, const std::string& text,
                                         milliseconds timeout = 10s) {
        return wait_until(
            [&] {
                auto t = texts(logs(bucket, {{"lines", 1000}}));
                return std::find(t.begin(), t.end(), text) != t.end();
            },
            timeout, "line '" + text + "' of bucket " + bucket);
    }
};

TEST_F(Logs, StderrLinesAreKeptAndServed) {
    EXPECT_TRUE(is_error(logs("web"), "not_found"));
    Feed feed(dir_, "web");
    ASSERT_GT(create("web"), 0);
    feed.open();
    for (int i = 1; i <= 3; ++i) feed.line("hello " + std::to_string(i));
    ASSERT_TRUE(wait_line("web", "hello 3"));
    Json r = logs("web");
    ASSERT_TRUE(is_ok(r));
    EXPECT_EQ(texts(r), (std::vector<std::string>{"start web", "hello 1", "hello 2", "hello 3"}));
    for (const auto& l : r["result"]["lines"]) {
        EXPECT_EQ(l["stream"], "stderr");
        std::string time = l["time"];
        EXPECT_EQ(time.size(), 27u) << time;  // 2026-11-23T19:40:00.123456Z
        EXPECT_EQ(time.back(), 'Z');
    }
    EXPECT_EQ(r["result"]["dropped"], 0);
    EXPECT_EQ(texts(logs("web", {{"lines", 2}})), (std::vector<std::string>{"hello 2", "hello 3"}));
    EXPECT_TRUE(texts(logs("web", {{"lines", 0}})).empty());
    EXPECT_TRUE(texts(logs("web", {{"stream", "stdout"}})).empty());
    EXPECT_EQ(texts(logs("web", {{"stream", "stderr"}})).size(), 4u);
    // Never through kvd's own log.
    EXPECT_EQ(kvd().log().find("hello 1"), std::string::npos) << kvd().log();
    feed.close();
}

TEST_F(Logs, FollowGetsNewLinesAndEndsWhenTheBucketIsGone) {
    Feed feed(dir_, "web");
    ASSERT_GT(create("web"), 0);
    feed.open();
    feed.line("old");
    ASSERT_TRUE(wait_line("web", "old"));

    auto follower = connect();
    Json reply =
        follower->request({{"op", "logs"}, {"bucket", "web"}, {"lines", 1}, {"follow", true}});
    ASSERT_TRUE(is_ok(reply));
    EXPECT_EQ(texts(reply), std::vector<std::string>{"old"});
    for (int i = 0; i < 5; ++i) feed.line("new " + std::to_string(i));
    for (int i = 0; i < 5; ++i) {
        auto line = follower->read_json(10s);
        ASSERT_TRUE(line) << "follow line " << i;
        EXPECT_EQ((*line)["line"], "new " + std::to_string(i));
        EXPECT_EQ((*line)["stream"], "stderr");
        EXPECT_TRUE(line->contains("time"));
    }
    // The bucket goes: the forwarding loop ends with the FIFO, kv-bucket is stopped, and the
    // connection closes after the last line.
    feed.line("last words");
    feed.close();
    ASSERT_TRUE(is_ok(call("stop", {{"bucket", "web"}})));
    auto last = follower->read_json(10s);
    ASSERT_TRUE(last);
    EXPECT_EQ((*last)["line"], "last words");
    EXPECT_TRUE(follower->wait_eof(10s));
    // The log of a gone bucket is still there for a while.
    EXPECT_EQ(texts(logs("web")).back(), "last words");
    // A new bucket of the name goes on with the same log.
    ::unlink(dir_.file("in-web").c_str());
    ASSERT_GT(create("web"), 0);
    ASSERT_TRUE(wait_until([&] { return texts(logs("web")).back() == "start web"; }, 10s,
                           "the second start's line"));
    auto all = texts(logs("web"));
    EXPECT_EQ(all.size(), 9u);
    EXPECT_EQ(all.front(), "start web");
}

TEST_F(Logs, FollowOnlyOneStream) {
    Feed feed(dir_, "web");
    ASSERT_GT(create("web"), 0);
    feed.open();
    auto follower = connect();
    ASSERT_TRUE(is_ok(follower->request({{"op", "logs"},
                                         {"bucket", "web"},
                                         {"lines", 0},
                                         {"follow", true},
                                         {"stream", "stdout"}})));
    feed.line("to stderr");
    ASSERT_TRUE(wait_line("web", "to stderr"));
    EXPECT_FALSE(follower->read_line(200ms)) << "no stdout line was written";
    EXPECT_FALSE(follower->eof());
    feed.close();
}

class LogFiles : public Logs {
  protected:
    std::string extra_config() override {
        mkdir(dir_.file("logs").c_str(), 0755);
        return "log_dir = \"logs\"\nlog_max_size = \"64K\"\nlog_keep = 2\n";
    }
    std::string file(const std::string& name) const { return dir_.file("logs/" + name); }
};

TEST_F(LogFiles, RotationKeepsTheConfiguredFilesAndSizes) {
    // 3000 lines of 100 bytes in the file (with the time and stream prefix): 300 KB.
    dir_.write_file("before-web",
                    "#!/bin/sh\nseq 1 3000 | while read -r i; do printf 'n%05d %s\\n' $i "
                    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; done\n"
                    "echo finished\n");
    ASSERT_EQ(chmod(dir_.file("before-web").c_str(), 0755), 0);
    ASSERT_GT(create("web"), 0);
    ASSERT_TRUE(wait_until(
        [&] { return read_file(file("web.log")).find(" stderr finished\n") != std::string::npos; },
        20s, "the last line in web.log"));
    EXPECT_TRUE(file_exists(file("web.log.1")));
    EXPECT_TRUE(file_exists(file("web.log.2")));
    EXPECT_FALSE(file_exists(file("web.log.3")));
    for (const char* f : {"web.log.1", "web.log.2"}) {
        std::string text = read_file(file(f));
        EXPECT_LE(text.size(), 64u * 1024) << f;
        EXPECT_GT(text.size(), 64u * 1024 - 200) << f;
        EXPECT_EQ(text.back(), '\n') << f << ": lines are never split";
    }
    // The kept files are consecutive: .2, .1, then the live file, no line missing.
    std::vector<std::string> all;
    for (const char* f : {"web.log.2", "web.log.1", "web.log"})
        for (auto& l : read_lines(file(f))) all.push_back(l);
    int expect = -1;
    for (const auto& l : all) {
        auto at = l.find(" stderr n");
        if (at == std::string::npos) continue;
        int n = std::stoi(l.substr(at + 9, 5));
        if (expect >= 0) {
            ASSERT_EQ(n, expect) << l;
        }
        expect = n + 1;
    }
    EXPECT_EQ(expect, 3001);
    EXPECT_EQ(logs("web")["result"]["dropped"], 0);
}

TEST_F(LogFiles, SighupReopensTheFile) {
    Feed feed(dir_, "web");
    ASSERT_GT(create("web"), 0);
    feed.open();
    feed.line("before");
    ASSERT_TRUE(
        wait_until([&] { return read_file(file("web.log")).find("before") != std::string::npos; },
                   10s, "'before' in web.log"));
    ASSERT_EQ(rename(file("web.log").c_str(), file("moved.log").c_str()), 0);
    kvd().signal(SIGHUP);
    // The reload is done once the next request is answered (signals are handled in order
    // with the socket on kvd's loop), but wait for the file anyway.
    ASSERT_TRUE(wait_until(
        [&] {
            feed.line("after");
            return read_file(file("web.log")).find("after") != std::string::npos;
        },
        10s, "'after' in a new web.log"));
    EXPECT_NE(read_file(file("moved.log")).find("before"), std::string::npos);
    feed.close();
}

TEST_F(Logs, AFloodCostsBoundedMemoryAndKvdStaysResponsive) {
    // 32 MiB of short lines, then one 100,000-byte line without a break, then a marker.
    dir_.write_file("before-web",
                    "#!/bin/sh\n"
                    "yes 'flood flood flood flood flood flood flood flood flood flood flood' | "
                    "head -c 33554432; echo\n"
                    "head -c 100000 /dev/zero | tr '\\0' y; echo\n"
                    "echo done-flooding\n");
    ASSERT_EQ(chmod(dir_.file("before-web").c_str(), 0755), 0);
    ASSERT_TRUE(is_ok(call("ping")));
    long rss_before = rss_kib(kvd().pid());
    auto cpu_before = cpu_time(kvd().pid());
    auto started = std::chrono::steady_clock::now();
    ASSERT_GT(create("web"), 0);
    long rss_max = rss_before;
    milliseconds slowest_ping{0};
    bool done = false;
    auto deadline = started + scaled(60s);
    while (!done && std::chrono::steady_clock::now() < deadline) {
        auto t0 = std::chrono::steady_clock::now();
        ASSERT_TRUE(is_ok(call("ping")));
        slowest_ping = std::max(slowest_ping, std::chrono::duration_cast<milliseconds>(
                                                  std::chrono::steady_clock::now() - t0));
        rss_max = std::max(rss_max, rss_kib(kvd().pid()));
        auto last = texts(logs("web", {{"lines", 1}}));
        done = !last.empty() && last.back() == "done-flooding";
    }
    ASSERT_TRUE(done) << "the flood did not end in time";
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    auto cpu = cpu_time(kvd().pid()) - cpu_before;
    std::printf(
        "log capture: 32 MiB in %.2f s (%.1f MiB/s), kvd CPU %lld ms (%.1f ms/MiB), "
        "slowest ping %lld ms, RSS %ld -> %ld KiB\n",
        seconds, 32 / seconds, static_cast<long long>(cpu.count()), cpu.count() / 32.0,
        static_cast<long long>(slowest_ping.count()), rss_before, rss_max);
    EXPECT_LT(slowest_ping, scaled(1000ms));
    if (kSanitized)
        std::printf("log capture: sanitizer build, RSS growth not checked\n");
    else
        EXPECT_LT(rss_max - rss_before, 32 * 1024) << "kvd grew by more than 32 MiB";
    // The long line was cut and counted.
    Json r = logs("web", {{"lines", 2}});
    ASSERT_EQ(texts(r).size(), 2u);
    const std::string cut = texts(r)[0];
    EXPECT_EQ(cut.substr(0, 5), "yyyyy");
    EXPECT_NE(cut.find("\xE2\x80\xA6[cut 83616 bytes]"), std::string::npos) << cut.substr(16380);
    EXPECT_EQ(r["result"]["dropped"], 1);
}

// A follower that does not read is held to [daemon] client_buffer_bytes of lines: beyond it,
// lines are dropped for that follower alone and one {"dropped":N} says how many, so that
// what it received and what it was told it lost add up to what the bucket wrote.
class LogsSlowFollower : public Logs {
  protected:
    std::string extra_config() override { return "[daemon]\nclient_buffer_bytes = \"64K\"\n"; }
};

TEST_F(LogsSlowFollower, LosesLinesBeyondItsBoundAndIsToldHowMany) {
    Feed feed(dir_, "web");
    ASSERT_GT(create("web"), 0);
    feed.open();
    ASSERT_TRUE(wait_line("web", "start web"));
    auto follower = connect();
    ASSERT_TRUE(is_ok(
        follower->request({{"op", "logs"}, {"bucket", "web"}, {"lines", 0}, {"follow", true}})));

    // 2 MB of lines, far beyond 64 KiB and what the socket buffers hold, while the follower
    // reads nothing.
    const int total = 20000;
    const std::string pad(90, 'x');
    for (int i = 0; i < total; i += 1000) {
        std::string chunk;
        for (int j = i; j < i + 1000; ++j) chunk += (j > i ? "\n" : "") + std::to_string(j) + pad;
        feed.line(chunk);
    }
    const std::string last = std::to_string(total - 1) + pad;
    ASSERT_TRUE(wait_line("web", last, 30s));
    // The other clients were served all along (the test's own `logs` calls above); the rest
    // of the log is intact.
    EXPECT_EQ(texts(logs("web", {{"lines", 1}})), std::vector<std::string>{last});

    // Every line is either received or counted lost, the last one included (it may be lost
    // too: the follower's buffer was still full when it came).
    uint64_t received = 0, lost = 0;
    while (received + lost < static_cast<uint64_t>(total)) {
        auto line = follower->read_json(10s);
        ASSERT_TRUE(line) << "after " << received << " lines and " << lost << " lost";
        if (line->contains("dropped"))
            lost += (*line)["dropped"].get<uint64_t>();
        else
            ++received;
    }
    EXPECT_GT(lost, 0u);
    EXPECT_GT(received, 0u);
    EXPECT_EQ(received + lost, static_cast<uint64_t>(total));
    // Nothing more was owed.
    EXPECT_FALSE(follower->read_line(100ms));
    feed.close();
}

}  // namespace
}  // namespace kvd::test
