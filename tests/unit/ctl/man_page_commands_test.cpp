// kvctl(1) documents every command and option kvctl has: they are read from kvctl's own
// --help and `help COMMAND`, so a command added to the table but not to the page fails here.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "ctl/cli.hpp"

namespace kvd::ctl {
namespace {

std::string help_of(std::vector<const char*> args) {
    args.insert(args.begin(), "kvctl");
    std::ostringstream out, err;
    EXPECT_EQ(run(static_cast<int>(args.size()), args.data(), out, err), 0) << err.str();
    return out.str();
}

// The first word of each line of a help section ("Commands:", "Options:").
std::set<std::string> section_words(const std::string& help, const std::string& title) {
    std::set<std::string> words;
    std::istringstream in(help);
    bool inside = false;
    for (std::string line; std::getline(in, line);) {
        if (line == title) {
            inside = true;
            continue;
        }
        if (!inside) continue;
        if (line.empty()) break;
        if (line.rfind("  ", 0) != 0 || line[2] == ' ') continue;
        std::istringstream fields(line);
        std::string first;
        fields >> first;
        // "-h,--help", "--signal SIG": every name of the option.
        std::istringstream names(first);
        for (std::string name; std::getline(names, name, ',');) words.insert(name);
    }
    return words;
}

std::string man_page() {
    std::ifstream in(std::string(KVD_SOURCE_DIR) + "/docs/man/kvctl.1.scd");
    EXPECT_TRUE(in) << "cannot read docs/man/kvctl.1.scd";
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

TEST(ManPageCommands, EveryCommandAndOptionIsInKvctl1) {
    std::string page = man_page();
    auto commands = section_words(help_of({"--help"}), "Commands:");
    ASSERT_GE(commands.size(), 10u);
    for (const auto& command : commands) {
        EXPECT_NE(page.find("\n*" + command + "*"), std::string::npos)
            << "command " << command << " has no entry in docs/man/kvctl.1.scd";
        for (const auto& option : section_words(help_of({"help", command.c_str()}), "Options:"))
            EXPECT_NE(page.find("*" + option + "*"), std::string::npos)
                << command << " " << option << " is not in docs/man/kvctl.1.scd";
    }
    for (const auto& option : section_words(help_of({"--help"}), "Options:"))
        EXPECT_NE(page.find("*" + option + "*"), std::string::npos)
            << option << " is not in docs/man/kvctl.1.scd";
}

}  // namespace
}  // namespace kvd::ctl
