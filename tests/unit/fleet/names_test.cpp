// The fleet's NATS names: subject tokens, registry keys (reversible), message ids, and the
// control service's refusals.
#include "fleet/names.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "fleet/control.hpp"
#include "fleet/settings.hpp"

namespace kvd::fleet {
namespace {

TEST(FleetNames, SubjectTokensKeepOnlySafeBytes) {
    EXPECT_EQ(subject_token("h1"), "h1");
    EXPECT_EQ(subject_token("web-01.example.com"), "web-01_example_com");
    EXPECT_EQ(subject_token("a b*c>d"), "a_b_c_d");
    EXPECT_EQ(subject_token(""), "_");
    EXPECT_EQ(subject_token("caf\xc3\xa9"), "caf__");
    EXPECT_EQ(event_subject("h1", "create"), "kvd.h1.create");
    EXPECT_EQ(event_subject("h.1", "my.event"), "kvd.h_1.my_event");
    EXPECT_EQ(control_subject("h1"), "kvdctl.h1");
}

TEST(FleetNames, RegistryKeysAreOneTokenAndReversible) {
    EXPECT_EQ(registry_key("shopping"), "shopping");
    EXPECT_EQ(registry_key("a.b:c"), "a=2Eb=3Ac");
    EXPECT_EQ(registry_key("x_y-z"), "x_y-z");
    for (std::string name : {"shopping", "a.b:c", "...", "a:b:c", "Z9_.-:", "k..", "=3A"}) {
        std::string key = registry_key(name);
        EXPECT_EQ(key.find('.'), std::string::npos) << key;
        EXPECT_EQ(key.find(':'), std::string::npos) << key;
        EXPECT_EQ(bucket_of_key(key), name) << key;
    }
}

TEST(FleetNames, KeysNotMadeByRegistryKeyAreRejected) {
    EXPECT_EQ(bucket_of_key(""), std::nullopt);
    EXPECT_EQ(bucket_of_key("a=3"), std::nullopt);
    EXPECT_EQ(bucket_of_key("a=ZZ"), std::nullopt);
    EXPECT_EQ(bucket_of_key("a=41"), std::nullopt) << "'A' is never escaped";
    EXPECT_EQ(bucket_of_key("a.b"), std::nullopt);
}

TEST(FleetNames, MessageIdIsHostBootSeq) {
    EXPECT_EQ(message_id("h1", "0123456789abcdef0123456789abcdef", 42),
              "h1:0123456789abcdef0123456789abcdef:42");
}

TEST(FleetControl, OnlyAllowedOpsPass) {
    std::set<std::string> allowed{"ping", "list", "logs"};
    EXPECT_EQ(control_refusal(R"({"id":1,"op":"list"})", allowed), "");
    auto refused =
        nlohmann::json::parse(control_refusal(R"({"id":7,"op":"stop","bucket":"b"})", allowed));
    EXPECT_EQ(refused["id"], 7);
    EXPECT_EQ(refused["ok"], false);
    EXPECT_EQ(refused["error"]["code"], "permission_denied");
    EXPECT_FALSE(refused["error"]["message"].get<std::string>().empty());
    auto bad = nlohmann::json::parse(control_refusal("not json", allowed));
    EXPECT_EQ(bad["error"]["code"], "bad_request");
    EXPECT_EQ(
        nlohmann::json::parse(control_refusal(R"({"id":1,"op":3})", allowed))["error"]["code"],
        "bad_request");
    // Streaming ops are never served, even when listed.
    EXPECT_EQ(nlohmann::json::parse(control_refusal(R"({"op":"logs","bucket":"b","follow":true})",
                                                    allowed))["error"]["code"],
              "bad_request");
    EXPECT_EQ(control_refusal(R"({"op":"logs","bucket":"b","follow":"yes"})", allowed), "")
        << "kvd itself judges an ill-typed follow";
    EXPECT_EQ(nlohmann::json::parse(
                  control_refusal(R"({"op":"subscribe"})", {"subscribe"}))["error"]["code"],
              "bad_request");
}

TEST(FleetSettings, FileKeysAreCheckedAndApplied) {
    char path[] = "/tmp/kvd-fleet-settings-XXXXXX";
    int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    std::string text =
        "servers = [\"nats://a:4222\", \"nats://b:4222\"]\nreplicas = 3\nmax_age = \"24h\"\n"
        "allow = [\"ping\"]\nstream_mismatch = \"refuse\"\nwindow = 8\n";
    ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
    close(fd);
    Settings s;
    EXPECT_EQ(load_settings_file(path, s), "");
    EXPECT_EQ(s.servers.size(), 2u);
    EXPECT_EQ(s.replicas, 3);
    EXPECT_EQ(s.max_age, Millis(24LL * 3600 * 1000));
    EXPECT_EQ(s.allow, std::vector<std::string>{"ping"});
    EXPECT_EQ(s.stream_mismatch, StreamMismatch::refuse);
    EXPECT_EQ(s.window, 8);

    fd = open(path, O_WRONLY | O_TRUNC);
    text = "replica = 3\nwindow = 0\nack_wait = \"soon\"\n";
    ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
    close(fd);
    Settings t;
    std::string errors = load_settings_file(path, t);
    EXPECT_NE(errors.find(":1:"), std::string::npos) << errors;
    EXPECT_NE(errors.find("unknown key 'replica'"), std::string::npos) << errors;
    EXPECT_NE(errors.find("'window'"), std::string::npos) << errors;
    EXPECT_NE(errors.find("'ack_wait'"), std::string::npos) << errors;
    unlink(path);
}

}  // namespace
}  // namespace kvd::fleet
