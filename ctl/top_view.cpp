// `kvctl top`'s model, sort orders, keys and screen layout (see top_view.hpp).
#include "ctl/top_view.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <set>

#include "ctl/output.hpp"

namespace kvd::ctl::top {

namespace {

std::string text_field(const Json& object, std::string_view key) {
    const Json& value = field(object, key);
    if (value.is_string()) return value.get<std::string>();
    if (value.is_null()) return "-";
    return dump_line(value);
}

// A non-negative integer field, else nullopt: kvd reports null for what it does not know.
std::optional<int64_t> count_field(const Json& object, std::string_view key) {
    const Json& value = field(object, key);
    if (value.is_number_unsigned()) {
        auto v = value.get<uint64_t>();
        if (v > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
        return static_cast<int64_t>(v);
    }
    if (value.is_number_integer() && value.get<int64_t>() >= 0) return value.get<int64_t>();
    return std::nullopt;
}

const Json& array_field(const Json& object, std::string_view key) {
    static const Json kEmpty = Json::array();
    const Json& value = field(object, key);
    return value.is_array() ? value : kEmpty;
}

}  // namespace

void RateMeter::sample(SteadyTime at, uint64_t counter) {
    if (!base_ || counter < base_->second || at < base_->first) {
        base_ = {at, counter};
        rate_.reset();
        return;
    }
    auto elapsed = at - base_->first;
    if (elapsed < min_window_ || elapsed.count() <= 0) return;
    double seconds = std::chrono::duration<double>(elapsed).count();
    rate_ = static_cast<double>(counter - base_->second) / seconds;
    base_ = {at, counter};
}

void Model::update(const Json& status, const Json& list, const Json& handlers, SteadyTime at) {
    status_ = status.is_object() ? status : Json::object();
    if (auto seq = count_field(status_, "last_seq"))
        last_seq_ = std::max<uint64_t>(last_seq_.value_or(0), static_cast<uint64_t>(*seq));

    buckets_.clear();
    std::set<std::string> present;
    for (const Json& b : array_field(list, "buckets")) {
        BucketRow row;
        row.name = text_field(b, "bucket");
        row.kind = text_field(b, "kind");
        row.state = text_field(b, "state");
        row.pid = count_field(b, "pid");
        row.uptime_ms = count_field(b, "uptime_ms");
        row.restarts = count_field(b, "restarts");
        row.rss_bytes = count_field(b, "rss_bytes");
        row.cpu_ms = count_field(b, "cpu_ms");
        row.last_exit = field(b, "last_exit");
        present.insert(row.name);
        if (row.pid && row.cpu_ms) {
            auto it = cpu_meters_.find(row.name);
            if (it == cpu_meters_.end() || it->second.first != *row.pid)
                it = cpu_meters_
                         .insert_or_assign(row.name, std::pair{*row.pid, RateMeter(min_window_)})
                         .first;
            it->second.second.sample(at, static_cast<uint64_t>(*row.cpu_ms));
            // CPU milliseconds per second, as a percentage of one CPU.
            if (auto rate = it->second.second.rate()) row.cpu_percent = *rate / 10.0;
        } else {
            cpu_meters_.erase(row.name);
        }
        buckets_.push_back(std::move(row));
    }
    std::erase_if(cpu_meters_, [&](const auto& entry) { return !present.count(entry.first); });

    handlers_.clear();
    present.clear();
    for (const Json& h : array_field(handlers, "handlers")) {
        HandlerRow row;
        row.name = text_field(h, "name");
        row.state = text_field(h, "state");
        row.mode = text_field(h, "mode");
        row.pid = count_field(h, "pid");
        row.delivered = count_field(h, "delivered");
        row.acked = count_field(h, "acked");
        row.dropped = count_field(h, "dropped");
        row.queued = count_field(h, "queued");
        row.restarts = count_field(h, "restarts");
        present.insert(row.name);
        if (row.delivered) {
            auto& meter = delivered_meters_.try_emplace(row.name, min_window_).first->second;
            meter.sample(at, static_cast<uint64_t>(*row.delivered));
            row.events_per_second = meter.rate();
        }
        handlers_.push_back(std::move(row));
    }
    std::erase_if(delivered_meters_,
                  [&](const auto& entry) { return !present.count(entry.first); });

    stream_rate_.sample(at, events_seen_);
    refreshed_ = true;
}

bool Model::take_event(const Json& event) {
    if (!event.is_object()) return false;
    std::string type = text_field(event, "type");
    // A `dropped` marker stands for the events this client lost, which kvd did publish.
    if (type == wire::event::kDropped)
        events_seen_ += static_cast<uint64_t>(count_field(event, "count").value_or(1));
    else
        ++events_seen_;
    if (auto seq = count_field(event, "seq"))
        last_seq_ = std::max<uint64_t>(last_seq_.value_or(0), static_cast<uint64_t>(*seq));
    return type == wire::event::kCreate || type == wire::event::kExit ||
           type == wire::event::kFailed;
}

// ---- columns and sorting -----------------------------------------------------------------

namespace {

// The value a row sorts by: a number (nullopt: unknown, sorted last) or a text.
struct SortValue {
    std::optional<double> number;
    std::string text;
    bool is_text = false;
};

SortValue number(std::optional<int64_t> v) {
    return {v ? std::optional<double>(static_cast<double>(*v)) : std::nullopt, {}, false};
}
SortValue number(std::optional<double> v) {
    return {v, {}, false};
}
SortValue words(std::string v) {
    return {std::nullopt, std::move(v), true};
}

// LAST-EXIT sorts by when it happened: the most recent first.
SortValue last_exit_time(const Json& last_exit) {
    const Json& time = field(last_exit, "time");
    auto when = time.is_string() ? parse_rfc3339(time.get<std::string>()) : std::nullopt;
    if (!when) return number(std::optional<double>());
    return number(std::optional<double>(static_cast<double>(
        std::chrono::duration_cast<std::chrono::microseconds>(when->time_since_epoch()).count())));
}

// Indices into bucket_columns() and handler_columns(), in their order.
enum BucketColumn {
    kBName,
    kBKind,
    kBState,
    kBPid,
    kBUptime,
    kBRestarts,
    kBRss,
    kBCpuPercent,
    kBCpu,
    kBLastExit
};
enum HandlerColumn {
    kHName,
    kHPid,
    kHState,
    kHMode,
    kHDelivered,
    kHAcked,
    kHDropped,
    kHQueued,
    kHRestarts,
    kHRate
};

SortValue bucket_value(const BucketRow& row, std::size_t column) {
    switch (column) {
        case kBName:
            return words(row.name);
        case kBKind:
            return words(row.kind);
        case kBState:
            return words(row.state);
        case kBPid:
            return number(row.pid);
        case kBUptime:
            return number(row.uptime_ms);
        case kBRestarts:
            return number(row.restarts);
        case kBRss:
            return number(row.rss_bytes);
        case kBCpuPercent:
            return number(row.cpu_percent);
        case kBCpu:
            return number(row.cpu_ms);
        default:
            return last_exit_time(row.last_exit);
    }
}

SortValue handler_value(const HandlerRow& row, std::size_t column) {
    switch (column) {
        case kHName:
            return words(row.name);
        case kHPid:
            return number(row.pid);
        case kHState:
            return words(row.state);
        case kHMode:
            return words(row.mode);
        case kHDelivered:
            return number(row.delivered);
        case kHAcked:
            return number(row.acked);
        case kHDropped:
            return number(row.dropped);
        case kHQueued:
            return number(row.queued);
        case kHRestarts:
            return number(row.restarts);
        default:
            return number(row.events_per_second);
    }
}

template <typename Row>
std::vector<Row> sorted(std::vector<Row> rows, const PaneView& view,
                        SortValue (*value)(const Row&, std::size_t)) {
    std::stable_sort(rows.begin(), rows.end(), [&](const Row& a, const Row& b) {
        SortValue va = value(a, view.sort_column), vb = value(b, view.sort_column);
        if (!va.is_text) {
            // Unknown values last, whichever way the known ones go.
            if (va.number.has_value() != vb.number.has_value()) return va.number.has_value();
            if (va.number && *va.number != *vb.number)
                return view.descending ? *va.number > *vb.number : *va.number < *vb.number;
        } else if (va.text != vb.text) {
            return view.descending ? va.text > vb.text : va.text < vb.text;
        }
        return a.name < b.name;
    });
    return rows;
}

const std::vector<Column>& columns_of(Pane pane) {
    return pane == Pane::buckets ? bucket_columns() : handler_columns();
}

PaneView& pane_view(ViewState& view, Pane pane) {
    return pane == Pane::buckets ? view.buckets : view.handlers;
}

void sort_by(PaneView& pane, const std::vector<Column>& columns, std::size_t column) {
    if (pane.sort_column == column) {
        pane.descending = !pane.descending;
    } else {
        pane.sort_column = column;
        pane.descending = columns[column].descending_first;
    }
    pane.scroll = 0;  // the top of a new order is what one wants to see
}

}  // namespace

const std::vector<Column>& bucket_columns() {
    static const std::vector<Column> kColumns = {
        {"NAME", 'n', false},      {"KIND", '\0', false}, {"STATE", '\0', false},
        {"PID", 'p', false},       {"UPTIME", 'u', true}, {"RESTARTS", 't', true},
        {"RSS", 'm', true},        {"CPU%", 'c', true},   {"CPU", '\0', true},
        {"LAST-EXIT", '\0', true},
    };
    return kColumns;
}

const std::vector<Column>& handler_columns() {
    static const std::vector<Column> kColumns = {
        {"NAME", 'n', false},   {"PID", 'p', false},      {"STATE", '\0', false},
        {"MODE", '\0', false},  {"DELIVERED", 'd', true}, {"ACKED", 'a', true},
        {"DROPPED", 'x', true}, {"QUEUED", 'w', true},    {"RESTARTS", 't', true},
        {"EV/S", 'e', true},
    };
    return kColumns;
}

std::vector<BucketRow> sorted_buckets(const Model& model, const PaneView& view) {
    return sorted(model.buckets(), view, bucket_value);
}

std::vector<HandlerRow> sorted_handlers(const Model& model, const PaneView& view) {
    return sorted(model.handlers(), view, handler_value);
}

KeyAction handle_key(ViewState& view, int key) {
    PaneView& pane = pane_view(view, view.focus);
    const std::vector<Column>& columns = columns_of(view.focus);
    switch (key) {
        case 'q':
        case 'Q':
            return KeyAction::quit;
        case '\t':
            view.focus = view.focus == Pane::buckets ? Pane::handlers : Pane::buckets;
            return KeyAction::redraw;
        case 's':
            sort_by(pane, columns, (pane.sort_column + 1) % columns.size());
            return KeyAction::redraw;
        case 'S':
            sort_by(pane, columns, (pane.sort_column + columns.size() - 1) % columns.size());
            return KeyAction::redraw;
        case 'r':
            pane.descending = !pane.descending;
            pane.scroll = 0;
            return KeyAction::redraw;
        case kKeyUp:
            if (pane.scroll > 0) --pane.scroll;
            return KeyAction::redraw;
        case kKeyDown:
            ++pane.scroll;  // kept within the rows at the next render
            return KeyAction::redraw;
        case kKeyPageUp:
            pane.scroll -= std::min(pane.scroll, std::max<std::size_t>(pane.visible, 1));
            return KeyAction::redraw;
        case kKeyPageDown:
            pane.scroll += std::max<std::size_t>(pane.visible, 1);
            return KeyAction::redraw;
        case kKeyHome:
            pane.scroll = 0;
            return KeyAction::redraw;
        case kKeyEnd:
            pane.scroll = SIZE_MAX / 2;
            return KeyAction::redraw;
        default:
            break;
    }
    for (std::size_t c = 0; c < columns.size(); ++c) {
        if (columns[c].key != '\0' && key == columns[c].key) {
            sort_by(pane, columns, c);
            return KeyAction::redraw;
        }
    }
    return KeyAction::none;
}

// ---- the screen --------------------------------------------------------------------------

namespace {

std::string cell(std::optional<int64_t> v, std::string (*format)(int64_t)) {
    return v ? format(*v) : "-";
}

std::string plain_number(int64_t v) {
    return std::to_string(v);
}

std::string bytes(int64_t v) {
    return human_bytes(static_cast<uint64_t>(v));
}

// Rates and percentages: one decimal while small, whole numbers from 100 on.
std::string decimal(std::optional<double> v) {
    if (!v) return "-";
    if (*v < 99.95) return fmt::format("{:.1f}", *v);
    return fmt::format("{:.0f}", *v);
}

Style tone_style(std::string_view state) {
    switch (state_tone(state)) {
        case StateTone::good:
            return Style::good;
        case StateTone::changing:
            return Style::changing;
        case StateTone::bad:
            return Style::bad;
        case StateTone::plain:
            break;
    }
    return Style::normal;
}

struct Table {
    std::vector<std::vector<std::string>> cells;  // one per row, one cell per column
    std::vector<std::size_t> widths;
};

Table make_table(const std::vector<Column>& columns, std::vector<std::vector<std::string>> cells) {
    Table table{std::move(cells), {}};
    for (const Column& c : columns) table.widths.push_back(c.title.size());
    for (const auto& row : table.cells)
        for (std::size_t c = 0; c < row.size() && c < table.widths.size(); ++c)
            table.widths[c] = std::max(table.widths[c], row[c].size());
    return table;
}

// One row of a table: cells padded to their column's width, two spaces apart, no trailing
// spaces. `style_of(c)` gives cell c's style.
Line table_line(const std::vector<std::string>& cells, const std::vector<std::size_t>& widths,
                const std::function<Style(std::size_t)>& style_of) {
    Line line;
    for (std::size_t c = 0; c < cells.size(); ++c) {
        if (c > 0) line.push_back({"  ", Style::normal});
        std::string text = cells[c];
        if (c + 1 < cells.size()) text.resize(std::max(text.size(), widths[c]), ' ');
        line.push_back({std::move(text), style_of(c)});
    }
    return line;
}

// A pane in `lines` lines: its title, its column titles, and as many rows as fit from
// `pane.scroll` on (kept in range here).
void render_pane(std::vector<Line>& out, std::string_view name, bool focused,
                 const std::vector<Column>& columns, PaneView& pane, const Table& table,
                 const std::vector<Style>& state_styles, std::size_t state_column,
                 std::size_t lines, std::string_view empty) {
    if (lines == 0) return;
    std::size_t rows = table.cells.size();
    std::size_t visible = lines > 2 ? lines - 2 : 0;
    pane.visible = visible;
    pane.scroll = rows > visible ? std::min(pane.scroll, rows - visible) : 0;

    const Column& by = columns[pane.sort_column];
    std::string title = fmt::format("{}{} {}  sorted by {}, {}", focused ? "> " : "  ", name, rows,
                                    by.title, pane.descending ? "descending" : "ascending");
    if (rows > visible && visible > 0)
        title += fmt::format("  rows {}-{} of {}", pane.scroll + 1,
                             std::min(rows, pane.scroll + visible), rows);
    out.push_back({{title, focused ? Style::focus_title : Style::title}});
    if (lines == 1) return;

    std::vector<std::string> titles;
    for (const Column& c : columns) titles.push_back(c.title);
    out.push_back(table_line(titles, table.widths, [&](std::size_t c) {
        return c == pane.sort_column ? Style::sorted : Style::columns;
    }));
    if (rows == 0 && visible > 0) {
        out.push_back({{std::string(empty), Style::normal}});
        return;
    }
    for (std::size_t r = pane.scroll; r < rows && r < pane.scroll + visible; ++r) {
        out.push_back(table_line(table.cells[r], table.widths, [&](std::size_t c) {
            return c == state_column ? state_styles[r] : Style::normal;
        }));
    }
}

std::string header_line(const Model& model) {
    const Json& s = model.status();
    std::string seq = model.last_seq() ? std::to_string(*model.last_seq()) : "-";
    auto uptime = count_field(s, "uptime_ms");
    return fmt::format(
        "kvd {} pid {}  up {}  buckets {}  handlers {}  subscriptions {}  seq {}  {} events/s",
        text_field(s, "version"), text_field(s, "pid"), cell(uptime, compact_duration),
        text_field(s, "buckets"), text_field(s, "handlers"), text_field(s, "subscriptions"), seq,
        decimal(model.events_per_second()));
}

std::string help_line(const ViewState& view) {
    std::string keys;
    for (const Column& c : columns_of(view.focus)) {
        if (c.key == '\0') continue;
        std::string title = c.title;
        std::transform(title.begin(), title.end(), title.begin(),
                       [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
        keys += fmt::format(" {}={}", c.key, title);
    }
    return fmt::format("q quit  Tab {}  sort{}  s/S column  r reverse  arrows PgUp PgDn scroll",
                       view.focus == Pane::buckets ? "handlers" : "buckets", keys);
}

}  // namespace

std::vector<Line> render(const Model& model, ViewState& view, int width, int height, WallTime now) {
    std::vector<Line> out;
    if (width <= 0 || height <= 0) return out;
    auto rows_h = static_cast<std::size_t>(height);

    auto buckets = sorted_buckets(model, view.buckets);
    std::vector<std::vector<std::string>> bucket_cells;
    std::vector<Style> bucket_states;
    for (const BucketRow& b : buckets) {
        bucket_cells.push_back({b.name, b.kind, b.state, cell(b.pid, plain_number),
                                cell(b.uptime_ms, compact_duration), cell(b.restarts, plain_number),
                                cell(b.rss_bytes, bytes), decimal(b.cpu_percent),
                                cell(b.cpu_ms, human_cpu), human_last_exit(b.last_exit, now)});
        bucket_states.push_back(tone_style(b.state));
    }
    auto handlers = sorted_handlers(model, view.handlers);
    std::vector<std::vector<std::string>> handler_cells;
    std::vector<Style> handler_states;
    for (const HandlerRow& h : handlers) {
        handler_cells.push_back({h.name, cell(h.pid, plain_number), h.state, h.mode,
                                 cell(h.delivered, plain_number), cell(h.acked, plain_number),
                                 cell(h.dropped, plain_number), cell(h.queued, plain_number),
                                 cell(h.restarts, plain_number), decimal(h.events_per_second)});
        handler_states.push_back(tone_style(h.state));
    }

    // Header, message and help take a line each; the panes share the rest. Each needs its
    // title, its column titles and a line per row (or one saying there are none).
    std::size_t body = rows_h > 3 ? rows_h - 3 : 0;
    std::size_t want_b = 2 + std::max<std::size_t>(buckets.size(), 1);
    std::size_t want_h = 2 + std::max<std::size_t>(handlers.size(), 1);
    std::size_t lines_h = want_h, lines_b = want_b;
    bool gap = want_b + 1 + want_h <= body;  // a blank line between the panes, room permitting
    if (want_b + want_h > body) {
        lines_h = std::min(want_h, std::max<std::size_t>(3, body / 3));
        lines_h = std::min(lines_h, body);
        lines_b = body - lines_h;
    }

    out.push_back({{header_line(model), Style::header}});
    out.push_back({{view.message, Style::message}});
    render_pane(out, "BUCKETS", view.focus == Pane::buckets, bucket_columns(), view.buckets,
                make_table(bucket_columns(), std::move(bucket_cells)), bucket_states, kBState,
                lines_b, "(no buckets)");
    if (gap) out.push_back({});
    render_pane(out, "HANDLERS", view.focus == Pane::handlers, handler_columns(), view.handlers,
                make_table(handler_columns(), std::move(handler_cells)), handler_states, kHState,
                lines_h, "(no handlers)");
    while (out.size() + 1 < rows_h) out.push_back({});
    out.push_back({{help_line(view), Style::help}});
    if (out.size() > rows_h)
        out.erase(out.begin() + static_cast<std::ptrdiff_t>(rows_h), out.end());

    // Cut every line to the width; spans past it go.
    for (Line& line : out) {
        std::size_t left = static_cast<std::size_t>(width);
        Line cut;
        for (Span& span : line) {
            if (left == 0) break;
            if (span.text.size() > left) span.text.resize(left);
            left -= span.text.size();
            cut.push_back(std::move(span));
        }
        line = std::move(cut);
    }
    return out;
}

std::string line_text(const Line& line) {
    std::string text;
    for (const Span& span : line) text += span.text;
    return text;
}

std::string screen_text(const std::vector<Line>& lines) {
    std::string text;
    for (const Line& line : lines) text += line_text(line) + '\n';
    return text;
}

}  // namespace kvd::ctl::top
