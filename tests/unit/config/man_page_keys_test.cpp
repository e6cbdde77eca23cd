// kvd.toml(5) documents every key the config schema accepts: the keys come from the schema
// itself (config_schema_keys), walking config/kvd.toml, so a key added to the schema and to
// the example config but not to the man page fails here.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "daemon/config.hpp"

namespace kvd {
namespace {

std::string read_source(const std::string& relative) {
    std::ifstream in(std::string(KVD_SOURCE_DIR) + "/" + relative);
    EXPECT_TRUE(in) << "cannot read " << relative;
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

TEST(ManPageKeys, EveryKeyOfTheSchemaIsInKvdToml5) {
    // The example config has every table; the array tables it may show only in comments are
    // added empty, so that the schema is walked through them too.
    std::string document =
        read_source("config/kvd.toml") + "\n[[bucket.start]]\n[[kind]]\n[[handler]]\n[metrics]\n";
    std::vector<std::string> keys = config_schema_keys(document);
    ASSERT_GE(keys.size(), 20u) << "the schema was not walked";
    std::string page = read_source("docs/man/kvd.toml.5.scd");
    for (const std::string& key : keys) {
        auto dot = key.rfind('.');
        std::string name = dot == std::string::npos ? key : key.substr(dot + 1);
        // A table is its header; a key is *key* in bold, as scdoc writes it.
        bool documented = page.find("*" + name + "*") != std::string::npos ||
                          page.find("[" + key + "]") != std::string::npos;
        EXPECT_TRUE(documented) << key << " is not in docs/man/kvd.toml.5.scd";
    }
}

TEST(ManPageKeys, SchemaKeysComeFromTheTablesPresent) {
    auto keys = config_schema_keys("[daemon]\n");
    EXPECT_NE(std::find(keys.begin(), keys.end(), "daemon.max_clients"), keys.end());
    EXPECT_EQ(std::find(keys.begin(), keys.end(), "handler.mode"), keys.end());
    EXPECT_TRUE(config_schema_keys("[daemon").empty());
}

}  // namespace
}  // namespace kvd
