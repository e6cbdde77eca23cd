// `kvctl top`: the terminal and the two connections to kvd. One connection asks status, list
// and handlers every --interval (sooner when the other one, a subscription, carries a create,
// exit or failed event); the replies and the events go into top_view's model, and its screen
// is drawn with ncurses. Everything is multiplexed with poll(2) in one loop, so keys are
// answered while kvd is slow, and kvd going away ends top at once.
#include <fmt/format.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "common/wire.hpp"
#include "ctl/client.hpp"
#include "ctl/commands.hpp"
#include "ctl/exit_status.hpp"
#include "ctl/output.hpp"
#include "ctl/top_view.hpp"

// Last: curses.h defines macros with common names (move, erase, refresh, timeout).
#include <curses.h>

namespace kvd::ctl {

namespace {

using top::Style;

// The screen, from newterm() to endwin(): while one exists nothing else may write to the
// terminal, so errors are printed after it is gone.
class Terminal {
  public:
    // nullptr (and `error`) when the terminal cannot be driven: an unknown $TERM.
    static std::unique_ptr<Terminal> open(bool colour, std::string& error) {
        // newterm, unlike initscr, returns instead of exiting on an unknown terminal.
        SCREEN* screen = newterm(nullptr, stdout, stdin);
        if (!screen) {
            const char* term = std::getenv("TERM");
            error = fmt::format("cannot drive this terminal (TERM={})", term ? term : "unset");
            return nullptr;
        }
        return std::unique_ptr<Terminal>(new Terminal(screen, colour));
    }

    ~Terminal() {
        endwin();
        delscreen(screen_);
    }
    Terminal(const Terminal&) = delete;
    Terminal& operator=(const Terminal&) = delete;

    // The next key, translated for top::handle_key, or nullopt when none is waiting. A resize
    // comes as a key too: KEY_RESIZE, after which size() is the new one.
    std::optional<int> key() {
        int ch = getch();
        switch (ch) {
            case ERR:
                return std::nullopt;
            case KEY_UP:
                return top::kKeyUp;
            case KEY_DOWN:
                return top::kKeyDown;
            case KEY_PPAGE:
                return top::kKeyPageUp;
            case KEY_NPAGE:
                return top::kKeyPageDown;
            case KEY_HOME:
                return top::kKeyHome;
            case KEY_END:
                return top::kKeyEnd;
            default:
                return ch;
        }
    }

    int width() const { return getmaxx(stdscr); }
    int height() const { return getmaxy(stdscr); }

    void draw(const std::vector<top::Line>& lines) {
        erase();
        for (std::size_t y = 0; y < lines.size(); ++y) {
            int row = static_cast<int>(y);
            move(row, 0);
            for (const top::Span& span : lines[y]) {
                attrset(attributes(span.style));
                // The bottom-right cell cannot be written without scrolling; ERR there is fine.
                addnstr(span.text.c_str(), static_cast<int>(span.text.size()));
            }
            // Bars across the whole width: the focused pane's title and the key help.
            if (!lines[y].empty()) {
                Style first = lines[y].front().style;
                if (first == Style::focus_title || first == Style::help) {
                    int x = getcurx(stdscr);
                    if (x < width()) mvchgat(row, x, -1, attributes(first), 0, nullptr);
                }
            }
        }
        attrset(A_NORMAL);
        refresh();
    }

  private:
    Terminal(SCREEN* screen, bool colour) : screen_(screen) {
        cbreak();
        noecho();
        nonl();
        keypad(stdscr, TRUE);
        nodelay(stdscr, TRUE);
        set_escdelay(25);
        curs_set(0);
        if (colour && has_colors()) {
            start_color();
            use_default_colors();
            init_pair(kGreen, COLOR_GREEN, -1);
            init_pair(kYellow, COLOR_YELLOW, -1);
            init_pair(kRed, COLOR_RED, -1);
            colour_ = true;
        }
    }

    attr_t attributes(Style style) const {
        auto paint = [&](short pair, attr_t otherwise) {
            return colour_ ? static_cast<attr_t>(COLOR_PAIR(pair)) : otherwise;
        };
        switch (style) {
            case Style::header:
                return A_BOLD;
            case Style::title:
                return A_BOLD;
            case Style::focus_title:
                return A_BOLD | A_REVERSE;
            case Style::columns:
                return A_UNDERLINE;
            case Style::sorted:
                return A_UNDERLINE | A_BOLD;
            case Style::good:
                return paint(kGreen, A_NORMAL);
            case Style::changing:
                return paint(kYellow, A_NORMAL);
            case Style::bad:
                return paint(kRed, A_NORMAL) | A_BOLD;
            case Style::message:
                return paint(kYellow, A_NORMAL) | A_BOLD;
            case Style::help:
                return A_REVERSE;
            case Style::normal:
                break;
        }
        return A_NORMAL;
    }

