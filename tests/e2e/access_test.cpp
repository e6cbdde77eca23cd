// Who may use kvd, and how its socket file is made (README "Configuration"): the file's mode and
// group, SO_PEERCRED checks that hold even when the file is opened up, one kvd per socket, stale
// files replaced, unsafe directories refused. Tests that need another user run as root and
// become `nobody` in a forked child.
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <functional>

#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

struct Identity {
    uid_t uid = kNobody;
    gid_t gid = kNogroup;
    std::vector<gid_t> groups;  // supplementary
};

// Runs `fn` in a forked child that has become `who` and returns what it returned; nullopt if
// the child failed to change identity or did not finish within scaled(`timeout`).
std::optional<std::string> run_as(const Identity& who, const std::function<std::string()>& fn,
                                  milliseconds timeout = 10s) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) return std::nullopt;
    pid_t pid = fork();
    if (pid == 0) {
        ::close(report[0]);
        if (setgroups(who.groups.size(), who.groups.data()) != 0 || setgid(who.gid) != 0 ||
            setuid(who.uid) != 0)
            _exit(2);
        std::string text = fn();
        ssize_t ignored = write(report[1], text.data(), text.size());
        (void)ignored;
        _exit(0);
    }
    ::close(report[1]);
    if (pid < 0) {
        ::close(report[0]);
        return std::nullopt;
    }
    std::string text;
    bool done = false;
    auto deadline = std::chrono::steady_clock::now() + scaled(timeout);
    while (!done) {
        auto left =
            std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        pollfd p{report[0], POLLIN, 0};
        if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
        char buf[4096];
        ssize_t n = read(report[0], buf, sizeof buf);
        if (n > 0)
            text.append(buf, static_cast<std::size_t>(n));
        else
            done = true;  // end of file: the child has exited
    }
    ::close(report[0]);
    if (!done) kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!done || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return std::nullopt;
    return text;
}

// What a client running as someone else sees: the first line kvd sends after a ping, and
// with `until_closed`, then "<eof>" if kvd closes the connection.
std::string ping_as_client(const std::string& socket_path, bool until_closed) {
    Client client(socket_path);
    if (!client.connected()) return "connect failed: " + client.connect_error();
    client.send_line(R"({"id":1,"op":"ping"})");
    std::string text = client.read_line(5s).value_or("<no line>");
    if (until_closed && client.wait_eof(5s)) text += "\n<eof>";
    return text;
}

// Lets anyone reach the socket through the filesystem, so that only kvd's own check stands
// between another user and kvd: the temporary directory is private (0700) by default.
void open_up(const TempDir& dir, const std::string& socket_path) {
    ASSERT_EQ(chmod(dir.path().c_str(), 0755), 0) << std::strerror(errno);
    ASSERT_EQ(chmod(socket_path.c_str(), 0666), 0) << std::strerror(errno);
}

#define REQUIRE_ROOT()                                            \
    if (geteuid() != 0)                                           \
    GTEST_SKIP() << "needs root to run a client as another user " \
                    "(CI runs the tests as root)"

// ---- peer credentials ---------------------------------------------------------------------------

TEST(Access, AnotherUserIsRefusedEvenWhenTheFileLetsThemIn) {
    REQUIRE_ROOT();
    TempDir dir;
    KvdProcess kvd(dir);
    ASSERT_TRUE(kvd.ready());
    open_up(dir, kvd.socket_path());

    auto seen = run_as(Identity{}, [&] { return ping_as_client(kvd.socket_path(), true); });
    ASSERT_TRUE(seen.has_value()) << "the client running as nobody did not report";
    auto newline = seen->find('\n');
    ASSERT_NE(newline, std::string::npos) << *seen;
    EXPECT_EQ(seen->substr(newline + 1), "<eof>") << "kvd did not close the connection";
    Json reply = Json::parse(seen->substr(0, newline), nullptr, false);
    EXPECT_TRUE(is_error(reply, "permission_denied")) << *seen;
    EXPECT_TRUE(wait_until([&] { return kvd.log().find("refused client") != std::string::npos; },
                           5s, "kvd to log the refusal"))
        << kvd.log();

    // kvd itself is unharmed.
    Client root(kvd.socket_path());
    EXPECT_TRUE(is_ok(root.call("ping")));
}

