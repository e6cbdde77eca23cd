// A bucket's state: an in-memory map of string keys to string values, driven by the
// request lines of common/bucket_protocol.hpp. Pure: a line in, a reply line out.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace kvd {

class Store {
public:
    // Handles one request line and returns its reply line (ending in '\n').
    std::string handle_line(std::string_view line);

    std::size_t size() const { return map_.size(); }

private:
    // Ordered so that `keys` lists keys sorted, the same way every time.
    std::map<std::string, std::string, std::less<>> map_;
};

}  // namespace kvd
