// kvctl's commands: build the request, one round trip (or a stream) with kvd, print.
#include "ctl/commands.hpp"

#include <fmt/format.h>
#include <fnmatch.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <set>
#include <string_view>

#include "common/signals.hpp"
#include "common/utf8.hpp"
#include "common/wire.hpp"
#include "ctl/client.hpp"
#include "ctl/exit_status.hpp"
#include "ctl/output.hpp"

namespace kvd::ctl {

namespace op = wire::op;

Json make_request(std::string_view op_name) {
    return Json{{"op", op_name}};
}

Json make_bucket_request(std::string_view op_name, std::string_view bucket) {
    Json request = make_request(op_name);
    request["bucket"] = bucket;
    return request;
}

Json make_key_request(std::string_view op_name, std::string_view bucket, std::string_view key) {
    Json request = make_bucket_request(op_name, bucket);
    request["key"] = key;
    return request;
}

Json make_put_request(std::string_view bucket, std::string_view key, std::string_view value) {
    Json request = make_key_request(op::kPut, bucket, key);
    request["value"] = value;
    return request;
}

Json make_create_request(std::string_view bucket, std::optional<std::string> kind) {
    Json request = make_bucket_request(op::kCreate, bucket);
    if (kind) request["kind"] = std::move(*kind);
    return request;
}

Json make_stop_request(std::string_view bucket, std::optional<Millis> timeout) {
    Json request = make_bucket_request(op::kStop, bucket);
    if (timeout) request["timeout_ms"] = timeout->count();
    return request;
}

Json make_restart_request(std::string_view bucket, std::optional<Millis> timeout) {
    Json request = make_bucket_request(op::kRestart, bucket);
    if (timeout) request["timeout_ms"] = timeout->count();
    return request;
}

Json make_logs_request(std::string_view bucket, const LogsOptions& options) {
    Json request = make_bucket_request(op::kLogs, bucket);
    if (options.lines) request["lines"] = *options.lines;
    if (options.follow) request["follow"] = true;
    if (options.stream) request["stream"] = *options.stream;
    return request;
}

bool is_pattern(std::string_view word) {
    return word.find_first_of("*?[") != std::string_view::npos;
}

bool needs_listing(const Targets& targets) {
    return targets.all || std::any_of(targets.words.begin(), targets.words.end(),
                                      [](const std::string& w) { return is_pattern(w); });
}

Expansion expand_targets(const Targets& targets, const std::vector<std::string>& listed) {
    Expansion expansion;
    std::set<std::string> seen;
    auto add = [&](const std::string& bucket) {
        if (seen.insert(bucket).second) expansion.buckets.push_back(bucket);
    };
    std::vector<std::string> sorted = listed;
    std::sort(sorted.begin(), sorted.end());
    if (targets.all)
        for (const auto& bucket : sorted) add(bucket);
    for (const auto& word : targets.words) {
        if (!is_pattern(word)) {
            add(word);
            continue;
        }
        bool matched = false;
        for (const auto& bucket : sorted) {
            if (fnmatch(word.c_str(), bucket.c_str(), 0) == 0) {
                add(bucket);
                matched = true;
            }
        }
        if (!matched) expansion.unmatched.push_back(word);
    }
    return expansion;
}

Json make_kill_request(std::string_view bucket, std::string_view signal) {
    Json request = make_bucket_request(op::kKill, bucket);
    request["signal"] = signal;
    return request;
}

Json make_notify_request(std::string_view type, std::optional<Json> data, bool sync) {
    Json request = make_request(op::kNotify);
    request["type"] = type;
    if (data) request["data"] = std::move(*data);
    if (sync) request["sync"] = true;
    return request;
}

Json make_subscribe_request(const EventsOptions& options) {
    Json request = make_request(op::kSubscribe);
    if (!options.types.empty()) request["types"] = options.types;
    if (options.from_seq) request["from_seq"] = *options.from_seq;
    if (options.sync) request["mode"] = "sync";
    return request;
}

std::optional<std::string> canonical_signal(std::string_view name) {
    auto signo = parse_signal(name);
    if (!signo) return std::nullopt;
    return signal_name(*signo);
}

std::optional<Json> parse_json_argument(std::string_view text, std::string* error) {
    // kvd takes a request nested at most kMaxNestingDepth deep; the data sits one level in.
    if (nests_deeper_than(text, kMaxNestingDepth - 1)) {
        if (error)
            *error =
                fmt::format("nested more than {} levels deep (kvd's limit)", kMaxNestingDepth - 1);
        return std::nullopt;
    }
    try {
        return Json::parse(text.begin(), text.end());
    } catch (const Json::exception& e) {
        // parse_error for bad syntax, out_of_range for a number no double holds (1e999).
        if (error) {
            // Drop nlohmann's "[json.exception.parse_error.101] " prefix.
            std::string_view what = e.what();
            if (auto close = what.find("] "); close != std::string_view::npos)
                what.remove_prefix(close + 2);
            *error = std::string(what);
            if (dynamic_cast<const Json::out_of_range*>(&e))
                *error += " (a JSON number must fit in a double)";
        }
        return std::nullopt;
    }
}

bool is_json_text(std::string_view text) {
    return utf8::is_valid(text);
}

std::optional<std::string> read_value(int fd, std::string* error) {
    // Stop reading past what could ever be sent, rather than hold all of a large input.
    constexpr std::size_t limit = wire::kMaxLineBytes;
    std::string data;
    char buf[64 * 1024];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n == 0) return data;
        if (n < 0) {
            if (errno == EINTR) continue;
            if (error) *error = std::strerror(errno);
            return std::nullopt;
        }
        if (data.size() + static_cast<std::size_t>(n) > limit) {
            if (error)
                *error = fmt::format(
                    "it is more than {} bytes (1 MiB), the most one request "
                    "line to kvd can hold",
                    limit);
            return std::nullopt;
        }
        data.append(buf, static_cast<std::size_t>(n));
    }
}

