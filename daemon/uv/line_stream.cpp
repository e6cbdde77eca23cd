#include "daemon/uv/line_stream.hpp"

#include <linux/sockios.h>
#include <sys/ioctl.h>

#include <algorithm>

namespace kvd::uv {

namespace {

// Reads land here and are copied into the stream's LineBuffer at once, so one buffer serves
// every stream of the (single-threaded) loop instead of one per idle connection.
char g_read_buffer[64 * 1024];

struct WriteReq {
    uv_write_t req;
    std::string data;
};

// An output buffer that grew past this for a burst is given back once it is empty, so that
// an idle stream costs little whatever it once wrote.
constexpr std::size_t kKeptOutputCapacity = 128 * 1024;

}  // namespace

// ---- WriteBatcher ------------------------------------------------------------------------

WriteBatcher::WriteBatcher(uv_loop_t* loop) {
    uv_prepare_init(loop, prepare_.get());
    prepare_.mark_initialized();
    uv_check_init(loop, check_.get());
    check_.mark_initialized();
    prepare_.get()->data = this;
    check_.get()->data = this;
    // Before poll: output made by timers and deferred work leaves before the loop blocks.
    uv_prepare_start(prepare_.get(), [](uv_prepare_t* p) {
        if (auto* self = static_cast<WriteBatcher*>(p->data)) self->flush_all();
    });
    // After poll: output made by this iteration's I/O callbacks leaves in one batch.
    uv_check_start(check_.get(), [](uv_check_t* c) {
        if (auto* self = static_cast<WriteBatcher*>(c->data)) self->flush_all();
    });
    uv_unref(prepare_.raw());
    uv_unref(check_.raw());
}

WriteBatcher::~WriteBatcher() {
    close();
}

void WriteBatcher::close() {
    prepare_.close();
    check_.close();
}

void WriteBatcher::mark_dirty(LineStream* s) {
    dirty_.push_back(s);
}

void WriteBatcher::forget(LineStream* s) {
    dirty_.erase(std::remove(dirty_.begin(), dirty_.end(), s), dirty_.end());
}

void WriteBatcher::flush_all() {
    if (dirty_.empty()) return;
    std::vector<LineStream*> batch;
    batch.swap(dirty_);
    for (LineStream* s : batch) s->flush();
}

// ---- LineStream --------------------------------------------------------------------------

LineStream::LineStream(uv_loop_t* loop, WriteBatcher& batcher, std::size_t max_line_bytes)
    : loop_(loop), batcher_(batcher), in_(max_line_bytes) {}

LineStream::~LineStream() {
    if (dirty_) batcher_.forget(this);
    close();
}

int LineStream::open(int fd) {
    int rc = uv_pipe_init(loop_, handle_.get(), 0);
    if (rc != 0) {
        ::close(fd);
        return rc;
    }
    handle_.mark_initialized();
    handle_.get()->data = this;
    rc = uv_pipe_open(handle_.get(), fd);
    if (rc != 0) {
        ::close(fd);
        handle_.close();
    }
    return rc;
}

int LineStream::accept_from(uv_stream_t* server) {
    int rc = uv_pipe_init(loop_, handle_.get(), 0);
    if (rc != 0) return rc;
    handle_.mark_initialized();
    handle_.get()->data = this;
    rc = uv_accept(server, handle_.stream());
    if (rc != 0) handle_.close();
    return rc;
}

int LineStream::fd() const {
    uv_os_fd_t fd = -1;
    if (!handle_.closed()) uv_fileno(reinterpret_cast<const uv_handle_t*>(handle_.get()), &fd);
    return fd;
}

void LineStream::start(LineFn on_line, CloseFn on_close) {
    on_line_ = std::move(on_line);
    on_close_ = std::move(on_close);
    reading_ = true;
    if (!paused_) uv_read_start(handle_.stream(), on_alloc, on_read);
}

void LineStream::pause() {
    if (paused_) return;
    paused_ = true;
    if (reading_ && !handle_.closed()) uv_read_stop(handle_.stream());
}

void LineStream::resume() {
    if (!paused_) return;
    paused_ = false;
    // Resumed from a line's own callback (a request that failed at once completes and
    // lifts the backpressure it set): the delivery under way goes on with the next line.
    // Delivering from here would recurse once per buffered line, and a client pipelining
    // thousands of requests to a dead bucket would overflow kvd's stack.
    if (!delivering_) {
        Lifetime::Watch alive = lifetime_.watch();
        deliver_lines();
        if (alive.ended()) return;
    }
    if (reading_ && !paused_ && !handle_.closed())
        uv_read_start(handle_.stream(), on_alloc, on_read);
}

void LineStream::on_alloc(uv_handle_t*, size_t, uv_buf_t* buf) {
    buf->base = g_read_buffer;
    buf->len = sizeof g_read_buffer;
}

void LineStream::on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
    auto* self = static_cast<LineStream*>(s->data);
    if (!self || nread == 0) return;
    if (nread < 0) {
        // Lines complete before end of file are still delivered.
        Lifetime::Watch alive = self->lifetime_.watch();
        self->deliver_lines();
        if (alive.ended() || !self->reading_) return;
        if (nread == UV_EOF)
            self->end(StreamEnd::eof, 0);
        else
            self->end(StreamEnd::error, static_cast<int>(nread));
        return;
    }
    self->in_.append(std::string_view(buf->base, static_cast<std::size_t>(nread)));
    self->deliver_lines();
}

