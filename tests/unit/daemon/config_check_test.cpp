// daemon/config_check: whether a valid config can run here. Programs are real files in a
// private directory and PATH is passed in, so each case says exactly where kvd would look.
#include "daemon/config_check.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <variant>
#include <vector>

namespace kvd {
namespace {

using Lines = std::vector<std::string>;

class ConfigCheck : public ::testing::Test {
  protected:
    ConfigCheck() {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "kvd-check-XXXXXX").string();
        if (!mkdtemp(pattern.data())) ADD_FAILURE() << "mkdtemp failed";
        dir_ = pattern;
    }
    ~ConfigCheck() override {
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }

    // <dir>/relative with `mode`, made directories and all.
    std::string file(const std::string& relative, mode_t mode = 0755) const {
        std::filesystem::path path = std::filesystem::path(dir_) / relative;
        std::filesystem::create_directories(path.parent_path());
        std::ofstream(path) << "#!/bin/sh\nexit 0\n";
        EXPECT_EQ(chmod(path.c_str(), mode), 0);
        return path.string();
    }
    std::string path(const std::string& relative) const { return dir_ + "/" + relative; }

    // The config `text` (as /etc/kvd/kvd.toml), checked with kvd's PATH `path`.
    Lines check(const std::string& text, std::optional<std::string> search_path) const {
        ConfigResult parsed = parse_config(text, "/etc/kvd/kvd.toml");
        if (auto* errors = std::get_if<std::vector<ConfigError>>(&parsed)) {
            ADD_FAILURE() << "invalid config: " << errors->front().to_string();
            return {};
        }
        RunEnvironment env;
        env.path = std::move(search_path);
        Lines lines;
        for (const auto& e : check_runnable(std::get<Config>(parsed), env))
            lines.push_back(e.to_string());
        return lines;
    }

    std::string handler(const std::string& program, const std::string& extra = "") const {
        return "[[handler]]\nname = \"h\"\n" + extra + "command = [\"" + program + "\"]\n";
    }

    std::string dir_;
};

// kv-bucket is built next to the tests, as it is installed next to kvd: found there first.
TEST_F(ConfigCheck, BuiltInDefaultsFindKvBucketNextToTheProgram) {
    RunEnvironment env;
    env.path = path("empty");
    EXPECT_TRUE(check_runnable(Config{}, env).empty());
}

TEST_F(ConfigCheck, WithoutAFileErrorsNameTheBuiltInDefaults) {
    Config config;
    config.bucket.program = "kvd-no-such-bucket";
    RunEnvironment env;
    env.path = path("empty");
    auto errors = check_runnable(config, env);
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].file, "built-in defaults");
    EXPECT_EQ(errors[0].line, 0);
    EXPECT_EQ(errors[0].column, 0);
    EXPECT_EQ(errors[0].message.rfind("bucket.program \"kvd-no-such-bucket\" (the default) is "
                                      "neither next to kvd (",
                                      0),
              0u)
        << errors[0].message;
}

TEST_F(ConfigCheck, AbsoluteProgramsAreExaminedAsTheyAre) {
    std::string ok = file("ok");
    std::string not_executable = file("not-executable", 0600);
    std::filesystem::create_directories(path("a-directory"));
    EXPECT_EQ(check(handler(ok), path("bin")), Lines{});
    EXPECT_EQ(check(handler(path("missing")), path("bin")),
              (Lines{"/etc/kvd/kvd.toml:3:12: handler.command[0] \"" + path("missing") +
                     "\" does not exist"}));
    EXPECT_EQ(check(handler(not_executable), path("bin")),
              (Lines{"/etc/kvd/kvd.toml:3:12: handler.command[0] \"" + not_executable +
                     "\" is not executable (mode 0600)"}));
    EXPECT_EQ(check(handler(path("a-directory")), path("bin")),
              (Lines{"/etc/kvd/kvd.toml:3:12: handler.command[0] \"" + path("a-directory") +
                     "\" is a directory, not a program"}));
    EXPECT_EQ(check(handler(ok + "/below-a-file"), path("bin")),
              (Lines{"/etc/kvd/kvd.toml:3:12: handler.command[0] \"" + ok +
                     "/below-a-file\" does not exist"}));
}