namespace {

using HumanFormat = std::function<std::string(const Json& result)>;

Deadline deadline_after(Millis wait) {
    return SteadyClock::now() + wait;
}

int fail(Context& ctx, const ClientError& error) {
    if (error.kind != ClientErrorKind::interrupted) ctx.err << "kvctl: " << error.message << '\n';
    return exit_status_for(error);
}

const Json& error_object(const Reply& reply) {
    static const Json kNone;
    auto it = reply.raw.find("error");
    return it == reply.raw.end() ? kNone : *it;
}

// Prints what kvd answered: the result on stdout, or the error on stderr (and, with --json,
// the error object on stdout too, so a script reading stdout sees it).
int print_reply(Context& ctx, const Reply& reply, const HumanFormat& human) {
    if (!reply.ok) {
        if (ctx.json) ctx.out << json_document(error_object(reply));
        ctx.err << error_line(reply.error);
        return kExitDaemonError;
    }
    ctx.out << (ctx.json ? json_document(reply.result) : human(reply.result));
    return kExitOk;
}

// One request, one reply. `extra_wait` is added to the reply timeout for ops that
// legitimately take longer (stop waits for the bucket to exit).
int round_trip(Context& ctx, Json request, const HumanFormat& human,
               Millis extra_wait = Millis(0)) {
    Client client;
    if (auto error = client.connect(ctx.socket_path, ctx.timeout)) return fail(ctx, *error);
    int64_t id = client.send(std::move(request));
    Reply reply;
    if (auto error = client.read_reply(reply, id, deadline_after(ctx.timeout + extra_wait)))
        return fail(ctx, *error);
    return print_reply(ctx, reply, human);
}

}  // namespace

int cmd_ping(Context& ctx) {
    return round_trip(ctx, make_request(op::kPing), human_ping);
}

int cmd_status(Context& ctx) {
    return round_trip(ctx, make_request(op::kStatus), human_status);
}

// Every create is sent before the first reply is read (pipelining); replies come in order.
int cmd_create(Context& ctx, const std::vector<std::string>& buckets,
               std::optional<std::string> kind) {
    Client client;
    if (auto error = client.connect(ctx.socket_path, ctx.timeout)) return fail(ctx, *error);
    std::vector<int64_t> ids;
    for (const auto& bucket : buckets)
        ids.push_back(client.send(make_create_request(bucket, kind)));

    int status = kExitOk;
    Json documents = Json::array();
    for (int64_t id : ids) {
        Reply reply;
        if (auto error = client.read_reply(reply, id, deadline_after(ctx.timeout)))
            return fail(ctx, *error);
        if (!reply.ok) {
            ctx.err << error_line(reply.error);
            status = kExitDaemonError;
            documents.push_back(error_object(reply));
        } else {
            documents.push_back(reply.result);
            if (!ctx.json) ctx.out << human_create(reply.result);
        }
    }
    if (ctx.json) ctx.out << json_document(documents.size() == 1 ? documents[0] : documents);
    return status;
}

