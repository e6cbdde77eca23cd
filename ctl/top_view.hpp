// `kvctl top` without the terminal: what it knows of kvd (the replies of status, list and
// handlers, and the events it has counted), the rates it derives from them, what the user
// chose to see (focus, sort, scroll) and the screen that makes, as lines of styled text. Pure:
// time comes in as arguments, so every rule here is unit-tested; ctl/top.cpp does the I/O.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/protocol.hpp"

namespace kvd::ctl::top {

using SteadyTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;

// The rate of a counter that only grows, per second, over windows at least `min_window` long:
// samples closer together than that keep the last rate, so a refresh that an event brought
// forward does not turn a steady flow into noise. A counter that goes down (a handler replaced
// by a reload, a bucket's new process) starts over: no rate until the next full window.
class RateMeter {
  public:
    explicit RateMeter(std::chrono::milliseconds min_window) : min_window_(min_window) {}
    void sample(SteadyTime at, uint64_t counter);
    std::optional<double> rate() const { return rate_; }

  private:
    std::chrono::milliseconds min_window_;
    std::optional<std::pair<SteadyTime, uint64_t>> base_;
    std::optional<double> rate_;
};

// One bucket as `list` reports it; a field kvd does not report (or reports as null) is nullopt.
struct BucketRow {
    std::string name, kind, state;
    std::optional<int64_t> pid, uptime_ms, restarts, rss_bytes, cpu_ms;
    std::optional<double> cpu_percent;  // CPU time per wall time since an earlier sample
    Json last_exit;                     // `list`'s object, or null
};

// One handler as `handlers` reports it, with the rate of its delivered counter.
struct HandlerRow {
    std::string name, state, mode;
    std::optional<int64_t> pid, delivered, acked, dropped, queued, restarts;
    std::optional<double> events_per_second;
};

// Everything `top` shows, as of the last refresh.
class Model {
  public:
    // `min_window`: see RateMeter; top passes half its refresh interval.
    explicit Model(std::chrono::milliseconds min_window) : min_window_(min_window) {}

    // A refresh: the results of status, list and handlers, all taken at `at`.
    void update(const Json& status, const Json& list, const Json& handlers, SteadyTime at);
    // One line from the event stream. Returns whether it changes what a refresh would show
    // (a bucket came or went), so top refreshes early rather than at the next tick.
    bool take_event(const Json& event);

    const Json& status() const { return status_; }
    const std::vector<BucketRow>& buckets() const { return buckets_; }
    const std::vector<HandlerRow>& handlers() const { return handlers_; }
    // Events published by kvd per second, as counted on the stream.
    std::optional<double> events_per_second() const { return stream_rate_.rate(); }
    // The highest seq seen on the stream or in status; nullopt before either.
    std::optional<uint64_t> last_seq() const { return last_seq_; }
    bool refreshed() const { return refreshed_; }

  private:
    std::chrono::milliseconds min_window_;
    Json status_ = Json::object();
    std::vector<BucketRow> buckets_;
    std::vector<HandlerRow> handlers_;
    // CPU time meters by bucket, with the pid they measure: a new process starts a new meter.
    std::map<std::string, std::pair<int64_t, RateMeter>> cpu_meters_;
    std::map<std::string, RateMeter> delivered_meters_;
    RateMeter stream_rate_{min_window_};
    uint64_t events_seen_ = 0;
    std::optional<uint64_t> last_seq_;
    bool refreshed_ = false;
};

enum class Pane { buckets, handlers };

// A column of a pane: its title, the key that sorts by it ('\0': none), and whether it sorts
// largest first when chosen (numbers do; names do not).
struct Column {
    std::string title;
    char key;
    bool descending_first;
};
const std::vector<Column>& bucket_columns();
const std::vector<Column>& handler_columns();

struct PaneView {
    std::size_t sort_column = 0;  // an index into the pane's columns; 0 is NAME
    bool descending = false;
    std::size_t scroll = 0;   // the first row shown
    std::size_t visible = 0;  // rows shown at the last render, for paging
};

// What the user chose to see.
struct ViewState {
    Pane focus = Pane::buckets;
    PaneView buckets{}, handlers{};
    std::string message;  // one line under the header, e.g. a refresh kvd refused; "" if none
};

// Keys other than characters, as top.cpp translates them from the terminal's.
inline constexpr int kKeyUp = 0x10001;
inline constexpr int kKeyDown = 0x10002;
inline constexpr int kKeyPageUp = 0x10003;
inline constexpr int kKeyPageDown = 0x10004;
inline constexpr int kKeyHome = 0x10005;
inline constexpr int kKeyEnd = 0x10006;

enum class KeyAction {
    none,    // not a key top uses
    redraw,  // the view changed
    quit,
};

// q/Q quit; Tab switches the focused pane; a column's key sorts the focused pane by it (again:
// the other way round); s and S move the sort to the next and previous column; r reverses it;
// the arrows, Page Up/Down, Home and End scroll.
KeyAction handle_key(ViewState& view, int key);

// The rows of a pane in the order the view sorts them. Rows without the value sorted by come
// last either way; ties are in name order.
std::vector<BucketRow> sorted_buckets(const Model& model, const PaneView& view);
std::vector<HandlerRow> sorted_handlers(const Model& model, const PaneView& view);

enum class Style {
    normal,
    header,       // the line about kvd at the top
    title,        // a pane's title
    focus_title,  // the focused pane's title
    columns,      // a pane's column titles
    sorted,       // the title of the column sorted by
    good,         // states, as state_tone() reads them
    changing,
    bad,
    message,  // the line under the header
    help,     // the key help at the bottom
};

struct Span {
    std::string text;
    Style style = Style::normal;
};
using Line = std::vector<Span>;

// The whole screen, `height` lines of at most `width` characters: a line about kvd, a message
// line, the buckets pane, the handlers pane and the key help. The panes share the lines
// between them (the handlers pane gets what it needs, up to a third, when both do not fit);
// each pane's scroll is kept within its rows, and its `visible` set, in `view`. `now` dates the
// buckets' last exits.
std::vector<Line> render(const Model& model, ViewState& view, int width, int height, WallTime now);

// A line's text without styles, and a screen's lines joined with '\n' (for tests).
std::string line_text(const Line& line);
std::string screen_text(const std::vector<Line>& lines);

}  // namespace kvd::ctl::top
