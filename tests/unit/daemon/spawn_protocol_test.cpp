// The spawner's request datagrams: what kvd encodes the spawner decodes unchanged, and
// anything malformed is refused whole.
#include "daemon/proc/spawn_protocol.hpp"

#include <gtest/gtest.h>

#include <cstring>

namespace kvd::spawn_protocol {
namespace {

std::string header(uint32_t argc, uint32_t envc, uint32_t flags = 0, uint32_t ngroups = 0) {
    Header hd{};
    hd.argc = argc;
    hd.envc = envc;
    hd.flags = flags;
    hd.ngroups = ngroups;
    std::string h(sizeof hd, '\0');
    std::memcpy(h.data(), &hd, sizeof hd);
    return h;
}

Request req(std::vector<std::string> argv, std::map<std::string, std::string> env = {}) {
    Request r;
    r.argv = std::move(argv);
    r.env_add = std::move(env);
    return r;
}

TEST(SpawnProtocol, RoundTrips) {
    Request r = req({"/usr/bin/kv-bucket", "shopping", ""},
                    {{"KVD_PID", "12"}, {"EMPTY", ""}, {"EQ", "a=b"}});
    ASSERT_EQ(request_problem(r), "");
    std::string msg = encode(r);
    EXPECT_EQ(msg.substr(0, sizeof(Header)), header(3, 3));
    auto back = decode(msg);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, r);
}

TEST(SpawnProtocol, TheWireFormIsCountsThenNulTerminatedStrings) {
    std::string msg = encode(req({"prog", "x"}, {{"A", "1"}}));
    EXPECT_EQ(msg, header(2, 1) + std::string("prog\0x\0A=1\0", 11));
}

TEST(SpawnProtocol, RefusesWhatCannotTravel) {
    EXPECT_NE(request_problem(req({})), "");
    EXPECT_NE(request_problem(req({std::string("a\0b", 3)}, {})), "");
    EXPECT_NE(request_problem(req({"p"}, {{"A=B", "1"}})), "");
    EXPECT_NE(request_problem(req({"p"}, {{"", "1"}})), "");
    EXPECT_NE(request_problem(req({"p"}, {{"A", std::string("1\0", 2)}})), "");
    EXPECT_NE(request_problem(req({"p", std::string(kMaxRequestBytes, 'x')}, {})), "");
    EXPECT_NE(request_problem(req(std::vector<std::string>(kMaxEntries + 1, "a"), {})), "");
    EXPECT_EQ(request_problem(req(std::vector<std::string>(kMaxEntries, "a"), {})), "");
}

TEST(SpawnProtocol, DecodeRefusesMalformedDatagrams) {
    EXPECT_FALSE(decode(""));
    EXPECT_FALSE(decode(std::string(sizeof(Header) - 1, '\0')));
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

TEST(SpawnProtocol, EveryOptionRoundTrips) {
    Request r = req({"prog"}, {{"A", "1"}});
    r.cwd = "/var/lib/worker";
    r.uid = 1000;
    r.gid = 100;
    r.groups = {100, 27, 4};
    r.die_with_kvd = true;
    r.join_cgroup = true;
    r.rlimit_as = uint64_t{1} << 40;
    r.rlimit_nproc = 64;
    ASSERT_EQ(request_problem(r), "");
    std::string msg = encode(r);
    Header h;
    std::memcpy(&h, msg.data(), sizeof h);
    EXPECT_EQ(h.flags, kAllFlags);
    EXPECT_EQ(h.uid, 1000u);
    EXPECT_EQ(h.ngroups, 3u);
    EXPECT_EQ(h.rlimit_as, uint64_t{1} << 40);
    auto back = decode(msg);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, r);
    // uid 0 and gid 0 are ids like any other: present, not "unset".
    Request root = req({"prog"});
    root.uid = 0;
    root.gid = 0;
    auto root_back = decode(encode(root));
    ASSERT_TRUE(root_back);
    EXPECT_EQ(root_back->uid, std::optional<uint32_t>(0));
    EXPECT_EQ(root_back->gid, std::optional<uint32_t>(0));
}

TEST(SpawnProtocol, TheWireFormPutsGroupsBeforeTheStringsAndCwdLast) {
    Request r = req({"p"});
    r.gid = 7;
    r.groups = {7};
    r.cwd = "/d";
    std::string msg = encode(r);
    uint32_t seven = 7;
    Header h{};
    h.argc = 1;
    h.flags = kSetGid | kHasCwd;
    h.gid = 7;
    h.ngroups = 1;
    std::string want(sizeof h, '\0');
    std::memcpy(want.data(), &h, sizeof h);
    want.append(reinterpret_cast<const char*>(&seven), sizeof seven);
    want.append(std::string("p\0/d\0", 5));
    EXPECT_EQ(msg, want);
}

TEST(SpawnProtocol, RefusesOptionsThatDoNotAddUp) {
    Request groups_alone = req({"p"});
    groups_alone.groups = {1};
    EXPECT_NE(request_problem(groups_alone), "");
    Request empty_cwd = req({"p"});
    empty_cwd.cwd = "";
    EXPECT_NE(request_problem(empty_cwd), "");
    Request too_many = req({"p"});
    too_many.uid = 1;
    too_many.groups.assign(kMaxGroups + 1, 1);
    EXPECT_NE(request_problem(too_many), "");

    std::string prog("prog\0", 5);
    EXPECT_FALSE(decode(header(1, 0, 1u << 7) + prog)) << "an unknown flag";
    EXPECT_FALSE(decode(header(1, 0, 0, 1) + std::string(4, '\0') + prog))
        << "groups without a uid or gid";
    EXPECT_FALSE(decode(header(1, 0, kHasCwd) + prog)) << "no cwd string";
    EXPECT_FALSE(decode(header(1, 0, kHasCwd) + prog + std::string("\0", 1))) << "empty cwd";
    EXPECT_TRUE(decode(header(1, 0, kHasCwd) + prog + std::string("/\0", 2)));
    EXPECT_FALSE(decode(header(1, 0, kSetGid, 2) + std::string(4, '\0'))) << "short groups";
    Header h{};
    h.argc = 1;
    h.uid = 5;  // without kSetUid
    std::string bytes(sizeof h, '\0');
    std::memcpy(bytes.data(), &h, sizeof h);
    EXPECT_FALSE(decode(bytes + prog)) << "a field its flag does not announce";
}

}  // namespace
}  // namespace kvd::spawn_protocol
