// kvctl's commands: build the request, one round trip (or a stream) with kvd, print.
#include "ctl/commands.hpp"

#include <functional>
#include <string_view>

#include "common/signals.hpp"
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

Json make_stop_request(std::string_view bucket, std::optional<Millis> timeout) {
    Json request = make_bucket_request(op::kStop, bucket);
    if (timeout) request["timeout_ms"] = timeout->count();
    return request;
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
    try {
        return Json::parse(text.begin(), text.end());
    } catch (const Json::parse_error& e) {
        if (error) {
            // Drop nlohmann's "[json.exception.parse_error.101] " prefix.
            std::string_view what = e.what();
            if (auto close = what.find("] "); close != std::string_view::npos)
                what.remove_prefix(close + 2);
            *error = std::string(what);
        }
        return std::nullopt;
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
int cmd_create(Context& ctx, const std::vector<std::string>& buckets) {
    Client client;
    if (auto error = client.connect(ctx.socket_path, ctx.timeout)) return fail(ctx, *error);
    std::vector<int64_t> ids;
    for (const auto& bucket : buckets)
        ids.push_back(client.send(make_bucket_request(op::kCreate, bucket)));

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
    return round_trip(ctx, make_request(op::kList), human_list);
}

int cmd_stop(Context& ctx, const std::string& bucket, std::optional<Millis> timeout) {
    auto human = [&](const Json& result) { return human_stop(bucket, result); };
    // kvd waits up to `timeout` before SIGKILL, then for sync handlers: wait that much longer.
    return round_trip(ctx, make_stop_request(bucket, timeout), human, timeout.value_or(Millis(0)));
}

int cmd_kill(Context& ctx, const std::string& bucket, const std::string& signal) {
    auto human = [&](const Json& result) { return human_kill(bucket, signal, result); };
    return round_trip(ctx, make_kill_request(bucket, signal), human);
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

// Subscribes, then prints events as they arrive until --count is reached (0), the user
// interrupts (0), or kvd closes the stream (3). The timeout bounds only the subscribe reply.
int cmd_events(Context& ctx, const EventsOptions& options) {
    Client client;
    client.set_wake_fd(ctx.wake_fd);
    if (auto error = client.connect(ctx.socket_path, ctx.timeout)) return fail(ctx, *error);
    int64_t id = client.send(make_subscribe_request(options));
    Reply reply;
    if (auto error = client.read_reply(reply, id, deadline_after(ctx.timeout)))
        return fail(ctx, *error);
    if (!reply.ok) return print_reply(ctx, reply, nullptr);

    uint64_t seen = 0;
    std::string line;
    while (!options.count || seen < *options.count) {
        if (auto error = client.read_line(line, std::nullopt)) {
            if (error->kind == ClientErrorKind::closed)
                error->message = "kvd closed the event stream";
            return fail(ctx, *error);
        }
        if (line.empty()) continue;
        ctx.out << (ctx.json ? line + '\n' : human_event(line));
        ctx.out.flush();
        // Queued; the next wait writes it, and kvd sends the next event only after it.
        if (options.sync) client.send_line("ok");
        ++seen;
    }
    // The last ack still matters: without it kvd would count that event as failed.
    if (options.sync) client.flush(deadline_after(ctx.timeout));
    return kExitOk;
}

int cmd_handlers(Context& ctx) {
    return round_trip(ctx, make_request(op::kHandlers), human_handlers);
}

int cmd_reload(Context& ctx) {
    return round_trip(ctx, make_request(op::kReload), human_reload);
}

}  // namespace kvd::ctl
