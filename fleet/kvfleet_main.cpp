// kvfleet: the fleet's control client. Answers from NATS: the registry (KV), the event stream,
// and each host's kvd-nats control service. Exit status as kvctl: 0 success, 1 an error
// answer (not found, refused), 2 usage, 3 NATS or the host could not be reached.
#include <fmt/format.h>
#include <signal.h>
#include <time.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>

#include "common/duration.hpp"
#include "fleet/connection.hpp"
#include "fleet/names.hpp"
#include "fleet/registry.hpp"

namespace {

using namespace kvd;
using namespace kvd::fleet;
using Json = nlohmann::json;

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitUnreachable = 3;

std::atomic<int> g_signal{0};

void on_signal(int signo) {
    g_signal = signo;
}

int fail(int status, const std::string& message) {
    std::fprintf(stderr, "kvfleet: %s\n", message.c_str());
    return status;
}

// "2026-11-23T19:40:00Z" or with a fraction and/or a +HH:MM offset, as nanoseconds since the
// epoch; nullopt for anything else.
std::optional<int64_t> parse_rfc3339(const std::string& text) {
    struct tm tm = {};
    const char* rest = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
    if (rest == nullptr) return std::nullopt;
    int64_t nanos = 0;
    if (*rest == '.') {
        ++rest;
        int digits = 0;
        while (*rest >= '0' && *rest <= '9') {
            if (digits < 9) nanos = nanos * 10 + (*rest - '0');
            ++digits;
            ++rest;
        }
        if (digits == 0) return std::nullopt;
        for (; digits < 9; ++digits) nanos *= 10;
    }
    int64_t offset = 0;
    if (*rest == 'Z' || *rest == 'z') {
        ++rest;
    } else if (*rest == '+' || *rest == '-') {
        int sign = *rest == '-' ? -1 : 1;
        int hh = 0, mm = 0;
        if (std::sscanf(rest + 1, "%2d:%2d", &hh, &mm) != 2) return std::nullopt;
        offset = sign * (hh * 3600 + mm * 60);
        rest += 6;
    } else {
        return std::nullopt;
    }
    if (*rest != '\0') return std::nullopt;
    return (static_cast<int64_t>(timegm(&tm)) - offset) * 1000000000 + nanos;
}

struct Global {
    std::vector<std::string> servers;
    std::string creds;
    std::string stream = "KVD_EVENTS";
    std::string registry = "kvd-registry";
    bool json = false;
    Millis timeout{5000};
};

std::string connect(NatsConnection& conn, const Global& g) {
    ConnectOptions o;
    o.servers = g.servers;
    o.creds = g.creds;
    o.name = "kvfleet";
    o.timeout = g.timeout;
    o.reconnect = false;
    o.js_wait = g.timeout;
    return conn.connect(o);
}

std::string entry_line(const RegistryEntry& e) {
    return fmt::format("{:<24} {:<16} {:>8}  {:<12} {}", e.bucket, e.host, e.pid, e.kind, e.since);
}

Json entry_json(const RegistryEntry& e) {
    return Json{{"bucket", e.bucket}, {"host", e.host},   {"pid", e.pid},          {"boot", e.boot},
                {"kind", e.kind},     {"since", e.since}, {"revision", e.revision}};
}

int cmd_lookup(const Global& g, const std::string& name) {
    NatsConnection conn;
    if (auto e = connect(conn, g); !e.empty()) return fail(kExitUnreachable, e);
    kvStore* kv = nullptr;
    natsStatus s = js_KeyValue(&kv, conn.js(), g.registry.c_str());
    if (s == NATS_NOT_FOUND)
        return fail(kExitError, "no registry '" + g.registry + "' (no kvd-nats has run yet)");
    if (s != NATS_OK) return fail(kExitUnreachable, "registry: " + nats_error(s));
    kvEntry* entry = nullptr;
    s = kvStore_Get(&entry, kv, registry_key(name).c_str());
    int status = kExitOk;
    if (s == NATS_NOT_FOUND) {
        status = fail(kExitError, "no bucket named '" + name + "' in the fleet registry");
    } else if (s != NATS_OK) {
        status = fail(kExitUnreachable, "registry: " + nats_error(s));
    } else {
        std::string_view value(static_cast<const char*>(kvEntry_Value(entry)),
                               static_cast<std::size_t>(kvEntry_ValueLen(entry)));
        auto e = parse_registry_value(registry_key(name), value, kvEntry_Revision(entry));
        if (!e) {
            status = fail(kExitError, "the registry entry of '" + name +
                                          "' is not kvd-nats's: " + std::string(value));
        } else if (g.json) {
            std::cout << entry_json(*e).dump() << "\n";
        } else {
            std::cout << e->host << " " << e->pid << "\n";
        }
        kvEntry_Destroy(entry);
    }
    kvStore_Destroy(kv);
    return status;
}

int cmd_list(const Global& g, const std::string& host) {
    NatsConnection conn;
    if (auto e = connect(conn, g); !e.empty()) return fail(kExitUnreachable, e);
    kvStore* kv = nullptr;
    std::vector<RegistryEntry> entries;
    natsStatus s = js_KeyValue(&kv, conn.js(), g.registry.c_str());
    if (s != NATS_OK && s != NATS_NOT_FOUND)
        return fail(kExitUnreachable, "registry: " + nats_error(s));
    if (s == NATS_OK) {
        std::string error = read_registry(kv, entries);
        kvStore_Destroy(kv);
        if (!error.empty()) return fail(kExitUnreachable, error);
    }
    if (!host.empty())
        entries.erase(std::remove_if(entries.begin(), entries.end(),
                                     [&](const auto& e) { return e.host != host; }),
                      entries.end());
    std::sort(entries.begin(), entries.end(),
              [](const auto& a, const auto& b) { return a.bucket < b.bucket; });
    if (g.json) {
        Json list = Json::array();
        for (const auto& e : entries) list.push_back(entry_json(e));
        std::cout << Json{{"buckets", list}}.dump() << "\n";
        return kExitOk;
    }
    if (entries.empty()) {
        std::cout << "no buckets\n";
        return kExitOk;
    }
    std::cout << fmt::format("{:<24} {:<16} {:>8}  {:<12} {}", "BUCKET", "HOST", "PID", "KIND",
                             "SINCE")
              << "\n";
    for (const auto& e : entries) std::cout << entry_line(e) << "\n";
    return kExitOk;
}

int cmd_events(const Global& g, const std::string& from, int64_t count, const std::string& host,
               const std::string& type) {
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = g.stream.c_str();
    so.Ordered = true;
    if (from.empty()) {
        so.Config.DeliverPolicy = js_DeliverNew;
    } else if (from == "all" || from == "start") {
        so.Config.DeliverPolicy = js_DeliverAll;
    } else if (std::all_of(from.begin(), from.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        so.Config.DeliverPolicy = js_DeliverByStartSequence;
        so.Config.OptStartSeq = std::stoull(from);
        if (so.Config.OptStartSeq == 0)
            return fail(kExitUsage, "--from: stream sequences start at 1");
    } else if (auto t = parse_rfc3339(from)) {
        so.Config.DeliverPolicy = js_DeliverByStartTime;
        so.Config.OptStartTime = *t;
    } else {
        return fail(kExitUsage,
                    "--from '" + from + "': a stream sequence, an RFC 3339 time, or 'all'");
    }
    NatsConnection conn;
    if (auto e = connect(conn, g); !e.empty()) return fail(kExitUnreachable, e);
    std::string subject = "kvd." + (host.empty() ? std::string("*") : subject_token(host)) + "." +
                          (type.empty() ? std::string("*") : subject_token(type));
    natsSubscription* sub = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_SubscribeSync(&sub, conn.js(), subject.c_str(), nullptr, &so, &jerr);
    if (s != NATS_OK)
        return fail(kExitUnreachable, "cannot follow stream " + g.stream + ": " + nats_error(s));
    int64_t seen = 0;
    int status = kExitOk;
    while ((count <= 0 || seen < count) && g_signal == 0) {
        natsMsg* msg = nullptr;
        s = natsSubscription_NextMsg(&msg, sub, 250);
        if (s == NATS_TIMEOUT) continue;
        if (s != NATS_OK) {
            status = fail(kExitUnreachable, "stream " + g.stream + ": " + nats_error(s));
            break;
        }
        std::string line(natsMsg_GetData(msg),
                         static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
        natsMsg_Destroy(msg);
        std::cout << line << "\n" << std::flush;
        ++seen;
    }
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
    if (g_signal != 0) return 128 + g_signal;
    return status;
}

int cmd_ctl(const Global& g, const std::string& host, const std::vector<std::string>& words) {
    Json request;
    if (words.empty())
        return fail(kExitUsage, "ctl needs a request: an op with its arguments, or a JSON object");
    if (!words[0].empty() && words[0][0] == '{') {
        if (words.size() != 1) return fail(kExitUsage, "ctl: a JSON request is one argument");
        request = Json::parse(words[0], nullptr, false);
        if (!request.is_object()) return fail(kExitUsage, "ctl: the request is not a JSON object");
    } else {
        // op BUCKET KEY VALUE, as far as given: what kvctl's data ops take.
        static const char* kFields[] = {"bucket", "key", "value"};
        if (words.size() > 4)
            return fail(kExitUsage, "ctl: OP [BUCKET [KEY [VALUE]]], or a JSON object");
        request["op"] = words[0];
        for (std::size_t i = 1; i < words.size(); ++i) request[kFields[i - 1]] = words[i];
    }
    if (!request.contains("id")) request["id"] = 1;
    NatsConnection conn;
    if (auto e = connect(conn, g); !e.empty()) return fail(kExitUnreachable, e);
    std::string data = request.dump();
    natsMsg* reply = nullptr;
    natsStatus s =
        natsConnection_Request(&reply, conn.nc(), control_subject(host).c_str(), data.data(),
                               static_cast<int>(data.size()), g.timeout.count());
    if (s == NATS_NO_RESPONDERS)
        return fail(kExitUnreachable, "no kvd-nats serves host '" + host + "'");
    if (s == NATS_TIMEOUT)
        return fail(kExitUnreachable, "host '" + host + "' did not answer in time");
    if (s != NATS_OK)
        return fail(kExitUnreachable, "request to host '" + host + "': " + nats_error(s));
    std::string line(natsMsg_GetData(reply),
                     static_cast<std::size_t>(natsMsg_GetDataLength(reply)));
    natsMsg_Destroy(reply);
    Json j = Json::parse(line, nullptr, false);
    if (!j.is_object() || !j.contains("ok"))
        return fail(kExitUnreachable, "host '" + host + "' answered: " + line);
    bool ok = j["ok"] == true;
    if (g.json) {
        std::cout
            << (ok ? j.value("result", Json::object()) : j.value("error", Json::object())).dump()
            << "\n";
    } else if (ok) {
        std::cout << j.value("result", Json::object()).dump(2) << "\n";
    }
    if (ok) return kExitOk;
    Json err = j.value("error", Json::object());
    if (!g.json)
        std::fprintf(stderr, "kvfleet: %s: %s: %s\n", host.c_str(), err.value("code", "?").c_str(),
                     err.value("message", "").c_str());
    return kExitError;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"kvfleet: every host's kvd through NATS (registry, events, control)"};
    app.require_subcommand(1);
    Global g;
    std::string timeout = "5s";
    std::vector<std::string> servers;
    app.add_option("--nats", servers,
                   "NATS server URL (repeatable; default $NATS_URL, else nats://127.0.0.1:4222)")
        ->delimiter(',');
    app.add_option("--creds", g.creds, "NATS credentials (.creds) file");
    app.add_option("--stream", g.stream, "the events stream (default KVD_EVENTS)");
    app.add_option("--registry", g.registry, "the registry KV bucket (default kvd-registry)");
    app.add_flag("--json", g.json, "machine-readable output");
    app.add_option("--timeout", timeout, "for connecting and each request (default 5s)");

    std::string name, from, host, type, ctl_host;
    int64_t count = 0;
    std::vector<std::string> words;
    auto* lookup = app.add_subcommand("lookup", "which host runs bucket NAME (host and pid)");
    lookup->add_option("NAME", name)->required();
    auto* list = app.add_subcommand("list", "every bucket of the fleet, from the registry");
    list->add_option("--host", host, "only this host's");
    auto* events = app.add_subcommand("events", "follow the fleet's event stream");
    events->add_option("--from", from,
                       "a stream sequence, an RFC 3339 time, or 'all' (default: new events)");
    events->add_option("--count", count, "exit after N events")->check(CLI::PositiveNumber);
    events->add_option("--host", host, "only this host's events");
    events->add_option("--type", type, "only events of this type");
    auto* ctl = app.add_subcommand(
        "ctl", "send a control request to HOST's kvd: OP [BUCKET [KEY [VALUE]]] or JSON");
    ctl->add_option("HOST", ctl_host)->required();
    ctl->add_option("REQUEST", words)->required();

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : kExitUsage;
    }
    std::string error;
    auto t = parse_duration(timeout, &error);
    if (!t || t->count() <= 0)
        return fail(kExitUsage, "--timeout: " + (error.empty() ? "must be positive" : error));
    g.timeout = *t;
    if (servers.empty()) {
        const char* env = std::getenv("NATS_URL");
        servers.push_back(env != nullptr && *env != '\0' ? env : "nats://127.0.0.1:4222");
    }
    g.servers = servers;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);

    int status;
    if (*lookup)
        status = cmd_lookup(g, name);
    else if (*list)
        status = cmd_list(g, host);
    else if (*events)
        status = cmd_events(g, from, count, host, type);
    else
        status = cmd_ctl(g, ctl_host, words);
    nats_Close();
    return status;
}
