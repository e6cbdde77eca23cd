// The results: one Row per figure, each with kvd's value, its spread over the repetitions,
// the reference measured in the same run, the ratio, and whether the target is met. Printed
// as a table, written as JSON (results.json) and as Markdown (RESULTS.md).
#pragma once

#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace kvd::bench {

enum class Better { higher, lower };

// One measured system in a row.
struct Side {
    bool present = false;
    double value = 0;  // the headline: median over repetitions, or a pooled percentile
    double lo = 0;     // spread: smallest and largest per-repetition value
    double hi = 0;
    std::vector<double> per_rep;
    std::size_t samples = 0;  // pooled latency samples (0 for per-repetition figures)
    // The pooled samples' distribution, for the CDF plots (bench/plot.sh): [percent, value]
    // at 0, 1, …, 99, 99.5, 99.9 and 100 percent; empty for per-repetition figures.
    std::vector<std::pair<double, double>> quantiles;
};
// Median and extremes of one value per repetition.
Side side_from_reps(const std::vector<double>& per_rep);
// The `pct` percentile over every sample of every repetition; the spread is that
// percentile's range over the repetitions.
Side side_pooled(const std::vector<std::vector<double>>& per_rep_samples, double pct);

enum class TargetKind { none, ratio_at_least, ratio_at_most, value_at_most, value_at_least };
struct Target {
    TargetKind kind = TargetKind::none;
    double threshold = 0;
    std::string text;  // as printed, e.g. "≥ 0.8× floor"
};
Target ratio_at_least(double x, const std::string& what);
Target ratio_at_most(double x, const std::string& what);
Target value_at_most(double x, const std::string& text);
Target value_at_least(double x, const std::string& text);

struct Row {
    std::string section;
    std::string name;
    std::string unit;
    Better better = Better::higher;
    Side kvd;
    std::string ref_name;  // "" when there is no reference
    Side ref;
    std::optional<double> ratio;  // kvd ÷ reference
    std::vector<double> ratio_per_rep;
    Target target;
    std::optional<bool> met;
    std::string note;
    std::string skipped;  // why the row could not be measured ("" = it was)
};

// kvd against a reference, both measured once per repetition, interleaved: the ratio is the
// median of the per-repetition ratios (robust to the machine's drift between repetitions).
Row paired_row(const std::string& section, const std::string& name, const std::string& unit,
               Better better, const std::vector<double>& kvd, const std::string& ref_name,
               const std::vector<double>& ref, Target target = {});
// Latency percentile rows: samples pooled over the repetitions; ratio of the pooled figures.
Row latency_row(const std::string& section, const std::string& name, double pct,
                const std::vector<std::vector<double>>& kvd, const std::string& ref_name,
                const std::vector<std::vector<double>>& ref, Target target = {});
// A figure of kvd alone.
Row value_row(const std::string& section, const std::string& name, const std::string& unit,
              Better better, const std::vector<double>& kvd, Target target = {});

class Report {
  public:
    void add(Row row);
    void skip(const std::string& section, const std::string& name, const std::string& why);
    void note(const std::string& text) { notes_.push_back(text); }

    nlohmann::json meta;
    const std::vector<Row>& rows() const { return rows_; }

    void print(std::FILE* out) const;
    std::string markdown() const;
    nlohmann::json json() const;

  private:
    std::vector<Row> rows_;
    std::vector<std::string> notes_;
};

std::string format_number(double v);

}  // namespace kvd::bench
