// kvd's log never blocks its loop: with stderr a pipe that nobody reads, kvd goes on serving,
// and a handler that floods its stderr is rate-limited with "N similar lines suppressed".
#include <fcntl.h>
#include <unistd.h>

#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

// Everything readable from `fd` now (it is non-blocking).
std::string drain(int fd) {
    std::string out;
    char buf[65536];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
    return out;
}

TEST(FaultsLog, AFullStderrPipeDoesNotFreezeKvd) {
    TempDir dir;
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
    // The smallest pipe the kernel allows: a few lines fill it.
    ::fcntl(fds[1], F_SETPIPE_SZ, 4096);
    Json flood = {"/bin/sh", "-c",
                  "while :; do echo 'a line of handler output, again and again' >&2; done"};
    KvdOptions options;
    options.config =
        "[[handler]]\nname = \"flood\"\nmode = \"async\"\ncommand = " + flood.dump() + "\n";
    options.output_fd = fds[1];
    KvdProcess kvd(dir, options);
    ::close(fds[1]);
    ASSERT_TRUE(kvd.ready());
    Client c(kvd.socket_path());
    ASSERT_TRUE(c.connected());
    // Well past the moment the pipe filled up, kvd answers every request.
    auto until = std::chrono::steady_clock::now() + scaled(2s);
    int answered = 0;
    while (std::chrono::steady_clock::now() < until) {
        Json reply = c.call("create", {{"bucket", "b" + std::to_string(answered)}}, 10s);
        ASSERT_TRUE(is_ok(reply)) << "request #" << answered;
        ++answered;
    }
    EXPECT_GT(answered, 0);
    // Reading makes room: what kvd kept for the pipe comes out, the flood rate-limited.
    std::string log;
    EXPECT_TRUE(wait_until(
        [&] {
            log += drain(fds[0]);
            return log.find("similar lines suppressed") != std::string::npos;
        },
        10s, "the count of suppressed lines"))
        << log.substr(0, 4000);
    ASSERT_TRUE(is_ok(c.call("stop", {{"bucket", "b0"}})));
    EXPECT_TRUE(wait_until(
        [&] {
            log += drain(fds[0]);
            return log.find("stopping bucket b0") != std::string::npos;
        },
        10s, "kvd's later lines"));
    ::close(fds[0]);
}

}  // namespace
}  // namespace kvd::test
