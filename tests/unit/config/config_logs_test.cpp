// The [bucket] log_* keys: defaults, values, where a relative log_dir points, and each error
// at its FILE:LINE:COLUMN.
#include "tests/unit/config/config_test_support.hpp"

namespace kvd::testing {
namespace {

TEST(ConfigLogs, Defaults) {
    Config c = parse_ok("");
    EXPECT_FALSE(c.bucket.log_dir);
    EXPECT_EQ(c.bucket.log_max_size, 10 * kMiB);
    EXPECT_EQ(c.bucket.log_keep, 5u);
    EXPECT_EQ(c.bucket.log_buffer, 256 * kKiB);
    EXPECT_FALSE(c.bucket.log_journal);
}

TEST(ConfigLogs, Values) {
    Config c = parse_ok(
        "[bucket]\nlog_dir = \"/var/log/kvd/\"\nlog_max_size = \"1M\"\nlog_keep = 0\n"
        "log_buffer = 131072\nlog_journal = true\n");
    EXPECT_EQ(c.bucket.log_dir, "/var/log/kvd");
    EXPECT_EQ(c.bucket.log_max_size, kMiB);
    EXPECT_EQ(c.bucket.log_keep, 0u);
    EXPECT_EQ(c.bucket.log_buffer, 128 * kKiB);
    EXPECT_TRUE(c.bucket.log_journal);
    EXPECT_EQ(c.sources.bucket_log_dir.line, 2);
}

TEST(ConfigLogs, ARelativeLogDirIsBesideTheConfigFile) {
    EXPECT_EQ(parse_ok("[bucket]\nlog_dir = \"logs\"\n", "/etc/kvd/kvd.toml").bucket.log_dir,
              "/etc/kvd/logs");
    EXPECT_EQ(parse_ok("[bucket]\nlog_dir = \"../x/./y\"\n", "/etc/kvd/kvd.toml").bucket.log_dir,
              "/etc/x/y");
}

TEST(ConfigLogs, Errors) {
    EXPECT_EQ(errors_of("[bucket]\nlog_dir = \"\"\n"),
              (Lines{"kvd.toml:2:11: bucket.log_dir must not be empty"}));
    EXPECT_EQ(errors_of("[bucket]\nlog_keep = -1\n"),
              (Lines{"kvd.toml:2:12: bucket.log_keep must be at least 0, not -1"}));
    EXPECT_EQ(errors_of("[bucket]\nlog_keep = 1001\n"),
              (Lines{"kvd.toml:2:12: bucket.log_keep must be at most 1000, not 1001"}));
    EXPECT_EQ(errors_of("[bucket]\nlog_journal = \"yes\"\n"),
              (Lines{"kvd.toml:2:15: bucket.log_journal must be a boolean, not a string"}));
    auto small = errors_of("[bucket]\nlog_buffer = \"1K\"\n");
    ASSERT_EQ(small.size(), 1u);
    EXPECT_EQ(small[0].rfind("kvd.toml:2:14: bucket.log_buffer must be at least 64KiB", 0), 0u)
        << small[0];
    auto bad = errors_of("[bucket]\nlog_max_size = \"10MB\"\n");
    ASSERT_EQ(bad.size(), 1u);
    EXPECT_EQ(bad[0].rfind("kvd.toml:2:16: bucket.log_max_size: ", 0), 0u) << bad[0];
    EXPECT_EQ(errors_of("[bucket]\nlog_dirs = \"x\"\n"),
              (Lines{"kvd.toml:2:1: unknown key 'log_dirs' in [bucket]; did you mean 'log_dir'?"}));
}

}  // namespace
}  // namespace kvd::testing