void LineStream::deliver_lines() {
    Lifetime::Watch alive = lifetime_.watch();
    // One buffer for the whole batch (lines are handed out as views).
    std::string line;
    delivering_ = true;
    while (reading_ && !paused_ && in_.next_line(line)) {
        on_line_(line);
        if (alive.ended()) return;
    }
    delivering_ = false;
    if (reading_ && in_.overflowed()) end(StreamEnd::line_too_long, 0);
}

void LineStream::end(StreamEnd why, int err) {
    if (!reading_) return;
    reading_ = false;
    if (!handle_.closed()) uv_read_stop(handle_.stream());
    // Taken before close(), which forgets it: the owner must hear of an error too (a peer
    // that hangs up with data unread shows up as a reset, not as end of file).
    CloseFn fn = std::move(on_close_);
    on_close_ = nullptr;
    if (why == StreamEnd::error) close();
    if (fn) fn(why, err);  // may destroy this object
}

void LineStream::write(std::string_view bytes) {
    if (handle_.closed() || bytes.empty()) return;
    out_.append(bytes);
    if (!dirty_ && in_flight_ == 0) {
        dirty_ = true;
        batcher_.mark_dirty(this);
    }
}

void LineStream::flush() {
    dirty_ = false;
    if (handle_.closed() || in_flight_ != 0) return;
    if (!out_.empty()) {
        // Most writes fit the socket buffer: try the syscall directly, queue only the rest.
        uv_buf_t b = uv_buf_init(out_.data(), static_cast<unsigned>(out_.size()));
        int n = uv_try_write(handle_.stream(), &b, 1);
        if (n < 0 && n != UV_EAGAIN && n != UV_ENOSYS) {
            fail_write(n);
            return;
        }
        if (n != static_cast<int>(out_.size())) {
            // The buffer itself goes with the write, not a copy of its rest: a client that
            // does not read must cost what it left unread, not twice that.
            auto* req = new WriteReq;
            req->data = std::move(out_);
            out_ = std::string();
            std::size_t written = n > 0 ? static_cast<std::size_t>(n) : 0;
            in_flight_ = req->data.size() - written;
            uv_buf_t wb =
                uv_buf_init(req->data.data() + written, static_cast<unsigned>(in_flight_));
            int rc = uv_write(&req->req, handle_.stream(), &wb, 1, [](uv_write_t* r, int status) {
                auto* wr = reinterpret_cast<WriteReq*>(r);
                auto* self = static_cast<LineStream*>(r->handle->data);
                delete wr;
                if (self) self->on_write_done(status);
            });
            if (rc != 0) {
                delete req;
                in_flight_ = 0;
                fail_write(rc);
            }
            return;
        }
        out_.clear();
        if (out_.capacity() > kKeptOutputCapacity) out_.shrink_to_fit();
    }
    // Everything queued so far reached the kernel.
    if (!drained_.empty()) {
        auto fns = std::move(drained_);
        drained_.clear();
        Lifetime::Watch alive = lifetime_.watch();
        for (auto& fn : fns) {
            fn();
            if (alive.ended()) return;
        }
    }
    if (shutdown_pending_ && queued_bytes() == 0) shutdown_write();
}

void LineStream::on_write_done(int status) {
    in_flight_ = 0;
    if (status != 0) {
        fail_write(status);
        return;
    }
    flush();
}

void LineStream::fail_write(int err) {
    Lifetime::Watch alive = lifetime_.watch();
    end(StreamEnd::error, err);   // its callback may destroy this object
    if (!alive.ended()) close();  // also when reading had ended already
}

std::size_t LineStream::unread_by_peer() const {
    std::size_t unread = queued_bytes();
    int fd = this->fd();
    int in_kernel = 0;
    if (fd >= 0 && ioctl(fd, SIOCOUTQ, &in_kernel) == 0 && in_kernel > 0)
        unread += static_cast<std::size_t>(in_kernel);
    return unread;
}

void LineStream::when_drained(std::function<void()> fn) {
    if (queued_bytes() == 0 || handle_.closed()) {
        fn();
        return;
    }
    drained_.push_back(std::move(fn));
}

void LineStream::shutdown_write() {
    if (handle_.closed()) return;
    if (queued_bytes() != 0) {
        shutdown_pending_ = true;
        return;
    }
    shutdown_pending_ = false;
    auto* req = new uv_shutdown_t;
    if (uv_shutdown(req, handle_.stream(), [](uv_shutdown_t* r, int) { delete r; }) != 0)
        delete req;
}

void LineStream::close() {
    reading_ = false;
    on_close_ = nullptr;
    out_.clear();
    drained_.clear();
    handle_.close();
}

}  // namespace kvd::uv
