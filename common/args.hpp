// The arguments of one request, whichever parser read its line: the scanner
// (common/json_scan.hpp) for the common plain form, nlohmann for every other. Code that
// serves requests reads its arguments through this view only, so it is written once; which
// parser ran is a matter of speed, never of behaviour.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/json_scan.hpp"
#include "common/protocol.hpp"

namespace kvd {

class Args {
  public:
    enum class Type {
        absent,  // no such member
        null,
        string,
        uint,    // an integer from 0 to 2^64 - 1
        number,  // any other number
        boolean,
        string_list,  // an array of strings only
        other,        // any other array, or an object
    };

    // `scanned` must be readable() and outlive this view.
    explicit Args(const json_scan::Object& scanned) : scanned_(&scanned) {}
    // `object` is a JSON object, outliving this view.
    explicit Args(const Json& object) : json_(&object) {}

    // Whether every member of `scanned` reads through an Args the same as nlohmann would
    // read it: strings without escapes, numbers of plain digits within 64 bits. Anything
    // else goes to nlohmann, the one source of every answer about odd input.
    static bool readable(const json_scan::Object& scanned);

    Type type(std::string_view name) const;
    // Present and not null.
    bool has(std::string_view name) const;
    // The decoded text of a string member; empty for any other.
    std::string_view str(std::string_view name) const;
    // The value of a Type::uint member; 0 for any other.
    uint64_t uint(std::string_view name) const;
    // True only for a member that is `true`.
    bool flag(std::string_view name) const;
    // The strings of a Type::string_list member; empty for any other.
    std::vector<std::string> list(std::string_view name) const;
    // The member's JSON text as dump_line() writes it ("null" when absent): the text as sent
    // when that is already so, else written into `scratch`.
    std::string_view json(std::string_view name, std::string& scratch) const;

  private:
    const json_scan::Member* scanned_member(std::string_view name) const;
    const Json* json_member(std::string_view name) const;

    const json_scan::Object* scanned_ = nullptr;
    const Json* json_ = nullptr;
};

}  // namespace kvd
