// CLOCK_MONOTONIC in nanoseconds: the one clock every bench program stamps with, so a time
// taken in kvd's handler or supervisord's listener compares with one taken in the driver.
#pragma once

#include <time.h>

#include <cstdint>

namespace kvd::bench {

inline int64_t mono_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

inline double ns_to_us(int64_t ns) {
    return static_cast<double>(ns) / 1e3;
}
inline double ns_to_s(int64_t ns) {
    return static_cast<double>(ns) / 1e9;
}

}  // namespace kvd::bench
