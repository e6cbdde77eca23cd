// Socket path resolution: --socket, config, $KVD_SOCKET, then the per-user defaults.
#include "common/socket_path.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>

namespace kvd {
namespace {

SocketPathInputs everything(uid_t uid) {
    SocketPathInputs in;
    in.flag = "/flag.sock";
    in.config = "/config.sock";
    in.env_socket = "/env.sock";
    in.xdg_runtime = "/run/user/1000";
    in.uid = uid;
    return in;
}

TEST(SocketPath, FlagWinsOverEverything) {
    EXPECT_EQ(resolve_socket_path(everything(1000)), "/flag.sock");
    EXPECT_EQ(resolve_socket_path(everything(0)), "/flag.sock");
}

TEST(SocketPath, ConfigComesSecond) {
    auto in = everything(1000);
    in.flag.reset();
    EXPECT_EQ(resolve_socket_path(in), "/config.sock");
    in.uid = 0;
    EXPECT_EQ(resolve_socket_path(in), "/config.sock");
}

TEST(SocketPath, EnvironmentComesThird) {
    auto in = everything(1000);
    in.flag.reset();
    in.config.reset();
    EXPECT_EQ(resolve_socket_path(in), "/env.sock");
    in.uid = 0;
    EXPECT_EQ(resolve_socket_path(in), "/env.sock");
}

TEST(SocketPath, RootDefaultIgnoresXdg) {
    SocketPathInputs in;
    in.uid = 0;
    EXPECT_EQ(resolve_socket_path(in), "/run/kvd/kvd.sock");
    in.xdg_runtime = "/run/user/0";
    EXPECT_EQ(resolve_socket_path(in), "/run/kvd/kvd.sock");
}

TEST(SocketPath, UserDefaultUsesXdgRuntimeDir) {
    SocketPathInputs in;
    in.uid = 1000;
    in.xdg_runtime = "/run/user/1000";
    EXPECT_EQ(resolve_socket_path(in), "/run/user/1000/kvd/kvd.sock");
}

TEST(SocketPath, UserWithoutXdgFallsBackToTmp) {
    SocketPathInputs in;
    in.uid = 1000;
    EXPECT_EQ(resolve_socket_path(in), "/tmp/kvd-1000/kvd.sock");
    in.uid = 65534;
    EXPECT_EQ(resolve_socket_path(in), "/tmp/kvd-65534/kvd.sock");
}

TEST(SocketPath, EmptyStringsCountAsUnset) {
    SocketPathInputs in;
    in.flag = "";
    in.config = "";
    in.env_socket = "";
    in.xdg_runtime = "";
    in.uid = 1000;
    EXPECT_EQ(resolve_socket_path(in), "/tmp/kvd-1000/kvd.sock");
    in.uid = 0;
    EXPECT_EQ(resolve_socket_path(in), "/run/kvd/kvd.sock");

    in.uid = 1000;
    in.config = "/config.sock";
    EXPECT_EQ(resolve_socket_path(in), "/config.sock");
    in.config = "";
    in.env_socket = "/env.sock";
    EXPECT_EQ(resolve_socket_path(in), "/env.sock");
    in.env_socket = "";
    in.xdg_runtime = "/xdg";
    EXPECT_EQ(resolve_socket_path(in), "/xdg/kvd/kvd.sock");
}

TEST(SocketPath, RelativePathsArePassedThrough) {
    SocketPathInputs in;
    in.flag = "kvd.sock";
    EXPECT_EQ(resolve_socket_path(in), "kvd.sock");
}

// Sets or unsets an environment variable for the lifetime of the object.
class ScopedEnv {
  public:
    ScopedEnv(const char* name, const char* value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        if (value)
            setenv(name, value, 1);
        else
            unsetenv(name);
    }
    ~ScopedEnv() {
        if (old_)
            setenv(name_, old_->c_str(), 1);
        else
            unsetenv(name_);
    }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

  private:
    const char* name_;
    std::optional<std::string> old_;
};

TEST(SocketPath, InputsFromEnvironment) {
    ScopedEnv socket("KVD_SOCKET", "/from/env.sock");
    ScopedEnv xdg("XDG_RUNTIME_DIR", "/from/xdg");
    auto in = socket_path_inputs_from_environment();
    EXPECT_EQ(in.env_socket, std::optional<std::string>("/from/env.sock"));
    EXPECT_EQ(in.xdg_runtime, std::optional<std::string>("/from/xdg"));
    EXPECT_EQ(in.uid, getuid());
    EXPECT_FALSE(in.flag.has_value());
    EXPECT_FALSE(in.config.has_value());
}

TEST(SocketPath, UnsetOrEmptyEnvironment) {
    ScopedEnv socket("KVD_SOCKET", "");
    ScopedEnv xdg("XDG_RUNTIME_DIR", nullptr);
    auto in = socket_path_inputs_from_environment();
    EXPECT_FALSE(in.env_socket.has_value() && !in.env_socket->empty());
    EXPECT_FALSE(in.xdg_runtime.has_value());
    if (getuid() != 0)
        EXPECT_EQ(resolve_socket_path(in), "/tmp/kvd-" + std::to_string(getuid()) + "/kvd.sock");
    else
        EXPECT_EQ(resolve_socket_path(in), "/run/kvd/kvd.sock");
}

TEST(SocketPath, MaxPathBytesMatchesSockaddrUn) {
    EXPECT_EQ(max_socket_path_bytes(), 107u);
}

}  // namespace
}  // namespace kvd
