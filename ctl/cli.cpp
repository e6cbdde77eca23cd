// kvctl's command line: every command and option with its help text, and the
// SIGINT/SIGTERM handling that lets `events` end cleanly.
#include "ctl/cli.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdlib>
#include <functional>
#include <map>
#include <sstream>
#include <vector>

#include "common/socket_path.hpp"
#include "ctl/commands.hpp"
#include "ctl/completion.hpp"
#include "ctl/exit_status.hpp"
#include "ctl/output.hpp"

namespace kvd::ctl {

namespace {

constexpr const char* kDescription =
    "kvctl controls kvd, a supervisor daemon in the style of Erlang's KV registry: kvd keeps a\n"
    "registry of key/value buckets (one kv-bucket process each) and an event manager that\n"
    "feeds create, exit and custom events to handler processes and subscribers. kvctl sends\n"
    "one command to kvd over its Unix control socket and prints the answer.\n";

// A fmt format string: {} is the socket path the environment gives right now.
constexpr const char* kFooter =
    "Examples:\n"
    "  kvctl create shopping          start a bucket\n"
    "  kvctl put shopping milk 2      store a value\n"
    "  kvctl get shopping milk        print it\n"
    "  kvctl events --type exit       follow bucket exits as they happen\n"
    "  kvctl create --kind worker w-1 w-2   start buckets of a configured [[kind]]\n"
    "  kvctl ps                       buckets with state, uptime, restarts, RSS, CPU\n"
    "  kvctl stop 'w-*'               stop every bucket whose name matches\n"
    "  kvctl logs -f w-1              follow a bucket's output\n"
    "  kvctl top                      watch buckets and handlers live (q quits)\n"
    "\n"
    "Socket: the first of --socket PATH, $KVD_SOCKET, then /run/kvd/kvd.sock when run as\n"
    "root, else $XDG_RUNTIME_DIR/kvd/kvd.sock, else /tmp/kvd-$UID/kvd.sock. kvd resolves its\n"
    "own the same way, with its config's [daemon] socket before $KVD_SOCKET.\n"
    "Without --socket, kvctl would now use: {}\n"
    "\n"
    "Exit status:\n"
    "  0  success\n"
    "  1  kvd answered with an error, printed as \"kvctl: CODE: MESSAGE\" on stderr; for\n"
    "     stop, kill and restart of several buckets: any of them failed (one line each,\n"
    "     \"kvctl: cannot stop NAME: CODE: MESSAGE\") or a pattern matched no bucket\n"
    "  2  usage error (bad arguments, JSON, signal, number or duration, a request over\n"
    "     kvd's 1 MiB line limit); nothing was sent\n"
    "  3  kvd could not be reached: no socket, connection refused, permission denied,\n"
    "     no answer within --timeout, or kvd closed the connection (events: \"kvd went\n"
    "     away\")\n"
    "  130, 143  events, logs -f or top ended by Ctrl-C (SIGINT) or SIGTERM, after\n"
    "     printing what arrived (logs -f exits 0 when kvd ends the stream: the bucket\n"
    "     is gone; top exits 0 on q)\n"
    "\n"
    "Colour: ps, list and handlers colour bucket and handler states when stdout is a\n"
    "terminal, unless $NO_COLOR is set and not empty or $TERM is dumb; never with --json.\n"
    "\n"
    "Global options may also follow the command (kvctl list --json); after stop and\n"
    "restart, --timeout is their own. Run 'kvctl help COMMAND' or 'kvctl COMMAND --help'\n"
    "for the arguments of a command.";

constexpr const char* kCommandFooter =
    "Global options go before or after the command: kvctl [--socket PATH] [--json]\n"
    "[--timeout DURATION] COMMAND ...; see 'kvctl --help' for them, the socket path and the\n"
    "exit statuses.";

constexpr const char* kBucketHelp =
    "bucket name: 1-128 bytes of A-Z a-z 0-9 . _ : -\nnot starting with . or -";

constexpr const char* kTargetHelp =
    "bucket names, or patterns with * ? [...] (quote them for\n"
    "the shell: 'worker-*') matched against kvd's buckets;\n"
    "a pattern that matches none is an error";

constexpr const char* kTargetFooter =
    "\n\nSeveral buckets: the requests go to kvd together and each bucket's outcome\n"
    "is printed as it comes; exit 1 if any failed (\"kvctl: cannot VERB NAME: CODE:\n"
    "MESSAGE\" on stderr) or a pattern matched nothing. With --json and more than one\n"
    "name, a pattern or --all: one array of {\"bucket\",\"ok\",\"result\" or \"error\"}\n"
    "({\"pattern\",\"ok\":false,\"error\"} for a pattern that matched nothing); one\n"
    "plain name prints its result object (or error object) alone.";

constexpr const char* kTopFooter =
    "\n\nKeys: q quits. Tab moves the focus between the buckets and the handlers.\n"
    "A column's key sorts the focused pane by it, and again the other way round:\n"
    "buckets n name, p pid, u uptime, t restarts, m RSS, c CPU%; handlers n name,\n"
    "p pid, d delivered, a acked, x dropped, w queued, t restarts, e events/s.\n"
    "s and S sort by the next and previous column, r reverses the order; the arrow\n"
    "keys, Page Up/Down, Home and End scroll the focused pane.\n"
    "CPU% is CPU time over wall time since an earlier refresh (100% = one CPU);\n"
    "EV/S is a handler's delivered events per second, and events/s at the top the\n"
    "events kvd published per second, counted on its event stream.\n"
    "top needs a terminal (stdin and stdout); otherwise, or with --json, it is a\n"
    "usage error (2): 'kvctl ps' and 'kvctl handlers' print a snapshot. q exits 0;\n"
    "Ctrl-C 130; kvd going away or not answering within --timeout ends it with a\n"
    "message on stderr and exit 3.";

// Lists each command with its arguments ("stop NAME [--timeout D]") rather than its bare name.
class CommandListFormatter : public CLI::Formatter {
  public:
    void set_synopsis(const std::string& command, std::string synopsis) {
        synopses_[command] = std::move(synopsis);
    }
    std::string make_subcommand(const CLI::App* sub) const override {
        auto it = synopses_.find(sub->get_name());
        std::string name = it == synopses_.end() ? sub->get_name() : it->second;
        std::stringstream out;
        CLI::detail::format_help(out, name, sub->get_description(), column_width_);
        return out.str();
    }