TEST(Access, KvctlAsAnotherUserExitsThree) {
    REQUIRE_ROOT();
    if (!kvctl_built()) GTEST_SKIP() << "kvctl is not built";
    TempDir dir;
    KvdProcess kvd(dir);
    ASSERT_TRUE(kvd.ready());
    open_up(dir, kvd.socket_path());

    // run_program cannot change user; the child does, then execs kvctl.
    auto seen = run_as(Identity{}, [&] {
        RunResult r = run_program(kvctl_path(), {"--socket", kvd.socket_path(), "status"});
        return std::to_string(r.exit_code) + "\n" + r.err;
    });
    ASSERT_TRUE(seen.has_value());
    EXPECT_EQ(seen->substr(0, seen->find('\n')), "3") << *seen;
    EXPECT_NE(seen->find("ermission denied"), std::string::npos) << *seen;
}

TEST(Access, TheSocketGroupIsLetInAsPrimaryOrSupplementaryGroup) {
    REQUIRE_ROOT();
    struct group* users = getgrnam("users");
    if (!users) GTEST_SKIP() << "no group 'users' on this system";
    gid_t gid = users->gr_gid;
    TempDir dir;
    KvdOptions options;
    options.config = "[daemon]\nsocket_group = \"users\"\n";
    KvdProcess kvd(dir, options);
    ASSERT_TRUE(kvd.ready());
    ASSERT_EQ(chmod(dir.path().c_str(), 0755), 0);

    struct stat st {};
    ASSERT_EQ(stat(kvd.socket_path().c_str(), &st), 0);
    EXPECT_EQ(st.st_gid, gid);
    EXPECT_EQ(st.st_mode & 0777, 0660u);

    for (const Identity& member :
         {Identity{kNobody, gid, {}}, Identity{kNobody, kNogroup, {kNogroup, gid}}}) {
        auto seen = run_as(member, [&] { return ping_as_client(kvd.socket_path(), false); });
        ASSERT_TRUE(seen.has_value());
        EXPECT_TRUE(is_ok(Json::parse(*seen, nullptr, false)))
            << "gid " << member.gid << " with " << member.groups.size()
            << " supplementary group(s): " << *seen;
    }
    // Not in the group: refused.
    auto seen = run_as(Identity{}, [&] { return ping_as_client(kvd.socket_path(), false); });
    ASSERT_TRUE(seen.has_value());
    // The file's mode already keeps nobody out; either way, no ping answer.
    EXPECT_EQ(seen->find("\"ok\":true"), std::string::npos) << *seen;
}

// ---- the socket file
// ------------------------------------------------------------------------------

