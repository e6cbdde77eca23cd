#include "fleet/forwarder.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "fleet/log.hpp"
#include "fleet/names.hpp"

namespace kvd::fleet {

namespace {

using OrderedJson = nlohmann::ordered_json;

// kvd's lines are at most 1 MiB; anything longer is not kvd talking.
constexpr std::size_t kMaxEventBytes = 2 * 1024 * 1024;

Millis backoff(int failures) {
    int shift = std::min(failures, 6);
    return std::min(Millis(100LL << shift), Millis(5000));
}

bool write_all(int fd, const std::string& bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
        ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        done += static_cast<std::size_t>(n);
    }
    return true;
}

}  // namespace

Forwarder::Forwarder(Settings settings, std::string boot, int in_fd, int out_fd, bool send_acks)
    : settings_(std::move(settings)),
      boot_(std::move(boot)),
      in_fd_(in_fd),
      out_fd_(out_fd),
      send_acks_(send_acks),
      registry_(settings_.host, boot_),
      link_(settings_.socket, settings_.request_timeout),
      control_(link_, settings_.allow),
      input_(kMaxEventBytes) {
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

Forwarder::~Forwarder() {
    control_.stop();
    registry_.close();
    conn_.close();
    if (wake_fd_ >= 0) ::close(wake_fd_);
}

void Forwarder::on_puback(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure) {
    auto* self = static_cast<Forwarder*>(closure);
    Completion c;
    const char* id = nullptr;
    if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &id) == NATS_OK && id != nullptr) c.msg_id = id;
    c.ok = pa != nullptr;
    if (pae != nullptr) {
        c.error = natsStatus_GetText(pae->Err);
        if (pae->ErrText != nullptr && *pae->ErrText != '\0')
            c.error += std::string(": ") + pae->ErrText;
    }
    natsMsg_Destroy(msg);
    {
        std::lock_guard lock(self->completions_mutex_);
        self->completions_.push_back(std::move(c));
    }
    uint64_t one = 1;
    ssize_t n = ::write(self->wake_fd_, &one, sizeof one);
    (void)n;  // a full eventfd counter still wakes the loop
}

void Forwarder::disconnect(const std::string& why, Clock::time_point now) {
    if (why != last_error_) log_warn("{}", why);
    last_error_ = why;
    control_.stop();
    registry_.close();
    conn_.close();
    for (auto& p : pending_) p.in_flight = false;
    next_connect_ = now + backoff(connect_failures_++);
}

void Forwarder::try_connect(Clock::time_point now) {
    ConnectOptions o;
    o.servers = settings_.servers;
    o.creds = settings_.creds;
    o.name = "kvd-nats " + settings_.host;
    o.ack_handler = on_puback;
    o.ack_closure = this;
    o.max_pending = settings_.window;
    // Registry calls block the loop: keep each as short as a publish may take.
    o.js_wait = std::max(settings_.ack_wait, Millis(1000));
    std::string error = conn_.connect(o);
    if (error.empty()) error = ensure_stream();
    if (error.empty()) error = registry_.open(conn_.js(), settings_.registry, settings_.replicas);
    if (error.empty()) error = control_.start(conn_.nc(), control_subject(settings_.host));
    if (!error.empty()) {
        disconnect(error + "; retrying (events are not acked meanwhile)", now);
        return;
    }
    connect_failures_ = 0;
    last_error_.clear();
    log_info("connected to NATS; stream {}, registry {}, control on {}", settings_.stream,
             settings_.registry, control_subject(settings_.host));
}

