// A config is at most 64 KiB: toml11's parse time grows faster than the file (an array of
// 128 KiB took 21 s here), and `reload` parses on kvd's only thread.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "daemon/config.hpp"
#include "tests/unit/config/config_test_support.hpp"

namespace kvd {
namespace {

using testing::errors_of;
using testing::parse_ok;

constexpr std::size_t kLimit = 64 * 1024;

// A valid config of exactly `size` bytes: a handler padded with a comment.
std::string config_of_size(std::size_t size) {
    std::string text = "[[handler]]\nname = \"a\"\ncommand = [\"/bin/cat\"]\n#";
    text.append(size - text.size() - 1, 'x');
    text += '\n';
    return text;
}

TEST(ConfigSizeLimit, AConfigOfExactlyTheLimitLoads) {
    std::string text = config_of_size(kLimit);
    ASSERT_EQ(text.size(), kLimit);
    Config config = parse_ok(text);
    ASSERT_EQ(config.handlers.size(), 1u);
}

TEST(ConfigSizeLimit, OneByteMoreIsOneClearError) {
    auto errors = errors_of(config_of_size(kLimit + 1));
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0], "kvd.toml:0:0: larger than 64 KiB, the most a config may be");
}

TEST(ConfigSizeLimit, AHugeFileIsRefusedWithoutReadingItAll) {
    std::string dir = (std::filesystem::temp_directory_path() / "kvd-size-XXXXXX").string();
    ASSERT_NE(mkdtemp(dir.data()), nullptr);
    std::string path = dir + "/kvd.toml";
    {
        std::ofstream out(path);
        out << "a = [";
        std::string chunk(1 << 20, ' ');
        for (int i = 0; i < 64; ++i) out << chunk;  // 64 MiB of an unfinished array
    }
    ConfigResult result = load_config_file(path);
    std::filesystem::remove_all(dir);
    auto* errors = std::get_if<std::vector<ConfigError>>(&result);
    ASSERT_NE(errors, nullptr);
    ASSERT_EQ(errors->size(), 1u);
    EXPECT_EQ((*errors)[0].message, "larger than 64 KiB, the most a config may be");
}

}  // namespace
}  // namespace kvd
