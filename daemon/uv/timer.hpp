// A one-shot or repeating libuv timer calling a std::function. Closing (or destroying) it
// cancels the callback.
#pragma once

#include <uv.h>

#include <chrono>
#include <functional>

#include "daemon/uv/handle.hpp"

namespace kvd::uv {

class Timer {
  public:
    explicit Timer(uv_loop_t* loop) {
        uv_timer_init(loop, handle_.get());
        handle_.mark_initialized();
        handle_.get()->data = this;
    }

    // Runs `fn` after `delay`, then every `repeat` if non-zero. Replaces any earlier start.
    void start(std::chrono::milliseconds delay, std::function<void()> fn,
               std::chrono::milliseconds repeat = std::chrono::milliseconds(0)) {
        fn_ = std::move(fn);
        uv_timer_start(
            handle_.get(),
            [](uv_timer_t* t) {
                // A copy: the callback may destroy this Timer (and fn_) while it runs.
                if (auto* self = static_cast<Timer*>(t->data)) std::function<void()>(self->fn_)();
            },
            static_cast<uint64_t>(delay.count()), static_cast<uint64_t>(repeat.count()));
    }
    void stop() {
        if (!handle_.closed()) uv_timer_stop(handle_.get());
    }
    bool active() const {
        return !handle_.closed() &&
               uv_is_active(reinterpret_cast<const uv_handle_t*>(handle_.get()));
    }
    // Unreferenced timers do not keep the loop alive (watchdog pings, for example).
    void unref() { uv_unref(handle_.raw()); }
    void close() { handle_.close(); }

  private:
    Handle<uv_timer_t> handle_;
    std::function<void()> fn_;
};

}  // namespace kvd::uv
