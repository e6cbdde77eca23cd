#include "daemon/receiver.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "common/ack.hpp"
#include "common/wire.hpp"

namespace kvd {

namespace {
// An async receiver writes more only while less than this waits in its stream's own output
// buffer; the rest waits in the queue, where overflow is counted.
constexpr std::size_t kAsyncHighWaterBytes = 256 * 1024;
// How often an async receiver holding a `dropped` event looks whether its peer has read
// something, making room for it.
constexpr Millis kReaderPoll{10};
}  // namespace

Receiver::Receiver(EventManager& events, uv_loop_t* loop, ReceiverOptions options)
    : events_(events), loop_(loop), options_(std::move(options)) {
    if (is_sync()) ack_timer_ = std::make_unique<uv::Timer>(loop_);
    events_.add(this);
}

Receiver::~Receiver() {
    events_.remove(this);
    release_all();
    if (ack_timer_) ack_timer_->close();
    if (reader_timer_) reader_timer_->close();
}

bool Receiver::wants(std::string_view type) const {
    if (!options_.types) return true;
    return std::find(options_.types->begin(), options_.types->end(), type) != options_.types->end();
}

std::size_t Receiver::backlog_limit() const {
    const EventBounds& b = events_.bounds();
    return options_.backlog_holds_history ? std::max(b.backlog_bytes, b.history_bytes)
                                          : b.backlog_bytes;
}

std::string_view Receiver::backlog_limit_key() const {
    const EventBounds& b = events_.bounds();
    return options_.backlog_holds_history && b.history_bytes > b.backlog_bytes
               ? "event_history_bytes, as an async subscriber may hold a replay of the history"
               : "backlog_bytes";
}

std::string Receiver::describe() const {
    if (options_.is_handler) return fmt::format("handler '{}'", options_.name);
    return fmt::format("{} subscriber ({})", is_sync() ? "sync" : "async", options_.name);
}

std::size_t Receiver::queued() const {
    return queue_.size() + (is_sync() ? 0 : unread_written_events());
}

void Receiver::push(Entry e) {
    queue_bytes_ += e.event->line.size();
    queue_.push_back(std::move(e));
}

Receiver::Entry Receiver::pop_front() {
    Entry e = std::move(queue_.front());
    queue_.pop_front();
    queue_bytes_ -= e.event->line.size();
    return e;
}

void Receiver::enqueue(const EventPtr& e) {
    if (is_sync()) {
        push({e, false});
        if (!stream_) release(queue_.back());  // nobody to wait for while the peer is down
    } else {
        admit_async(e);
    }
    pump();
}

void Receiver::enqueue_replayed(const EventPtr& e) {
    if (is_sync())
        push({e, true});
    else
        admit_async(e);
    pump();
}

// Whether `events` more events of `bytes` more bytes fit beside what the peer has not read.
bool Receiver::fits_async(std::size_t events, std::size_t bytes) const {
    return written_events_ + queue_.size() + events <= options_.queue_limit &&
           written_bytes_ + queue_bytes_ + bytes <= backlog_limit();
}

void Receiver::admit_async(const EventPtr& e) {
    const std::size_t bytes = e->line.size();
    if (!fits_async(1, bytes)) {
        // Looking at the socket costs a syscall: only when the bounds seem reached.
        forget_read();
        while (!fits_async(1, bytes) && !queue_.empty()) drop_front();
        if (!fits_async(1, bytes)) {
            // What the peer has not read yet was all written already: this one is the
            // oldest that can still be dropped.
            count_drop(e->seq);
            return;
        }
    }
    push({e, true});
}

void Receiver::drop_front() {
    count_drop(queue_.front().event->seq);
    pop_front();
}

void Receiver::count_drop(uint64_t seq) {
    dropped_last_seq_ = seq;
    ++dropped_pending_;
    ++counters_.dropped;
}

Receiver::ReadPrefix Receiver::read_prefix() const {
    ReadPrefix prefix;
    if (written_.empty() || !stream_ || !stream_->is_open()) return prefix;
    std::size_t unread = stream_->unread_by_peer();
    std::size_t read = written_bytes_ > unread ? written_bytes_ - unread : 0;
    for (const Written& w : written_) {
        if (w.bytes > read) break;
        read -= w.bytes;
        prefix.bytes += w.bytes;
        ++prefix.lines;
        if (w.event) ++prefix.events;
    }
    return prefix;
}

void Receiver::forget_read() {
    ReadPrefix read = read_prefix();
    written_.erase(written_.begin(), written_.begin() + static_cast<std::ptrdiff_t>(read.lines));
    written_bytes_ -= read.bytes;
    written_events_ -= read.events;
}

std::size_t Receiver::unread_written_events() const {
    return written_events_ - read_prefix().events;
}

void Receiver::write_line(std::string_view line, bool event) {
    stream_->write(line);
    if (is_sync()) return;
    written_.push_back({line.size(), event});
    written_bytes_ += line.size();
    if (event) ++written_events_;
}

void Receiver::attach(PeerStream* stream) {
    stream_ = stream;
    in_flight_ = false;
    waiting_for_drain_ = false;
    pump();
}

void Receiver::detach() {
    stream_ = nullptr;
    in_flight_ = false;
    waiting_for_drain_ = false;
    if (ack_timer_) ack_timer_->stop();
    if (reader_timer_) reader_timer_->stop();
    // What was written went with the peer's socket.
    written_.clear();
    written_bytes_ = 0;
    written_events_ = 0;
    release_all();
}

void Receiver::close() {
    events_.remove(this);
    detach();
    queue_.clear();
    queue_bytes_ = 0;
    dropped_pending_ = 0;
}

void Receiver::release(Entry& e) {
    if (e.released) return;
    e.released = true;
    events_.release(*e.event);
}

void Receiver::release_all() {
    Lifetime::Watch alive = lifetime_.watch();
    for (std::size_t i = 0; i < queue_.size(); ++i) {
        release(queue_[i]);
        if (alive.ended()) return;
    }
}

void Receiver::pump() {
    if (!stream_ || !stream_->is_open()) return;
    if (is_sync()) {
        if (in_flight_ || queue_.empty()) return;
        write_line(queue_.front().event->line, true);
        in_flight_ = true;
        ++counters_.delivered;
        start_ack_timer();
        return;
    }
    while (!queue_.empty() || dropped_pending_ > 0) {
        if (stream_->queued_bytes() >= kAsyncHighWaterBytes) {
            if (!waiting_for_drain_) {
                waiting_for_drain_ = true;
                Lifetime::Watch alive = lifetime_.watch();
                stream_->when_drained([this, alive] {
                    if (alive.ended()) return;
                    waiting_for_drain_ = false;
                    pump();
                });
            }
            return;
        }
        if (dropped_pending_ > 0) {
            // Written once the peer has read something: were it written while the peer reads
            // nothing, the next drop would need another one.
            Event dropped;
            dropped.type = wire::event::kDropped;
            dropped.seq = dropped_last_seq_;
            dropped.count = dropped_pending_;
            dropped.time = std::chrono::system_clock::now();
            std::string line = dropped.to_line();
            if (written_events_ + queue_.size() >= options_.queue_limit ||
                !fits_async(0, line.size())) {
                forget_read();
                if (written_events_ + queue_.size() >= options_.queue_limit ||
                    !fits_async(0, line.size())) {
                    wait_for_reader();
                    return;
                }
            }
            write_line(line, false);
            dropped_pending_ = 0;
            continue;
        }
        Entry e = pop_front();
        write_line(e.event->line, true);
        ++counters_.delivered;
    }
    if (reader_timer_) reader_timer_->stop();
}

void Receiver::wait_for_reader() {
    if (!reader_timer_) reader_timer_ = std::make_unique<uv::Timer>(loop_);
    if (reader_timer_->active()) return;
    reader_timer_->start(
        kReaderPoll, [this] { pump(); }, kReaderPoll);
}

void Receiver::start_ack_timer() {
    uint64_t seq = queue_.front().event->seq;
    ack_timer_->start(options_.ack_timeout, [this, seq] {
        if (!in_flight_ || queue_.empty() || queue_.front().event->seq != seq) return;
        ++counters_.ack_timeouts;
        in_flight_ = false;
        // Whoever waits on this event goes on; the event stays first in line for the peer's
        // next incarnation.
        Lifetime::Watch alive = lifetime_.watch();
        release(queue_.front());
        if (alive.ended()) return;
        if (on_ack_timeout) on_ack_timeout();  // may destroy this receiver: nothing after
    });
}

void Receiver::on_line(std::string_view line) {
    auto unexpected = [&] {
        if (on_unexpected_line) on_unexpected_line(line);
    };
    if (!is_sync()) return unexpected();
    auto ack = parse_ack(line);
    if (!ack || !in_flight_ || queue_.empty()) return unexpected();
    if (ack->seq && *ack->seq != queue_.front().event->seq) return unexpected();
    ack_timer_->stop();
    in_flight_ = false;
    ++counters_.acked;
    Entry done = pop_front();
    Lifetime::Watch alive = lifetime_.watch();
    release(done);
    if (!alive.ended()) pump();
}

Receiver::Backlog Receiver::take_backlog() {
    events_.remove(this);
    stream_ = nullptr;
    in_flight_ = false;
    waiting_for_drain_ = false;
    if (ack_timer_) ack_timer_->stop();
    if (reader_timer_) reader_timer_->stop();
    written_.clear();
    written_bytes_ = 0;
    written_events_ = 0;
    Backlog out;
    for (auto& e : queue_) out.events.emplace_back(std::move(e.event), e.released);
    queue_.clear();
    queue_bytes_ = 0;
    out.dropped = std::exchange(dropped_pending_, 0);
    out.dropped_last_seq = dropped_last_seq_;
    return out;
}

void Receiver::adopt(Backlog backlog) {
    std::deque<Entry> mine = std::move(queue_);
    queue_.clear();
    queue_bytes_ = 0;
    std::vector<Entry> to_release;
    for (auto& [event, released] : backlog.events) {
        Entry e{std::move(event), released};
        if (!wants(e.event->type)) {
            to_release.push_back(std::move(e));
            continue;
        }
        if (!is_sync() || !stream_) to_release.push_back(e);
        push(std::move(e));
    }
    for (auto& e : mine) push(std::move(e));
    if (!is_sync()) {
        dropped_pending_ += backlog.dropped;
        dropped_last_seq_ = std::max(dropped_last_seq_, backlog.dropped_last_seq);
        while (!queue_.empty() && !fits_async(0, 0)) drop_front();
        for (auto& e : queue_) e.released = true;
    } else {
        for (auto& e : queue_)
            if (!stream_) e.released = true;
    }
    // Released last, and each only once: a release may complete a caller's operation.
    Lifetime::Watch alive = lifetime_.watch();
    for (auto& e : to_release) {
        if (!e.released) events_.release(*e.event);
        if (alive.ended()) return;
    }
    pump();
}

}  // namespace kvd
