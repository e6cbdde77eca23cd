// The spawner's request datagrams: what kvd encodes the spawner decodes unchanged, and
// anything malformed is refused whole.
#include "daemon/proc/spawn_protocol.hpp"

#include <gtest/gtest.h>

#include <cstring>

namespace kvd::spawn_protocol {
namespace {

std::string header(uint32_t argc, uint32_t envc) {
    std::string h(8, '\0');
    uint32_t counts[2] = {argc, envc};
    std::memcpy(h.data(), counts, sizeof counts);
    return h;
}

TEST(SpawnProtocol, RoundTrips) {
    Request r{{"/usr/bin/kv-bucket", "shopping", ""},
              {{"KVD_PID", "12"}, {"EMPTY", ""}, {"EQ", "a=b"}}};
    ASSERT_EQ(request_problem(r), "");
    std::string msg = encode(r);
    EXPECT_EQ(msg.substr(0, 8), header(3, 3));
    auto back = decode(msg);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, r);
}

TEST(SpawnProtocol, TheWireFormIsCountsThenNulTerminatedStrings) {
    std::string msg = encode(Request{{"prog", "x"}, {{"A", "1"}}});
    EXPECT_EQ(msg, header(2, 1) + std::string("prog\0x\0A=1\0", 11));
}

TEST(SpawnProtocol, RefusesWhatCannotTravel) {
    EXPECT_NE(request_problem(Request{}), "");
    EXPECT_NE(request_problem(Request{{std::string("a\0b", 3)}, {}}), "");
    EXPECT_NE(request_problem(Request{{"p"}, {{"A=B", "1"}}}), "");
    EXPECT_NE(request_problem(Request{{"p"}, {{"", "1"}}}), "");
    EXPECT_NE(request_problem(Request{{"p"}, {{"A", std::string("1\0", 2)}}}), "");
    EXPECT_NE(request_problem(Request{{"p", std::string(kMaxRequestBytes, 'x')}, {}}), "");
    EXPECT_NE(request_problem(Request{std::vector<std::string>(kMaxEntries + 1, "a"), {}}), "");
    EXPECT_EQ(request_problem(Request{std::vector<std::string>(kMaxEntries, "a"), {}}), "");
}

TEST(SpawnProtocol, DecodeRefusesMalformedDatagrams) {
    EXPECT_FALSE(decode(""));
    EXPECT_FALSE(decode(std::string(7, '\0')));
    EXPECT_FALSE(decode(header(0, 0))) << "no program";
    EXPECT_FALSE(decode(header(1, 0) + "prog")) << "unterminated";
    EXPECT_FALSE(decode(header(1, 0) + std::string("prog\0extra", 10))) << "trailing bytes";
    EXPECT_FALSE(decode(header(2, 0) + std::string("prog\0", 5))) << "fewer strings than counted";
    EXPECT_FALSE(decode(header(1, 1) + std::string("prog\0NOEQUALS\0", 14)));
    EXPECT_FALSE(decode(header(1, 1) + std::string("prog\0=v\0", 8))) << "empty name";
    EXPECT_FALSE(decode(header(1, 2) + std::string("prog\0A=1\0A=2\0", 13))) << "a name twice";
    EXPECT_FALSE(decode(header(kMaxEntries + 1, 0) + std::string(kMaxEntries + 1, '\0')));
    EXPECT_TRUE(decode(header(1, 0) + std::string("prog\0", 5)));
}

}  // namespace
}  // namespace kvd::spawn_protocol
