// `[metrics] listen` and `kvctl metrics`: a real kvd serving its exposition over HTTP on a
// port the kernel chose (kvd logs it), scraped with a plain socket GET; its figures follow the
// buckets created, killed and stopped, and `kvctl metrics` prints the same figures.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <regex>
#include <string>

#include "tests/e2e/harness.hpp"
#include "tests/helpers/exposition.hpp"

namespace kvd::test {
namespace {

// The body of GET /metrics on 127.0.0.1:`port` (HTTP/1.0: no chunked encoding), or "" with
// `error` set.
std::string http_get(int port, std::string& error, milliseconds timeout = 10s) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        error = std::string("connect: ") + std::strerror(errno);
        ::close(fd);
        return {};
    }
    std::string request = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
        error = "write failed";
        ::close(fd);
        return {};
    }
    std::string response;
    auto deadline = std::chrono::steady_clock::now() + scaled(timeout);
    char buf[65536];
    for (;;) {
        auto left =
            std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
        pollfd p{fd, POLLIN, 0};
        if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0) {
            error = "no complete response in time";
            ::close(fd);
            return {};
        }
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) break;
        response.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    if (response.rfind("HTTP/1.", 0) != 0 || response.find(" 200 ") == std::string::npos) {
        error = "not a 200 response: " + response.substr(0, 200);
        return {};
    }
    std::size_t body = response.find("\r\n\r\n");
    return body == std::string::npos ? std::string() : response.substr(body + 4);
}

class Metrics : public KvdTest {
  protected:
    KvdOptions options() override {
        out_ = dir_.file("audit.out");
        Json command = {test_handler_path(), "--out", out_, "ack"};
        KvdOptions o;
        o.config =
            "[metrics]\nlisten = \"127.0.0.1:0\"\n\n[[handler]]\nname = \"audit\"\n"
            "mode = \"sync\"\ncommand = " +
            command.dump() + "\n";
        return o;
    }

    // The port kvd logged it listens on, 0 until it did.
    int port() {
        std::smatch m;
        std::string log = kvd().log();
        static const std::regex kServing(R"(metrics: serving \S+ \(port (\d+)\))");
        return std::regex_search(log, m, kServing) ? std::stoi(m[1]) : 0;
    }

    Exposition scrape() {
        std::string error;
        std::string body = http_get(port(), error);
        EXPECT_TRUE(error.empty()) << error;
        Exposition e = parse_exposition(body);
        EXPECT_TRUE(e.bad_lines.empty()) << "not exposition format: " << e.bad_lines.front();
        return e;
    }

    std::string out_;
};