std::string Forwarder::ensure_stream() {
    jsCtx* js = conn_.js();
    jsStreamInfo* si = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_GetStreamInfo(&si, js, settings_.stream.c_str(), nullptr, &jerr);
    const int64_t max_age_ns = settings_.max_age.count() * 1000000;
    const int64_t dup_ns = settings_.duplicate_window.count() * 1000000;
    if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
        jsStreamConfig cfg;
        jsStreamConfig_Init(&cfg);
        const char* subjects[] = {"kvd.>"};
        cfg.Name = settings_.stream.c_str();
        cfg.Subjects = subjects;
        cfg.SubjectsLen = 1;
        cfg.Storage = js_FileStorage;
        cfg.Replicas = settings_.replicas;
        cfg.MaxAge = max_age_ns;
        cfg.Duplicates = dup_ns;
        s = js_AddStream(&si, js, &cfg, nullptr, &jerr);
        if (s == NATS_OK) {
            jsStreamInfo_Destroy(si);
            log_info("created stream {} (subjects kvd.>, file storage, {} replicas)",
                     settings_.stream, settings_.replicas);
            return "";
        }
        // Another host may have created it at the same moment: look again.
        s = js_GetStreamInfo(&si, js, settings_.stream.c_str(), nullptr, &jerr);
    }
    if (s != NATS_OK)
        return "cannot get or create stream " + settings_.stream + ": " + nats_error(s);
    std::vector<std::string> differences;
    const jsStreamConfig* c = si->Config;
    bool has_subject = false;
    for (int i = 0; i < c->SubjectsLen; ++i)
        has_subject = has_subject || std::strcmp(c->Subjects[i], "kvd.>") == 0;
    if (!has_subject) differences.push_back("its subjects do not include kvd.>");
    if (c->Storage != js_FileStorage) differences.push_back("memory storage instead of file");
    if (c->Replicas != settings_.replicas)
        differences.push_back(
            fmt::format("replicas {} instead of {}", c->Replicas, settings_.replicas));
    if (c->MaxAge != max_age_ns)
        differences.push_back(fmt::format("max_age {} ms instead of {} ms", c->MaxAge / 1000000,
                                          settings_.max_age.count()));
    if (c->Duplicates != dup_ns)
        differences.push_back(fmt::format("duplicate window {} ms instead of {} ms",
                                          c->Duplicates / 1000000,
                                          settings_.duplicate_window.count()));
    jsStreamInfo_Destroy(si);
    if (differences.empty()) return "";
    std::string list;
    for (const auto& d : differences) list += (list.empty() ? "" : "; ") + d;
    if (settings_.stream_mismatch == StreamMismatch::refuse) {
        refused_ = true;
        log_error(
            "stream {} exists with another configuration ({}); stream_mismatch = \"refuse\": "
            "exiting without changing it",
            settings_.stream, list);
        return "stream " + settings_.stream + " has another configuration";
    }
    if (!stream_warned_)
        log_warn("stream {} exists with another configuration ({}); using it unchanged",
                 settings_.stream, list);
    stream_warned_ = true;
    return "";
}

void Forwarder::try_boot(Clock::time_point now) {
    std::string error;
    auto reply = link_.call("status", error);
    if (reply && reply->ok && reply->result.contains("boot") && reply->result["boot"].is_string()) {
        boot_ = reply->result["boot"].get<std::string>();
        registry_.set_boot(boot_);
        return;
    }
    if (reply && error.empty()) error = "kvd's status has no boot id";
    if (error != last_error_) log_warn("cannot learn kvd's boot id: {}; retrying", error);
    last_error_ = error;
    next_boot_ = now + Millis(500);
}

void Forwarder::try_reconcile(Clock::time_point now) {
    std::string error;
    auto reply = link_.call("list", error);
    if (reply && !reply->ok) error = "kvd answered list with " + reply->error.code;
    std::vector<LocalBucket> local;
    if (error.empty()) {
        const Json& buckets = reply->result["buckets"];
        for (const auto& b : buckets) {
            LocalBucket lb;
            lb.bucket = b.value("bucket", "");
            lb.pid = b.value("pid", int64_t{0});
            lb.kind = b.value("kind", "kv-bucket");
            lb.started = b.value("started", "");
            if (!lb.bucket.empty()) local.push_back(std::move(lb));
        }
        error = registry_.reconcile(local);
    }
    if (error.empty()) {
        reconciled_ = true;
        return;
    }
    if (error != last_error_) log_warn("registry reconciliation failed: {}; retrying", error);
    last_error_ = error;
    next_reconcile_ = now + backoff(reconcile_failures_++);
}

