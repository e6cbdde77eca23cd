#include "daemon/op_host.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "daemon/connection.hpp"
#include "daemon/daemon.hpp"
#include "daemon/logs/follower.hpp"
#include "daemon/subscription.hpp"

namespace kvd {

namespace {
// A subscriber that does not acknowledge a sync event within this time is dropped.
constexpr Millis kSubscriberAckTimeout{5000};
}  // namespace

bool DaemonOpHost::shutting_down() const {
    return daemon_.shutting_down();
}

OpBucket* DaemonOpHost::find_bucket(std::string_view name) {
    return daemon_.registry().find(name);
}

std::vector<const OpBucket*> DaemonOpHost::buckets() const {
    std::vector<const Bucket*> sorted = daemon_.registry().sorted();
    return {sorted.begin(), sorted.end()};
}

void DaemonOpHost::create_bucket(const std::string& name, const std::string& kind, OutcomeFn done) {
    daemon_.registry().create(name, kind, std::move(done));
}

void DaemonOpHost::restart_bucket(OpBucket& bucket, std::optional<Millis> timeout, OutcomeFn done) {
    daemon_.registry().restart(static_cast<Bucket&>(bucket), timeout, std::move(done));
}

void DaemonOpHost::stop_bucket(OpBucket& bucket, std::optional<Millis> timeout, OutcomeFn done) {
    // Every OpBucket in kvd is a registry's Bucket: ops only get them from find_bucket().
    daemon_.registry().stop(static_cast<Bucket&>(bucket), timeout, std::move(done));
}

OpLog* DaemonOpHost::find_log(std::string_view name) {
    return daemon_.registry().logs().find(name);
}

uint64_t DaemonOpHost::last_seq() const {
    return daemon_.events().last_seq();
}

std::variant<uint64_t, Failure> DaemonOpHost::publish(Event event,
                                                      std::function<void()> delivered) {
    return daemon_.events().publish_custom(std::move(event), std::move(delivered));
}

Json DaemonOpHost::handlers_info() const {
    return daemon_.handlers().info();
}

DaemonStatus DaemonOpHost::status() const {
    const proc::ProcessTable& processes = daemon_.processes();
    DaemonStatus s{daemon_.uptime_ms(),
                   daemon_.registry().size(),
                   daemon_.handlers().size(),
                   daemon_.events().subscription_count(),
                   daemon_.events().last_seq(),
                   daemon_.boot(),
                   std::string(processes.tree_mode()),
                   processes.limits_mode(),
                   {}};
    const proc::FdBudget& fds = processes.descriptors();
    s.descriptors.limit = fds.open_file_limit();
    s.descriptors.for_buckets = fds.slots();
    s.descriptors.in_use = fds.in_use();
    s.descriptors.pidfds = processes.with_pidfd();
    s.descriptors.without_pidfd = processes.size() - processes.with_pidfd();
    s.descriptors.stderr_uncaptured = daemon_.registry().logs().uncaptured(logs::Stream::err);
    return s;
}

std::string DaemonOpHost::metrics_text() const {
    return metrics::exposition_text(daemon_.collect_metrics());
}

Outcome DaemonOpHost::reload() {
    return daemon_.reload();
}

uint64_t ConnectionClient::number() const {
    return connection_.number();
}

std::optional<Failure> ConnectionClient::subscribe(const SubscribeRequest& request) {
    ReceiverOptions options;
    options.name = fmt::format("client {}", connection_.number());
    options.mode = request.mode;
    options.types = request.types;
    // A replay of the whole history must fit an async queue, in count and in bytes, or it
    // would lose events at once. (A sync subscriber loses none: kvd refuses new work while it
    // catches up.)
    options.queue_limit = std::max<std::size_t>(1000, daemon_.config().daemon.event_history);
    options.backlog_holds_history = options.mode == HandlerMode::async;
    options.ack_timeout = kSubscriberAckTimeout;
    if (request.from_seq) options.min_seq = *request.from_seq;

    EventManager& events = daemon_.events();
    auto sub = std::make_unique<Subscription>(events, daemon_.loop(), connection_, options);
    if (request.from_seq)
        if (auto failure = events.replay(sub->receiver(), *request.from_seq)) return failure;
    connection_.attach_stream(std::move(sub));
    return std::nullopt;
}

std::optional<Failure> ConnectionClient::follow_log(OpLog& log, std::optional<logs::Stream> only) {
    // Every OpLog in kvd is a LogSet's BucketLog: ops only get them from find_log().
    connection_.attach_stream(
        std::make_unique<logs::Follower>(static_cast<logs::BucketLog&>(log), connection_, only,
                                         daemon_.config().daemon.client_buffer_bytes));
    return std::nullopt;
}

}  // namespace kvd
