// kinds: buckets of programs other than kv-bucket ([[kind]] tables), each against a
// reference measured in the same run:
// - a crash-looping `permanent` bucket (/bin/false, 1 ms backoff): restarts per second over
//   a fixed wall time, counted from the `create` events carrying "restart" on a subscriber,
//   and kvd's CPU per restart; against supervisord restarting an autorestart=true
//   /bin/false (its restarts counted from the "spawned:" lines of its log);
// - creates of a kind with data = false, against the uv_spawn floor spawning the same
//   program;
// - log capture: MB/s from a bucket writing its stderr as fast as it can, until the `logs`
//   op shows the line written after the last byte, and kvd's CPU per MB; against a plain
//   reader of the same bytes through a pipe. Skipped when kvd has no `logs` op.
#include <fmt/format.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <thread>

#include "bench/fifo.hpp"
#include "bench/floor_peer.hpp"
#include "bench/kvd_peer.hpp"
#include "bench/sections.hpp"
#include "bench/supervisor_peer.hpp"

namespace kvd::bench {

namespace {

const char* kSection = "kinds";
const char* kLine = "0123456789012345678901234567890123456789";  // 41 bytes a line with '\n'
const char* kEndMarker = "kvd-bench-end";

// CPU time of kvd with its spawner, or of any other process, in nanoseconds.
long long cpu_ns_with_spawner(pid_t pid) {
    long long ns = proc_cpu_ns(pid);
    if (pid_t spawner = kvd_spawner_of(pid)) ns += proc_cpu_ns(spawner);
    return ns;
}

std::string kinds_toml(const Paths& paths, std::size_t log_bytes) {
    return fmt::format(
        "[[kind]]\n"
        "name = \"crash\"\n"
        "command = [\"/bin/false\"]\n"
        "restart = \"permanent\"\n"
        "restart_delay = \"1ms\"\n"
        "restart_delay_max = \"1ms\"\n"
        "max_restarts = 1000000\n"
        "restart_window = \"1s\"\n"
        "data = false\n"
        "[[kind]]\n"
        "name = \"idle\"\n"
        "command = [\"{sleeper}\"]\n"
        "restart = \"temporary\"\n"
        "data = false\n"
        "[[kind]]\n"
        "name = \"flood\"\n"
        "command = [\"/bin/sh\", \"-c\", \"yes {line} | head -c {bytes} >&2; echo >&2; "
        "echo {end} >&2; exec sleep 1000\"]\n"
        "restart = \"temporary\"\n"
        "data = false\n",
        fmt::arg("sleeper", paths.bin("kvd-bench-sleeper")), fmt::arg("line", kLine),
        fmt::arg("bytes", log_bytes), fmt::arg("end", kEndMarker));
}

// supervisord's side of the crash loop: one more program, started and stopped by name.
const char* kCrasherConf =
    "[program:crasher]\n"
    "command=/bin/false\n"
    "autostart=false\n"
    "autorestart=true\n"
    "startsecs=0\n"
    "startretries=1000000\n";

std::string string_param(std::string_view s) {
    return fmt::format("<param><value><string>{}</string></value></param>", s);
}

// "spawned: 'crasher'" lines in supervisord's log so far.
std::size_t crasher_spawns(const Supervisord& super) {
    std::string log = read_text_file(super.log_path());
    std::size_t n = 0;
    for (auto at = log.find("spawned: 'crasher'"); at != std::string::npos;
         at = log.find("spawned: 'crasher'", at + 1))
        ++n;
    return n;
}

struct LoopRun {
    double rate = 0;    // restarts/s
    double cpu_us = 0;  // CPU of the supervising process per restart
};

LoopRun kvd_crash_loop(KvdClient& kvd, KvdSubscriber& sub, pid_t kvd_pid, const std::string& bucket,
                       double window_s) {
    sub.drain();
    long long cpu0 = cpu_ns_with_spawner(kvd_pid);
    int64_t t0 = mono_ns();
    kvd.call(create_fields(bucket, "crash"));
    const int64_t end = t0 + static_cast<int64_t>(window_s * 1e9);
    const std::string needle = fmt::format(R"("bucket":"{}")", bucket);
    std::size_t restarts = 0;
    std::string_view line;
    for (int64_t now = mono_ns(); now < end; now = mono_ns()) {
        sub.conn().pump(static_cast<int>((end - now) / 1'000'000) + 1);
        while (sub.conn().next_line(line))
            if (line.find(needle) != std::string_view::npos &&
                line.find(R"("type":"create")") != std::string_view::npos &&
                line.find(R"("restart":)") != std::string_view::npos)
                ++restarts;
        if (sub.conn().eof()) throw BenchError("kvd closed the subscription");
    }
    int64_t t1 = mono_ns();
    long long cpu1 = cpu_ns_with_spawner(kvd_pid);
    kvd.call(fmt::format(R"("op":"stop","bucket":"{}")", bucket));
    if (restarts == 0) throw BenchError("the crash-looping bucket was never restarted");
    return {static_cast<double>(restarts) / ns_to_s(t1 - t0),
            static_cast<double>(cpu1 - cpu0) / 1e3 / static_cast<double>(restarts)};
}

LoopRun super_crash_loop(Supervisord& super, double window_s) {
    std::size_t spawns0 = crasher_spawns(super);
    long long cpu0 = proc_cpu_ns(super.pid());
    int64_t t0 = mono_ns();
    super.call("supervisor.startProcess",
               string_param("crasher") + "<param><value><boolean>0</boolean></value></param>");
    std::this_thread::sleep_until(std::chrono::steady_clock::now() +
                                  std::chrono::nanoseconds(static_cast<int64_t>(window_s * 1e9)));
    std::size_t spawns1 = crasher_spawns(super);
    int64_t t1 = mono_ns();
    long long cpu1 = proc_cpu_ns(super.pid());
    // Between an exit and its restart the process is not running and stopProcess refuses it:
    // try again until supervisord says STOPPED.
    int64_t deadline = deadline_in_ms(20'000);
    for (;;) {
        try {
            super.call("supervisor.stopProcess", string_param("crasher"));
        } catch (const BenchError&) {
        }
        std::string info = super.call("supervisor.getProcessInfo", string_param("crasher"));
        if (info.find("<string>STOPPED</string>") != std::string::npos) break;
        if (mono_ns() > deadline) throw BenchError("supervisord did not stop the crasher");
    }
    // The first spawn is the start, not a restart. supervisord restarts about once a second
    // (its main loop's tick), so a short window may see none: the CPU is then that of the
    // whole window, as if for one restart.
    if (spawns1 == spawns0) throw BenchError("supervisord never started the crasher");
    double restarts = static_cast<double>(spawns1 - spawns0 - 1);
    return {restarts / ns_to_s(t1 - t0),
            static_cast<double>(cpu1 - cpu0) / 1e3 / std::max(restarts, 1.0)};
}

void crash_loop_rows(Bench& b, KvdClient& kvd, pid_t kvd_pid, KvdSubscriber& sub) {
    const double window_s = b.opt.quick ? 2 : 3;
    std::string program = find_in_path("supervisord");
    std::unique_ptr<RecordFifo> fifo;
    std::unique_ptr<Supervisord> super;
    std::string missing;
    if (program.empty())
        missing = "supervisord is not installed (scripts/deps.sh bench installs it)";
    else {
        try {
            fifo = std::make_unique<RecordFifo>(b.tmp.file("kinds-supervisor.fifo"));
            super = std::make_unique<Supervisord>(b.paths, b.tmp, program, 1, fifo->path(),
                                                  kCrasherConf);
            b.report.meta["supervisord_version"] = super->version;
        } catch (const BenchError& e) {
            missing = e.what();
            super.reset();
        }
    }
    std::vector<double> k_rate, k_cpu, s_rate, s_cpu;
    for (std::size_t rep = 0; rep < b.opt.reps; ++rep) {
        auto run_kvd = [&] {
            LoopRun r = kvd_crash_loop(kvd, sub, kvd_pid, fmt::format("crash{}", rep), window_s);
            k_rate.push_back(r.rate);
            k_cpu.push_back(r.cpu_us);
        };
        auto run_super = [&] {
            if (!super) return;
            LoopRun r = super_crash_loop(*super, window_s);
            s_rate.push_back(r.rate);
            s_cpu.push_back(r.cpu_us);
        };
        if (rep % 2 == 0) {
            run_kvd();
            run_super();
        } else {
            run_super();
            run_kvd();
        }
        b.progress(
            kSection, "crash loop rep {}/{}: kvd {:.0f} restarts/s, {:.0f} µs CPU each{}", rep + 1,
            b.opt.reps, k_rate.back(), k_cpu.back(),
            super ? fmt::format("; supervisord {:.0f}/s, {:.0f} µs", s_rate.back(), s_cpu.back())
                  : std::string());
    }
    std::string what = fmt::format(
        "crash loop: permanent /bin/false, 1 ms backoff, restarts/s over {} s", window_s);
    std::string cpu = "crash loop: CPU per restart in kvd (with its spawner) / supervisord";
    if (super) {
        b.report.add(paired_row(kSection, what, "restarts/s", Better::higher, k_rate, "supervisord",
                                s_rate));
        b.report.add(paired_row(kSection, cpu, "µs", Better::lower, k_cpu, "supervisord", s_cpu));
    } else {
        b.report.add(value_row(kSection, what, "restarts/s", Better::higher, k_rate));
        b.report.add(value_row(kSection, cpu, "µs", Better::lower, k_cpu));
        b.report.skip(kSection, "crash loop: supervisord reference", missing);
    }
}

// Whether kvd has the `logs` op: an unknown op is bad_request "unknown op 'logs'".
bool has_logs_op(KvdClient& kvd) {
    kvd.send(R"("op":"logs","bucket":"kvd-bench-probe")");
    std::string_view line = kvd.next_reply_line(deadline_in_ms(10'000));
    return line.find("unknown op") == std::string_view::npos;
}

struct CaptureRun {
    double mb_s = 0;
    double cpu_ms_per_mb = 0;
    long long dropped = 0;
};

CaptureRun kvd_capture(KvdClient& kvd, pid_t kvd_pid, const std::string& bucket,
                       std::size_t bytes) {
    long long cpu0 = cpu_ns_with_spawner(kvd_pid);
    int64_t t0 = mono_ns();
    kvd.call(create_fields(bucket, "flood"));
    int64_t deadline = deadline_in_ms(300'000);
    const std::string req = fmt::format(R"("op":"logs","bucket":"{}","lines":1)", bucket);
    nlohmann::json result;
    for (;;) {
        result = kvd.call(req);
        const auto& lines = result["lines"];
        if (!lines.empty() && lines.back().value("line", "") == kEndMarker) break;
        if (mono_ns() > deadline) throw BenchError("kvd's log of " + bucket + " never ended");
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    int64_t t1 = mono_ns();
    long long cpu1 = cpu_ns_with_spawner(kvd_pid);
    kvd.call(fmt::format(R"("op":"stop","bucket":"{}")", bucket));
    double mb = static_cast<double>(bytes) / 1e6;
    return {mb / ns_to_s(t1 - t0), static_cast<double>(cpu1 - cpu0) / 1e6 / mb,
            result.value("dropped", 0LL)};
}

// The same bytes, written by the same pipeline into a pipe that this process reads to its
// end: the least a capture costs.
CaptureRun floor_capture(const TempDir& tmp, std::size_t bytes) {
    int p[2];
    if (pipe(p) != 0) throw BenchError("pipe failed");
    timespec c0{}, c1{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
    int64_t t0 = mono_ns();
    StartSpec spec;
    spec.argv = {"/bin/sh", "-c",
                 fmt::format("yes {} | head -c {}; echo; echo {}", kLine, bytes, kEndMarker)};
    spec.stdout_fd = p[1];
    spec.log_path = tmp.file("log-floor.log");
    std::unique_ptr<Process> writer;
    try {
        writer = std::make_unique<Process>("log floor", spec);
    } catch (...) {
        close(p[0]);
        close(p[1]);
        throw;
    }
    close(p[1]);
    std::vector<char> buf(1 << 16);
    std::size_t got = 0;
    for (;;) {
        ssize_t n = read(p[0], buf.data(), buf.size());
        if (n > 0)
            got += static_cast<std::size_t>(n);
        else if (n == 0 || errno != EINTR)
            break;
    }
    int64_t t1 = mono_ns();
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
    close(p[0]);
    writer->wait_exit(std::chrono::seconds(10));
    if (got < bytes) throw BenchError(fmt::format("log floor: read {} of {} bytes", got, bytes));
    double mb = static_cast<double>(bytes) / 1e6;
    long long cpu = (c1.tv_sec - c0.tv_sec) * 1'000'000'000LL + (c1.tv_nsec - c0.tv_nsec);
    return {mb / ns_to_s(t1 - t0), static_cast<double>(cpu) / 1e6 / mb, 0};
}

void capture_rows(Bench& b, KvdClient& kvd, pid_t kvd_pid, std::size_t bytes) {
    std::string what =
        fmt::format("log capture: {} MB of stderr from one bucket", bytes / 1'000'000);
    std::string cpu = "log capture: CPU per MB in kvd (with its spawner) / the reader";
    if (!has_logs_op(kvd)) {
        b.report.skip(kSection, what, "log capture not available (no `logs` op)");
        b.report.skip(kSection, cpu, "log capture not available (no `logs` op)");
        b.progress(kSection, "no logs op: log capture rows skipped");
        return;
    }
    std::vector<double> k_rate, k_cpu, f_rate, f_cpu;
    long long dropped = 0;
    for (std::size_t rep = 0; rep < b.opt.reps; ++rep) {
        auto run_kvd = [&] {
            CaptureRun r = kvd_capture(kvd, kvd_pid, fmt::format("flood{}", rep), bytes);
            k_rate.push_back(r.mb_s);
            k_cpu.push_back(r.cpu_ms_per_mb);
            dropped = std::max(dropped, r.dropped);
        };
        auto run_floor = [&] {
            CaptureRun r = floor_capture(b.tmp, bytes);
            f_rate.push_back(r.mb_s);
            f_cpu.push_back(r.cpu_ms_per_mb);
        };
        if (rep % 2 == 0) {
            run_kvd();
            run_floor();
        } else {
            run_floor();
            run_kvd();
        }
        b.progress(kSection, "log capture rep {}/{}: kvd {:.1f} MB/s, pipe reader {:.1f} MB/s",
                   rep + 1, b.opt.reps, k_rate.back(), f_rate.back());
    }
    const char* ref = "pipe reader";
    Row rate = paired_row(kSection, what, "MB/s", Better::higher, k_rate, ref, f_rate);
    rate.note = fmt::format("lines dropped by kvd: {} at most in one repetition", dropped);
    b.report.add(std::move(rate));
    b.report.add(paired_row(kSection, cpu, "ms/MB", Better::lower, k_cpu, ref, f_cpu));
}

}  // namespace

void run_kinds(Bench& b) {
    const std::size_t log_bytes = b.opt.quick ? 32'000'000 : 200'000'000;
    KvdSetup setup;
    setup.handler = HandlerKind::ack;
    setup.handler_arg = "/dev/null";
    setup.extra_toml = kinds_toml(b.paths, log_bytes);
    KvdServer server(b.paths, b.tmp, "kinds", setup);
    b.report.note(
        "kinds: the crash loop counts, over a fixed wall time, kvd's `create` events carrying "
        "\"restart\" (a subscriber) and supervisord's \"spawned:\" log lines less its first "
        "(autorestart=true, startsecs=0, startretries=1000000; it restarts on its main loop's "
        "tick, about once a second). CPU per restart is the supervisor's CPU over that window "
        "÷ its restarts (kvd with its spawner). The non-kv kind runs bench/sleeper.cpp, which "
        "the uv_spawn floor spawns too. Log capture: the bucket writes N bytes of 41-byte lines "
        "to stderr, then an end line; timed from `create` to the `logs` op showing that line; "
        "the floor is the same pipeline into a pipe this process reads to its end.");
    KvdClient kvd(server.socket());
    {
        KvdSubscriber sub(server.socket(), {"create"});
        crash_loop_rows(b, kvd, server.pid(), sub);
    }
    {
        FloorProcess floor("sleeper spawn floor", b.paths.bin("kvd-bench-spawn-floor"),
                           b.paths.bin("kvd-bench-sleeper"), b.tmp.file("kinds-floor.log"));
        CreateRuns k, f;
        measure_creates(b, kvd, server.pid(), floor, 0, b.opt.creates, "C++ ack", k, f, "idle",
                        kSection);
    }
    capture_rows(b, kvd, server.pid(), log_bytes);
}

}  // namespace kvd::bench