void Forwarder::take_lines() {
    std::string line;
    while (pending_.size() < static_cast<std::size_t>(settings_.window) && input_.next_line(line)) {
        Pending p;
        OrderedJson j = OrderedJson::parse(line, nullptr, false);
        auto seq = j.is_object() ? j.find("seq") : j.end();
        if (!j.is_object() || seq == j.end() || !seq->is_number_unsigned()) {
            log_warn("not an event, acked as it is: {}", line.substr(0, 200));
            p.stored = p.registry_done = true;
            pending_.push_back(std::move(p));
            continue;
        }
        auto text = [&](const char* key, std::string fallback) {
            auto it = j.find(key);
            return it != j.end() && it->is_string() ? it->get<std::string>() : fallback;
        };
        p.seq = seq->get<uint64_t>();
        p.type = text("type", "unknown");
        p.bucket = text("bucket", "");
        p.kind = text("kind", "kv-bucket");
        p.time = text("time", "");
        auto pid = j.find("pid");
        if (pid != j.end() && pid->is_number_integer()) p.pid = pid->get<int64_t>();
        j["host"] = settings_.host;
        j["boot"] = boot_;
        p.line = j.dump();
        p.msg_id = message_id(settings_.host, boot_, p.seq);
        p.registry_done = p.bucket.empty() || (p.type != "create" && p.type != "exit");
        if (p.type == "dropped") {
            // kvd lost events for this handler (async mode): creates and exits among them
            // never reach the registry, so it is reconciled with kvd's list again.
            auto count = j.find("count");
            log_warn(
                "kvd dropped {} events before seq {} (async mode); reconciling the "
                "registry with kvd's list",
                count != j.end() ? count->dump() : "some", p.seq);
            reconciled_ = false;
            next_reconcile_ = Clock::time_point{};
        }
        pending_.push_back(std::move(p));
    }
}

void Forwarder::drain_completions(Clock::time_point now) {
    uint64_t count = 0;
    ssize_t n = ::read(wake_fd_, &count, sizeof count);
    (void)n;
    std::vector<Completion> done;
    {
        std::lock_guard lock(completions_mutex_);
        done.swap(completions_);
    }
    for (auto& c : done) {
        auto it = std::find_if(pending_.begin(), pending_.end(), [&](const Pending& p) {
            return p.seq != 0 && p.msg_id == c.msg_id;
        });
        if (it == pending_.end() || it->stored) continue;  // an earlier copy's answer
        if (c.ok) {
            it->stored = true;
            it->in_flight = false;
            continue;
        }
        std::string why = "publish of " + it->msg_id + " failed: " + c.error;
        if (it->attempts == 0 || c.error != last_error_) log_warn("{}; retrying", why);
        last_error_ = c.error;
        it->in_flight = false;
        it->next_try = now + backoff(it->attempts++);
    }
}

void Forwarder::advance_registry(Clock::time_point now) {
    if (!registry_.is_open() || now < next_registry_) return;
    for (auto& p : pending_) {
        if (p.registry_done) continue;
        std::string error = p.type == "create"
                                ? registry_.on_create(p.bucket, p.pid, p.kind, p.time)
                                : registry_.on_exit(p.bucket, p.pid);
        if (!error.empty()) {
            if (error != last_error_) log_warn("{}; retrying", error);
            last_error_ = error;
            next_registry_ = now + backoff(registry_failures_++);
            return;
        }
        registry_failures_ = 0;
        p.registry_done = true;
    }
}

void Forwarder::publish(Pending& p, Clock::time_point now) {
    natsMsg* msg = nullptr;
    std::string subject = event_subject(settings_.host, p.type);
    natsStatus s = natsMsg_Create(&msg, subject.c_str(), nullptr, p.line.data(),
                                  static_cast<int>(p.line.size()));
    if (s == NATS_OK) s = natsMsgHeader_Set(msg, "Nats-Msg-Id", p.msg_id.c_str());
    if (s == NATS_OK && !p.bucket.empty())
        s = natsMsgHeader_Set(msg, "Kvd-Bucket", p.bucket.c_str());
    if (s == NATS_OK) s = natsMsgHeader_Set(msg, "Kvd-Host", settings_.host.c_str());
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = settings_.ack_wait.count();
    if (s == NATS_OK) s = js_PublishMsgAsync(conn_.js(), &msg, &po);
    natsMsg_Destroy(msg);  // no effect once the library took it
    if (s == NATS_OK) {
        p.in_flight = true;
        p.sent_at = now;
        return;
    }
    std::string error = nats_error(s);
    if (error != last_error_) log_warn("publish of {} failed: {}; retrying", p.msg_id, error);
    last_error_ = error;
    p.next_try = now + backoff(p.attempts++);
}

