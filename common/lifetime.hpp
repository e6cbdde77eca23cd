// How an object learns that a call it made destroyed it.
//
// kvd is one loop of callbacks, and a callback may end its caller: a stream hands a line to
// its connection, which closes and frees the stream; a receiver releases an event, and the
// operation waiting on it removes the receiver. An object that makes such a call holds a
// Lifetime, takes a Watch before the call (or captures one in a callback it leaves with
// another object), and returns without touching a member if the Watch says it ended:
//
//     Lifetime::Watch watch = lifetime_.watch();
//     on_line_(line);              // may destroy this object
//     if (watch.ended()) return;
//
// This is the one mechanism kvd uses for it. Single-threaded, like the loop. (A Connection is
// the one object kvd shares through shared_ptr, since replies still under way refer to it; it
// asks its own weak_ptr the same question.)
#pragma once

#include <memory>

namespace kvd {

class Lifetime {
  public:
    class Watch {
      public:
        bool ended() const { return token_.expired(); }

      private:
        friend class Lifetime;
        explicit Watch(const std::shared_ptr<char>& token) : token_(token) {}
        std::weak_ptr<char> token_;
    };

    Lifetime() = default;
    Lifetime(const Lifetime&) = delete;
    Lifetime& operator=(const Lifetime&) = delete;

    Watch watch() const { return Watch(token_); }

  private:
    std::shared_ptr<char> token_ = std::make_shared<char>();
};

}  // namespace kvd
