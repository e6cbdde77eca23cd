#include "daemon/reply.hpp"

namespace kvd {

Responder::Responder(std::weak_ptr<ReplySink> sink, uint64_t serial, std::string id_json)
    : sink_(std::move(sink)), serial_(serial), id_json_(std::move(id_json)) {}

void Responder::ok(const Json& result) const {
    if (auto s = sink_.lock()) s->complete(serial_, reply_ok_text(id_json_, dump_line(result)));
}

void Responder::ok_raw(std::string_view result_json) const {
    if (auto s = sink_.lock()) s->complete(serial_, reply_ok_text(id_json_, result_json));
}

void Responder::fail(wire::ErrorCode code, std::string_view message) const {
    if (auto s = sink_.lock()) s->complete(serial_, reply_error_text(id_json_, code, message));
}

void Responder::send(const Outcome& outcome) const {
    if (const auto* f = std::get_if<Failure>(&outcome))
        fail(f->code, f->message);
    else
        ok(std::get<Json>(outcome));
}

bool Responder::wanted() const {
    return !sink_.expired();
}

}  // namespace kvd
