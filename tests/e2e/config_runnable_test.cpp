// Configs that are valid TOML for kvd but cannot run here (a socket_group that does not exist,
// a bucket or handler program that is missing or not executable) and configs out of range:
// `kvd --check-config` names each as FILE:LINE:COLUMN at the value at fault and exits 2, kvd
// refuses to start on them with exit 2 (what kvd.service's RestartPreventExitStatus=2 needs),
// and `reload` refuses them and changes nothing.
#include <sys/stat.h>

#include <filesystem>
#include <functional>
#include <string>

#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

// A group name no system has.
constexpr const char* kNoSuchGroup = "kvd-test-no-such-group";

// The directory kvd looks in first for a bare bucket program: its own, as /proc/self/exe says.
std::string kvd_directory() {
    return std::filesystem::canonical(kvd_path()).parent_path().string();
}

// An executable script at <dir>/name.
std::string write_program(const TempDir& dir, const std::string& name) {
    std::string path = dir.write_file(name, "#!/bin/sh\nexec cat\n");
    EXPECT_EQ(chmod(path.c_str(), 0755), 0);
    return path;
}

// A script at <dir>/name that nobody may execute.
std::string write_non_executable(const TempDir& dir, const std::string& name) {
    std::string path = dir.write_file(name, "#!/bin/sh\nexec cat\n");
    EXPECT_EQ(chmod(path.c_str(), 0644), 0);
    return path;
}

// One config kvd must refuse, and the one error it must report for it (after "FILE:").
struct Unrunnable {
    const char* name;
    std::function<std::string(const TempDir&)> config;
    std::function<std::string(const TempDir&)> error;
    // kvd's PATH, when the case needs one: the directory itself.
    bool path_is_the_directory = false;
};

std::ostream& operator<<(std::ostream& os, const Unrunnable& c) {
    return os << c.name;
}

const Unrunnable kCases[] = {
    {"SocketGroupDoesNotExist",
     [](const TempDir&) {
         return std::string("[daemon]\nsocket_group = \"") + kNoSuchGroup + "\"\n";
     },
     [](const TempDir&) {
         return std::string("2:16: daemon.socket_group \"") + kNoSuchGroup + "\" does not exist";
     }},
    {"BucketProgramDoesNotExist",
     [](const TempDir& dir) {
         return "[bucket]\nprogram = \"" + dir.file("no-such-kv-bucket") + "\"\n";
     },
     [](const TempDir& dir) {
         return "2:11: bucket.program \"" + dir.file("no-such-kv-bucket") + "\" does not exist";
     }},
    {"BucketProgramIsNotExecutable",
     [](const TempDir& dir) {
         return "# the bucket program\n[bucket]\nprogram = \"" +
                write_non_executable(dir, "kv-bucket") + "\"\n";
     },
     [](const TempDir& dir) {
         return "3:11: bucket.program \"" + dir.file("kv-bucket") +
                "\" is not executable (mode 0644)";
     }},
    {"BucketProgramIsADirectory",
     [](const TempDir& dir) {
         mkdir(dir.file("bucket-dir").c_str(), 0755);
         return "[bucket]\n  program = \"" + dir.file("bucket-dir") + "\"\n";
     },
     [](const TempDir& dir) {
         return "2:13: bucket.program \"" + dir.file("bucket-dir") +
                "\" is a directory, not a program";
     }},
    {"BucketProgramNeitherNextToKvdNorOnPath",
     [](const TempDir&) { return std::string("[bucket]\nprogram = \"no-such-kv-bucket\"\n"); },
     [](const TempDir& dir) {
         return "2:11: bucket.program \"no-such-kv-bucket\" is neither next to kvd (" +
                kvd_directory() + ") nor in PATH (" + dir.path() + ")";
     },
     true},
    {"BucketProgramOnPathIsNotExecutable",
     [](const TempDir& dir) {
         write_non_executable(dir, "my-kv-bucket");
         return std::string("[bucket]\nprogram = \"my-kv-bucket\"\n");
     },
     [](const TempDir& dir) {
         return "2:11: bucket.program \"my-kv-bucket\" is in PATH (" + dir.path() + ") only as " +
                dir.file("my-kv-bucket") + ", which is not executable (mode 0644)";
     },
     true},
    {"HandlerProgramDoesNotExist",
     [](const TempDir& dir) {
         return "[[handler]]\nname = \"audit\"\ncommand = [\"" + dir.file("no-such-handler") +
                "\", \"arg\"]\n";
     },
     [](const TempDir& dir) {
         return "3:12: handler.command[0] \"" + dir.file("no-such-handler") + "\" does not exist";
     }},
    {"HandlerProgramIsNotExecutable",
     [](const TempDir& dir) {
         return "[[handler]]\nname = \"audit\"\nmode = \"async\"\ncommand = [\n    \"" +
                write_non_executable(dir, "handler") + "\"]\n";
     },
     [](const TempDir& dir) {
         return "5:5: handler.command[0] \"" + dir.file("handler") +
                "\" is not executable (mode 0644)";
     }},
    {"HandlerProgramNotOnKvdsPath",
     [](const TempDir&) {
         return std::string("[[handler]]\nname = \"audit\"\ncommand = [\"no-such-handler\"]\n");
     },
     [](const TempDir& dir) {
         return "3:12: handler.command[0] \"no-such-handler\" is not in PATH (" + dir.path() + ")";
     },
     true},
    // The handler's own env PATH is where execvp looks for it, not kvd's.
    {"HandlerProgramNotOnItsOwnPath",
     [](const TempDir& dir) {
         write_program(dir, "my-handler");
         return std::string(
             "[[handler]]\nname = \"audit\"\nenv = { PATH = \"/nonexistent\" }\n"
             "command = [\"my-handler\"]\n");
     },
     [](const TempDir&) {
         return std::string(
             "4:12: handler.command[0] \"my-handler\" is not in the handler's env "
             "PATH (/nonexistent)");
     },
     true},
    {"QueueOnASyncHandler",
     [](const TempDir&) {
         return std::string(
             "[[handler]]\nname = \"audit\"\ncommand = [\"/bin/cat\"]\n"
             "queue = 10\n");
     },
     [](const TempDir&) {
         return std::string(
             "4:9: handler.queue applies only to async handlers, and this one is "
             "sync (set mode = \"async\" or remove queue)");
     }},
    {"IntegerBeyondSixtyFourBits",
     [](const TempDir&) {
         return std::string("[daemon]\nmax_buckets = 99999999999999999999999\n");
     },
     [](const TempDir&) {
         return std::string(
             "2:15: daemon.max_buckets must be at most 1000000, not "
             "99999999999999999999999");
     }},
    {"DurationThatRoundsToZero",
     [](const TempDir&) {
         return std::string(
             "[[handler]]\nname = \"audit\"\ncommand = [\"/bin/cat\"]\n"
             "restart_delay = \"1us\"\n");
     },
     [](const TempDir&) {
         return std::string(
             "4:17: handler.restart_delay \"1us\" rounds to 0ms; it must be at "
             "least 1ms");
     }},
};