void Forwarder::publish_due(Clock::time_point now) {
    for (auto& p : pending_) {
        if (p.stored) continue;
        // The library times out each publish after ack_wait; this is the net under it.
        if (p.in_flight && now - p.sent_at > 2 * settings_.ack_wait) p.in_flight = false;
        if (!p.in_flight && now >= p.next_try) publish(p, now);
    }
}

bool Forwarder::write_acks() {
    std::string out;
    while (!pending_.empty() && pending_.front().stored && pending_.front().registry_done) {
        if (send_acks_)
            out += pending_.front().seq != 0 ? fmt::format("{{\"ack\":{}}}\n", pending_.front().seq)
                                             : "ok\n";
        pending_.pop_front();
        ++acked_;
    }
    return out.empty() || write_all(out_fd_, out);
}

Clock::time_point Forwarder::next_wakeup(Clock::time_point now) const {
    Clock::time_point t = now + Millis(1000);
    if (!conn_.connected()) t = std::min(t, next_connect_);
    if (boot_.empty()) t = std::min(t, next_boot_);
    if (!reconciled_) t = std::min(t, next_reconcile_);
    if (eof_) t = std::min(t, eof_deadline_);
    bool registry_waiting = false;
    for (const auto& p : pending_) {
        if (!p.registry_done) registry_waiting = true;
        if (p.stored) continue;
        t = std::min(t, p.in_flight ? p.sent_at + 2 * settings_.ack_wait : p.next_try);
    }
    if (registry_waiting) t = std::min(t, next_registry_);
    return std::max(t, now);
}

int Forwarder::run() {
    if (wake_fd_ < 0) {
        log_error("eventfd: {}", std::strerror(errno));
        return 1;
    }
    char buf[65536];
    int status = 0;
    while (true) {
        Clock::time_point now = Clock::now();
        if (!conn_.connected() && now >= next_connect_) {
            try_connect(now);
            if (refused_) {
                status = 2;
                break;
            }
            now = Clock::now();
        }
        if (boot_.empty() && now >= next_boot_) try_boot(now);
        if (conn_.connected() && registry_.is_open() && !boot_.empty() && !reconciled_ &&
            now >= next_reconcile_)
            try_reconcile(now);
        if (!boot_.empty()) take_lines();
        drain_completions(now);
        if (!boot_.empty()) advance_registry(now);
        if (conn_.connected()) publish_due(now);
        if (!write_acks()) {
            log_info("kvd closed the handler socket");
            eof_ = true;
            eof_deadline_ = now;
        }
        if (eof_ && (pending_.empty() || now >= eof_deadline_)) break;

        pollfd fds[2];
        nfds_t count = 0;
        fds[count++] = {wake_fd_, POLLIN, 0};
        bool want_input = !eof_ && pending_.size() < static_cast<std::size_t>(settings_.window);
        if (want_input) fds[count++] = {in_fd_, POLLIN, 0};
        auto wait = std::chrono::duration_cast<Millis>(next_wakeup(now) - now).count();
        int r = ::poll(fds, count, static_cast<int>(wait) + 1);
        if (r < 0 && errno != EINTR) {
            log_error("poll: {}", std::strerror(errno));
            status = 1;
            break;
        }
        if (r > 0 && want_input && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t n = ::read(in_fd_, buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                eof_ = true;
                eof_deadline_ = Clock::now() + std::min(settings_.ack_wait, Millis(2000));
            } else if (!input_.append(std::string_view(buf, static_cast<std::size_t>(n)))) {
                log_error("a line of more than {} bytes on stdin: not kvd's events",
                          kMaxEventBytes);
                status = 1;
                break;
            }
        }
    }
    std::size_t unacked = pending_.size();
    log_info(
        "stopping: {} events acked, {} not acked (kvd delivers those again){}", acked_, unacked,
        registry_.collisions() ? fmt::format("; {} registry collisions", registry_.collisions())
                               : "");
    control_.stop();
    registry_.close();
    conn_.close();
    return status;
}

}  // namespace kvd::fleet
