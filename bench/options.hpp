// The benchmark's command line: which sections run, their counts, where results go.
#pragma once

#include <cstddef>
#include <set>
#include <string>
#include <vector>

namespace kvd::bench {

struct Options {
    bool quick = false;
    std::size_t reps = 5;               // repetitions of every measured figure
    std::size_t scale_reps = 1;         // builds of the 10,000-bucket population (minutes each)
    std::size_t creates = 1000;         // buckets per create run
    std::size_t creates_at_many = 200;  // ... with many_alive buckets alive (spawns are slow there)
    std::size_t many_alive = 10000;     // "10,000 buckets alive" (create, exit, scale)
    std::size_t some_alive = 1000;      // the middle point of the exit-latency rows
    std::size_t kills = 500;            // exit-latency kills per row (split over the reps)
    std::size_t events = 100000;        // notify events per run
    std::size_t event_window = 1000;    // unanswered notify/PUBLISH requests at most
    std::vector<std::size_t> subscribers = {1, 8};
    std::size_t payload_bytes = 64;  // notify data / PUBLISH message
    std::size_t data_ops = 100000;   // put or get requests per run
    std::size_t depth = 64;          // data-path pipelining depth
    std::vector<std::size_t> value_sizes = {16, 1024};
    std::size_t super_procs = 200;   // supervisord comparison: processes
    std::size_t super_kills = 50;    // ... kills per row (split over the reps)
    double idle_seconds = 5;         // kvd idle-CPU window
    std::set<std::string> sections;  // empty: all
    std::string out_json;            // results.json path
    std::string out_markdown;        // RESULTS.md path ("" = none)
    bool keep_tmp = false;

    bool wants(const std::string& section) const {
        return sections.empty() || sections.count(section) != 0;
    }
};

// Where the programs are: the build's bin directory and the source tree.
struct Paths {
    std::string bin_dir;
    std::string source_dir;
    std::string bin(const std::string& name) const { return bin_dir + "/" + name; }
};

// Parses argv; prints usage and exits on --help or an error.
Options parse_options(int argc, char** argv, const Paths& paths);

}  // namespace kvd::bench