class UnrunnableConfig : public ::testing::TestWithParam<Unrunnable> {
  protected:
    EnvChanges env() const {
        EnvChanges changes;
        if (GetParam().path_is_the_directory) changes["PATH"] = dir_.path();
        return changes;
    }
    std::string expected_error(const std::string& config_path) const {
        return config_path + ":" + GetParam().error(dir_);
    }

    TempDir dir_;
};

TEST_P(UnrunnableConfig, CheckConfigNamesTheValueAndExitsTwo) {
    std::string config = dir_.write_file("kvd.toml", GetParam().config(dir_));
    RunResult r = run_program(kvd_path(), {"--check-config", "--config", config}, env());
    EXPECT_EQ(r.exit_code, 2) << r;
    EXPECT_EQ(r.err, expected_error(config) + "\n") << r;
    EXPECT_EQ(r.out, "") << r;
}

TEST_P(UnrunnableConfig, KvdRefusesToStartWithExitTwo) {
    KvdOptions options;
    options.config = GetParam().config(dir_);
    options.env = env();
    options.wait_ready = false;
    KvdProcess kvd(dir_, options);
    auto status = kvd.wait_exit(10s);
    ASSERT_TRUE(status.has_value()) << "kvd started on a config it cannot run";
    EXPECT_TRUE(status->exited && status->code == 2) << status->describe() << "\n" << kvd.log();
    EXPECT_FALSE(file_exists(kvd.socket_path()));
    EXPECT_NE(kvd.log().find(expected_error(dir_.file("kvd.toml")) + "\n"), std::string::npos)
        << kvd.log();
    // Nothing was started: no bucket, no handler.
    EXPECT_EQ(kvd.log().find("ready on"), std::string::npos) << kvd.log();
}

INSTANTIATE_TEST_SUITE_P(Configs, UnrunnableConfig, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Unrunnable>& info) {
                             return std::string(info.param.name);
                         });

TEST(RunnableConfig, ProgramsFoundWhereKvdLooksPass) {
    TempDir dir;
    write_program(dir, "my-kv-bucket");
    TempDir other;
    write_program(other, "my-handler");
    std::string config =
        dir.write_file("kvd.toml",
                       "[bucket]\nprogram = \"my-kv-bucket\"\n"
                       "[[handler]]\nname = \"a\"\ncommand = [\"my-kv-bucket\"]\n"
                       "[[handler]]\nname = \"b\"\nenv = { PATH = \"" +
                           other.path() +
                           "\" }\ncommand = [\"my-handler\"]\n"
                           "[[handler]]\nname = \"c\"\nmode = \"async\"\nqueue = 10\n"
                           "command = [\"" +
                           write_program(dir, "handler-c") + "\"]\n");
    RunResult r =
        run_program(kvd_path(), {"--check-config", "--config", config}, {{"PATH", dir.path()}});
    EXPECT_EQ(r.exit_code, 0) << r;
}

