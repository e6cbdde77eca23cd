#include "common/args.hpp"

#include <charconv>

namespace kvd {

namespace {

using json_scan::Kind;

// Plain digits within 64 bits: what nlohmann reads as an unsigned integer.
bool plain_uint(std::string_view raw, uint64_t* value = nullptr) {
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), v);
    if (ec != std::errc() || end != raw.data() + raw.size()) return false;
    if (value) *value = v;
    return true;
}

bool is_string_list(const Json& v) {
    if (!v.is_array()) return false;
    for (const auto& e : v)
        if (!e.is_string()) return false;
    return true;
}

Args::Type json_type(const Json& v) {
    using Type = Args::Type;
    if (v.is_null()) return Type::null;
    if (v.is_string()) return Type::string;
    if (v.is_boolean()) return Type::boolean;
    if (v.is_number_unsigned()) return Type::uint;
    if (v.is_number_integer()) return v.get<int64_t>() >= 0 ? Type::uint : Type::number;
    if (v.is_number()) return Type::number;
    if (is_string_list(v)) return Type::string_list;
    return Type::other;
}

// A list or object member of a scanned line, read by nlohmann (such arguments are rare,
// and the scanner has validated the text).
Json parse_scanned(const json_scan::Member& m) {
    return Json::parse(m.raw.begin(), m.raw.end(), nullptr, false);
}

}  // namespace

bool Args::readable(const json_scan::Object& scanned) {
    for (std::size_t i = 0; i < scanned.size(); ++i) {
        const json_scan::Member& m = scanned[i];
        if (m.kind == Kind::string && !m.plain) return false;
        if (m.kind == Kind::number && !plain_uint(m.raw)) return false;
    }
    return true;
}

const json_scan::Member* Args::scanned_member(std::string_view name) const {
    return scanned_->find(name);
}

const Json* Args::json_member(std::string_view name) const {
    auto it = json_->find(name);
    return it == json_->end() ? nullptr : &*it;
}

Args::Type Args::type(std::string_view name) const {
    if (json_) {
        const Json* v = json_member(name);
        return v ? json_type(*v) : Type::absent;
    }
    const json_scan::Member* m = scanned_member(name);
    if (!m) return Type::absent;
    switch (m->kind) {
        case Kind::string:
            return Type::string;
        case Kind::number:
            return Type::uint;  // readable() let only these through
        case Kind::literal_true:
        case Kind::literal_false:
            return Type::boolean;
        case Kind::null:
            return Type::null;
        case Kind::object:
            return Type::other;
        case Kind::array:
            return is_string_list(parse_scanned(*m)) ? Type::string_list : Type::other;
    }
    return Type::other;
}

bool Args::has(std::string_view name) const {
    Type t = type(name);
    return t != Type::absent && t != Type::null;
}

std::string_view Args::str(std::string_view name) const {
    if (json_) {
        const Json* v = json_member(name);
        return v && v->is_string() ? std::string_view(*v->get_ptr<const std::string*>())
                                   : std::string_view();
    }
    const json_scan::Member* m = scanned_member(name);
    return m && m->kind == Kind::string ? m->text() : std::string_view();
}

uint64_t Args::uint(std::string_view name) const {
    if (type(name) != Type::uint) return 0;
    if (json_) return json_member(name)->get<uint64_t>();
    uint64_t v = 0;
    plain_uint(scanned_member(name)->raw, &v);
    return v;
}

bool Args::flag(std::string_view name) const {
    if (json_) {
        const Json* v = json_member(name);
        return v && v->is_boolean() && v->get<bool>();
    }
    const json_scan::Member* m = scanned_member(name);
    return m && m->kind == Kind::literal_true;
}

std::vector<std::string> Args::list(std::string_view name) const {
    if (type(name) != Type::string_list) return {};
    if (json_) return json_member(name)->get<std::vector<std::string>>();
    return parse_scanned(*scanned_member(name)).get<std::vector<std::string>>();
}

std::string_view Args::json(std::string_view name, std::string& scratch) const {
    if (json_) {
        const Json* v = json_member(name);
        if (!v) return "null";
        scratch = dump_line(*v);
        return scratch;
    }
    const json_scan::Member* m = scanned_member(name);
    if (!m) return "null";
    if (m->canonical) return m->raw;
    scratch = dump_line(parse_scanned(*m));
    return scratch;
}

}  // namespace kvd
