// Ownership of one libuv handle. libuv keeps the handle's address until its close callback,
// so the handle memory is a separate allocation freed only there: the owning C++ object may
// be destroyed right after close(). Neither copyable nor movable; close() is idempotent.
#pragma once

#include <uv.h>

namespace kvd::uv {

template <typename T>
class Handle {
  public:
    Handle() : handle_(new T{}) {}
    ~Handle() { close(); }
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;

    T* get() { return handle_; }
    const T* get() const { return handle_; }
    uv_handle_t* raw() { return reinterpret_cast<uv_handle_t*>(handle_); }
    uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(handle_); }

    // Call after the uv_*_init that made the handle live succeeded: from then on the
    // memory is released through uv_close.
    void mark_initialized() { initialized_ = true; }
    bool initialized() const { return initialized_; }
    bool closed() const { return handle_ == nullptr; }

    void close() {
        if (!handle_) return;
        handle_->data = nullptr;  // callbacks still due (cancelled writes) see no owner
        if (initialized_) {
            if (!uv_is_closing(raw()))
                uv_close(raw(), [](uv_handle_t* h) { delete reinterpret_cast<T*>(h); });
        } else {
            delete handle_;
        }
        handle_ = nullptr;
    }

  private:
    T* handle_;
    bool initialized_ = false;
};

}  // namespace kvd::uv
