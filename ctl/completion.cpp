// Completion scripts for bash, zsh and fish, written from kvctl's CLI11 command table so that
// a command or option added there is completed without touching this file.
#include "ctl/completion.hpp"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <set>

#include "common/signals.hpp"

namespace kvd::ctl {

namespace {

// What a word can be completed with.
enum class Values {
    none,     // free text (a key, a duration, a number)
    bucket,   // a bucket kvd has now (asks `kvctl list`)
    handler,  // a handler kvd runs now (asks `kvctl handlers`)
    command,  // one of kvctl's commands
    shell,    // one of kCompletionShells
    signal,   // a signal name
    file,     // a path
};

struct OptionInfo {
    std::vector<std::string> names;  // "--socket", "-h"
    std::string help;                // the first line of its help
    Values values = Values::none;
    bool takes_value = false;
};

struct CommandInfo {
    std::string name;
    std::string help;
    std::vector<OptionInfo> options;
    std::vector<Values> positionals;  // in order
    bool last_repeats = false;        // the last positional takes several words (NAME...)
};

struct Table {
    std::vector<OptionInfo> global;
    std::vector<CommandInfo> commands;
};

// A help text on one line: the shells show it beside the word, cut to the screen's width.
std::string one_line(const std::string& text) {
    std::string out = text;
    std::replace(out.begin(), out.end(), '\n', ' ');
    return out;
}

Values option_values(const CLI::Option& option) {
    std::string type = option.get_type_name();
    if (type.find("SIG") != std::string::npos) return Values::signal;
    if (type.find("PATH") != std::string::npos || type.find("FILE") != std::string::npos)
        return Values::file;
    return Values::none;
}

// A positional argument is known by its name in the table: NAME and BUCKET are buckets (except
// for create, which takes new names), HANDLER a handler, COMMAND and SHELL what they say.
Values positional_values(const std::string& command, const CLI::Option& option) {
    std::string name = option.get_name();
    if ((name == "NAME" || name == "BUCKET") && command != "create") return Values::bucket;
    if (name == "HANDLER") return Values::handler;
    if (name == "COMMAND") return Values::command;
    if (name == "SHELL") return Values::shell;
    return Values::none;
}

// A command's own --help is left out: kvctl's is offered everywhere already.
std::vector<OptionInfo> options_of(const CLI::App& app, bool with_help) {
    std::vector<OptionInfo> out;
    for (const CLI::Option* option : app.get_options()) {
        if (!option->nonpositional()) continue;
        if (!with_help && option == app.get_help_ptr()) continue;
        OptionInfo info;
        for (const auto& l : option->get_lnames()) info.names.push_back("--" + l);
        for (const auto& s : option->get_snames()) info.names.push_back("-" + s);
        info.help = one_line(option->get_description());
        info.takes_value = option->get_items_expected_max() > 0;
        if (info.takes_value) info.values = option_values(*option);
        out.push_back(std::move(info));
    }
    return out;
}

Table table_of(const CLI::App& app) {
    Table table;
    table.global = options_of(app, true);
    for (const CLI::App* sub : app.get_subcommands({})) {
        CommandInfo command;
        command.name = sub->get_name();
        command.help = one_line(sub->get_description());
        command.options = options_of(*sub, false);
        for (const CLI::Option* option : sub->get_options()) {
            if (option->nonpositional()) continue;
            command.positionals.push_back(positional_values(command.name, *option));
            command.last_repeats = option->get_items_expected_max() > 1;
        }
        table.commands.push_back(std::move(command));
    }
    return table;
}

std::string join(const std::vector<std::string>& words, std::string_view sep = " ") {
    std::string out;
    for (const auto& w : words) {
        if (!out.empty()) out += sep;
        out += w;
    }
    return out;
}

// 'text' for the shell, with any ' inside closed and escaped.
std::string single_quoted(std::string_view text) {
    std::string out = "'";
    for (char c : text) {
        if (c == '\'')
            out += "'\\''";
        else
            out += c;
    }
    return out + "'";
}

std::vector<std::string> command_names(const Table& table) {
    std::vector<std::string> names;
    for (const auto& c : table.commands) names.push_back(c.name);
    return names;
}

std::vector<std::string> signal_names() {
    std::vector<std::string> names;
    for (int signo = 1; signo < 32; ++signo) {
        std::string name = signal_name(signo);
        if (name.find_first_of("0123456789") == std::string::npos) names.push_back(name);
    }
    return names;
}

// Option names that take a value, over every command (an option name means the same
// everywhere in kvctl), grouped by what completes the value.
std::set<std::string> value_options(const Table& table, std::optional<Values> values = {}) {
    std::set<std::string> names;
    auto add = [&](const std::vector<OptionInfo>& options) {
        for (const auto& o : options)
            if (o.takes_value && (!values || o.values == *values))
                names.insert(o.names.begin(), o.names.end());
    };
    add(table.global);
    for (const auto& c : table.commands) add(c.options);
    return names;
}

std::string case_pattern(const std::set<std::string>& names) {
    return join(std::vector<std::string>(names.begin(), names.end()), "|");
}

std::vector<std::string> option_names(const std::vector<OptionInfo>& options) {
    std::vector<std::string> names;
    for (const auto& o : options) names.insert(names.end(), o.names.begin(), o.names.end());
    return names;
}

constexpr const char* kHeader =
    "{comment} {shell} completion for kvctl, generated by `kvctl completion {shell}` from\n"
    "{comment} kvctl's command table. Bucket and handler names come from kvd (kvctl list,\n"
    "{comment} kvctl handlers, with --socket if one was typed); when kvd does not answer,\n"
    "{comment} none are offered.\n";

std::string header(std::string_view shell, std::string_view comment = "#") {
    return fmt::format(kHeader, fmt::arg("shell", shell), fmt::arg("comment", comment));
}

std::string bash_script(const Table& table) {
    std::string s = header("bash");
    s +=
        "\n_kvctl_ask() {\n"
        "    local kvctl=$1 socket=$2 op=$3 field=$4\n"
        "    command -v \"$kvctl\" >/dev/null || return 0\n"
        "    local -a socket_args=()\n"
        "    [[ -n $socket ]] && socket_args=(--socket \"$socket\")\n"
        "    # Names are A-Z a-z 0-9 . _ : - only, so no JSON escape occurs in them.\n"
        "    \"$kvctl\" \"${socket_args[@]}\" --timeout 2s --json \"$op\" 2>/dev/null |\n"
        "        grep -o \"\\\"$field\\\": *\\\"[^\\\"]*\\\"\" | sed 's/.*\"\\([^\"]*\\)\"$/\\1/'\n"
        "}\n\n";
    s += "_kvctl() {\n"
         "    local cur prev words cword\n"
         "    # With bash-completion, words are not split at ':' (bucket names may hold one).\n"
         "    if declare -F _get_comp_words_by_ref >/dev/null; then\n"
         "        _get_comp_words_by_ref -n : cur prev words cword\n"
         "    else\n"
         "        words=(\"${COMP_WORDS[@]}\") cword=$COMP_CWORD\n"
         "        cur=${words[cword]} prev=\n"
         "        ((cword > 0)) && prev=${words[cword - 1]}\n"
         "    fi\n"
         "    local kvctl=${words[0]} command= socket= skip= only_args= word i\n"
         "    local -i npos=0\n"
         "    for ((i = 1; i < cword; i++)); do\n"
         "        word=${words[i]}\n"
         "        if [[ -n $skip ]]; then\n"
         "            [[ $skip == --socket ]] && socket=$word\n"
         "            skip=\n"
         "            continue\n"
         "        fi\n"
         "        if [[ -z $only_args ]]; then\n"
         "            case $word in\n"
         "                --) only_args=1; continue ;;\n"
         "                --socket=*) socket=${word#--socket=}; continue ;;\n";
    s += fmt::format("                {}) skip=$word; continue ;;\n",
                     case_pattern(value_options(table)));
    s += "                -) ;;\n"
         "                -*) continue ;;\n"
         "            esac\n"
         "        fi\n"
         "        if [[ -z $command ]]; then command=$word; else npos+=1; fi\n"
         "    done\n\n";

    s += "    if [[ -n $skip ]]; then\n"
         "        case $prev in\n";
    if (auto names = value_options(table, Values::signal); !names.empty())
        s += fmt::format("            {}) COMPREPLY=($(compgen -W '{}' -- \"$cur\")) ;;\n",
                         case_pattern(names), join(signal_names()));
    if (auto names = value_options(table, Values::file); !names.empty())
        s += fmt::format("            {}) COMPREPLY=($(compgen -f -- \"$cur\")) ;;\n",
                         case_pattern(names));
    s += "        esac\n"
         "        return\n"
         "    fi\n\n";
    s += "    if [[ $cur == -* && -z $only_args ]]; then\n"
         "        local options=\n"
         "        case $command in\n";
    for (const auto& c : table.commands) {
        if (c.options.empty()) continue;
        s +=
            fmt::format("            {}) options='{}' ;;\n", c.name, join(option_names(c.options)));
    }
    s += "        esac\n";
    s += fmt::format(
        "        COMPREPLY=($(compgen -W \"{} $options\" -- \"$cur\"))\n"
        "        return\n"
        "    fi\n"
        "    if [[ -z $command ]]; then\n"
        "        COMPREPLY=($(compgen -W '{}' -- \"$cur\"))\n"
        "        return\n"
        "    fi\n\n",
        join(option_names(table.global)), join(command_names(table)));

    s += "    local values=\n"
         "    case $command:$npos in\n";
    auto kind_name = [](Values v) -> std::string {
        switch (v) {
            case Values::bucket:
                return "bucket";
            case Values::handler:
                return "handler";
            case Values::command:
                return "command";
            case Values::shell:
                return "shell";
            default:
                return "";
        }
    };
    for (const auto& c : table.commands) {
        for (std::size_t i = 0; i < c.positionals.size(); ++i) {
            std::string kind = kind_name(c.positionals[i]);
            if (kind.empty()) continue;
            bool repeats = c.last_repeats && i + 1 == c.positionals.size();
            s += fmt::format("        {}:{}) values={} ;;\n", c.name,
                             repeats ? "*" : std::to_string(i), kind);
        }
    }
    s += "    esac\n"
         "    local candidates\n"
         "    case $values in\n"
         "        bucket) candidates=$(_kvctl_ask \"$kvctl\" \"$socket\" list bucket) ;;\n"
         "        handler) candidates=$(_kvctl_ask \"$kvctl\" \"$socket\" handlers name) ;;\n";
    s += fmt::format("        command) candidates='{}' ;;\n", join(command_names(table)));
    s += fmt::format("        shell) candidates='{}' ;;\n", join(kCompletionShells));
    s += "        *) return ;;\n"
         "    esac\n"
         "    COMPREPLY=($(compgen -W \"$candidates\" -- \"$cur\"))\n"
         "    if declare -F __ltrim_colon_completions >/dev/null; then\n"
         "        __ltrim_colon_completions \"$cur\"\n"
         "    fi\n"
         "}\n\n"
         "complete -F _kvctl kvctl\n";
    return s;
}

// zsh: the same walk over the words as for bash, with descriptions through _describe.
std::string zsh_escape_describe(const std::string& name, const std::string& help) {
    std::string escaped;
    for (char c : name) {
        if (c == ':') escaped += '\\';
        escaped += c;
    }
    return single_quoted(escaped + ":" + help);
}

std::string zsh_script(const Table& table) {
    std::string s = "#compdef kvctl\n" + header("zsh");
    s +=
        "\n_kvctl_ask() {\n"
        "    local kvctl=$1 socket=$2 op=$3 field=$4\n"
        "    command -v \"$kvctl\" >/dev/null || return 0\n"
        "    local -a socket_args\n"
        "    [[ -n $socket ]] && socket_args=(--socket \"$socket\")\n"
        "    \"$kvctl\" \"${socket_args[@]}\" --timeout 2s --json \"$op\" 2>/dev/null |\n"
        "        grep -o \"\\\"$field\\\": *\\\"[^\\\"]*\\\"\" | sed 's/.*\"\\([^\"]*\\)\"$/\\1/'\n"
        "}\n\n";
    s += "_kvctl() {\n"
         "    local kvctl=${words[1]} command= socket= skip= only_args= word\n"
         "    local -i npos=0 i\n"
         "    local cur=${words[CURRENT]} prev=${words[CURRENT-1]}\n"
         "    for ((i = 2; i < CURRENT; i++)); do\n"
         "        word=${words[i]}\n"
         "        if [[ -n $skip ]]; then\n"
         "            [[ $skip == --socket ]] && socket=$word\n"
         "            skip=\n"
         "            continue\n"
         "        fi\n"
         "        if [[ -z $only_args ]]; then\n"
         "            case $word in\n"
         "                (--) only_args=1; continue ;;\n"
         "                (--socket=*) socket=${word#--socket=}; continue ;;\n";
    s += fmt::format("                ({}) skip=$word; continue ;;\n",
                     case_pattern(value_options(table)));
    s += "                (-*) continue ;;\n"
         "            esac\n"
         "        fi\n"
         "        if [[ -z $command ]]; then command=$word; else npos+=1; fi\n"
         "    done\n\n"
         "    if [[ -n $skip ]]; then\n"
         "        case $prev in\n";
    if (auto names = value_options(table, Values::signal); !names.empty())
        s += fmt::format("            ({}) compadd -- {}; return ;;\n", case_pattern(names),
                         join(signal_names()));
    if (auto names = value_options(table, Values::file); !names.empty())
        s += fmt::format("            ({}) _files; return ;;\n", case_pattern(names));
    s += "        esac\n"
         "        return 1\n"
         "    fi\n\n";

    s += "    if [[ $cur == -* && -z $only_args ]]; then\n"
         "        local -a options\n";
    std::string global;
    for (const auto& o : table.global)
        for (const auto& n : o.names) global += " " + zsh_escape_describe(n, o.help);
    s += fmt::format("        options=({} )\n", global);
    s += "        case $command in\n";
    for (const auto& c : table.commands) {
        if (c.options.empty()) continue;
        std::string list;
        for (const auto& o : c.options)
            for (const auto& n : o.names) list += " " + zsh_escape_describe(n, o.help);
        s += fmt::format("            ({}) options+=({} ) ;;\n", c.name, list);
    }
    s += "        esac\n"
         "        _describe -t options 'option' options\n"
         "        return\n"
         "    fi\n";
    std::string commands;
    for (const auto& c : table.commands) commands += " " + zsh_escape_describe(c.name, c.help);
    s += fmt::format(
        "    local -a commands\n"
        "    commands=({} )\n"
        "    if [[ -z $command ]]; then\n"
        "        _describe -t commands 'kvctl command' commands\n"
        "        return\n"
        "    fi\n\n",
        commands);
    s += "    case $command:$npos in\n";
    for (const auto& c : table.commands) {
        for (std::size_t i = 0; i < c.positionals.size(); ++i) {
            bool repeats = c.last_repeats && i + 1 == c.positionals.size();
            std::string label = fmt::format("({}:{})", c.name, repeats ? "*" : std::to_string(i));
            switch (c.positionals[i]) {
                case Values::bucket:
                    s += "        " + label +
                         " compadd -- ${(f)\"$(_kvctl_ask \"$kvctl\" \"$socket\" list bucket)\"} "
                         ";;\n";
                    break;
                case Values::handler:
                    s += "        " + label +
                         " compadd -- ${(f)\"$(_kvctl_ask \"$kvctl\" \"$socket\" handlers "
                         "name)\"} ;;\n";
                    break;
                case Values::command:
                    s +=
                        "        " + label + " _describe -t commands 'kvctl command' commands ;;\n";
                    break;
                case Values::shell:
                    s += "        " + label + " compadd -- " + join(kCompletionShells) + " ;;\n";
                    break;
                default:
                    break;
            }
        }
    }
    s += "        (*) return 1 ;;\n"
         "    esac\n"
         "}\n\n"
         "# Autoloaded from fpath (the installed _kvctl) it completes; sourced, as in\n"
         "# `source <(kvctl completion zsh)` after compinit, it registers itself.\n"
         "if [[ $funcstack[1] == _kvctl ]]; then\n"
         "    _kvctl \"$@\"\n"
         "else\n"
         "    compdef _kvctl kvctl\n"
         "fi\n";
    return s;
}

// fish: declarative `complete` lines; __kvctl_state finds the command and the position of
// the argument being typed, as the bash and zsh functions do.
std::string fish_script(const Table& table) {
    std::string s = header("fish");
    std::string value_pattern;
    for (const auto& name : value_options(table)) value_pattern += " " + name;
    s += "\nfunction __kvctl_state --description 'kvctl: the command typed and the index of the "
         "argument being typed'\n"
         "    set -l words (commandline -opc)\n"
         "    set -l command ''\n"
         "    set -l socket ''\n"
         "    set -l npos 0\n"
         "    set -l skip ''\n"
         "    set -l only_args ''\n"
         "    for word in $words[2..-1]\n"
         "        if test -n \"$skip\"\n"
         "            test \"$skip\" = --socket; and set socket $word\n"
         "            set skip ''\n"
         "            continue\n"
         "        end\n"
         "        if test -z \"$only_args\"\n"
         "            switch $word\n"
         "                case --\n"
         "                    set only_args 1\n"
         "                    continue\n"
         "                case '--socket=*'\n"
         "                    set socket (string replace -- --socket= '' $word)\n"
         "                    continue\n";
    s += fmt::format("                case{}\n", value_pattern);
    s += "                    set skip $word\n"
         "                    continue\n"
         "                case '-*'\n"
         "                    continue\n"
         "            end\n"
         "        end\n"
         "        if test -z \"$command\"\n"
         "            set command $word\n"
         "        else\n"
         "            set npos (math $npos + 1)\n"
         "        end\n"
         "    end\n"
         "    echo $command\n"
         "    echo $npos\n"
         "    echo $socket\n"
         "end\n\n"
         "function __kvctl_at --description 'kvctl: is the argument being typed COMMAND:INDEX "
         "(or COMMAND:* for any index)'\n"
         "    set -l state (__kvctl_state)\n"
         "    for want in $argv\n"
         "        string match -q -- $want \"$state[1]:$state[2]\"; and return 0\n"
         "    end\n"
         "    return 1\n"
         "end\n\n"
         "function __kvctl_ask --description 'kvctl: names kvd reports'\n"
         "    set -l state (__kvctl_state)\n"
         "    set -l kvctl (commandline -opc)[1]\n"
         "    command -q $kvctl; or return 0\n"
         "    set -l socket_args\n"
         "    test -n \"$state[3]\"; and set socket_args --socket $state[3]\n"
         "    $kvctl $socket_args --timeout 2s --json $argv[1] 2>/dev/null |\n"
         "        grep -o \"\\\"$argv[2]\\\": *\\\"[^\\\"]*\\\"\" | sed "
         "'s/.*\"\\([^\"]*\\)\"$/\\1/'\n"
         "end\n\n"
         "complete -c kvctl -f\n";

    auto option_line = [&](const OptionInfo& o, const std::string& condition) {
        std::string line = "complete -c kvctl";
        if (!condition.empty()) line += " -n " + single_quoted(condition);
        for (const auto& n : o.names) {
            if (n.rfind("--", 0) == 0)
                line += " -l " + n.substr(2);
            else
                line += " -s " + n.substr(1);
        }
        if (o.takes_value) {
            line += " -r";
            if (o.values == Values::signal) line += " -a " + single_quoted(join(signal_names()));
            if (o.values == Values::file) line += " -F";
        }
        return line + " -d " + single_quoted(o.help) + "\n";
    };
    for (const auto& o : table.global) s += option_line(o, "");
    for (const auto& c : table.commands)
        s += fmt::format("complete -c kvctl -n '__kvctl_at \":0\"' -a {} -d {}\n", c.name,
                         single_quoted(c.help));
    for (const auto& c : table.commands) {
        std::string here = fmt::format("__kvctl_at \"{}:*\"", c.name);
        for (const auto& o : c.options) s += option_line(o, here);
        for (std::size_t i = 0; i < c.positionals.size(); ++i) {
            bool repeats = c.last_repeats && i + 1 == c.positionals.size();
            std::string at =
                fmt::format("__kvctl_at \"{}:{}\"", c.name, repeats ? "*" : std::to_string(i));
            std::string args;
            switch (c.positionals[i]) {
                case Values::bucket:
                    args = "(__kvctl_ask list bucket)";
                    break;
                case Values::handler:
                    args = "(__kvctl_ask handlers name)";
                    break;
                case Values::command:
                    args = join(command_names(table));
                    break;
                case Values::shell:
                    args = join(kCompletionShells);
                    break;
                default:
                    break;
            }
            if (!args.empty())
                s += fmt::format("complete -c kvctl -n {} -a {}\n", single_quoted(at),
                                 single_quoted(args));
        }
    }
    return s;
}

}  // namespace

std::optional<std::string> completion_script(const CLI::App& app, std::string_view shell) {
    Table table = table_of(app);
    if (shell == "bash") return bash_script(table);
    if (shell == "zsh") return zsh_script(table);
    if (shell == "fish") return fish_script(table);
    return std::nullopt;
}

}  // namespace kvd::ctl
