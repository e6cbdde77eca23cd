// kvd-nats: the fleet forwarder, run by kvd as a [[handler]] (see docs/fleet.md).
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <optional>

#include "common/duration.hpp"
#include "fleet/forwarder.hpp"
#include "fleet/log.hpp"
#include "fleet/names.hpp"

namespace {

using namespace kvd;
using namespace kvd::fleet;

std::optional<Millis> duration_flag(const std::string& flag, const std::string& text) {
    if (text.empty()) return std::nullopt;
    std::string error;
    auto d = parse_duration(text, &error);
    if (!d) throw CLI::ValidationError(flag, error);
    return d;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "kvd-nats: forwards kvd's events to NATS JetStream and keeps the fleet registry.\n"
        "Run by kvd as a [[handler]]; settings from --config FILE, then flags."};
    std::string config, creds, host, stream, registry, max_age, dup_window, ack_wait,
        request_timeout, mismatch, socket;
    std::vector<std::string> servers, allow;
    std::optional<int> replicas, window;
    bool version = false;
    app.add_option("--config", config, "TOML file of settings (keys as the long flags, with _)");
    app.add_option("--server", servers,
                   "NATS server URL (repeatable; default nats://127.0.0.1:4222)");
    app.add_option("--creds", creds, "NATS credentials (.creds) file");
    app.add_option("--host", host,
                   "this host's name in subjects and the registry (default: hostname)");
    app.add_option("--stream", stream, "JetStream stream (default KVD_EVENTS)");
    app.add_option("--registry", registry, "JetStream KV bucket (default kvd-registry)");
    app.add_option("--replicas", replicas,
                   "replicas of the stream and KV bucket it creates (default 1)")
        ->check(CLI::Range(1, 5));
    app.add_option("--max-age", max_age,
                   "max age of the stream it creates (default 168h; 0: for ever)");
    app.add_option("--duplicate-window", dup_window,
                   "dedup window of the stream it creates (default 2m)");
    app.add_option("--window", window, "events in flight to JetStream at most (default 256)")
        ->check(CLI::Range(1, 65536));
    app.add_option("--ack-wait", ack_wait,
                   "publish again when no PubAck came in this time (default 2s)");
    app.add_option("--request-timeout", request_timeout,
                   "for control requests forwarded to kvd (default 10s)");
    app.add_option("--allow", allow,
                   "an op served on kvdctl.HOST (repeatable; replaces the default "
                   "ping,status,lookup,list,handlers,keys,get)")
        ->delimiter(',');
    app.add_option("--stream-mismatch", mismatch,
                   "an existing stream configured otherwise: warn or refuse")
        ->check(CLI::IsMember({"warn", "refuse"}));
    app.add_option("--socket", socket, "kvd's control socket (default $KVD_SOCKET)");
    app.add_flag("--version", version, "print the version and exit");

    Settings s;
    try {
        app.parse(argc, argv);
        if (version) {
            std::printf("kvd-nats %s\n", KVD_VERSION);
            return 0;
        }
        if (!config.empty()) {
            std::string errors = load_settings_file(config, s);
            if (!errors.empty()) {
                std::fputs(errors.c_str(), stderr);
                return 2;
            }
        }
        if (!servers.empty()) s.servers = servers;
        if (!creds.empty()) s.creds = creds;
        if (!host.empty()) s.host = host;
        if (!stream.empty()) s.stream = stream;
        if (!registry.empty()) s.registry = registry;
        if (replicas) s.replicas = *replicas;
        if (window) s.window = *window;
        if (auto d = duration_flag("--max-age", max_age)) s.max_age = *d;
        if (auto d = duration_flag("--duplicate-window", dup_window)) s.duplicate_window = *d;
        if (auto d = duration_flag("--ack-wait", ack_wait)) s.ack_wait = *d;
        if (auto d = duration_flag("--request-timeout", request_timeout)) s.request_timeout = *d;
        if (!allow.empty()) s.allow = allow;
        if (mismatch == "refuse") s.stream_mismatch = StreamMismatch::refuse;
        if (mismatch == "warn") s.stream_mismatch = StreamMismatch::warn;
        if (!socket.empty()) s.socket = socket;
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }
    if (s.host.empty()) s.host = default_host();
    if (s.host != subject_token(s.host)) {
        log_warn("host '{}' is not a NATS subject token; using '{}'", s.host,
                 subject_token(s.host));
        s.host = subject_token(s.host);
    }
    if (s.socket.empty()) {
        const char* env = std::getenv("KVD_SOCKET");
        if (env != nullptr) s.socket = env;
    }
    if (s.duplicate_window.count() <= 0) {
        std::fputs(
            "kvd-nats: the duplicate window must be positive: it is what makes redelivery exactly "
            "once\n",
            stderr);
        return 2;
    }
    std::string boot;
    if (const char* env = std::getenv("KVD_BOOT")) boot = env;
    const char* mode = std::getenv("KVD_HANDLER_MODE");
    bool send_acks = mode == nullptr || std::string(mode) != "async";

    signal(SIGPIPE, SIG_IGN);
    int status;
    {
        Forwarder forwarder(s, boot, STDIN_FILENO, STDOUT_FILENO, send_acks);
        status = forwarder.run();
        // The library's threads call into the forwarder: let them finish before it goes.
        nats_CloseAndWait(2000);
    }
    return status;
}
