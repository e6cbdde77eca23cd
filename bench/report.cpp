#include "bench/report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "bench/stats.hpp"

namespace kvd::bench {

Side side_from_reps(const std::vector<double>& per_rep) {
    Side s;
    if (per_rep.empty()) return s;
    Spread sp = spread_of(per_rep);
    s.present = true;
    s.value = sp.median;
    s.lo = sp.min;
    s.hi = sp.max;
    s.per_rep = per_rep;
    return s;
}

Side side_pooled(const std::vector<std::vector<double>>& per_rep_samples, double pct) {
    Side s;
    std::vector<double> all, per_rep;
    for (const auto& rep : per_rep_samples) {
        if (rep.empty()) continue;
        all.insert(all.end(), rep.begin(), rep.end());
        per_rep.push_back(percentile(rep, pct));
    }
    if (all.empty()) return s;
    s.present = true;
    s.value = percentile(all, pct);
    s.lo = *std::min_element(per_rep.begin(), per_rep.end());
    s.hi = *std::max_element(per_rep.begin(), per_rep.end());
    s.per_rep = per_rep;
    s.samples = all.size();
    std::vector<double> percents;
    for (int p = 0; p < 100; ++p) percents.push_back(p);
    percents.insert(percents.end(), {99.5, 99.9, 100});
    for (double p : percents) s.quantiles.emplace_back(p, percentile(all, p));
    return s;
}

Target ratio_at_least(double x, const std::string& what) {
    return {TargetKind::ratio_at_least, x, fmt::format("≥ {}× {}", x, what)};
}
Target ratio_at_most(double x, const std::string& what) {
    return {TargetKind::ratio_at_most, x, fmt::format("≤ {}× {}", x, what)};
}
Target value_at_most(double x, const std::string& text) {
    return {TargetKind::value_at_most, x, text};
}
Target value_at_least(double x, const std::string& text) {
    return {TargetKind::value_at_least, x, text};
}

Row paired_row(const std::string& section, const std::string& name, const std::string& unit,
               Better better, const std::vector<double>& kvd, const std::string& ref_name,
               const std::vector<double>& ref, Target target) {
    Row r;
    r.section = section;
    r.name = name;
    r.unit = unit;
    r.better = better;
    r.kvd = side_from_reps(kvd);
    r.ref_name = ref_name;
    r.ref = side_from_reps(ref);
    r.ratio_per_rep = ratios(kvd, ref);
    if (!r.ratio_per_rep.empty()) r.ratio = median(r.ratio_per_rep);
    r.target = std::move(target);
    return r;
}

Row latency_row(const std::string& section, const std::string& name, double pct,
                const std::vector<std::vector<double>>& kvd, const std::string& ref_name,
                const std::vector<std::vector<double>>& ref, Target target) {
    Row r;
    r.section = section;
    r.name = name;
    r.unit = "µs";
    r.better = Better::lower;
    r.kvd = side_pooled(kvd, pct);
    r.ref_name = ref_name;
    if (!ref.empty()) {
        r.ref = side_pooled(ref, pct);
        if (r.ref.present && r.ref.value > 0 && r.kvd.present) r.ratio = r.kvd.value / r.ref.value;
        r.ratio_per_rep = ratios(r.kvd.per_rep, r.ref.per_rep);
    }
    r.target = std::move(target);
    return r;
}

Row value_row(const std::string& section, const std::string& name, const std::string& unit,
              Better better, const std::vector<double>& kvd, Target target) {
    Row r;
    r.section = section;
    r.name = name;
    r.unit = unit;
    r.better = better;
    r.kvd = side_from_reps(kvd);
    r.target = std::move(target);
    return r;
}

void Report::add(Row row) {
    switch (row.target.kind) {
        case TargetKind::none:
            break;
        case TargetKind::ratio_at_least:
            if (row.ratio) row.met = *row.ratio >= row.target.threshold;
            break;
        case TargetKind::ratio_at_most:
            if (row.ratio) row.met = *row.ratio <= row.target.threshold;
            break;
        case TargetKind::value_at_most:
            if (row.kvd.present) row.met = row.kvd.value <= row.target.threshold;
            break;
        case TargetKind::value_at_least:
            if (row.kvd.present) row.met = row.kvd.value >= row.target.threshold;
            break;
    }
    rows_.push_back(std::move(row));
}

void Report::skip(const std::string& section, const std::string& name, const std::string& why) {
    Row r;
    r.section = section;
    r.name = name;
    r.skipped = why;
    rows_.push_back(std::move(r));
}

std::string format_number(double v) {
    double a = std::fabs(v);
    if (a == 0) return "0";
    if (a >= 100) return fmt::format("{:.0f}", v);
    if (a >= 10) return fmt::format("{:.1f}", v);
    if (a >= 1) return fmt::format("{:.2f}", v);
    return fmt::format("{:.2g}", v);  // three significant digits would claim too much
}

namespace {

std::string value_text(const Side& s) {
    return s.present ? format_number(s.value) : "—";
}
std::string spread_text(const Side& s) {
    if (!s.present) return "";
    return format_number(s.lo) + "–" + format_number(s.hi);
}
std::string met_text(const Row& r) {
    if (!r.skipped.empty()) return "skipped";
    if (r.target.kind == TargetKind::none) return "";
    if (!r.met) return "n/a";
    return *r.met ? "met" : "MISSED";
}

struct Cells {
    std::vector<std::string> c;
};

// Rows are shown grouped by section in this order, in the order they were added within one
// (the scale section adds create and exit rows measured at 10,000 buckets alive).
int section_rank(const std::string& s) {
    static const char* order[] = {"create", "exit", "notify", "data", "scale", "supervisor"};
    for (int i = 0; i < 6; ++i)
        if (s.rfind(order[i], 0) == 0) return i;
    return 6;
}

std::vector<Row> ordered(const std::vector<Row>& rows) {
    std::vector<Row> out = rows;
    std::stable_sort(out.begin(), out.end(), [](const Row& a, const Row& b) {
        return section_rank(a.section) < section_rank(b.section);
    });
    return out;
}

std::vector<Cells> table_cells(const std::vector<Row>& unordered) {
    std::vector<Cells> out;
    for (const auto& r : ordered(unordered)) {
        Cells x;
        std::string name = r.name + (r.unit.empty() ? "" : " (" + r.unit + ")");
        if (!r.skipped.empty()) {
            x.c = {r.section, name, "", "", "", "", "", "", "", "skipped: " + r.skipped};
        } else {
            x.c = {r.section,
                   name,
                   value_text(r.kvd),
                   spread_text(r.kvd),
                   r.ref_name,
                   r.ref_name.empty() ? "" : value_text(r.ref),
                   r.ref_name.empty() ? "" : spread_text(r.ref),
                   r.ratio ? format_number(*r.ratio) + "×" : "",
                   r.target.text,
                   met_text(r)};
        }
        out.push_back(std::move(x));
    }
    return out;
}

const std::vector<std::string> kHeader = {"section",   "figure", "kvd",         "kvd min–max",
                                          "reference", "ref",    "ref min–max", "kvd/ref",
                                          "target",    "met"};

// Display width: UTF-8 continuation bytes take no column.
std::size_t width(const std::string& s) {
    std::size_t w = 0;
    for (unsigned char ch : s)
        if ((ch & 0xC0) != 0x80) ++w;
    return w;
}

}  // namespace

void Report::print(std::FILE* out) const {
    auto cells = table_cells(rows_);
    std::vector<std::size_t> w(kHeader.size());
    for (std::size_t i = 0; i < kHeader.size(); ++i) w[i] = width(kHeader[i]);
    for (const auto& row : cells)
        for (std::size_t i = 0; i < row.c.size() && i + 1 < kHeader.size(); ++i)
            w[i] = std::max(w[i], width(row.c[i]));
    auto line = [&](const std::vector<std::string>& c) {
        std::string s;
        for (std::size_t i = 0; i < c.size(); ++i) {
            s += c[i];
            if (i + 1 < c.size()) s += std::string(w[i] - std::min(w[i], width(c[i])) + 2, ' ');
        }
        std::fprintf(out, "%s\n", s.c_str());
    };
    line(kHeader);
    std::string last_section;
    for (const auto& row : cells) {
        if (row.c[0] != last_section && !last_section.empty()) std::fprintf(out, "\n");
        last_section = row.c[0];
        line(row.c);
    }
    if (!notes_.empty()) {
        std::fprintf(out, "\nNotes:\n");
        for (const auto& n : notes_) std::fprintf(out, "- %s\n", n.c_str());
    }
}

std::string Report::markdown() const {
    std::string md;
    auto cells = table_cells(rows_);
    auto row_md = [&](const std::vector<std::string>& c) {
        md += "|";
        for (const auto& s : c) md += " " + s + " |";
        md += "\n";
    };
    row_md(kHeader);
    md += "|";
    for (std::size_t i = 0; i < kHeader.size(); ++i)
        md += (i >= 2 && i != 4 && i != 8 && i != 9) ? " ---: |" : " --- |";
    md += "\n";
    for (const auto& row : cells) {
        auto c = row.c;
        if (c[9] == "MISSED") c[9] = "**MISSED**";
        row_md(c);
    }
    if (!notes_.empty()) {
        md += "\n";
        for (const auto& n : notes_) md += "- " + n + "\n";
    }
    return md;
}

nlohmann::json Report::json() const {
    nlohmann::json rows = nlohmann::json::array();
    auto side = [](const Side& s) -> nlohmann::json {
        if (!s.present) return nullptr;
        nlohmann::json j = {
            {"value", s.value}, {"min", s.lo}, {"max", s.hi}, {"per_rep", s.per_rep}};
        if (s.samples) j["samples"] = s.samples;
        if (!s.quantiles.empty()) j["quantiles"] = s.quantiles;
        return j;
    };
    for (const auto& r : ordered(rows_)) {
        nlohmann::json j = {{"section", r.section}, {"name", r.name}};
        if (!r.skipped.empty()) {
            j["skipped"] = r.skipped;
            rows.push_back(j);
            continue;
        }
        j["unit"] = r.unit;
        j["better"] = r.better == Better::higher ? "higher" : "lower";
        j["kvd"] = side(r.kvd);
        if (!r.ref_name.empty()) {
            j["reference"] = r.ref_name;
            j["ref"] = side(r.ref);
        }
        j["ratio"] = r.ratio ? nlohmann::json(*r.ratio) : nlohmann::json(nullptr);
        if (!r.ratio_per_rep.empty()) j["ratio_per_rep"] = r.ratio_per_rep;
        if (r.target.kind != TargetKind::none) {
            j["target"] = r.target.text;
            j["met"] = r.met ? nlohmann::json(*r.met) : nlohmann::json(nullptr);
        }
        if (!r.note.empty()) j["note"] = r.note;
        rows.push_back(j);
    }
    return {{"meta", meta}, {"rows", rows}, {"notes", notes_}};
}

}  // namespace kvd::bench