  private:
    std::map<std::string, std::string> synopses_;
};

// The longest duration kvctl takes: waits are deadlines on the steady clock, which a
// duration of centuries would overflow, and no answer from kvd is worth a day.
constexpr Millis kMaxDuration = std::chrono::hours(24);

CLI::Validator duration_validator(bool positive) {
    return CLI::Validator(
        [positive](std::string& text) -> std::string {
            std::string error;
            auto d = parse_duration(text, &error);
            if (!d) return error;
            if (positive && d->count() <= 0) return "'" + text + "' must be more than 0";
            if (*d > kMaxDuration) return "'" + text + "' is longer than the limit of 24h";
            return "";
        },
        "", "DURATION");
}

CLI::Validator minimum_duration_validator(Millis min) {
    return CLI::Validator(
        [min](std::string& text) -> std::string {
            auto d = parse_duration(text);
            if (d && *d < min)
                return fmt::format("'{}' is shorter than {}", text, format_duration(min));
            return "";
        },
        "", "");
}

// A whole number from `min` up, in decimal digits only: CLI11 2.1 reads "-1" into an unsigned
// as 2^64-1, and its own range check prints a bound of 309 digits.
CLI::Validator whole_number_validator(uint64_t min, std::string_view what) {
    return CLI::Validator(
        [min, what = std::string(what)](std::string& text) -> std::string {
            if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos)
                return fmt::format("'{}' is not {} (a whole number from {} up)", text, what, min);
            uint64_t value = 0;
            auto ec = std::from_chars(text.data(), text.data() + text.size(), value).ec;
            if (ec == std::errc::result_out_of_range)
                return fmt::format("'{}' is too large for {}", text, what);
            if (value < min)
                return fmt::format("'{}' is not {}: it must be at least {}", text, what, min);
            return "";
        },
        "", "");
}

const CLI::Validator kSignalValidator(
    [](std::string& text) -> std::string {
        return canonical_signal(text) ? "" : "'" + text + "' is not a signal name or number";
    },
    "", "SIGNAL");

const CLI::Validator kJsonValidator(
    [](std::string& text) -> std::string {
        std::string error;
        return parse_json_argument(text, &error) ? "" : "not JSON kvctl can send: " + error;
    },
    "", "JSON");

// The edit distance between two words (optimal string alignment: an insertion, deletion,
// substitution or swap of neighbours counts 1), for "did you mean".
std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
    for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
    for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
        }
    }
    return d[a.size()][b.size()];
}

