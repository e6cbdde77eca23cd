// Loading from disk: relative program paths, unreadable files, and the shipped config/kvd.toml.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "daemon/config.hpp"
#include "tests/unit/config/config_test_support.hpp"

namespace kvd {
namespace {

using testing::parse_ok;

// A private directory, removed with everything in it when the test ends.
class TempDir {
  public:
    TempDir() {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "kvd-config-XXXXXX").string();
        if (!mkdtemp(pattern.data())) ADD_FAILURE() << "mkdtemp failed";
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    std::string write(const std::string& name, const std::string& text) const {
        std::filesystem::path file = path_ / name;
        std::filesystem::create_directories(file.parent_path());
        std::ofstream(file) << text;
        return file.string();
    }
    const std::filesystem::path& path() const { return path_; }

  private:
    std::filesystem::path path_;
};

const char* kHandler = R"([[handler]]
name = "h"
command = ["{}", "handlers/arg-stays-as-is"]
)";

std::string handler_with_command(const std::string& program) {
    std::string text = kHandler;
    text.replace(text.find("{}"), 2, program);
    return text;
}

TEST(ConfigFile, RelativeCommandWithSlashIsBesideTheConfig) {
    Config config = parse_ok(handler_with_command("handlers/log-events"), "config/kvd.toml");
    ASSERT_EQ(config.handlers.size(), 1u);
    EXPECT_EQ(config.handlers[0].command,
              (std::vector<std::string>{"config/handlers/log-events", "handlers/arg-stays-as-is"}));

    config = parse_ok(handler_with_command("../bin/h"), "/etc/kvd/kvd.toml");
    EXPECT_EQ(config.handlers[0].command[0], "/etc/bin/h");

    config = parse_ok(handler_with_command("./h"), "/etc/kvd/kvd.toml");
    EXPECT_EQ(config.handlers[0].command[0], "/etc/kvd/h");
}

TEST(ConfigFile, BareAndAbsoluteCommandsAreUntouched) {
    Config config = parse_ok(handler_with_command("log-events"), "config/kvd.toml");
    EXPECT_EQ(config.handlers[0].command[0], "log-events");
    config = parse_ok(handler_with_command("/usr/bin/logger"), "config/kvd.toml");
    EXPECT_EQ(config.handlers[0].command[0], "/usr/bin/logger");
}

TEST(ConfigFile, ConfigInTheCurrentDirectoryKeepsRelativePaths) {
    Config config = parse_ok(handler_with_command("handlers/log-events"), "kvd.toml");
    EXPECT_EQ(config.handlers[0].command[0], "handlers/log-events");
}

TEST(ConfigFile, BucketProgramFollowsTheSameRule) {
    EXPECT_EQ(
        parse_ok("[bucket]\nprogram = \"bin/kv-bucket\"\n", "/opt/kvd/kvd.toml").bucket.program,
        "/opt/kvd/bin/kv-bucket");
    EXPECT_EQ(parse_ok("[bucket]\nprogram = \"kv-bucket\"\n", "/opt/kvd/kvd.toml").bucket.program,
              "kv-bucket");
    EXPECT_EQ(parse_ok("[bucket]\nprogram = \"/usr/bin/kv-bucket\"\n", "/opt/kvd/kvd.toml")
                  .bucket.program,
              "/usr/bin/kv-bucket");
}

TEST(ConfigFile, LoadsAFile) {
    TempDir dir;
    std::string path = dir.write(
        "etc/kvd.toml", "[daemon]\nmax_buckets = 3\n" + handler_with_command("handlers/h"));
    ConfigResult result = load_config_file(path);
    ASSERT_TRUE(std::holds_alternative<Config>(result));
    const Config& config = std::get<Config>(result);
    EXPECT_EQ(config.path, path);
    EXPECT_EQ(config.daemon.max_buckets, 3u);
    ASSERT_EQ(config.handlers.size(), 1u);
    EXPECT_EQ(config.handlers[0].command[0], (dir.path() / "etc/handlers/h").string());
}

TEST(ConfigFile, ErrorsInAFileNameIt) {
    TempDir dir;
    std::string path = dir.write("kvd.toml", "\n[daemon]\nmax_buckets = -3\n");
    ConfigResult result = load_config_file(path);
    ASSERT_TRUE(std::holds_alternative<std::vector<ConfigError>>(result));
    const auto& errors = std::get<std::vector<ConfigError>>(result);
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].file, path);
    EXPECT_EQ(errors[0].line, 3);
    EXPECT_EQ(errors[0].column, 15);
    EXPECT_EQ(errors[0].to_string(),
              path + ":3:15: daemon.max_buckets must be a positive integer, not -3");
}

TEST(ConfigFile, MissingFileIsOneErrorWithoutPosition) {
    TempDir dir;
    std::string path = (dir.path() / "absent.toml").string();
    ConfigResult result = load_config_file(path);
    ASSERT_TRUE(std::holds_alternative<std::vector<ConfigError>>(result));
    const auto& errors = std::get<std::vector<ConfigError>>(result);
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].line, 0);
    EXPECT_EQ(errors[0].column, 0);
    EXPECT_EQ(errors[0].to_string(), path + ":0:0: cannot read: No such file or directory");
}

TEST(ConfigFile, DirectoryIsUnreadable) {
    TempDir dir;
    ConfigResult result = load_config_file(dir.path().string());
    ASSERT_TRUE(std::holds_alternative<std::vector<ConfigError>>(result));
    const auto& errors = std::get<std::vector<ConfigError>>(result);
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].to_string(), dir.path().string() + ":0:0: cannot read: Is a directory");
}

TEST(ConfigFile, EmptyFileIsAllDefaults) {
    TempDir dir;
    ConfigResult result = load_config_file(dir.write("kvd.toml", ""));
    ASSERT_TRUE(std::holds_alternative<Config>(result));
    EXPECT_EQ(std::get<Config>(result).daemon, DaemonSection{});
    EXPECT_TRUE(std::get<Config>(result).handlers.empty());
}

// The example shipped in the repository is what `make run` uses: it must stay valid.
TEST(ConfigFile, ShippedExampleIsValid) {
    std::string path = std::string(KVD_SOURCE_DIR) + "/config/kvd.toml";
    ConfigResult result = load_config_file(path);
    if (auto* errors = std::get_if<std::vector<ConfigError>>(&result)) {
        for (const auto& e : *errors) ADD_FAILURE() << e.to_string();
        return;
    }
    const Config& config = std::get<Config>(result);
    EXPECT_FALSE(config.daemon.socket);  // left to the default resolution
    EXPECT_EQ(config.daemon.socket_mode, 0660u);
    EXPECT_EQ(config.daemon.log_level, "info");
    ASSERT_EQ(config.handlers.size(), 2u);
    const HandlerConfig& audit = config.handlers[0];
    EXPECT_EQ(audit.name, "audit");
    EXPECT_EQ(audit.mode, HandlerMode::sync);
    EXPECT_EQ(audit.command,
              (std::vector<std::string>{std::string(KVD_SOURCE_DIR) + "/config/handlers/log-events",
                                        "kvd-events.log"}));
    const HandlerConfig& forwarder = config.handlers[1];
    EXPECT_EQ(forwarder.name, "forwarder");
    EXPECT_EQ(forwarder.mode, HandlerMode::async);
    EXPECT_EQ(forwarder.command, (std::vector<std::string>{std::string(KVD_SOURCE_DIR) +
                                                           "/config/handlers/forwarder"}));
}

}  // namespace
}  // namespace kvd
