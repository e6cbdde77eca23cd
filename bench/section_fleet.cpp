// fleet: events from kvd through kvd-nats (a sync handler) into NATS JetStream, measured by
// kvd-fleet-bench (fleet/bench_main.cpp, built with the fleet when libnats is installed), run
// once per repetition:
// - events/s from `notify` until JetStream stored them (PubAck'd), against the floor: a
//   libnats program publishing the same payloads to the same server, window 1 (as kvd's sync
//   delivery has one event in flight) and, for scale, 256;
// - kill -> the exit event stored in JetStream (seen by a push consumer), against kill -> the
//   same exit at a subscriber of kvd's socket: the latency the fleet adds.
// Skipped, saying why, without nats-server or without kvd-fleet-bench.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "bench/sections.hpp"

namespace kvd::bench {

namespace {

const char* kSection = "fleet";
const char* kNatsServer = "/usr/sbin/nats-server";

// One run of kvd-fleet-bench: its JSON figures (its stderr goes to fleet-bench.log).
nlohmann::json run_once(Bench& b, const std::string& program, int events, int kills) {
    std::string out_path = b.tmp.file("fleet-bench.json");
    int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) throw std::runtime_error("cannot open " + out_path);
    StartSpec spec;
    spec.argv = {program, "--json", std::to_string(events), std::to_string(kills)};
    spec.log_path = b.tmp.file("fleet-bench.log");
    spec.stdout_fd = out;
    Process p("kvd-fleet-bench", spec);
    ::close(out);
    if (!p.wait_exit(std::chrono::minutes(10)) || p.ended() != "exit 0")
        throw std::runtime_error("kvd-fleet-bench failed (" + p.ended() +
                                 "): " + read_text_file(spec.log_path));
    auto j = nlohmann::json::parse(read_text_file(out_path), nullptr, false);
    if (j.is_discarded() || !j.contains("kvd_rate"))
        throw std::runtime_error("kvd-fleet-bench gave no figures: " +
                                 read_text_file(spec.log_path));
    return j;
}

}  // namespace

void run_fleet(Bench& b) {
    std::string program = b.paths.bin("kvd-fleet-bench");
    std::string why;
    if (access(kNatsServer, X_OK) != 0)
        why = "nats-server is not installed (scripts/deps.sh nats)";
    else if (access(program.c_str(), X_OK) != 0)
        why = "kvd-fleet-bench was not built (libnats missing: scripts/deps.sh nats)";
    const char* rows[] = {"notify → kvd-nats → stored in JetStream",
                          "kill → exit stored in JetStream p50",
                          "kill → exit stored in JetStream p99"};
    if (!why.empty()) {
        for (const char* r : rows) b.report.skip(kSection, r, why);
        return;
    }
    const int events = b.opt.quick ? 1000 : 5000;
    const int kills = b.opt.quick ? 50 : 300;
    std::vector<double> rate, floor1, floor256;
    std::vector<std::vector<double>> to_js, to_sub;
    for (std::size_t rep = 0; rep < b.opt.reps; ++rep) {
        nlohmann::json j = run_once(b, program, events, kills);
        rate.push_back(j["kvd_rate"]);
        floor1.push_back(j["floor_window_1"]);
        floor256.push_back(j["floor_window_256"]);
        to_js.push_back(j["kill_to_jetstream_us"].get<std::vector<double>>());
        to_sub.push_back(j["kill_to_subscriber_us"].get<std::vector<double>>());
        b.progress(kSection,
                   "rep {}/{}: {:.0f} events/s, floor {:.0f} (window 1), {:.0f} (window 256)",
                   rep + 1, b.opt.reps, rate.back(), floor1.back(), floor256.back());
    }
    b.report.add(paired_row(kSection, rows[0], "events/s", Better::higher, rate,
                            "libnats publish, window 1", floor1));
    b.report.add(paired_row(kSection, "notify → kvd-nats → stored in JetStream, vs window 256",
                            "events/s", Better::higher, rate, "libnats publish, window 256",
                            floor256));
    b.report.add(
        latency_row(kSection, rows[1], 50, to_js, "kill → exit at a kvd subscriber", to_sub));
    b.report.add(
        latency_row(kSection, rows[2], 99, to_js, "kill → exit at a kvd subscriber", to_sub));
}

}  // namespace kvd::bench
