// Buckets' output sent to the journal ([bucket] log_journal = true, README "Logs").
//
// kvd runs in a mount namespace of its own (unshare(1), so root only) where /run is a
// directory of the test's: the test binds its systemd/journal/socket and reads there what
// journald would, in journald's native protocol, leaving the host's journal alone. Each
// bucket (kind "talk", no data) writes one line to stdout and one to stderr, then waits.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

using Fields = std::map<std::string, std::string>;

// One datagram of journald's native protocol: "KEY=VALUE\n", or "KEY\n", a 64-bit
// little-endian length, the value and "\n" for a value that holds a newline.
Fields parse_native(const std::string& d) {
    Fields f;
    std::size_t i = 0;
    while (i < d.size()) {
        std::size_t nl = d.find('\n', i);
        if (nl == std::string::npos) break;
        std::string line = d.substr(i, nl - i);
        std::size_t eq = line.find('=');
        if (eq != std::string::npos) {
            f[line.substr(0, eq)] = line.substr(eq + 1);
            i = nl + 1;
            continue;
        }
        uint64_t size = 0;
        if (nl + 1 + 8 > d.size()) break;
        for (int b = 7; b >= 0; --b) size = size << 8 | static_cast<unsigned char>(d[nl + 1 + b]);
        f[line] = d.substr(nl + 1 + 8, size);
        i = nl + 1 + 8 + size + 1;
    }
    return f;
}

class LogJournal : public KvdTest {
  protected:
    void SetUp() override {
        if (geteuid() != 0) GTEST_SKIP() << "needs root: kvd runs in a mount namespace of its own";
        if (access("/usr/bin/unshare", X_OK) != 0) GTEST_SKIP() << "needs unshare(1)";
        KvdTest::SetUp();
    }
    KvdOptions options() override {
        run_ = dir_.path() + "/run";
        std::filesystem::create_directories(run_ + "/systemd/journal");
        socket_path_ = run_ + "/systemd/journal/socket";
        bind_journal();
        KvdOptions o;
        o.wrapper = {"/usr/bin/unshare",
                     "--mount",
                     "--propagation",
                     "private",
                     "/bin/sh",
                     "-c",
                     "mount --bind \"$0\" /run && exec \"$@\"",
                     run_};
        o.config =
            "[bucket]\nlog_journal = true\n"
            "[[kind]]\nname = \"talk\"\ndata = false\n"
            "command = [\"/bin/sh\", \"-c\", \"echo out-$0; echo err-$0 >&2; exec sleep 600\", "
            "\"{name}\"]\n";
        return o;
    }
    void TearDown() override {
        if (journal_ >= 0) ::close(journal_);
    }

    void bind_journal() {
        journal_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ASSERT_GE(journal_, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        ASSERT_LT(socket_path_.size(), sizeof addr.sun_path);
        std::strcpy(addr.sun_path, socket_path_.c_str());
        ASSERT_EQ(::bind(journal_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0)
            << std::strerror(errno);
    }

    // The entry with MESSAGE=`message`, received now or before (stdout and stderr are two
    // pipes: their lines may come in either order); empty, and a failure, on timeout.
    Fields wait_entry(const std::string& message, milliseconds timeout = 10s) {
        auto deadline = std::chrono::steady_clock::now() + scaled(timeout);
        std::vector<char> buf(1 << 16);
        for (;;) {
            for (const Fields& f : received_)
                if (f.count("MESSAGE") && f.at("MESSAGE") == message) return f;
            if (std::chrono::steady_clock::now() >= deadline) break;
            pollfd p{journal_, POLLIN, 0};
            if (::poll(&p, 1, 100) <= 0) continue;
            ssize_t n = ::recv(journal_, buf.data(), buf.size(), 0);
            if (n > 0)
                received_.push_back(
                    parse_native(std::string(buf.data(), static_cast<std::size_t>(n))));
        }
        std::vector<std::string> seen;
        for (const Fields& f : received_) seen.push_back(f.count("MESSAGE") ? f.at("MESSAGE") : "");
        ADD_FAILURE() << "no journal entry '" << message
                      << "'; seen: " << ::testing::PrintToString(seen);
        return {};
    }

    std::string run_;
    std::string socket_path_;
    int journal_ = -1;
    std::vector<Fields> received_;
};

TEST_F(LogJournal, EachLineIsAnEntryWithTheBucketsFields) {
    ASSERT_TRUE(is_ok(call("create", {{"bucket", "web"}, {"kind", "talk"}})));
    Fields out = wait_entry("out-web");
    EXPECT_EQ(out["KVD_BUCKET"], "web");
    EXPECT_EQ(out["KVD_STREAM"], "stdout");
    EXPECT_EQ(out["PRIORITY"], "6");
    EXPECT_EQ(out["SYSLOG_IDENTIFIER"], "web");
    Fields err = wait_entry("err-web");
    EXPECT_EQ(err["KVD_BUCKET"], "web");
    EXPECT_EQ(err["KVD_STREAM"], "stderr");
    EXPECT_EQ(err["PRIORITY"], "4");
    // Kept for `logs` too, and nothing lost.
    Json r = call("logs", {{"bucket", "web"}});
    ASSERT_TRUE(is_ok(r));
    EXPECT_EQ(r["result"]["lines"].size(), 2u) << r;
    EXPECT_EQ(r["result"]["dropped"], 0);
    // Never through kvd's own log.
    EXPECT_EQ(kvd().log().find("out-web"), std::string::npos) << kvd().log();
}

// Lines the journal refuses (here: its socket is left behind by a journald that is gone)
// are counted as lost and kvd says so once; they are still kept for `logs`.
TEST_F(LogJournal, LinesTheJournalRefusesAreCountedAndStillKept) {
    ASSERT_TRUE(is_ok(call("create", {{"bucket", "first"}, {"kind", "talk"}})));
    wait_entry("err-first");
    ::close(journal_);
    journal_ = -1;
    ASSERT_TRUE(is_ok(call("create", {{"bucket", "late"}, {"kind", "talk"}})));
    ASSERT_TRUE(wait_until(
        [&] {
            Json r = call("logs", {{"bucket", "late"}});
            return is_ok(r) && r["result"]["lines"].size() == 2 && r["result"]["dropped"] == 2;
        },
        10s, "both lines of 'late' kept and counted as lost"));
    ASSERT_TRUE(wait_until(
        [&] {
            return kvd().log().find("log of bucket late: the journal refused a line") !=
                   std::string::npos;
        },
        10s, "kvd to say the journal refused lines"));
}

// With no journal at all (no socket), libsystemd drops lines without a word: kvd says at
// start that log_journal has nowhere to send them.
TEST_F(LogJournal, NoJournalSocketIsSaidAtStart) {
    ASSERT_TRUE(is_ok(call("ping")));
    EXPECT_EQ(kvd().log().find("log_journal"), std::string::npos) << kvd().log();
    ::close(journal_);
    journal_ = -1;
    ASSERT_EQ(::unlink(socket_path_.c_str()), 0);
    ::kill(kvd().pid(), SIGHUP);  // reload: the same config, looked at again
    ASSERT_TRUE(wait_until(
        [&] {
            return kvd().log().find("[bucket] log_journal = true, but no journal runs here") !=
                   std::string::npos;
        },
        10s, "kvd to say there is no journal"));
}

}  // namespace
}  // namespace kvd::test
