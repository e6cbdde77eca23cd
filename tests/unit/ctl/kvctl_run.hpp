// Running kvctl in-process for the unit tests: its whole command line (`run`) or one command
// (a Context), keeping what it printed, and a scripted kvd answering line by line.
#pragma once

#include <sstream>
#include <string>
#include <vector>

#include "ctl/cli.hpp"
#include "ctl/commands.hpp"
#include "fake_kvd.hpp"

namespace kvd::ctl::testing {

struct KvctlRun {
    int status;
    std::string out, err;
};

// `kvctl ARGS...`, as the shell would run it.
inline KvctlRun kvctl(std::vector<std::string> args, const OutputEnvironment& output = {}) {
    args.insert(args.begin(), "kvctl");
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    std::ostringstream out, err;
    int status = run(static_cast<int>(argv.size()), argv.data(), out, err, output);
    return {status, out.str(), err.str()};
}

// A command's context against the kvd at `path`, keeping what the command printed.
struct Captured {
    std::ostringstream out, err;
    Context ctx;
    explicit Captured(const std::string& path, bool json = false)
        : ctx{.socket_path = path, .json = json, .timeout = Millis(5000), .out = out, .err = err} {}
};

// Answers every request line with the next scripted reply, keeping the requests.
inline FakeKvd::Script answer(std::vector<std::string> replies, std::vector<Json>* requests) {
    return [replies = std::move(replies), requests](ServerConnection& c) {
        for (const auto& reply : replies) {
            auto line = c.read_line();
            if (!line) return;
            requests->push_back(Json::parse(*line));
            c.write(reply + "\n");
        }
        c.wait_closed();
    };
}

}  // namespace kvd::ctl::testing