// "kvctl: unknown command 'lsit'; did you mean 'list'? (see kvctl --help)": the closest
// command within two edits, when there is one.
std::string unknown_command_message(const CLI::App& app, const std::string& word) {
    std::string best;
    std::size_t best_distance = 3;
    for (const CLI::App* command : app.get_subcommands({})) {
        std::size_t distance = edit_distance(word, command->get_name());
        if (distance < best_distance && distance < word.size()) {
            best = command->get_name();
            best_distance = distance;
        }
    }
    if (best.empty()) return fmt::format("kvctl: unknown command '{}' (see kvctl --help)\n", word);
    return fmt::format("kvctl: unknown command '{}'; did you mean '{}'? (see kvctl --help)\n", word,
                       best);
}

// `events` ends on SIGINT/SIGTERM: the handler writes the signal's number as one byte into a
// pipe that the client polls alongside the socket, so a signal arriving just before poll(2)
// is not lost, and kvctl can exit 128 + that number as a shell expects.
int g_interrupt_write_fd = -1;

void on_interrupt(int signo) {
    int saved = errno;
    auto byte = static_cast<char>(signo);
    [[maybe_unused]] ssize_t n = write(g_interrupt_write_fd, &byte, 1);
    errno = saved;
}

class InterruptPipe {
  public:
    InterruptPipe() {
        if (pipe2(fds_, O_CLOEXEC | O_NONBLOCK) != 0) return;
        g_interrupt_write_fd = fds_[1];
        struct sigaction sa {};
        sa.sa_handler = on_interrupt;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, &old_int_);
        sigaction(SIGTERM, &sa, &old_term_);
    }
    ~InterruptPipe() {
        if (fds_[0] < 0) return;
        sigaction(SIGINT, &old_int_, nullptr);
        sigaction(SIGTERM, &old_term_, nullptr);
        g_interrupt_write_fd = -1;
        close(fds_[0]);
        close(fds_[1]);
    }
    InterruptPipe(const InterruptPipe&) = delete;
    InterruptPipe& operator=(const InterruptPipe&) = delete;

    int read_fd() const { return fds_[0]; }

  private:
    int fds_[2] = {-1, -1};
    struct sigaction old_int_ {};
    struct sigaction old_term_ {};
};

