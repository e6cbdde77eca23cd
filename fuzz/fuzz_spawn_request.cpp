// Fuzzes the spawner's request datagrams (daemon/proc/spawn_protocol.hpp): any bytes either
// decode to a request that can travel and that encodes back to the same bytes, or are
// refused; nothing crashes.
#include <string_view>

#include "daemon/proc/spawn_protocol.hpp"
#include "fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    using namespace kvd::spawn_protocol;
    std::string_view datagram = kvd::fuzz::as_text(data, size);
    auto request = decode(datagram);
    if (!request) return 0;
    FUZZ_CHECK(request_problem(*request).empty(), "a decoded request cannot travel");
    std::string again = encode(*request);
    // Environment entries come back sorted by name: the same request, maybe other bytes.
    auto twice = decode(again);
    FUZZ_CHECK(twice && *twice == *request, "encode/decode changed the request");
    FUZZ_CHECK(encode(*twice) == again, "encoding is not stable");
    return 0;
}
