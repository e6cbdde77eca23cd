#include "common/ack.hpp"

#include "common/protocol.hpp"

namespace kvd {

std::optional<Ack> parse_ack(std::string_view line) {
    auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
    while (!line.empty() && is_space(line.front())) line.remove_prefix(1);
    while (!line.empty() && is_space(line.back())) line.remove_suffix(1);
    if (line == "ok") return Ack{};
    if (line.empty() || line.front() != '{') return std::nullopt;
    Json j = Json::parse(line.begin(), line.end(), nullptr, false);
    if (j.is_discarded() || !j.is_object()) return std::nullopt;
    auto it = j.find("ack");
    if (it == j.end() || !it->is_number_unsigned()) return std::nullopt;
    return Ack{it->get<uint64_t>()};
}

}  // namespace kvd
