#include "bench/stats.hpp"

#include <algorithm>
#include <cmath>

namespace kvd::bench {

double percentile(std::vector<double> values, double p) {
    if (values.empty()) return 0;
    std::sort(values.begin(), values.end());
    double rank = p / 100.0 * static_cast<double>(values.size() - 1);
    auto lo = static_cast<std::size_t>(std::floor(rank));
    auto hi = static_cast<std::size_t>(std::ceil(rank));
    double frac = rank - static_cast<double>(lo);
    return values[lo] + (values[hi] - values[lo]) * frac;
}

Spread spread_of(const std::vector<double>& per_rep) {
    Spread s;
    s.n = per_rep.size();
    if (per_rep.empty()) return s;
    s.median = median(per_rep);
    auto [mn, mx] = std::minmax_element(per_rep.begin(), per_rep.end());
    s.min = *mn;
    s.max = *mx;
    return s;
}

std::vector<double> ratios(const std::vector<double>& a, const std::vector<double>& b) {
    std::vector<double> out;
    for (std::size_t i = 0; i < a.size() && i < b.size(); ++i)
        if (b[i] != 0) out.push_back(a[i] / b[i]);
    return out;
}

}  // namespace kvd::bench
