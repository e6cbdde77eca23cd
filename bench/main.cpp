// kvd-bench: kvd against the floors (bare libuv programs doing only the spawning, or the
// reaping and at most the forwarding of one exit line) and against the tools users would
// pick instead (Redis pub/sub and SET/GET, supervisord). Prints a table, writes the figures
// as JSON and, for a full run, Markdown.
// `make bench` builds and runs it; `kvd-bench --help` lists the counts.
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <fstream>
#include <iostream>

#include "bench/conn.hpp"
#include "bench/options.hpp"
#include "bench/process.hpp"
#include "bench/report.hpp"
#include "bench/sections.hpp"

using namespace kvd::bench;

namespace {

std::string exe_dir() {
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return KVD_BIN_DIR;
    std::string dir(self, static_cast<std::size_t>(n));
    return dir.substr(0, dir.rfind('/'));
}

std::string command_output(const std::string& command) {
    std::string out;
    if (FILE* p = popen((command + " 2>/dev/null").c_str(), "r")) {
        char buf[512];
        while (std::fgets(buf, sizeof buf, p)) out += buf;
        pclose(p);
    }
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    return out;
}

std::string cpu_model() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
    return "unknown";
}

// The 1-minute load average: other work on the machine shows here.
double load_average() {
    double one = -1;
    if (FILE* f = std::fopen("/proc/loadavg", "r")) {
        if (std::fscanf(f, "%lf", &one) != 1) one = -1;
        std::fclose(f);
    }
    return one;
}

std::string utc_now() {
    std::time_t t = std::time(nullptr);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", std::gmtime(&t));
    return buf;
}

void method_notes(Report& r, const Options& o) {
    r.note(fmt::format(
        "Each figure is the median over {} repetitions; min–max is its range over the repetitions. "
        "Latency percentiles pool every sample of every repetition (the count is in results.json); "
        "their min–max is the same percentile per repetition.",
        o.reps));
    r.note(
        "kvd/ref is kvd ÷ the reference measured in the same run, repetition by repetition in "
        "alternating "
        "order (for per-repetition figures, the median of the per-repetition ratios). For rates "
        "higher is "
        "better; for times and latencies lower is better.");
    r.note(
        "Every kvd runs with its defaults (log_level info: one log line per bucket start and exit) "
        "plus one "
        "sync [[handler]] for create/exit events: bench/ack_handler.cpp, a C++ program that acks "
        "each event "
        "as soon as it reads it, so rows measure kvd rather than a handler. The rows marked "
        "log-events use "
        "config/handlers/log-events instead, the shell `while read` loop users start from (no fork "
        "per "
        "event: read, printf and echo are dash builtins, but `read` takes the line one byte per "
        "syscall).");
    r.note(
        "uv_spawn floor: bench/spawn_floor.cpp spawns kv-bucket with uv_spawn as kvd does (socket "
        "pair on "
        "stdin/stdout, stderr inherited, same environment) and nothing else; it has no client "
        "round trip, so "
        "its one rate is the floor for both sequential and pipelined creates. Exit floors "
        "(bench/exit_floor.cpp) kill an idle kv-bucket with as many other live children. The "
        "one-hop floor times kill() → libuv's exit callback in the floor itself, each child with a "
        "process handle (libuv waitpid()s every one at each SIGCHLD: O(n)). The two-hop floor is "
        "the least kvd's exit path does: it reaps from a pidfd per child as kvd does (O(1) per "
        "exit) and writes one exit-event line over a Unix socket to a second process, which "
        "stamps the time its read() returned; kill() → that read. With many buckets alive, kvd is "
        "measured against each floor in turn, each time interleaved with it.");
    r.note(
        "Exit latency: from kill(SIGKILL) in the benchmark to the exit event's line read by a "
        "subscriber "
        "(this process) or by the sync handler (which reports its CLOCK_MONOTONIC receive time "
        "through a "
        "FIFO). Each victim bucket is created and answers one request before it is killed, so it "
        "is idle.");
    r.note(
        "Redis: Debian's redis-server on a Unix socket (--port 0 --save '' --appendonly no), "
        "driven by the "
        "same single-threaded pipelining client code as kvd (RESP in bench/redis_peer.cpp), same "
        "payloads, "
        "subscribers, window and depth.");
    r.note(
        "supervisord: Debian's supervisor, one [program] with numprocs sleepers "
        "(bench/sleeper.cpp), "
        "startsecs=0 so a process counts as RUNNING once spawned, as a bucket does; otherwise "
        "defaults. "
        "Bring-up/stop: XML-RPC startProcessGroup/stopProcessGroup with wait=true on its Unix "
        "socket. "
        "Latency: an event listener (bench/supervisor_listener.cpp, C++) for "
        "PROCESS_STATE_EXITED.");
}

}  // namespace