int cmd_lookup(Context& ctx, const std::string& bucket) {
    return round_trip(ctx, make_bucket_request(op::kLookup, bucket), human_lookup);
}

int cmd_list(Context& ctx) {
    return round_trip(ctx, make_request(op::kList),
                      [&](const Json& result) { return human_list(result, ctx.colour); });
}

int cmd_ps(Context& ctx) {
    return round_trip(ctx, make_request(op::kList), [&](const Json& result) {
        return human_ps(result, std::chrono::system_clock::now(), ctx.colour);
    });
}

namespace {

// One of stop, kill, restart: its verb for messages, its request and its line of output.
struct TargetOp {
    std::string_view verb;
    std::function<Json(const std::string& bucket)> request;
    std::function<std::string(const std::string& bucket, const Json& result)> human;
    Millis extra_wait{0};  // added to each reply's deadline (stop's SIGTERM-to-SIGKILL time)
};

std::vector<std::string> listed_names(const Json& result) {
    std::vector<std::string> names;
    auto buckets = result.is_object() ? result.find("buckets") : result.end();
    if (!result.is_object() || buckets == result.end() || !buckets->is_array()) return names;
    for (const auto& entry : *buckets) {
        if (!entry.is_object()) continue;
        auto name = entry.find("bucket");
        if (name != entry.end() && name->is_string()) names.push_back(name->get<std::string>());
    }
    return names;
}

int act_on_targets(Context& ctx, const Targets& targets, const TargetOp& target_op) {
    // One name given plainly is the command as it always was: the same output, the same JSON.
    bool plain = !targets.all && targets.words.size() == 1 && !is_pattern(targets.words[0]);
    Client client;
    if (auto error = client.connect(ctx.socket_path, ctx.timeout)) return fail(ctx, *error);

    Expansion expansion;
    if (needs_listing(targets)) {
        Reply listing;
        if (auto error = client.read_reply(listing, client.send(make_request(op::kList)),
                                           deadline_after(ctx.timeout)))
            return fail(ctx, *error);
        if (!listing.ok) return print_reply(ctx, listing, nullptr);
        expansion = expand_targets(targets, listed_names(listing.result));
    } else {
        expansion = expand_targets(targets, {});
    }

    int status = kExitOk;
    Json documents = Json::array();
    for (const auto& pattern : expansion.unmatched) {
        std::string message = fmt::format("no bucket matches '{}'", pattern);
        ctx.err << "kvctl: " << message << '\n';
        documents.push_back({{"pattern", pattern},
                             {"ok", false},
                             {"error",
                              {{"code", wire::error_code_name(wire::ErrorCode::not_found)},
                               {"message", message}}}});
        status = kExitDaemonError;
    }
    if (expansion.buckets.empty() && expansion.unmatched.empty() && !ctx.json)
        ctx.out << "no buckets\n";

    std::vector<int64_t> ids;
    for (const auto& bucket : expansion.buckets)
        ids.push_back(client.send(target_op.request(bucket)));
    auto print_documents = [&] {
        if (ctx.json) ctx.out << json_document(documents);
    };
    for (std::size_t i = 0; i < ids.size(); ++i) {
        const std::string& bucket = expansion.buckets[i];
        Reply reply;
        // Each reply may take the whole wait: kvd may work through the stops one by one.
        if (auto error = client.read_reply(reply, ids[i],
                                           deadline_after(ctx.timeout + target_op.extra_wait))) {
            print_documents();  // what was done before kvd was lost
            return fail(ctx, *error);
        }
        if (plain)
            return print_reply(ctx, reply,
                               [&](const Json& r) { return target_op.human(bucket, r); });
        if (reply.ok) {
            documents.push_back({{"bucket", bucket}, {"ok", true}, {"result", reply.result}});
            if (!ctx.json) {
                ctx.out << target_op.human(bucket, reply.result);
                ctx.out.flush();  // a long stop --all shows its progress
            }
        } else {
            documents.push_back(
                {{"bucket", bucket}, {"ok", false}, {"error", error_object(reply)}});
            ctx.err << fmt::format("kvctl: cannot {} {}: {}: {}\n", target_op.verb, bucket,
                                   reply.error.code, reply.error.message);
            status = kExitDaemonError;
        }
    }
    print_documents();
    return status;
}

}  // namespace

