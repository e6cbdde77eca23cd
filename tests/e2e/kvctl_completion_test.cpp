// `kvctl completion SHELL`: the bash script run in a real bash completes commands, options and
// the bucket names a real kvd reports; the zsh and fish scripts parse in their shells.
#include <unistd.h>

#include <algorithm>
#include <set>
#include <sstream>

#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

using Words = std::set<std::string>;

Words lines_of(const std::string& text) {
    Words words;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) words.insert(line);
    return words;
}

// The commands `kvctl --help` lists: the first word of each line of its Commands section.
Words commands_in_help() {
    auto help = run_kvctl({"--help"});
    EXPECT_EQ(help.exit_code, 0) << help;
    Words commands;
    std::istringstream in(help.out);
    bool in_section = false;
    for (std::string line; std::getline(in, line);) {
        if (line == "Commands:") {
            in_section = true;
            continue;
        }
        if (!in_section) continue;
        if (line.empty()) break;
        if (line.rfind("  ", 0) == 0 && line[2] != ' ') {
            std::istringstream words(line);
            std::string first;
            words >> first;
            commands.insert(first);
        }
    }
    return commands;
}

std::string find_shell(const std::string& name) {
    for (std::string dir : {"/usr/bin", "/bin", "/usr/local/bin"}) {
        std::string path = dir + "/" + name;
        if (access(path.c_str(), X_OK) == 0) return path;
    }
    return "";
}

class Completion : public KvdTest {
  protected:
    void SetUp() override {
        if (!kvctl_built()) GTEST_SKIP() << "kvctl is not built";
        if (find_shell("bash").empty()) GTEST_SKIP() << "no bash";
        KvdTest::SetUp();
    }

    // What bash offers for the command line `words` (kvctl's path is prepended; the last word
    // is the one being completed), with kvd's socket in $KVD_SOCKET as a user would have it.
    Words complete(const std::vector<std::string>& words,
                   std::optional<std::string> socket = std::nullopt) {
        std::vector<std::string> args = {"-c",
                                         "source <(\"$1\" completion bash) || exit 99\n"
                                         "COMP_WORDS=(\"$@\")\n"
                                         "COMP_CWORD=$(($# - 1))\n"
                                         "_kvctl\n"
                                         "printf '%s\\n' \"${COMPREPLY[@]}\"\n",
                                         "bash", kvctl_path()};
        args.insert(args.end(), words.begin(), words.end());
        auto r = run_program(find_shell("bash"), args,
                             {{"KVD_SOCKET", socket.value_or(kvd().socket_path())}});
        EXPECT_EQ(r.exit_code, 0) << r;
        EXPECT_EQ(r.err, "") << r;
        return lines_of(r.out);
    }
};

// What the zsh function hands to zsh's completion system for `words`: the candidates it
// passes to compadd and _describe (stubbed here to print them; zsh itself then matches them
// against the word typed), without their descriptions.
Words complete_zsh(const std::vector<std::string>& words, const std::string& socket) {
    std::vector<std::string> args = {
        "-c",
        "compdef() { }\n"
        "compadd() {\n"
        "    while [[ $1 == -* && $1 != -- ]]; do shift; done\n"
        "    [[ $1 == -- ]] && shift\n"
        "    print -l -- \"$@\"\n"
        "}\n"
        "_describe() { [[ $1 == -t ]] && shift 2; local list=$2; print -l -- ${(P)list%%:*} }\n"
        "source <(\"$1\" completion zsh) || exit 99\n"
        "words=(\"$@\")\n"
        "CURRENT=$#\n"
        "_kvctl\n"
        "exit 0\n",
        "zsh", kvctl_path()};
    args.insert(args.end(), words.begin(), words.end());
    auto r = run_program(find_shell("zsh"), args, {{"KVD_SOCKET", socket}});
    EXPECT_EQ(r.exit_code, 0) << r;
    EXPECT_EQ(r.err, "") << r;
    return lines_of(r.out);
}

