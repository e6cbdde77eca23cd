#include "daemon/logs/capture.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "daemon/logs/bucket_log.hpp"

namespace kvd::logs {

namespace {
// One read per pipe per loop turn lands here; the lines are copied out at once.
char g_read_buffer[64 * 1024];
}  // namespace

void TokenBucket::refill(uint64_t now_ms) {
    if (started_ && now_ms > last_ms_) {
        auto add = static_cast<int64_t>((now_ms - last_ms_) * rate_ / 1000);
        tokens_ = std::min(static_cast<int64_t>(burst_), tokens_ + add);
    }
    started_ = true;
    last_ms_ = now_ms;
}

uint64_t TokenBucket::wait_ms() const {
    if (tokens_ > 0) return 0;
    uint64_t deficit = static_cast<uint64_t>(-tokens_) + 1;
    return std::max<uint64_t>(1, (deficit * 1000 + rate_ - 1) / rate_);
}

Capture::Capture(uv_loop_t* loop, BucketLog& log, Stream stream, TokenBucket& total)
    : loop_(loop),
      log_(log),
      stream_(stream),
      total_(total),
      own_(kRateBytesPerSec, kRateBytesPerSec) {}

Capture::~Capture() {
    if (next_turn_) next_turn_->close();
    if (refill_) refill_->close();
    pipe_.close();
}

int Capture::start(int fd) {
    int rc = uv_pipe_init(loop_, pipe_.get(), 0);
    if (rc != 0) {
        ::close(fd);
        return rc;
    }
    pipe_.mark_initialized();
    pipe_.get()->data = this;
    rc = uv_pipe_open(pipe_.get(), fd);
    if (rc != 0) {
        ::close(fd);
        pipe_.close();
        return rc;
    }
    return uv_read_start(pipe_.stream(), on_alloc, on_read);
}

void Capture::on_alloc(uv_handle_t*, size_t, uv_buf_t* buf) {
    buf->base = g_read_buffer;
    buf->len = sizeof g_read_buffer;
}

void Capture::on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
    auto* self = static_cast<Capture*>(s->data);
    if (!self || nread == 0) return;
    if (nread < 0) {
        self->end();  // end of file (the process and its children closed it) or an error
        return;
    }
    self->take(std::string_view(buf->base, static_cast<std::size_t>(nread)));
    self->pace();
}

void Capture::take(std::string_view bytes) {
    WallTime now = std::chrono::system_clock::now();
    splitter_.feed(bytes, [&](std::string_view line, std::size_t cut) {
        log_.append(stream_, line, cut, now);
    });
    log_.flush(uv_now(loop_));
    own_.take(bytes.size());
    total_.take(bytes.size());
}

// After each read: the next one waits for the next loop turn, or for tokens.
void Capture::pace() {
    uv_read_stop(pipe_.stream());
    schedule_read();
}

void Capture::schedule_read() {
    uint64_t now = uv_now(loop_);
    own_.refill(now);
    total_.refill(now);
    uint64_t wait = std::max(own_.wait_ms(), total_.wait_ms());
    if (wait == 0) {
        if (!next_turn_) next_turn_ = std::make_unique<uv::NextTick>(loop_);
        next_turn_->schedule([this] { resume(); });
        return;
    }
    if (!refill_) refill_ = std::make_unique<uv::Timer>(loop_);
    refill_->start(std::chrono::milliseconds(wait), [this] { schedule_read(); });
}

void Capture::resume() {
    if (!pipe_.closed()) uv_read_start(pipe_.stream(), on_alloc, on_read);
}

void Capture::end() {
    splitter_.finish([&](std::string_view line, std::size_t cut) {
        log_.append(stream_, line, cut, std::chrono::system_clock::now());
    });
    log_.flush(uv_now(loop_));
    pipe_.close();
    log_.capture_ended(this);  // destroys this object
}

}  // namespace kvd::logs
