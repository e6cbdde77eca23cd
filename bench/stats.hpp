// Order statistics for repeated runs: medians, percentiles, spreads.
#pragma once

#include <cstddef>
#include <vector>

namespace kvd::bench {

// The p-th percentile (0 ≤ p ≤ 100) of `values`, linearly interpolated between the closest
// ranks; 0 for no values.
double percentile(std::vector<double> values, double p);
inline double median(const std::vector<double>& values) {
    return percentile(values, 50);
}

// A figure measured once per repetition: the median and the extremes.
struct Spread {
    double median = 0;
    double min = 0;
    double max = 0;
    std::size_t n = 0;
};
Spread spread_of(const std::vector<double>& per_rep);

// Element-wise a[i] / b[i] (pairs with a zero b are left out).
std::vector<double> ratios(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace kvd::bench