    static constexpr short kGreen = 1, kYellow = 2, kRed = 3;
    SCREEN* screen_;
    bool colour_ = false;
};

// One refresh: status, list and handlers asked together on the request connection.
class RefreshRound {
  public:
    void send(Client& client, SteadyClock::time_point now) {
        ids_ = {client.send(make_request(wire::op::kStatus)),
                client.send(make_request(wire::op::kList)),
                client.send(make_request(wire::op::kHandlers))};
        replies_.clear();
        sent_ = now;
        pending_ = true;
    }
    bool pending() const { return pending_; }
    SteadyClock::time_point sent() const { return sent_; }

    // Takes one line from the request connection; true once the round is complete.
    std::optional<ClientError> take(std::string_view line, bool& complete) {
        complete = false;
        auto reply = parse_reply(line);
        std::size_t next = replies_.size();
        if (!reply || next >= ids_.size() || !reply->id.is_number_integer() ||
            reply->id.get<int64_t>() != ids_[next])
            return ClientError{ClientErrorKind::protocol,
                               fmt::format("unexpected line from kvd: {}", line.substr(0, 200))};
        replies_.push_back(std::move(*reply));
        complete = replies_.size() == ids_.size();
        if (complete) pending_ = false;
        return std::nullopt;
    }

    // Waits for the whole round, for the first one, before the screen is set up.
    std::optional<ClientError> wait(Client& client, Deadline deadline) {
        for (int64_t id : ids_) {
            Reply reply;
            if (auto error = client.read_reply(reply, id, deadline)) return error;
            replies_.push_back(std::move(reply));
        }
        pending_ = false;
        return std::nullopt;
    }

    // The first error kvd answered, if any.
    const Reply* refused() const {
        for (const Reply& r : replies_)
            if (!r.ok) return &r;
        return nullptr;
    }
    const Json& status() const { return replies_[0].result; }
    const Json& list() const { return replies_[1].result; }
    const Json& handlers() const { return replies_[2].result; }

  private:
    std::array<int64_t, 3> ids_{};
    std::vector<Reply> replies_;
    SteadyClock::time_point sent_{};
    bool pending_ = false;
};

int usage(Context& ctx, std::string_view why) {
    ctx.err << "kvctl: top: " << why << " (see kvctl top --help)\n";
    return kExitUsage;
}

// A refresh brought forward by an event waits at least this long after the last one, so a
// burst of creates costs a few refreshes, not one each.
constexpr Millis kEarliestEventRefresh{100};
// kvd not answering a refresh for this long is shown on the screen (until --timeout ends top).
constexpr Millis kSlowAnswer{2000};
// ncurses learns of a resize from SIGWINCH, which may come just before poll(2) starts
// waiting; waking at least this often bounds how long a resize can go unnoticed.
constexpr Millis kLongestSleep{250};
// Event lines taken per turn of the loop at most, so keys stay answered under a flood.
constexpr int kEventsPerTurn = 10'000;

class Top {
  public:
    Top(Context& ctx, const TopOptions& options)
        : ctx_(ctx),
          interval_(options.interval),
          model_(std::max(options.interval / 2, Millis(50))) {}

    int run() {
        if (ctx_.json)
            return usage(ctx_,
                         "there is no --json view; use 'kvctl --json ps' and "
                         "'kvctl --json handlers'");
        if (!ctx_.terminal || isatty(STDIN_FILENO) != 1)
            return usage(ctx_,
                         "needs a terminal for its input and output; for a snapshot use "
                         "'kvctl ps' and 'kvctl handlers'");

        // The first refresh and the subscription are made before the screen, so that a kvd
        // that cannot be reached is reported as every command reports it.
        if (auto error = requests_.connect(ctx_.socket_path, ctx_.timeout)) return fail(*error);
        RefreshRound first;
        first.send(requests_, SteadyClock::now());
        if (auto error = first.wait(requests_, SteadyClock::now() + ctx_.timeout))
            return fail(*error);
        if (const Reply* refused = first.refused()) {
            ctx_.err << error_line(refused->error);
            return kExitDaemonError;
        }
        if (auto error = events_.connect(ctx_.socket_path, ctx_.timeout)) return fail(*error);
        Reply subscribed;
        if (auto error = events_.read_reply(subscribed, events_.send(make_subscribe_request({})),
                                            SteadyClock::now() + ctx_.timeout))
            return fail(*error);
        if (!subscribed.ok) {
            ctx_.err << error_line(subscribed.error);
            return kExitDaemonError;
        }
        model_.update(first.status(), first.list(), first.handlers(), SteadyClock::now());

        std::string error_text;
        terminal_ = Terminal::open(ctx_.colour, error_text);
        if (!terminal_) return usage(ctx_, error_text);
        next_tick_ = SteadyClock::now() + interval_;
        int status = loop();
        terminal_.reset();  // the screen goes before anything is printed
        if (!ending_.empty()) ctx_.err << ending_;
        return status;
    }

  private:
    int fail(const ClientError& error) {
        ctx_.err << "kvctl: " << error.message << '\n';
        return exit_status_for(error);
    }

