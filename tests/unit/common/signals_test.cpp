// Signal names as the protocol spells them, and every spelling kvctl accepts.
#include "common/signals.hpp"

#include <gtest/gtest.h>

#include <csignal>

namespace kvd {
namespace {

TEST(Signals, FullNames) {
    EXPECT_EQ(parse_signal("SIGKILL"), SIGKILL);
    EXPECT_EQ(parse_signal("SIGTERM"), SIGTERM);
    EXPECT_EQ(parse_signal("SIGHUP"), SIGHUP);
    EXPECT_EQ(parse_signal("SIGUSR1"), SIGUSR1);
    EXPECT_EQ(parse_signal("SIGSTOP"), SIGSTOP);
    EXPECT_EQ(parse_signal("SIGCONT"), SIGCONT);
}

TEST(Signals, WithoutPrefixAndInAnyCase) {
    EXPECT_EQ(parse_signal("TERM"), SIGTERM);
    EXPECT_EQ(parse_signal("term"), SIGTERM);
    EXPECT_EQ(parse_signal("sigterm"), SIGTERM);
    EXPECT_EQ(parse_signal("SigKill"), SIGKILL);
    EXPECT_EQ(parse_signal("kill"), SIGKILL);
    EXPECT_EQ(parse_signal("usr2"), SIGUSR2);
}

TEST(Signals, Numbers) {
    EXPECT_EQ(parse_signal("9"), 9);
    EXPECT_EQ(parse_signal("15"), 15);
    EXPECT_EQ(parse_signal("1"), 1);
    EXPECT_EQ(parse_signal(std::to_string(SIGRTMIN)), SIGRTMIN);
    EXPECT_EQ(parse_signal(std::to_string(NSIG - 1)), NSIG - 1);
}

TEST(Signals, Unknown) {
    for (std::string_view s : {"", "SIG", "sig", "SIGFOO", "FOO", "0", "-9", "+9", "9x", "x9", " 9",
                               "SIG 9", "SIGKILLX", "KILL ", "99999999999999999999"}) {
        EXPECT_EQ(parse_signal(s), std::nullopt) << "'" << s << "'";
    }
    EXPECT_EQ(parse_signal(std::to_string(NSIG)), std::nullopt);
}

TEST(Signals, Names) {
    EXPECT_EQ(signal_name(SIGKILL), "SIGKILL");
    EXPECT_EQ(signal_name(SIGTERM), "SIGTERM");
    EXPECT_EQ(signal_name(SIGINT), "SIGINT");
    EXPECT_EQ(signal_name(SIGSEGV), "SIGSEGV");
    EXPECT_EQ(signal_name(SIGABRT), "SIGABRT");
    EXPECT_EQ(signal_name(SIGRTMIN + 1), "SIG" + std::to_string(SIGRTMIN + 1));
}

TEST(Signals, EveryStandardSignalHasItsName) {
    EXPECT_EQ(signal_name(SIGWINCH), "SIGWINCH");
    EXPECT_EQ(signal_name(SIGPROF), "SIGPROF");
    EXPECT_EQ(signal_name(SIGVTALRM), "SIGVTALRM");
    EXPECT_EQ(signal_name(SIGPWR), "SIGPWR");
    EXPECT_EQ(parse_signal("winch"), SIGWINCH);
    for (int n = 1; n < SIGRTMIN; ++n) {
        if (n == 32 || n == 33) continue;  // reserved by glibc for its threads
        EXPECT_NE(signal_name(n), "SIG" + std::to_string(n)) << n;
    }
}

TEST(Signals, NumberedNamesParse) {
    // signal_name() spells real-time signals "SIG<n>"; those spellings must parse back.
    EXPECT_EQ(parse_signal("SIG9"), 9);
    EXPECT_EQ(parse_signal("sig" + std::to_string(SIGRTMIN)), SIGRTMIN);
    EXPECT_EQ(parse_signal("SIG0"), std::nullopt);
    EXPECT_EQ(parse_signal("SIG" + std::to_string(NSIG)), std::nullopt);
    EXPECT_EQ(parse_signal("SIG9X"), std::nullopt);
}

TEST(Signals, EveryNameRoundTrips) {
    for (int n = 1; n < NSIG; ++n) {
        std::string name = signal_name(n);
        EXPECT_EQ(name.rfind("SIG", 0), 0u) << name;
        EXPECT_EQ(parse_signal(name), n) << name;
    }
}

TEST(Signals, WhichEndAProcessByDefault) {
    EXPECT_TRUE(ends_process_by_default(SIGTERM));
    EXPECT_TRUE(ends_process_by_default(SIGKILL));
    EXPECT_TRUE(ends_process_by_default(SIGHUP));
    EXPECT_TRUE(ends_process_by_default(SIGUSR1));
    EXPECT_TRUE(ends_process_by_default(SIGRTMIN));
    EXPECT_FALSE(ends_process_by_default(SIGSTOP));
    EXPECT_FALSE(ends_process_by_default(SIGCONT));
    EXPECT_FALSE(ends_process_by_default(SIGCHLD));
    EXPECT_FALSE(ends_process_by_default(SIGWINCH));
    EXPECT_FALSE(ends_process_by_default(0));
}

}  // namespace
}  // namespace kvd
