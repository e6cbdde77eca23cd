// Shell completion for kvctl, generated from its own command table (the CLI11 app cli.cpp
// builds): `kvctl completion bash|zsh|fish` prints a script that completes commands, options
// and, by asking kvd, bucket names.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace CLI {
class App;
}

namespace kvd::ctl {

// The shells a script can be generated for, in the order `completion --help` names them.
inline const std::vector<std::string> kCompletionShells = {"bash", "zsh", "fish"};

// The script for `shell`, or nullopt for a shell not in kCompletionShells. `app` is kvctl's
// whole command table: every command, its options and its positional arguments.
std::optional<std::string> completion_script(const CLI::App& app, std::string_view shell);

}  // namespace kvd::ctl