int cmd_stop(Context& ctx, const Targets& targets, std::optional<Millis> timeout) {
    // kvd waits up to `timeout` before SIGKILL, then for sync handlers: wait that much longer.
    return act_on_targets(
        ctx, targets,
        {.verb = "stop",
         .request = [&](const std::string& b) { return make_stop_request(b, timeout); },
         .human = [](const std::string& b, const Json& r) { return human_stop(b, r); },
         .extra_wait = timeout.value_or(Millis(0))});
}

int cmd_kill(Context& ctx, const Targets& targets, const std::string& signal) {
    return act_on_targets(
        ctx, targets,
        {.verb = "kill",
         .request = [&](const std::string& b) { return make_kill_request(b, signal); },
         .human = [&](const std::string& b, const Json& r) { return human_kill(b, signal, r); }});
}

int cmd_restart(Context& ctx, const Targets& targets, std::optional<Millis> timeout) {
    return act_on_targets(
        ctx, targets,
        {.verb = "restart",
         .request = [&](const std::string& b) { return make_restart_request(b, timeout); },
         .human = [](const std::string& b, const Json& r) { return human_restart(b, r); },
         .extra_wait = timeout.value_or(Millis(0))});
}

int cmd_put(Context& ctx, const std::string& bucket, const std::string& key,
            const std::string& value) {
    return round_trip(ctx, make_put_request(bucket, key, value), human_put);
}

int cmd_get(Context& ctx, const std::string& bucket, const std::string& key) {
    return round_trip(ctx, make_key_request(op::kGet, bucket, key), human_get);
}

int cmd_delete(Context& ctx, const std::string& bucket, const std::string& key) {
    auto human = [&](const Json& result) { return human_delete(bucket, key, result); };
    return round_trip(ctx, make_key_request(op::kDelete, bucket, key), human);
}

int cmd_keys(Context& ctx, const std::string& bucket) {
    return round_trip(ctx, make_bucket_request(op::kKeys, bucket), human_keys);
}

int cmd_notify(Context& ctx, const std::string& type, std::optional<Json> data, bool sync) {
    auto human = [&](const Json& result) { return human_notify(type, result); };
    return round_trip(ctx, make_notify_request(type, std::move(data), sync), human);
}

namespace {

// `kvctl events`: subscribes, prints, and with --retry reconnects when kvd goes away. It
// keeps its place in kvd's stream across connections as (boot, next seq): a reconnection
// to the same run of kvd subscribes from the seq after the last one accounted for, so
// nothing is missed or printed twice; a new run (kvd restarted, seq began again at 1)
// is followed from its first event.
class EventFollower {
  public:
    EventFollower(Context& ctx, const EventsOptions& options, RetryDelays delays)
        : ctx_(ctx), options_(options), delays_(delays), next_(options.from_seq) {}

    int run() {
        Millis delay = delays_.first;
        bool quiet = false;  // the loss was reported; stay quiet until kvd is back
        for (;;) {
            ClientError lost = follow();
            if (status_) return *status_;
            // --retry, and kvd is out of reach for now.
            if (connected_) {  // a fresh loss: say so, and start the delays again
                connected_ = false;
                quiet = false;
                delay = delays_.first;
            }
            if (!quiet) report_loss(lost, subscribed_ ? "; reconnecting" : "; retrying");
            quiet = true;
            if (auto interrupted = sleep_unless_woken(ctx_.wake_fd, delay))
                return exit_status_for(*interrupted);
            delay = std::min(delay * 2, delays_.max);
        }
    }