    // kvd lost while the screen is up: told once the screen is gone.
    int lost(const ClientError& error) {
        if (error.kind == ClientErrorKind::closed)
            ending_ = "kvctl: kvd went away (connection closed)\n";
        else if (error.kind == ClientErrorKind::io)
            ending_ = fmt::format("kvctl: kvd went away ({})\n", error.message);
        else
            ending_ = fmt::format("kvctl: {}\n", error.message);
        return exit_status_for(error);
    }

    int loop() {
        bool dirty = true;
        for (;;) {
            auto now = SteadyClock::now();
            if (!round_.pending() &&
                (now >= next_tick_ ||
                 (refresh_wanted_ && now >= round_.sent() + kEarliestEventRefresh))) {
                round_.send(requests_, now);
                next_tick_ = now + interval_;
                refresh_wanted_ = false;
            }
            if (round_.pending()) {
                auto waited = now - round_.sent();
                if (waited >= ctx_.timeout)
                    return lost(
                        {ClientErrorKind::timeout, fmt::format("timed out after {} waiting for kvd",
                                                               format_duration(ctx_.timeout))});
                if (waited >= kSlowAnswer) {
                    std::string message = fmt::format(
                        "kvd has not answered for {}s",
                        std::chrono::duration_cast<std::chrono::seconds>(waited).count());
                    if (message != view_.message) {
                        view_.message = message;
                        dirty = true;
                    }
                }
            }
            if (dirty) {
                terminal_->draw(top::render(model_, view_, terminal_->width(), terminal_->height(),
                                            std::chrono::system_clock::now()));
                dirty = false;
            }

            std::array<pollfd, 4> fds = {
                pollfd{STDIN_FILENO, POLLIN, 0},
                pollfd{requests_.fd(),
                       static_cast<short>(POLLIN | (requests_.wants_write() ? POLLOUT : 0)), 0},
                pollfd{events_.fd(), POLLIN, 0},
                pollfd{ctx_.wake_fd, POLLIN, 0},
            };
            if (poll(fds.data(), ctx_.wake_fd >= 0 ? 4 : 3, wait_ms(now)) < 0 && errno != EINTR) {
                ending_ = fmt::format("kvctl: poll: {}\n", std::strerror(errno));
                return kExitUnreachable;
            }
            if (ctx_.wake_fd >= 0 && (fds[3].revents & POLLIN))
                return exit_status_for_signal(read_wake_signal(ctx_.wake_fd));

            // Keys (and resizes) are read whether or not poll saw stdin: ncurses may hold some.
            while (auto key = terminal_->key()) {
                if (*key == KEY_RESIZE) {
                    dirty = true;
                    continue;
                }
                switch (top::handle_key(view_, *key)) {
                    case top::KeyAction::quit:
                        return kExitOk;
                    case top::KeyAction::redraw:
                        dirty = true;
                        break;
                    case top::KeyAction::none:
                        break;
                }
            }

            std::string line;
            for (int taken = 0; taken < kEventsPerTurn; ++taken) {
                bool got = false;
                if (auto error = events_.read_line_now(line, got)) return lost(*error);
                if (!got) break;
                if (line.empty()) continue;
                if (model_.take_event(parse_event(line))) refresh_wanted_ = true;
            }
            for (;;) {
                bool got = false, complete = false;
                if (auto error = requests_.read_line_now(line, got)) return lost(*error);
                if (!got) break;
                if (auto error = round_.take(line, complete)) return lost(*error);
                if (complete) {
                    take_round();
                    dirty = true;
                }
            }
        }
    }

    void take_round() {
        if (const Reply* refused = round_.refused()) {
            // kvd is there but said no (it may be shutting down): keep the last figures.
            view_.message = fmt::format("kvd refused a refresh: {}: {}", refused->error.code,
                                        refused->error.message);
            return;
        }
        view_.message.clear();
        model_.update(round_.status(), round_.list(), round_.handlers(), SteadyClock::now());
    }

    // How long poll(2) may sleep: until the next refresh is due, or an answer overdue.
    int wait_ms(SteadyClock::time_point now) const {
        SteadyClock::time_point wake = now + kLongestSleep;
        if (round_.pending()) {
            wake = std::min(wake, round_.sent() + ctx_.timeout);
        } else {
            wake = std::min(wake, next_tick_);
            if (refresh_wanted_) wake = std::min(wake, round_.sent() + kEarliestEventRefresh);
        }
        auto left = std::chrono::ceil<Millis>(wake - now).count();
        return static_cast<int>(std::clamp<int64_t>(left, 0, kLongestSleep.count()));
    }

    Context& ctx_;
    Millis interval_;
    top::Model model_;
    top::ViewState view_;
    Client requests_, events_;
    RefreshRound round_;
    std::unique_ptr<Terminal> terminal_;
    SteadyClock::time_point next_tick_{};
    bool refresh_wanted_ = false;
    std::string ending_;  // what to print on stderr once the screen is gone
};

}  // namespace

int cmd_top(Context& ctx, const TopOptions& options) {
    return Top(ctx, options).run();
}

}  // namespace kvd::ctl