int run_command(int argc, const char* const* argv, std::ostream& out, std::ostream& err,
                const OutputEnvironment& output) {
    CLI::App app{kDescription, "kvctl"};
    auto formatter = std::make_shared<CommandListFormatter>();
    formatter->column_width(32);
    formatter->label("SUBCOMMAND", "COMMAND");
    app.formatter(formatter);
    app.require_subcommand(1);
    // Global options are also taken after the command (`kvctl list --json`). Set before the
    // commands are added: each copies it.
    app.fallthrough();
    app.set_version_flag("--version", std::string("kvctl ") + KVD_VERSION);
    app.failure_message([](const CLI::App*, const CLI::Error& e) {
        return "kvctl: " + std::string(e.what()) + " (see kvctl --help)\n";
    });

    std::string socket_flag;
    std::string timeout_text = "30s";
    bool json = false;
    app.add_option("--socket", socket_flag, "kvd's control socket (default: see Socket below)")
        ->type_name("PATH");
    app.add_flag("--json", json,
                 "print the reply's result (or error) as one JSON document;\n"
                 "events as one JSON line each");
    app.add_option("--timeout", timeout_text,
                   "how long to wait for kvd to accept and to answer each\n"
                   "request, e.g. 500ms, 5s, 1m (default 30s)")
        ->check(duration_validator(true))
        ->type_name("DURATION");

    auto add_command = [&](const std::string& name, const std::string& synopsis,
                           const std::string& description) {
        CLI::App* command = app.add_subcommand(name, description);
        command->footer(kCommandFooter);
        command->group("Commands");
        formatter->set_synopsis(name, synopsis);
        return command;
    };
    auto add_positional = [](CLI::App* command, const std::string& name, auto& target,
                             const std::string& help) {
        return command->add_option(name, target, help)->type_name("");
    };

    // The chosen command's callback stores what to run once the socket path is known.
    std::function<int(Context&)> action;
    bool streams_events = false;

    add_command("ping", "ping", "check that kvd answers; prints its version and pid")
        ->callback([&] { action = cmd_ping; });

    add_command("status", "status",
                "show kvd's version, pid, boot id (random at each kvd start),\n"
                "uptime, and how many buckets, handlers, subscriptions and\n"
                "events it has")
        ->callback([&] { action = cmd_status; });

    std::vector<std::string> create_names;
    std::string create_kind;
    auto* create = add_command("create", "create [--kind K] NAME...",
                               "start a bucket process for each NAME; an existing bucket\n"
                               "is left as it is. Several names are sent at once");
    add_positional(create, "NAME", create_names, kBucketHelp)->required();
    auto* kind_option = create
                            ->add_option("--kind", create_kind,
                                         "run them as kind K, a [[kind]] of kvd's config\n"
                                         "(default: kv-bucket, kvd's default kind)")
                            ->type_name("K");
    create->callback([&] {
        action = [&](Context& c) {
            std::optional<std::string> kind;
            if (kind_option->count() > 0) kind = create_kind;
            return cmd_create(c, create_names, kind);
        };
    });

    std::string bucket, key, value;
    auto* lookup =
        add_command("lookup", "lookup NAME", "print the pid of bucket NAME (exit 1 if none)");
    add_positional(lookup, "NAME", bucket, kBucketHelp)->required();
    lookup->callback([&] { action = [&](Context& c) { return cmd_lookup(c, bucket); }; });

    add_command("list", "list",
                "list every bucket with its pid and start time (and, from a\n"
                "kvd that has them, its kind and state)")
        ->callback([&] { action = cmd_list; });

    add_command("ps", "ps",
                "show every bucket like supervisorctl status: kind, state,\n"
                "pid, uptime, restarts, last exit, RSS and CPU time (\"-\"\n"
                "where kvd does not know); --json prints list's result")
        ->callback([&] { action = cmd_ps; });

    // stop, kill and restart: NAME... or --all, checked once the command line is parsed.
    Targets targets;
    auto add_targets = [&](CLI::App* command, const std::string& verb) {
        add_positional(command, "NAME", targets.words, kTargetHelp);
        command->add_flag("--all", targets.all, "every bucket kvd has (instead of names)");
        command->footer(std::string(kCommandFooter) + kTargetFooter);
        return [&, verb](const std::function<int(Context&)>& act) {
            action = [&, verb, act](Context& c) {
                if (targets.words.empty() == !targets.all) {
                    std::string_view problem = targets.all ? "give bucket names or --all, not both"
                                                           : "name the buckets, or give --all";
                    c.err << fmt::format("kvctl: {}: {} (see kvctl {} --help)\n", verb, problem,
                                         verb);
                    return kExitUsage;
                }
                return act(c);
            };
        };
    };

    std::string stop_timeout_text;
    auto* stop = add_command("stop", "stop NAME...|--all [--timeout D]",
                             "stop buckets: SIGTERM, then SIGKILL after a timeout;\n"
                             "returns once they have exited");
    auto stop_action = add_targets(stop, "stop");
    stop->add_option("--timeout", stop_timeout_text,
                     "time between SIGTERM and SIGKILL\n(default: kvd's [bucket] stop_timeout)")
        ->check(duration_validator(false))
        ->type_name("DURATION");
    stop->callback([&, stop_action] {
        stop_action([&](Context& c) {
            std::optional<Millis> timeout;
            if (!stop_timeout_text.empty()) timeout = parse_duration(stop_timeout_text);
            return cmd_stop(c, targets, timeout);
        });
    });

    std::string restart_timeout_text;
    auto* restart = add_command("restart", "restart NAME...|--all [--timeout D]",
                                "stop buckets as stop does and start each again with the\n"
                                "same kind; returns once they run again");
    auto restart_action = add_targets(restart, "restart");
    restart
        ->add_option("--timeout", restart_timeout_text,
                     "time between SIGTERM and SIGKILL when stopping\n"
                     "(default: the kind's stop_timeout)")
        ->check(duration_validator(false))
        ->type_name("DURATION");
    restart->callback([&, restart_action] {
        restart_action([&](Context& c) {
            std::optional<Millis> timeout;
            if (!restart_timeout_text.empty()) timeout = parse_duration(restart_timeout_text);
            return cmd_restart(c, targets, timeout);
        });
    });

    std::string signal_text = "SIGKILL";
    auto* kill = add_command("kill", "kill NAME...|--all [--signal SIG]",
                             "send a signal to buckets' processes (default SIGKILL)");
    auto kill_action = add_targets(kill, "kill");
    kill->add_option("--signal", signal_text,
                     "signal name or number: KILL, SIGTERM, hup, 15 ...\n(default SIGKILL)")
        ->check(kSignalValidator)
        ->type_name("SIG");
    kill->callback([&, kill_action] {
        kill_action(
            [&](Context& c) { return cmd_kill(c, targets, *canonical_signal(signal_text)); });
    });

    LogsOptions logs_options;
    uint64_t logs_lines = 0;
    bool logs_stderr = false, logs_stdout = false;
    std::string logs_bucket;
    auto* logs = add_command("logs", "logs NAME [-n N] [-f] [--stderr|--stdout]",
                             "print a bucket's captured output (stdout and stderr);\n"
                             "with -f, follow it until Ctrl-C or the bucket is gone");
    add_positional(logs, "NAME", logs_bucket, kBucketHelp)->required();
    auto* lines_option = logs->add_option("-n,--lines", logs_lines,
                                          "the last N lines (default: kvd's; 0 with -f: only\n"
                                          "new lines)")
                             ->check(whole_number_validator(0, "a number of lines"))
                             ->type_name("N");
    logs->add_flag("-f,--follow", logs_options.follow,
                   "then print each new line as it comes, until Ctrl-C (exit\n"
                   "130) or kvd ends the stream because the bucket is gone\n"
                   "(exit 0)");
    auto* stderr_flag = logs->add_flag("--stderr", logs_stderr, "only what it wrote to stderr");
    logs->add_flag("--stdout", logs_stdout, "only what it wrote to stdout")->excludes(stderr_flag);
    logs->footer(std::string(kCommandFooter) +
                 "\n\nOn a terminal, stderr lines are set apart: in red, or after \"stderr| \"\n"
                 "when colour is off ($NO_COLOR). Lines kvd could not keep are told on stderr\n"
                 "as \"kvctl: N lines lost\". --json prints each line as {\"stream\",\"line\",\n"
                 "\"time\"} and each loss as {\"dropped\":N}, one JSON object per line.");
    logs->callback([&] {
        if (lines_option->count() > 0) logs_options.lines = logs_lines;
        if (logs_stderr) logs_options.stream = "stderr";
        if (logs_stdout) logs_options.stream = "stdout";
        streams_events = logs_options.follow;
        action = [&](Context& c) { return cmd_logs(c, logs_bucket, logs_options); };
    });

    auto* put = add_command("put", "put BUCKET KEY VALUE|-",
                            "store VALUE under KEY in BUCKET; '-' reads the value from\n"
                            "stdin, all of it (for a value that starts with '-', write:\n"
                            "kvctl put -- BUCKET KEY -1)");
    add_positional(put, "BUCKET", bucket, kBucketHelp)->required();
    add_positional(put, "KEY", key, "the key, any UTF-8 text")->required();
    add_positional(put, "VALUE", value,
                   "the value, any UTF-8 text; '-': read it from stdin, byte for\n"
                   "byte up to end of file, a last newline included. One request\n"
                   "line is at most 1 MiB, so a value must fit in that once JSON-\n"
                   "escaped (about 1 MiB of text; control characters take 6 bytes)")
        ->required();
    put->callback([&] {
        action = [&](Context& c) {
            if (value == "-") {
                std::string error;
                auto read = read_value(STDIN_FILENO, &error);
                if (!read) {
                    c.err << "kvctl: cannot take the value from stdin: " << error << '\n';
                    return kExitUsage;
                }
                value = std::move(*read);
            }
            for (const auto& [what, text] : {std::pair{"key", &key}, std::pair{"value", &value}}) {
                if (!is_json_text(*text)) {
                    c.err << fmt::format(
                        "kvctl: the {} is not valid UTF-8; kvd keeps keys and values as JSON "
                        "text\n",
                        what);
                    return kExitUsage;
                }
            }
            return cmd_put(c, bucket, key, value);
        };
    });

    auto* get = add_command("get", "get BUCKET KEY",
                            "print the value of KEY in BUCKET (exit 1 if there is none)");
    add_positional(get, "BUCKET", bucket, kBucketHelp)->required();
    add_positional(get, "KEY", key, "the key")->required();
    get->callback([&] { action = [&](Context& c) { return cmd_get(c, bucket, key); }; });

    auto* del = add_command("delete", "delete BUCKET KEY",
                            "remove KEY from BUCKET (a missing key is not an error)");
    add_positional(del, "BUCKET", bucket, kBucketHelp)->required();
    add_positional(del, "KEY", key, "the key")->required();
    del->callback([&] { action = [&](Context& c) { return cmd_delete(c, bucket, key); }; });

    auto* keys = add_command("keys", "keys BUCKET", "print the keys of BUCKET, one per line");
    add_positional(keys, "BUCKET", bucket, kBucketHelp)->required();
    keys->callback([&] { action = [&](Context& c) { return cmd_keys(c, bucket); }; });

    std::string notify_type, notify_data;
    bool notify_sync = false;
    auto* notify = add_command("notify", "notify TYPE [JSON] [--sync]",
                               "publish a custom event of type TYPE, with optional JSON\n"
                               "data, to handlers and subscribers");
    add_positional(notify, "TYPE", notify_type,
                   "the event's type: any word but create, exit, dropped")
        ->required();
    add_positional(notify, "JSON", notify_data,
                   "the event's data, one JSON value, e.g. '{\"world\":true}'\n"
                   "(quote it for the shell)")
        ->check(kJsonValidator);
    notify->add_flag("--sync", notify_sync, "return only after every sync handler acknowledged it");
    notify->callback([&] {
        action = [&](Context& c) {
            std::optional<Json> data;
            if (!notify_data.empty()) data = parse_json_argument(notify_data);
            return cmd_notify(c, notify_type, std::move(data), notify_sync);
        };
    });

    EventsOptions events_options;
    uint64_t from_seq = 0, count = 0;
    auto* events =
        add_command("events", "events [--type T]... [--from SEQ] [--count N] [--sync] [--retry]",
                    "print events as they happen, one line each, until Ctrl-C\n"
                    "(exit 130) or --count; with --json, the raw JSON lines");
    events
        ->add_option("--type", events_options.types,
                     "only events of type T; repeat for several\n(default: every type)")
        ->type_name("T");
    auto* from_option = events
                            ->add_option("--from", from_seq,
                                         "first replay the events from seq SEQ on that kvd still\n"
                                         "keeps in its history (error history_lost if gone)")
                            ->check(whole_number_validator(0, "a sequence number"))
                            ->type_name("SEQ");
    auto* count_option = events
                             ->add_option("--count", count,
                                          "exit after N events (N >= 1; with --retry, counted\n"
                                          "across reconnections)")
                             ->check(whole_number_validator(1, "a count of events"))
                             ->type_name("N");
    events->add_flag("--sync", events_options.sync,
                     "subscribe in sync mode: kvctl acknowledges each event\n"
                     "after printing it, and kvd waits for that (backpressure)");
    events->add_flag("--retry", events_options.retry,
                     "when kvd goes away, reconnect (every 100ms, backing off\n"
                     "to 2s, until interrupted) and go on after the last event\n"
                     "printed; if kvd restarted (a new boot id), say so and go\n"
                     "on from its first event. Also waits for kvd at the start.\n"
                     "Without it, kvd going away ends events with exit 3");
    events->callback([&] {
        if (from_option->count() > 0) events_options.from_seq = from_seq;
        if (count_option->count() > 0) events_options.count = count;
        streams_events = true;
        action = [&](Context& c) { return cmd_events(c, events_options); };
    });

    add_command("handlers", "handlers", "show each handler: pid, state, mode and delivery counters")
        ->callback([&] { action = cmd_handlers; });

    TopOptions top_options;
    std::string top_interval_text = "1s";
    auto* top = add_command("top", "top [--interval D]",
                            "a live full-screen view of buckets and handlers: state,\n"
                            "pid, uptime, restarts, RSS and CPU, delivery counters and\n"
                            "events/s; keys sort it, q quits");
    top->add_option("--interval", top_interval_text,
                    "time between refreshes (default 1s, at least 100ms);\n"
                    "a bucket's create or exit refreshes at once")
        ->check(duration_validator(true) & minimum_duration_validator(Millis(100)))
        ->type_name("DURATION");
    top->footer(std::string(kCommandFooter) + kTopFooter);
    top->callback([&] {
        top_options.interval = *parse_duration(top_interval_text);
        streams_events = true;  // Ctrl-C ends it like `events`: 130
        action = [&](Context& c) { return cmd_top(c, top_options); };
    });

    add_command("metrics", "metrics",
                "print kvd's figures in the Prometheus text format: buckets by\n"
                "state, creates, exits, restarts, each handler's counters, the\n"
                "event history, connections, the exit-detection histogram")
        ->callback([&] { action = cmd_metrics; });

    add_command("reload", "reload",
                "make kvd re-read its config: start new, stop removed and\n"
                "restart changed handlers (buckets are untouched)")
        ->callback([&] { action = cmd_reload; });

    std::string shell;
    auto* completion = add_command("completion", "completion SHELL",
                                   "print the Tab completion script for SHELL (bash, zsh\n"
                                   "or fish), made from this command table");
    add_positional(completion, "SHELL", shell, "bash, zsh or fish")
        ->required()
        ->check(CLI::IsMember(kCompletionShells));
    completion->callback([&] {
        action = [&](Context& c) {
            c.out << *completion_script(app, shell);
            return kExitOk;
        };
    });

    std::string help_topic;
    auto* help = add_command("help", "help [COMMAND]", "print this help, or COMMAND's");
    add_positional(help, "COMMAND", help_topic, "the command to describe");
    bool help_only = false;
    help->callback([&] { help_only = true; });

    // Set last: a subcommand copies its parent's footer when it is created.
    app.footer(fmt::format(kFooter, resolve_socket_path(socket_path_inputs_from_environment())));

    if (argc < 2) {
        err << app.help();
        return kExitUsage;
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // A mistyped command reaches CLI11 as a stray word, reported as "a subcommand is
        // required": name the word instead.
        if (app.get_subcommands().empty() && !app.remaining().empty() &&
            e.get_name() == "RequiredError") {
            err << unknown_command_message(app, app.remaining().front());
            return kExitUsage;
        }
        return app.exit(e, out, err) == 0 ? kExitOk : kExitUsage;
    }
    if (help_only) {
        // Not app.help(): with `help` itself parsed, that describes the `help` command.
        if (help_topic.empty()) {
            out << app.get_formatter()->make_help(&app, "kvctl", CLI::AppFormatMode::Normal);
            return kExitOk;
        }
        try {
            out << app.get_subcommand(help_topic)->help("kvctl");
            return kExitOk;
        } catch (const CLI::OptionNotFound&) {
            err << unknown_command_message(app, help_topic);
            return kExitUsage;
        }
    }

    SocketPathInputs inputs = socket_path_inputs_from_environment();
    if (!socket_flag.empty()) inputs.flag = socket_flag;
    Context ctx{.socket_path = resolve_socket_path(inputs),
                .json = json,
                .timeout = *parse_duration(timeout_text),
                .out = out,
                .err = err,
                .terminal = output.stdout_is_terminal,
                .colour = !json && colour_wanted(output.stdout_is_terminal, output.no_color.c_str(),
                                                 output.term.c_str())};
    if (!streams_events) return action(ctx);
    InterruptPipe interrupt;
    ctx.wake_fd = interrupt.read_fd();
    return action(ctx);
}

}  // namespace

OutputEnvironment OutputEnvironment::of_this_process() {
    OutputEnvironment env;
    env.stdout_is_terminal = isatty(STDOUT_FILENO) == 1;
    if (const char* v = std::getenv("NO_COLOR")) env.no_color = v;
    if (const char* v = std::getenv("TERM")) env.term = v;
    return env;
}

int run(int argc, const char* const* argv, std::ostream& out, std::ostream& err,
        const OutputEnvironment& output) {
    // Every error kvctl expects is handled where it arises; this is the last guard, so that
    // kvctl never aborts. What gets here came from what it was given, most likely.
    try {
        return run_command(argc, argv, out, err, output);
    } catch (const std::exception& e) {
        err << "kvctl: internal error: " << e.what() << '\n';
        return kExitUsage;
    }
}

}  // namespace kvd::ctl