  private:
    // One connection. Sets status_ when `events` is over (--count reached, interrupted, an
    // error kvd answered); otherwise returns why the connection was lost.
    ClientError follow() {
        Client client;
        client.set_wake_fd(ctx_.wake_fd);
        if (auto error = client.connect(ctx_.socket_path, ctx_.timeout)) return end(*error);
        Deadline deadline = deadline_after(ctx_.timeout);
        // Which run of kvd is this? Asked on the connection that will subscribe, so the
        // answer cannot be about another run.
        if (!boot_.empty()) {
            Reply status;
            if (auto error =
                    client.read_reply(status, client.send(make_request(op::kStatus)), deadline))
                return end(*error);
            if (!status.ok) return daemon_error(status);
            std::string boot = string_field(status.result, "boot");
            if (!boot.empty() && boot != boot_) {
                boot_ = boot;
                next_ = 1;
                note_ = fmt::format(
                    "kvctl: kvd restarted (boot {}); continuing from its first event\n", boot_);
            } else if (note_.empty()) {
                note_ = fmt::format("kvctl: reconnected to kvd{}; continuing {}\n",
                                    boot.empty() ? "" : " (same boot)", position());
            }
        }
        Reply reply;
        if (auto error = subscribe(client, next_, reply, deadline)) return end(*error);
        // Told once kvd took us back: a kvd shutting down still answers `status`, but refuses
        // the subscription (unavailable), and the next attempt may reach another run.
        if (reply.ok || reply.error.code == "history_lost") {
            ctx_.err << note_;
            note_.clear();
        }
        // A reconnection whose events are gone from kvd's history (a restarted kvd that has
        // published more than it keeps) carries on with what comes next. A --from the user
        // gave that kvd cannot honour is their error (exit 1).
        if (!reply.ok && reply.error.code == "history_lost" && subscribed_) {
            ctx_.err << fmt::format("kvctl: history_lost: {}; continuing with the live stream\n",
                                    reply.error.message);
            next_.reset();
            if (auto error = subscribe(client, next_, reply, deadline)) return end(*error);
        }
        if (!reply.ok) return daemon_error(reply);
        subscribed_ = true;
        connected_ = true;
        if (std::string boot = string_field(reply.result, "boot"); !boot.empty()) boot_ = boot;
        // Live from here: the reply names the last seq published before it.
        if (!next_)
            if (auto seq = seq_value(reply.result, "seq")) next_ = *seq + 1;
        return stream(client);
    }

    ClientError stream(Client& client) {
        std::string line;
        while (!options_.count || printed_ < *options_.count) {
            if (auto error = client.read_line(line, std::nullopt)) {
                if (error->kind == ClientErrorKind::closed) error->message = "connection closed";
                return end(*error);
            }
            if (line.empty()) continue;
            Json event = parse_event(line);
            std::optional<uint64_t> seq = seq_value(event, "seq");
            // Already printed before a reconnection; kvd should not send it, but be sure.
            bool repeat = seq && next_ && *seq < *next_;
            if (!repeat) {
                ctx_.out << (ctx_.json ? line + '\n' : human_event(event, line));
                ctx_.out.flush();
                ++printed_;
                if (seq) next_ = *seq + 1;
            }
            // Queued; the next wait writes it, and kvd sends the next event only after it.
            if (options_.sync) client.send_line("ok");
        }
        // The last ack still matters: without it kvd would count that event as failed.
        if (options_.sync) client.flush(deadline_after(ctx_.timeout));
        status_ = kExitOk;
        return {};
    }

    std::optional<ClientError> subscribe(Client& client, std::optional<uint64_t> from, Reply& reply,
                                         Deadline deadline) {
        EventsOptions request = options_;
        request.from_seq = from;
        return client.read_reply(reply, client.send(make_subscribe_request(request)), deadline);
    }

    // A connection error: the end of `events` unless --retry may try again.
    ClientError end(ClientError error) {
        if (error.kind == ClientErrorKind::interrupted)
            status_ = exit_status_for(error);
        else if (!options_.retry || !retryable(error))
            status_ = report_loss(error, "");
        return error;
    }

    // kvd answered with an error. `unavailable` (kvd is shutting down) is worth a retry.
    ClientError daemon_error(const Reply& reply) {
        if (options_.retry && reply.error.code == "unavailable")
            return ClientError{ClientErrorKind::closed,
                               fmt::format("unavailable: {}", reply.error.message)};
        status_ = print_reply(ctx_, reply, nullptr);
        return {};
    }

    // Prints why kvd is out of reach and returns exit 3 (or 2, see exit_status_for).
    int report_loss(const ClientError& error, std::string_view what_next) {
        bool went_away = error.kind == ClientErrorKind::closed || error.kind == ClientErrorKind::io;
        if (subscribed_ && went_away)
            ctx_.err << fmt::format("kvctl: kvd went away ({}) {}{}\n", error.message, position(),
                                    what_next);
        else
            ctx_.err << fmt::format("kvctl: {}{}\n", error.message, what_next);
        return exit_status_for(error);
    }

    // "after seq 41": the last seq accounted for, the place to resume from with --from 42.
    std::string position() const {
        if (!next_ || *next_ <= 1) return "before any event";
        return fmt::format("after seq {}", *next_ - 1);
    }

    static bool retryable(const ClientError& error) {
        switch (error.kind) {
            case ClientErrorKind::no_socket:
            case ClientErrorKind::refused:
            case ClientErrorKind::timeout:
            case ClientErrorKind::closed:
            case ClientErrorKind::io:
                return true;
            default:
                return false;
        }
    }

