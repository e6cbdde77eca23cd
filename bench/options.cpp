#include "bench/options.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>

namespace kvd::bench {

namespace {

const char kUsage[] =
    "usage: kvd-bench [--quick] [--reps N] [--scale-reps N] [--only SECTION,...] [--out FILE]\n"
    "                 [--markdown FILE]"
    " [--creates N] [--creates-at-alive N] [--alive N] [--some-alive N] [--kills N] [--events N]\n"
    "                 [--subscribers N,N] [--data-ops N] [--depth N] [--value-sizes N,N]\n"
    "                 [--super-procs N] [--super-kills N] [--idle-seconds S] [--keep-tmp]\n"
    "\n"
    "Starts its own kvd (and redis-server, supervisord, the libuv floors) in a temporary\n"
    "directory, measures, prints a table and writes the figures as JSON.\n"
    "Sections: create, exit, notify, data, scale, supervisor, kinds, fleet (default: all). The "
    "create\n"
    "and exit rows at --alive buckets are measured inside scale, which builds that population\n"
    "once.\n"
    "--quick: small counts and 3 repetitions, for CI (a few minutes).\n"
    "--out: default bench/results.json. --markdown: default bench/RESULTS.md for a full run,\n"
    "none for --quick.\n";

std::vector<std::size_t> parse_list(const std::string& s) {
    std::vector<std::size_t> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ','))
        if (!item.empty()) out.push_back(std::strtoull(item.c_str(), nullptr, 10));
    return out;
}

[[noreturn]] void usage_error(const std::string& message) {
    std::fprintf(stderr, "kvd-bench: %s\n%s", message.c_str(), kUsage);
    std::exit(2);
}

}  // namespace

Options parse_options(int argc, char** argv, const Paths& paths) {
    Options o;
    bool markdown_given = false;
    // --quick first, so explicit counts after it (or before it) win.
    for (int i = 1; i < argc; ++i)
        if (std::strcmp(argv[i], "--quick") == 0) {
            o.quick = true;
            o.reps = 3;
            o.scale_reps = 1;
            o.creates_at_many = 50;
            o.creates = 100;
            o.many_alive = 1000;
            o.some_alive = 300;
            o.kills = 60;
            o.events = 20000;
            o.data_ops = 20000;
            o.super_procs = 50;
            o.super_kills = 9;
            o.idle_seconds = 1;
        }
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage_error(a + " needs a value");
            return argv[++i];
        };
        auto number = [&]() -> std::size_t {
            std::string v = value();
            char* end = nullptr;
            unsigned long long n = std::strtoull(v.c_str(), &end, 10);
            if (v.empty() || *end) usage_error(a + ": not a number: " + v);
            return static_cast<std::size_t>(n);
        };
        if (a == "--quick") continue;
        if (a == "--help" || a == "-h") {
            std::fputs(kUsage, stdout);
            std::exit(0);
        } else if (a == "--reps")
            o.reps = number();
        else if (a == "--scale-reps")
            o.scale_reps = number();
        else if (a == "--creates")
            o.creates = number();
        else if (a == "--creates-at-alive")
            o.creates_at_many = number();
        else if (a == "--alive")
            o.many_alive = number();
        else if (a == "--some-alive")
            o.some_alive = number();
        else if (a == "--kills")
            o.kills = number();
        else if (a == "--events")
            o.events = number();
        else if (a == "--subscribers")
            o.subscribers = parse_list(value());
        else if (a == "--data-ops")
            o.data_ops = number();
        else if (a == "--depth")
            o.depth = number();
        else if (a == "--value-sizes")
            o.value_sizes = parse_list(value());
        else if (a == "--super-procs")
            o.super_procs = number();
        else if (a == "--super-kills")
            o.super_kills = number();
        else if (a == "--idle-seconds")
            o.idle_seconds = std::strtod(value().c_str(), nullptr);
        else if (a == "--only") {
            std::stringstream ss(value());
            std::string s;
            while (std::getline(ss, s, ','))
                if (!s.empty()) o.sections.insert(s);
        } else if (a == "--out")
            o.out_json = value();
        else if (a == "--markdown") {
            o.out_markdown = value();
            markdown_given = true;
        } else if (a == "--keep-tmp")
            o.keep_tmp = true;
        else
            usage_error("unknown argument " + a);
    }
    for (const auto& s : o.sections)
        if (s != "create" && s != "exit" && s != "notify" && s != "data" && s != "scale" &&
            s != "supervisor" && s != "kinds" && s != "fleet")
            usage_error("unknown section " + s);
    if (o.reps == 0) usage_error("--reps must be at least 1");
    if (o.scale_reps == 0) o.scale_reps = 1;
    if (o.out_json.empty()) o.out_json = paths.source_dir + "/bench/results.json";
    if (!markdown_given && !o.quick && o.sections.empty())
        o.out_markdown = paths.source_dir + "/bench/RESULTS.md";
    return o;
}

}  // namespace kvd::bench
