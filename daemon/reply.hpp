// The answer to one request, apart from how it travels: ops answer through a Responder, and a
// ReplySink (a client connection, or a test's recorder) takes the finished reply line.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/protocol.hpp"
#include "common/wire.hpp"
#include "daemon/outcome.hpp"

namespace kvd {

// Where replies go: each request has a serial number from its sink, and its reply line
// (ending in '\n') arrives through complete(), once.
class ReplySink {
  public:
    virtual ~ReplySink() = default;
    virtual void complete(uint64_t serial, std::string&& reply_line) = 0;
};

// The right to answer one request, exactly once. Safe to hold after the client left: the
// answer is then dropped. Copyable so it can ride in std::function callbacks; the first
// answer wins.
class Responder {
  public:
    Responder() = default;
    // `id_json`: the request id as dump_line() serialises it ("null" when it had none).
    Responder(std::weak_ptr<ReplySink> sink, uint64_t serial, std::string id_json);

    // The same slot, answering with this request id.
    Responder with_id(const Json& id) const { return Responder(sink_, serial_, dump_line(id)); }
    Responder with_id_json(std::string_view id_json) const {
        return Responder(sink_, serial_, std::string(id_json));
    }

    void ok(const Json& result) const;
    // `result_json` is an already serialised JSON object, spliced in without re-parsing.
    void ok_raw(std::string_view result_json) const;
    void fail(wire::ErrorCode code, std::string_view message) const;
    void send(const Outcome& outcome) const;
    // True while the client that asked is still connected.
    bool wanted() const;

  private:
    std::weak_ptr<ReplySink> sink_;
    uint64_t serial_ = 0;
    std::string id_json_ = "null";
};

}  // namespace kvd
