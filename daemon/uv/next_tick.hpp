// Runs a std::function once on the next loop iteration, after the timers and before the loop
// polls for I/O (which does not block while it is pending). A zero-delay uv::Timer is no
// substitute: libuv 1.44 runs a timer restarted from a timer callback again in the same
// timer phase, so work that re-arms itself never lets the loop poll. Closing (or destroying)
// it cancels the callback.
#pragma once

#include <uv.h>

#include <functional>

#include "daemon/uv/handle.hpp"

namespace kvd::uv {

class NextTick {
  public:
    explicit NextTick(uv_loop_t* loop) {
        uv_idle_init(loop, handle_.get());
        handle_.mark_initialized();
        handle_.get()->data = this;
    }

    // Schedules `fn` (replacing one already scheduled).
    void schedule(std::function<void()> fn) {
        fn_ = std::move(fn);
        uv_idle_start(handle_.get(), [](uv_idle_t* h) {
            auto* self = static_cast<NextTick*>(h->data);
            if (!self) return;
            uv_idle_stop(h);
            // A copy: the callback may destroy this object (and fn_) while it runs.
            std::function<void()>(self->fn_)();
        });
    }
    void close() { handle_.close(); }

  private:
    Handle<uv_idle_t> handle_;
    std::function<void()> fn_;
};

}  // namespace kvd::uv