TEST(SocketFile, HasTheDefaultMode0660) {
    TempDir dir;
    KvdProcess kvd(dir);
    ASSERT_TRUE(kvd.ready());
    struct stat st {};
    ASSERT_EQ(stat(kvd.socket_path().c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 07777, 0660u);
}

TEST(SocketFile, HasTheConfiguredMode) {
    TempDir dir;
    KvdOptions options;
    options.config = "[daemon]\nsocket_mode = \"0600\"\n";
    KvdProcess kvd(dir, options);
    ASSERT_TRUE(kvd.ready());
    struct stat st {};
    ASSERT_EQ(stat(kvd.socket_path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST(SocketFile, IsRemovedOnExit) {
    TempDir dir;
    KvdProcess kvd(dir);
    ASSERT_TRUE(kvd.ready());
    auto status = kvd.terminate();
    ASSERT_TRUE(status.has_value());
    EXPECT_TRUE(status->success()) << status->describe();
    EXPECT_FALSE(file_exists(kvd.socket_path()));
}

TEST(SocketFile, ASecondKvdOnALiveSocketRefusesAndTheFirstKeepsServing) {
    TempDir dir;
    KvdProcess first(dir);
    ASSERT_TRUE(first.ready());

    RunResult second = run_program(kvd_path(), {"--socket", first.socket_path()});
    EXPECT_NE(second.exit_code, 0) << second;
    EXPECT_FALSE(second.timed_out) << second;
    EXPECT_NE(second.err.find("already serving on " + first.socket_path()), std::string::npos)
        << second;

    EXPECT_TRUE(file_exists(first.socket_path()));
    Client client(first.socket_path());
    ASSERT_TRUE(client.connected()) << client.connect_error();
    Json reply = client.call("ping");
    ASSERT_TRUE(is_ok(reply));
    EXPECT_EQ(reply["result"]["pid"], first.pid());
}

// A handler that writes $KVD_SOCKET to `file` when it starts, then acks every event.
std::string handler_reporting_socket_to(const std::string& file) {
    return "[[handler]]\n"
           "name = \"env\"\n"
           "command = [\"/bin/sh\", \"-c\", "
           "\"printf '%s\\\\n' \\\"$KVD_SOCKET\\\" > " +
           file + "; while read -r e; do echo ok; done\"]\n";
}

TEST(SocketFile, HandlersAreToldThePathAsKvdSocket) {
    TempDir dir;
    std::string report = dir.file("handler-env");
    KvdOptions options;
    options.config = handler_reporting_socket_to(report);
    KvdProcess kvd(dir, options);
    ASSERT_TRUE(kvd.ready());
    ASSERT_TRUE(wait_until([&] { return !read_lines(report).empty(); }, 10s,
                           "the handler to report $KVD_SOCKET"))
        << kvd.log();
    EXPECT_EQ(read_lines(report).front(), kvd.socket_path());
}

TEST(SocketFile, ASecondKvdStartsNoHandlersBeforeRefusing) {
    TempDir dir;
    KvdProcess first(dir);
    ASSERT_TRUE(first.ready());

    std::string report = dir.file("second-handler-env");
    std::string config = dir.write_file("second.toml", handler_reporting_socket_to(report));
    RunResult second =
        run_program(kvd_path(), {"--socket", first.socket_path(), "--config", config});
    EXPECT_EQ(second.exit_code, 1) << second;
    EXPECT_FALSE(file_exists(report)) << "the refused kvd started its handler";
}

TEST(SocketFile, AStaleSocketIsReplaced) {
    TempDir dir;
    std::string path = dir.file("kvd.sock");
    // What a kvd killed with SIGKILL leaves: a socket file nobody listens on.
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ::close(fd);
    ASSERT_TRUE(file_exists(path));

    KvdProcess kvd(dir);
    ASSERT_TRUE(kvd.ready());
    Client client(path);
    EXPECT_TRUE(is_ok(client.call("ping")));
    EXPECT_NE(kvd.log().find("stale"), std::string::npos) << kvd.log();
}

TEST(SocketFile, AFileThatIsNotASocketIsLeftAlone) {
    TempDir dir;
    std::string path = dir.write_file("kvd.sock", "precious\n");
    KvdOptions options;
    options.wait_ready = false;
    KvdProcess kvd(dir, options);
    auto status = kvd.wait_exit(10s);
    ASSERT_TRUE(status.has_value()) << "kvd started over a regular file";
    EXPECT_TRUE(status->exited && status->code == 1) << status->describe();
    EXPECT_EQ(read_file(path), "precious\n");
    EXPECT_NE(kvd.log().find("not a socket"), std::string::npos) << kvd.log();
}

TEST(SocketFile, ADirectoryWritableByEveryoneIsRefused) {
    TempDir dir;
    std::string open_dir = dir.file("open");
    ASSERT_EQ(mkdir(open_dir.c_str(), 0777), 0);
    ASSERT_EQ(chmod(open_dir.c_str(), 0777), 0);  // whatever the umask
    RunResult r = run_program(kvd_path(), {"--socket", open_dir + "/kvd.sock"});
    EXPECT_EQ(r.exit_code, 1) << r;
    EXPECT_NE(r.err.find("writable by everyone"), std::string::npos) << r;
    EXPECT_FALSE(file_exists(open_dir + "/kvd.sock"));

    // Sticky, as /tmp is: nobody can replace a file of ours, so it is fine.
    ASSERT_EQ(chmod(open_dir.c_str(), 01777), 0);
    KvdOptions options;
    options.pass_socket = false;
    options.args = {"--socket", open_dir + "/kvd.sock"};
    options.wait_ready = false;
    KvdProcess kvd(dir, options);
    ASSERT_TRUE(wait_until([&] { return Client(open_dir + "/kvd.sock").connected(); }, 10s,
                           "kvd to serve in a sticky directory"))
        << kvd.log();
}

TEST(SocketFile, ADirectoryOfAnotherUserIsRefused) {
    REQUIRE_ROOT();
    TempDir dir;
    std::string theirs = dir.file("theirs");
    ASSERT_EQ(mkdir(theirs.c_str(), 0755), 0);
    ASSERT_EQ(chown(theirs.c_str(), kNobody, kNogroup), 0);
    RunResult r = run_program(kvd_path(), {"--socket", theirs + "/kvd.sock"});
    EXPECT_EQ(r.exit_code, 1) << r;
    EXPECT_NE(r.err.find("belongs to uid 65534"), std::string::npos) << r;
}

}  // namespace
}  // namespace kvd::test
