// kvd: the daemon. Parses the command line and the config, then hands over to Daemon.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "daemon/config.hpp"
#include "daemon/config_check.hpp"
#include "daemon/daemon.hpp"
#include "daemon/log.hpp"

int main(int argc, char** argv) {
    kvd::log::init();

    CLI::App app{
        "kvd - a registry of named key/value bucket processes with an event manager.\n"
        "Each bucket is a kv-bucket child process; create/exit events go to the handler\n"
        "processes of the config and to subscribed clients. Drive it with kvctl."};
    app.set_version_flag("--version", std::string("kvd ") + KVD_VERSION);
    std::string config_path;
    std::string socket;
    std::string log_level;
    bool check_only = false;
    app.add_option("--config", config_path, "TOML config file (default: built-in defaults)")
        ->type_name("FILE");
    app.add_option("--socket", socket,
                   "control socket path (default: config, $KVD_SOCKET, /run/kvd/kvd.sock for root, "
                   "$XDG_RUNTIME_DIR/kvd/kvd.sock, /tmp/kvd-$UID/kvd.sock)")
        ->type_name("PATH");
    app.add_flag("--check-config", check_only,
                 "validate the config, print each error as FILE:LINE:COLUMN: message, exit 0 or 2");
    app.add_option("--log-level", log_level, "trace|debug|info|warn|error (default: info)")
        ->type_name("LEVEL")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
    app.footer("Signals: SIGTERM/SIGINT stop gracefully, SIGHUP reloads the config.");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // --help and --version exit 0; a usage error exits 2, as kvctl's do.
        int code = app.exit(e);
        return code == 0 ? 0 : 2;
    }

    // A config that is invalid, or valid but unable to run here (a missing group or program),
    // exits 2 both with --check-config and at start-up: restarting kvd cannot fix it, and
    // kvd.service's RestartPreventExitStatus=2 stops systemd from trying.
    auto refuse = [](const std::vector<kvd::ConfigError>& errors) {
        for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
        return 2;
    };
    kvd::Config config;
    if (!config_path.empty()) {
        auto loaded = kvd::load_config_file(config_path);
        if (auto* errors = std::get_if<std::vector<kvd::ConfigError>>(&loaded))
            return refuse(*errors);
        config = std::move(std::get<kvd::Config>(loaded));
    }
    if (auto errors = kvd::check_runnable(config, kvd::run_environment_of_this_process());
        !errors.empty())
        return refuse(errors);
    if (check_only) {
        std::printf("%s: ok\n", config_path.empty() ? "built-in defaults" : config_path.c_str());
        return 0;
    }

    kvd::DaemonOptions options;
    options.config_path = config_path;
    if (!socket.empty()) options.socket_flag = socket;
    if (!log_level.empty()) {
        kvd::log::set_level(*kvd::log::parse_level(log_level));
        options.log_level_from_flag = true;
    } else if (config.daemon.log_level) {
        if (auto level = kvd::log::parse_level(*config.daemon.log_level))
            kvd::log::set_level(*level);
    }

    kvd::Daemon daemon(std::move(options), std::move(config));
    return daemon.run();
}
