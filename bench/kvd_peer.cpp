#include "bench/kvd_peer.hpp"

#include <fmt/format.h>

#include <thread>

#include "bench/clock.hpp"

namespace kvd::bench {

namespace {

std::string config_text(const Paths& paths, const KvdSetup& setup) {
    // Everything else stays at its default, as a user would run it (log_level = info too:
    // kvd logs one line per bucket start and exit).
    std::string text = fmt::format(
        "[daemon]\n"
        "max_buckets = {}\n"
        "[bucket]\n"
        "program = \"{}\"\n",
        setup.max_buckets, paths.bin("kv-bucket"));
    if (setup.handler == HandlerKind::ack) {
        text += fmt::format(
            "[[handler]]\n"
            "name = \"bench\"\n"
            "command = [\"{}\", \"{}\"]\n"
            "mode = \"sync\"\n"
            "events = [\"create\", \"exit\"]\n",
            paths.bin("kvd-bench-ack-handler"), setup.handler_arg);
    } else if (setup.handler == HandlerKind::log_events) {
        text += fmt::format(
            "[[handler]]\n"
            "name = \"audit\"\n"
            "command = [\"{}/config/handlers/log-events\", \"{}\"]\n"
            "mode = \"sync\"\n"
            "events = [\"create\", \"exit\"]\n",
            paths.source_dir, setup.handler_arg);
    }
    return text + setup.extra_toml;
}

}  // namespace

KvdServer::KvdServer(const Paths& paths, const TempDir& dir, const std::string& tag,
                     const KvdSetup& setup)
    : socket_(dir.file(tag + ".sock")), log_(dir.file(tag + ".log")) {
    dir.write_file(tag + ".toml", config_text(paths, setup));
    StartSpec spec;
    spec.argv = {paths.bin("kvd"), "--config", dir.file(tag + ".toml"), "--socket", socket_};
    spec.log_path = log_;
    // A NOTIFY_SOCKET from the caller's environment must not reach kvd.
    spec.env_set = {"NOTIFY_SOCKET=", "KVD_SOCKET=" + socket_};
    process_ = std::make_unique<Process>("kvd " + tag, spec);
    int64_t deadline = deadline_in_ms(20'000);
    for (;;) {
        try {
            KvdClient probe(socket_);
            probe.call(R"("op":"ping")", 5'000);
            return;
        } catch (const BenchError&) {
            if (!process_->running())
                throw BenchError("kvd exited at startup (" + process_->ended() + "); see " + log_);
            if (mono_ns() > deadline) throw BenchError("kvd did not start; see " + log_);
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    }
}

KvdServer::~KvdServer() {
    stop();
}

void KvdServer::stop() {
    // Stopping 10,000 buckets gracefully takes a while; give it time before SIGKILL.
    if (process_) process_->terminate(std::chrono::seconds(120));
}

int64_t KvdClient::send(std::string_view fields) {
    int64_t id = next_id_++;
    std::string line = fmt::format("{{\"id\":{},{}}}\n", id, fields);
    conn_.send(line);
    return id;
}

std::string_view KvdClient::next_reply_line(int64_t deadline_ns) {
    return conn_.wait_line(deadline_ns);
}

nlohmann::json KvdClient::call(std::string_view fields, int64_t timeout_ms) {
    send(fields);
    std::string_view line = next_reply_line(deadline_in_ms(timeout_ms));
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.value("ok", false))
        throw BenchError(fmt::format("kvd answered {{{}}} with {}", fields, line));
    return j["result"];
}

void KvdClient::pipeline(std::size_t count, std::size_t window,
                         const std::function<std::string(std::size_t)>& make,
                         const std::function<void(std::size_t, std::string_view)>& on_reply,
                         int64_t timeout_ms) {
    int64_t deadline = deadline_in_ms(timeout_ms);
    std::size_t sent = 0, answered = 0;
    std::string_view line;
    while (answered < count) {
        while (sent < count && sent - answered < window) send(make(sent++));
        conn_.write_some();
        bool got = false;
        while (conn_.next_line(line)) {
            on_reply(answered++, line);
            got = true;
        }
        if (got) continue;
        if (conn_.eof()) throw BenchError("kvd closed the connection");
        if (mono_ns() > deadline) throw BenchError("kvd did not answer in time");
        conn_.pump(1000);
    }
}

std::string create_fields(const std::string& bucket, const std::string& kind) {
    if (kind.empty()) return fmt::format(R"("op":"create","bucket":"{}")", bucket);
    return fmt::format(R"("op":"create","bucket":"{}","kind":"{}")", bucket, kind);
}

std::vector<pid_t> KvdClient::create_all(const std::vector<std::string>& names, std::size_t window,
                                         const std::string& kind) {
    std::vector<pid_t> pids(names.size());
    pipeline(
        names.size(), window, [&](std::size_t i) { return create_fields(names[i], kind); },
        [&](std::size_t i, std::string_view line) {
            auto j = nlohmann::json::parse(line, nullptr, false);
            if (j.is_discarded() || !j.value("ok", false))
                throw BenchError(fmt::format("create {}: {}", names[i], line));
            pids[i] = j["result"]["pid"].get<pid_t>();
        });
    return pids;
}

void KvdClient::stop_all(const std::vector<std::string>& names, std::size_t window) {
    pipeline(
        names.size(), window,
        [&](std::size_t i) { return fmt::format(R"("op":"stop","bucket":"{}")", names[i]); },
        [&](std::size_t i, std::string_view line) {
            if (!reply_ok(line)) throw BenchError(fmt::format("stop {}: {}", names[i], line));
        });
}

KvdSubscriber::KvdSubscriber(const std::string& socket, const std::vector<std::string>& types)
    : conn_(socket) {
    std::string list;
    for (const auto& t : types) list += (list.empty() ? "\"" : ",\"") + t + "\"";
    conn_.send(fmt::format("{{\"id\":1,\"op\":\"subscribe\",\"types\":[{}]}}\n", list));
    std::string_view line = conn_.wait_line(deadline_in_ms(10'000));
    if (!reply_ok(line)) throw BenchError(fmt::format("subscribe: {}", line));
}

int64_t KvdSubscriber::wait_exit_of(const std::string& bucket, int64_t deadline_ns) {
    std::string needle = fmt::format(R"("bucket":"{}")", bucket);
    std::string_view line;
    for (;;) {
        while (conn_.next_line(line))
            if (line.find(needle) != std::string_view::npos &&
                line.find(R"("type":"exit")") != std::string_view::npos)
                return mono_ns();
        if (conn_.eof()) throw BenchError("kvd closed the subscription");
        int64_t left = deadline_ns - mono_ns();
        if (left <= 0) return -1;
        conn_.pump(static_cast<int>(left / 1'000'000) + 1);
    }
}

void KvdSubscriber::drain() {
    conn_.pump(0);
    std::string_view line;
    while (conn_.next_line(line)) {
    }
}

std::vector<std::string> bucket_names(const std::string& prefix, std::size_t n) {
    std::vector<std::string> out;
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i) out.push_back(prefix + std::to_string(i));
    return out;
}

}  // namespace kvd::bench