TEST_F(Metrics, HttpScrapeFollowsBucketsHandlersAndExits) {
    ASSERT_TRUE(wait_until([&] { return port() > 0; }, 10s, "kvd logs its metrics port"));
    Exposition before = scrape();
    EXPECT_EQ(before.value("kvd_bucket_creates_total"), 0);
    EXPECT_EQ(before.value(R"(kvd_handler_delivered_total{handler="audit"})"), 0);

    pid_t a = create("a"), b = create("b");
    create("c");
    create("d");
    ASSERT_GT(a, 0);
    ASSERT_GT(b, 0);
    // Two SIGKILLs kvd sends (kill), one stop (SIGTERM, which kv-bucket obeys).
    ASSERT_TRUE(is_ok(call("kill", {{"bucket", "a"}})));
    ASSERT_TRUE(is_ok(call("kill", {{"bucket", "b"}})));
    ASSERT_TRUE(is_ok(call("stop", {{"bucket", "c"}})));

    // 4 creates and 3 exits, each acked by the sync handler.
    Exposition e;
    ASSERT_TRUE(wait_until(
        [&] {
            e = scrape();
            return e.value(R"(kvd_handler_acked_total{handler="audit"})") == 7;
        },
        10s, "the handler acked 7 events"));
    EXPECT_EQ(e.value("kvd_bucket_creates_total"), 4);
    EXPECT_EQ(e.value("kvd_bucket_restarts_total"), 0);
    EXPECT_EQ(e.value(R"(kvd_bucket_exits_total{reason="killed"})"), 2);
    EXPECT_EQ(e.value(R"(kvd_bucket_exits_total{reason="stopped"})"), 1);
    EXPECT_EQ(e.value(R"(kvd_bucket_exits_total{reason="exited"})"), 0);
    EXPECT_EQ(e.value(R"(kvd_buckets{state="running"})"), 1);
    EXPECT_EQ(e.sum_of("kvd_buckets"), 1);
    EXPECT_EQ(e.value(R"(kvd_handler_delivered_total{handler="audit"})"), 7);
    EXPECT_EQ(e.value(R"(kvd_handler_queued{handler="audit"})"), 0);
    EXPECT_EQ(e.value(R"(kvd_handler_restarts_total{handler="audit"})"), 0);
    EXPECT_EQ(e.value(R"(kvd_handler_info{handler="audit",state="running",mode="sync"})"), 1);
    EXPECT_EQ(e.value("kvd_event_seq"), 7);
    EXPECT_EQ(e.value("kvd_event_history_events"), 7);
    EXPECT_GT(e.value("kvd_event_history_bytes"), 7 * 50);
    EXPECT_GE(e.value("kvd_client_connections"), 1);
    // One detection time per exit: the two kills timed from kvd's SIGKILL.
    EXPECT_EQ(e.sum_of("kvd_exit_detection_seconds_count"), 3);
    EXPECT_EQ(e.value(R"(kvd_exit_detection_seconds_count{from="kill"})"), 2);
    EXPECT_EQ(e.value(R"(kvd_exit_detection_seconds_bucket{from="kill",le="+Inf"})"), 2);
    EXPECT_GT(e.value(R"(kvd_exit_detection_seconds_sum{from="kill"})"), 0);

    // kvctl metrics prints the same exposition, without HTTP.
    RunResult r = run_kvctl({"--socket", kvd().socket_path(), "metrics"});
    ASSERT_EQ(r.exit_code, 0) << r;
    Exposition printed = parse_exposition(r.out);
    EXPECT_TRUE(printed.bad_lines.empty()) << printed.bad_lines.front();
    EXPECT_EQ(printed.value("kvd_bucket_creates_total"), 4);
    EXPECT_EQ(printed.value(R"(kvd_handler_delivered_total{handler="audit"})"), 7);
    EXPECT_EQ(printed.sum_of("kvd_exit_detection_seconds_count"), 3);
    EXPECT_EQ(printed.value("kvd_event_seq"), 7);
    EXPECT_EQ(printed.types["kvd_exit_detection_seconds"], "histogram");

    auto status = kvd().terminate();
    ASSERT_TRUE(status);
    EXPECT_TRUE(status->success()) << status->describe();
}

TEST(MetricsListen, AnAddressInUseStopsKvdWithStatus1) {
    TempDir dir;
    int taken = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(bind(taken, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(listen(taken, 1), 0);
    socklen_t len = sizeof addr;
    getsockname(taken, reinterpret_cast<sockaddr*>(&addr), &len);
    int port = ntohs(addr.sin_port);

    KvdOptions options;
    options.config = "[metrics]\nlisten = \"127.0.0.1:" + std::to_string(port) + "\"\n";
    options.wait_ready = false;
    KvdProcess kvd(dir, options);
    auto status = kvd.wait_exit(10s);
    ::close(taken);
    ASSERT_TRUE(status) << "kvd kept running";
    EXPECT_TRUE(status->exited && status->code == 1) << status->describe();
    EXPECT_NE(kvd.log().find("metrics: cannot listen on 127.0.0.1:" + std::to_string(port)),
              std::string::npos)
        << kvd.log();
}

}  // namespace
}  // namespace kvd::test