// Several problems at once: every one is reported, in file order.
TEST(RunnableConfig, EveryProblemIsReportedInFileOrder) {
    TempDir dir;
    std::string missing = dir.file("missing");
    std::string config =
        dir.write_file("kvd.toml", "[daemon]\nsocket_group = \"" + std::string(kNoSuchGroup) +
                                       "\"\n[bucket]\nprogram = \"" + missing +
                                       "\"\n"
                                       "[[handler]]\nname = \"a\"\ncommand = [\"" +
                                       missing + "\"]\n");
    RunResult r = run_program(kvd_path(), {"--check-config", "--config", config});
    EXPECT_EQ(r.exit_code, 2) << r;
    EXPECT_EQ(r.err, config + ":2:16: daemon.socket_group \"" + kNoSuchGroup +
                         "\" does not exist\n" + config + ":4:11: bucket.program \"" + missing +
                         "\" does not exist\n" + config + ":7:12: handler.command[0] \"" + missing +
                         "\" does not exist\n")
        << r;
}

// `reload` with a config that cannot run: bad_request with the FILE:LINE:COLUMN lines, and
// nothing changes (the handlers keep running as they were).
class ReloadUnrunnable : public KvdTest {
  protected:
    KvdOptions options() override {
        KvdOptions o;
        o.config = handler_toml("A");
        return o;
    }
    std::string handler_toml(const std::string& name) const {
        Json command = {test_handler_path(), "--out", dir_.file(name + ".out"), "ack"};
        return "[[handler]]\nname = \"" + name + "\"\ncommand = " + command.dump() + "\n";
    }
    std::vector<std::string> handler_names() {
        std::vector<std::string> names;
        Json reply = call("handlers");
        EXPECT_TRUE(is_ok(reply));
        if (!is_ok(reply)) return names;
        for (const auto& h : reply["result"]["handlers"]) names.push_back(h["name"]);
        return names;
    }
};

TEST_F(ReloadUnrunnable, AMissingHandlerProgramChangesNothing) {
    ASSERT_TRUE(
        wait_until([&] { return handler_info(client(), "A").value("state", "") == "running"; }, 10s,
                   "handler A to run"));
    const pid_t a = handler_info(client(), "A").value("pid", -1);
    std::string missing = dir_.file("no-such-handler");
    std::string config =
        dir_.write_file("kvd.toml", handler_toml("A") + "[[handler]]\nname = \"B\"\ncommand = [\"" +
                                        missing + "\"]\n");
    Json reply = call("reload");
    ASSERT_TRUE(is_error(reply, "bad_request")) << reply.dump();
    EXPECT_EQ(reply["error"]["message"], "config not reloaded:\n" + config +
                                             ":6:12: handler.command[0] \"" + missing +
                                             "\" does not exist");
    EXPECT_EQ(handler_names(), std::vector<std::string>{"A"});
    EXPECT_EQ(handler_info(client(), "A").value("pid", -1), a);
    EXPECT_TRUE(process_alive(a));
}

TEST_F(ReloadUnrunnable, AMissingGroupOrBucketProgramChangesNothing) {
    std::string config = dir_.write_file(
        "kvd.toml", "[daemon]\nsocket_group = \"" + std::string(kNoSuchGroup) +
                        "\"\n[bucket]\nprogram = \"no-such-kv-bucket\"\n" + handler_toml("B"));
    Json reply = call("reload");
    ASSERT_TRUE(is_error(reply, "bad_request")) << reply.dump();
    std::string message = reply["error"]["message"];
    EXPECT_NE(
        message.find(config + ":2:16: daemon.socket_group \"" + kNoSuchGroup + "\" does not exist"),
        std::string::npos)
        << message;
    EXPECT_NE(message.find(config + ":4:11: bucket.program \"no-such-kv-bucket\" is neither next "
                                    "to kvd"),
              std::string::npos)
        << message;
    EXPECT_EQ(handler_names(), std::vector<std::string>{"A"});
    // Buckets still start with the program of the config kvd runs.
    EXPECT_GT(create("still-works"), 0);
}

// kvd's own command line: a usage error exits 2 (as kvctl's), --help and --version 0.
TEST(KvdCommandLine, AUsageErrorExitsTwo) {
    RunResult bogus = run_program(kvd_path(), {"--bogus"});
    EXPECT_EQ(bogus.exit_code, 2) << bogus;
    EXPECT_NE(bogus.err.find("--bogus"), std::string::npos) << bogus;
    RunResult level = run_program(kvd_path(), {"--log-level", "loud"});
    EXPECT_EQ(level.exit_code, 2) << level;
    RunResult help = run_program(kvd_path(), {"--help"});
    EXPECT_EQ(help.exit_code, 0) << help;
    EXPECT_NE(help.out.find("--config FILE"), std::string::npos) << help;
    EXPECT_NE(help.out.find("--socket PATH"), std::string::npos) << help;
    EXPECT_EQ(run_program(kvd_path(), {"--version"}).exit_code, 0);
}

}  // namespace
}  // namespace kvd::test