int main(int argc, char** argv) {
    Paths paths{exe_dir(), KVD_SOURCE_DIR};
    Options opt = parse_options(argc, argv, paths);
    install_cleanup_signals();
    long fd_limit = raise_fd_limit();

    Report report;
    // The floors hold one socket per child: the biggest needs many_alive + a little. (The
    // two-hop exit floor also holds a pidfd per child while its limit, which it raises as kvd
    // does, leaves room: floor_common.hpp, Reaping::pidfd.)
    if (fd_limit > 0 && static_cast<long>(opt.many_alive) + 200 > fd_limit) {
        std::size_t fit = static_cast<std::size_t>(std::max(0L, fd_limit - 200));
        report.note(fmt::format("RLIMIT_NOFILE is {}: \"many alive\" lowered from {} to {}",
                                fd_limit, opt.many_alive, fit));
        opt.many_alive = fit;
    }
    TempDir tmp;
    if (opt.keep_tmp) tmp.keep();

    utsname u{};
    uname(&u);
    report.meta = {
        {"date", utc_now()},
        {"cpu", cpu_model()},
        {"cores", sysconf(_SC_NPROCESSORS_ONLN)},
        {"kernel", std::string(u.release)},
        {"os", command_output(". /etc/os-release && echo \"$PRETTY_NAME\"")},
        {"kvd_version", KVD_VERSION},
        {"libuv_version", command_output("pkg-config --modversion libuv")},
        {"redis_version", command_output("redis-server --version")},
        {"load_average_start", load_average()},
        {"quick", opt.quick},
        {"reps", opt.reps},
        {"scale_reps", opt.scale_reps},
        {"counts",
         {{"creates", opt.creates},
          {"many_alive", opt.many_alive},
          {"some_alive", opt.some_alive},
          {"kills", opt.kills},
          {"events", opt.events},
          {"event_window", opt.event_window},
          {"subscribers", opt.subscribers},
          {"payload_bytes", opt.payload_bytes},
          {"data_ops", opt.data_ops},
          {"depth", opt.depth},
          {"value_sizes", opt.value_sizes},
          {"super_procs", opt.super_procs},
          {"super_kills", opt.super_kills},
          {"idle_seconds", opt.idle_seconds}}},
    };
    std::string command = "kvd-bench";
    for (int i = 1; i < argc; ++i) command += std::string(" ") + argv[i];
    report.meta["command"] = command;

    Bench bench{opt, paths, tmp, report, kvd::bench::mono_ns(), {}};
    std::fprintf(stderr, "kvd-bench: %s run, %zu repetitions, temporary directory %s\n",
                 opt.quick ? "quick" : "full", opt.reps, tmp.path().c_str());
    struct Section {
        const char* name;
        void (*run)(Bench&);
    };
    const Section sections[] = {{"create", run_create}, {"exit", run_exit},
                                {"notify", run_notify}, {"data", run_data},
                                {"scale", run_scale},   {"supervisor", run_supervisor},
                                {"kinds", run_kinds},   {"fleet", run_fleet}};
    int failures = 0;
    for (const auto& s : sections) {
        if (!opt.wants(s.name)) continue;
        bench.progress(s.name, "starting");
        try {
            s.run(bench);
        } catch (const std::exception& e) {
            ++failures;
            bench.progress(s.name, "FAILED: {}", e.what());
            report.skip(s.name, "the rest of this section", std::string("failed: ") + e.what());
            tmp.keep();  // its logs say why
        }
    }
    add_growth_rows(bench);
    report.meta["load_average_end"] = load_average();
    report.meta["seconds"] = ns_to_s(kvd::bench::mono_ns() - bench.started_ns);
    method_notes(report, opt);

    std::printf("\n");
    report.print(stdout);
    std::ofstream(opt.out_json) << report.json().dump(2) << "\n";
    std::printf("\nresults: %s\n", opt.out_json.c_str());
    if (!opt.out_markdown.empty()) {
        std::ofstream md(opt.out_markdown);
        std::string args = command.size() > 9 ? command.substr(10) : "";
        md << "# kvd benchmark results\n\n"
           << "Run with `make bench` (or `make bench-quick`, or `build-bench/bin/kvd-bench --help` "
              "for "
              "the counts). This file was written by `kvd-bench"
           << (args.empty() ? "" : " " + args) << "` on " << report.meta["date"].get<std::string>()
           << ": " << report.meta["cpu"].get<std::string>() << ", "
           << report.meta["cores"].get<long>() << " cores, " << report.meta["os"].get<std::string>()
           << ", kernel " << report.meta["kernel"].get<std::string>() << ", libuv "
           << report.meta["libuv_version"].get<std::string>() << ", "
           << report.meta["redis_version"].get<std::string>() << ", supervisord "
           << report.meta.value("supervisord_version", std::string("(not run)"))
           << ". The run took " << fmt::format("{:.0f}", report.meta["seconds"].get<double>())
           << " s; the 1-minute load average was "
           << fmt::format("{:.1f}", report.meta["load_average_start"].get<double>())
           << " at its start and "
           << fmt::format("{:.1f}", report.meta["load_average_end"].get<double>())
           << " at its end (on 2 cores: anything above 0 is other work sharing the machine). "
              "Every repetition's value is in results.json.\n\n"
           << report.markdown();
        std::printf("markdown: %s\n", opt.out_markdown.c_str());
    }
    if (failures)
        std::fprintf(stderr, "kvd-bench: %d section(s) failed; logs kept in %s\n", failures,
                     tmp.path().c_str());
    return failures ? 1 : 0;
}