TEST_F(Completion, ZshOffersTheSameWords) {
    if (find_shell("zsh").empty()) GTEST_SKIP() << "zsh is not installed";
    ASSERT_GT(create("shopping"), 0);
    ASSERT_GT(create("shop:2"), 0);
    EXPECT_EQ(complete_zsh({""}, kvd().socket_path()), commands_in_help());
    EXPECT_EQ(complete_zsh({"stop", ""}, kvd().socket_path()), (Words{"shop:2", "shopping"}));
    EXPECT_EQ(complete_zsh({"stop", ""}, dir_.file("no-kvd.sock")), Words{});
    Words events = complete_zsh({"events", "--"}, kvd().socket_path());
    EXPECT_TRUE(events.count("--retry"));
    EXPECT_TRUE(events.count("--socket"));
    EXPECT_TRUE(complete_zsh({"kill", "a", "--signal", ""}, kvd().socket_path()).count("SIGTERM"));
}

TEST_F(Completion, OffersEveryCommandOfTheHelp) {
    Words commands = commands_in_help();
    ASSERT_GE(commands.size(), 10u);
    EXPECT_TRUE(commands.count("completion"));
    EXPECT_EQ(complete({""}), commands);
    EXPECT_EQ(complete({"st"}), (Words{"status", "stop"}));
    EXPECT_EQ(complete({"--json", "--timeout", "5s", "rel"}), (Words{"reload"}));
    EXPECT_EQ(complete({"help", "eve"}), (Words{"events"}));
    EXPECT_EQ(complete({"to"}), (Words{"top"}));
}

TEST_F(Completion, OffersTheCommandsOptionsAndTheGlobalOnes) {
    Words events = complete({"events", "--"});
    for (std::string option : {"--type", "--from", "--count", "--sync", "--retry", "--json",
                               "--socket", "--timeout", "--help"})
        EXPECT_TRUE(events.count(option)) << option;
    EXPECT_FALSE(events.count("--signal"));
    EXPECT_TRUE(complete({"top", "--"}).count("--interval"));
    EXPECT_EQ(complete({"kill", "a", "--signal", "SIGKI"}), (Words{"SIGKILL"}));
    EXPECT_EQ(complete({"completion", ""}), (Words{"bash", "fish", "zsh"}));
}

TEST_F(Completion, OffersTheBucketsKvdHas) {
    ASSERT_GT(create("shopping"), 0);
    ASSERT_GT(create("shop:2"), 0);
    ASSERT_GT(create("other"), 0);
    EXPECT_EQ(complete({"stop", ""}), (Words{"other", "shop:2", "shopping"}));
    EXPECT_EQ(complete({"get", "sho"}), (Words{"shop:2", "shopping"}));
    // Only where a bucket goes: not for KEY, not for create's new names.
    EXPECT_EQ(complete({"get", "other", ""}), Words{});
    EXPECT_EQ(complete({"create", ""}), Words{});
    // A --socket typed on the line is the kvd asked.
    EXPECT_EQ(complete({"--socket", kvd().socket_path(), "lookup", "o"}, dir_.file("nothing")),
              (Words{"other"}));
}

TEST_F(Completion, OffersNoNamesQuietlyWhenKvdIsDown) {
    ASSERT_GT(create("shopping"), 0);
    EXPECT_EQ(complete({"stop", ""}, dir_.file("no-kvd.sock")), Words{});
}

// The zsh and fish scripts at least parse; they are run by those shells' own checkers.
TEST(CompletionScripts, ParseInZshAndFish) {
    if (!kvctl_built()) GTEST_SKIP() << "kvctl is not built";
    TempDir dir;
    int checked = 0;
    for (std::string shell : {"bash", "zsh", "fish"}) {
        auto script = run_kvctl({"completion", shell});
        ASSERT_EQ(script.exit_code, 0) << script;
        EXPECT_NE(script.out.find("kvctl"), std::string::npos);
        std::string path = find_shell(shell);
        if (path.empty()) {
            std::cout << "[ SKIPPED  ] " << shell
                      << " is not installed: its script is not parsed\n";
            continue;
        }
        auto r = run_program(path, {"-n", dir.write_file("kvctl." + shell, script.out)});
        EXPECT_EQ(r.exit_code, 0) << shell << ": " << r;
        EXPECT_EQ(r.err, "") << shell << ": " << r;
        ++checked;
    }
    EXPECT_GT(checked, 0);
    auto bad = run_kvctl({"completion", "tcsh"});
    EXPECT_EQ(bad.exit_code, 2) << bad;
}

}  // namespace
}  // namespace kvd::test