// As execvp: the first executable match wins, matches that cannot be executed are passed over.
TEST_F(ConfigCheck, BareNamesAreSearchedOnPathAsExecvpDoes) {
    file("one/h", 0644);
    std::filesystem::create_directories(path("two/h"));
    file("three/h");
    std::string search = path("none") + ":" + path("one") + ":" + path("two") + ":" + path("three");
    EXPECT_EQ(check(handler("h"), search), Lines{});
    EXPECT_EQ(check(handler("h"), path("one") + ":" + path("two")),
              (Lines{"/etc/kvd/kvd.toml:3:12: handler.command[0] \"h\" is in PATH (" + path("one") +
                     ":" + path("two") + ") only as " + path("one/h") +
                     ", which is not executable (mode 0644)"}));
    EXPECT_EQ(check(handler("h"), path("none")),
              (Lines{"/etc/kvd/kvd.toml:3:12: handler.command[0] \"h\" is not in PATH (" +
                     path("none") + ")"}));
}

TEST_F(ConfigCheck, AHandlersOwnPathWins) {
    file("mine/h");
    file("kvds/other");
    std::string own = "env = { PATH = \"" + path("mine") + "\" }\n";
    EXPECT_EQ(check(handler("h", own), path("kvds")), Lines{});
    EXPECT_EQ(check(handler("other", own), path("kvds")),
              (Lines{"/etc/kvd/kvd.toml:4:12: handler.command[0] \"other\" is not in the "
                     "handler's env PATH (" +
                     path("mine") + ")"}));
}

// Without PATH, execvp searches the C library's default path, where sh always is.
TEST_F(ConfigCheck, UnsetPathMeansTheDefaultSearchPath) {
    EXPECT_EQ(check(handler("sh"), std::nullopt), Lines{});
    EXPECT_EQ(check(handler("kvd-no-such-program"), std::nullopt),
              (Lines{"/etc/kvd/kvd.toml:3:12: handler.command[0] \"kvd-no-such-program\" is not "
                     "in PATH (/bin:/usr/bin)"}));
}

TEST_F(ConfigCheck, BucketProgram) {
    file("bin/my-bucket");
    EXPECT_EQ(check("[bucket]\nprogram = \"my-bucket\"\n", path("bin")), Lines{});
    EXPECT_EQ(check("[bucket]\nprogram = \"" + path("bin/my-bucket") + "\"\n", path("none")),
              Lines{});
    Lines missing = check("[bucket]\nprogram = \"kvd-no-such-bucket\"\n", path("none"));
    ASSERT_EQ(missing.size(), 1u);
    EXPECT_EQ(missing[0].rfind("/etc/kvd/kvd.toml:2:11: bucket.program \"kvd-no-such-bucket\" is "
                               "neither next to kvd (",
                               0),
              0u)
        << missing[0];
    EXPECT_NE(missing[0].find(") nor in PATH (" + path("none") + ")"), std::string::npos)
        << missing[0];
}

TEST_F(ConfigCheck, SocketGroup) {
    EXPECT_EQ(check("[daemon]\nsocket_group = \"root\"\n" + handler("sh"), std::nullopt), Lines{});
    EXPECT_EQ(
        check("[daemon]\nsocket_group = \"kvd-no-such-group\"\n" + handler("sh"), std::nullopt),
        (Lines{"/etc/kvd/kvd.toml:2:16: daemon.socket_group \"kvd-no-such-group\" does not "
               "exist"}));
}

TEST_F(ConfigCheck, MessagesStayOneLine) {
    Lines lines = check(handler("new\\nline"), path("none"));
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0],
              "/etc/kvd/kvd.toml:3:12: handler.command[0] \"new\\nline\" is not in PATH (" +
                  path("none") + ")");
}

}  // namespace
}  // namespace kvd

namespace kvd {
namespace {

// [bucket] log_dir must be a directory kvd can create files in.
TEST_F(ConfigCheck, TheLogDirMustBeAWritableDirectory) {
    std::filesystem::create_directories(path("logs"));
    auto with_dir = [&](const std::string& dir) {
        return check("[bucket]\nlog_dir = \"" + dir + "\"\n", path("empty"));
    };
    EXPECT_EQ(with_dir(path("logs")), Lines{});
    EXPECT_EQ(with_dir(path("none")), Lines{"/etc/kvd/kvd.toml:2:11: bucket.log_dir \"" +
                                            path("none") + "\" does not exist"});
    std::string plain = file("plain");
    EXPECT_EQ(with_dir(plain),
              Lines{"/etc/kvd/kvd.toml:2:11: bucket.log_dir \"" + plain + "\" is not a directory"});
    if (geteuid() != 0) {
        ASSERT_EQ(chmod(path("logs").c_str(), 0555), 0);
        auto errors = with_dir(path("logs"));
        ASSERT_EQ(errors.size(), 1u);
        EXPECT_NE(errors[0].find("is not writable by kvd"), std::string::npos) << errors[0];
    }
}

}  // namespace
}  // namespace kvd