    static std::string string_field(const Json& object, std::string_view key) {
        if (!object.is_object()) return {};
        auto it = object.find(key);
        return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
    }

    static std::optional<uint64_t> seq_value(const Json& object, std::string_view key) {
        if (!object.is_object()) return std::nullopt;
        auto it = object.find(key);
        if (it == object.end()) return std::nullopt;
        if (it->is_number_unsigned()) return it->get<uint64_t>();
        if (it->is_number_integer() && it->get<int64_t>() >= 0)
            return static_cast<uint64_t>(it->get<int64_t>());
        return std::nullopt;
    }

    Context& ctx_;
    const EventsOptions& options_;
    RetryDelays delays_;
    std::string boot_;              // the run of kvd followed; "" until kvd said
    std::optional<uint64_t> next_;  // the first seq not yet accounted for; nullopt: live
    uint64_t printed_ = 0;          // for --count, across connections
    bool subscribed_ = false;       // some connection got as far as a subscription
    bool connected_ = false;        // the last attempt subscribed
    std::optional<int> status_;     // set when `events` is over
    std::string note_;              // what a reconnection found, told once it subscribed
};

}  // namespace

int cmd_events(Context& ctx, const EventsOptions& options, RetryDelays delays) {
    return EventFollower(ctx, options, delays).run();
}

int cmd_handlers(Context& ctx) {
    return round_trip(ctx, make_request(op::kHandlers),
                      [&](const Json& result) { return human_handlers(result, ctx.colour); });
}

namespace {

// One line of a bucket's output, or a follower's {"dropped":N}, as `logs` prints it.
void print_log_entry(Context& ctx, const Json& entry) {
    if (entry.is_object() && entry.contains("dropped") && !entry.contains("line")) {
        if (ctx.json) ctx.out << json_document(entry);
        ctx.err << fmt::format("kvctl: {} lines lost\n", dump_line(entry["dropped"]));
    } else {
        ctx.out << (ctx.json ? json_document(entry)
                             : human_log_line(entry, ctx.terminal, ctx.colour));
    }
}

}  // namespace

int cmd_logs(Context& ctx, const std::string& bucket, const LogsOptions& options) {
    Client client;
    client.set_wake_fd(ctx.wake_fd);
    if (auto error = client.connect(ctx.socket_path, ctx.timeout)) return fail(ctx, *error);
    Reply reply;
    if (auto error = client.read_reply(reply, client.send(make_logs_request(bucket, options)),
                                       deadline_after(ctx.timeout)))
        return fail(ctx, *error);
    if (!reply.ok) return print_reply(ctx, reply, nullptr);

    // Lines lost before these (the ring was full) are told first, where they belong.
    if (reply.result.is_object()) {
        auto dropped = reply.result.find("dropped");
        if (dropped != reply.result.end() && dropped->is_number() && *dropped != 0)
            print_log_entry(ctx, Json{{"dropped", *dropped}});
        auto lines = reply.result.find("lines");
        if (lines != reply.result.end() && lines->is_array())
            for (const auto& entry : *lines) print_log_entry(ctx, entry);
        auto uncaptured = reply.result.find("uncaptured");
        if (uncaptured != reply.result.end() && uncaptured->is_array())
            for (const auto& stream : *uncaptured)
                ctx.err << fmt::format(
                    "kvctl: the {} of {}'s current process is not captured: kvd's open file "
                    "limit had no room for it (see kvctl status)\n",
                    stream.is_string() ? stream.get<std::string>() : dump_line(stream), bucket);
    }
    ctx.out.flush();
    if (!options.follow) return kExitOk;

    std::string line;
    for (;;) {
        if (auto error = client.read_line(line, std::nullopt)) {
            // kvd ends a follow by closing the connection (the bucket is gone): done.
            if (error->kind == ClientErrorKind::closed) return kExitOk;
            return fail(ctx, *error);
        }
        if (line.empty()) continue;
        Json entry = parse_event(line);
        if (entry.is_discarded()) {
            ctx.out << line << '\n';
        } else {
            print_log_entry(ctx, entry);
        }
        ctx.out.flush();
    }
}

int cmd_reload(Context& ctx) {
    return round_trip(ctx, make_request(op::kReload), human_reload);
}

int cmd_metrics(Context& ctx) {
    return round_trip(ctx, make_request(op::kMetrics), human_metrics);
}

}  // namespace kvd::ctl
