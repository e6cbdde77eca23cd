// The checks a config must pass to run here (config_check.hpp): the group, the programs.
#include "daemon/config_check.hpp"

#include <fmt/format.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <tuple>
#include <vector>

#include "daemon/registry.hpp"

namespace kvd {

namespace {

// What stat() and access() say about one candidate program.
struct Examined {
    enum class State { executable, missing, directory, not_regular, not_executable, error };
    State state = State::missing;
    int error = 0;    // errno, for State::error
    mode_t mode = 0;  // permission bits, for State::not_executable
};

Examined examine(const std::string& path) {
    using State = Examined::State;
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) {
        int err = errno;
        if (err == ENOENT || err == ENOTDIR) return {State::missing, err, 0};
        return {State::error, err, 0};
    }
    if (S_ISDIR(st.st_mode)) return {State::directory, 0, 0};
    if (!S_ISREG(st.st_mode)) return {State::not_regular, 0, 0};
    // access() also says no for a file on a noexec mount, as execve would.
    if (access(path.c_str(), X_OK) != 0) return {State::not_executable, errno, st.st_mode & 07777};
    return {State::executable, 0, 0};
}

// Why `examined` cannot be run, as the end of a sentence about it; "" when it can.
std::string problem_of(const Examined& examined) {
    using State = Examined::State;
    switch (examined.state) {
        case State::executable:
            return "";
        case State::missing:
            return "does not exist";
        case State::directory:
            return "is a directory, not a program";
        case State::not_regular:
            return "is not a regular file";
        case State::not_executable:
            return fmt::format("is not executable (mode {:04o})", examined.mode);
        case State::error:
            return fmt::format("cannot be examined: {}", std::strerror(examined.error));
    }
    return "";
}

// The outcome of searching a PATH as execvp does: the first executable match wins; matches
// that cannot be executed are passed over (execvp then fails with EACCES if nothing else is
// found), and so are directories that do not exist.
struct PathSearch {
    std::optional<std::string> found;
    std::optional<std::string> unusable;  // the first match that cannot be executed
    Examined unusable_examined;
};

PathSearch search_path(const std::string& name, const std::string& path) {
    PathSearch result;
    std::size_t from = 0;
    while (true) {
        std::size_t colon = path.find(':', from);
        std::string dir =
            path.substr(from, colon == std::string::npos ? std::string::npos : colon - from);
        // An empty element is the current directory, as for execvp.
        std::string candidate = dir.empty() ? name : dir + "/" + name;
        Examined examined = examine(candidate);
        if (examined.state == Examined::State::executable) {
            result.found = candidate;
            return result;
        }
        bool passed_over =
            examined.state == Examined::State::missing || examined.state == Examined::State::error;
        if (!passed_over && !result.unusable) {
            result.unusable = candidate;
            result.unusable_examined = examined;
        }
        if (colon == std::string::npos) return result;
        from = colon + 1;
    }
}

// kvd's own directory, for messages about a bucket program looked for next to it.
std::string kvd_directory() {
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return "?";
    std::string dir(self, static_cast<std::size_t>(n));
    std::size_t slash = dir.rfind('/');
    return slash == std::string::npos || slash == 0 ? "/" : dir.substr(0, slash);
}

struct GroupLookup {
    bool exists = false;
    int error = 0;  // a failure to look it up (not "no such group")
};

GroupLookup look_up_group(const std::string& name) {
    long hint = sysconf(_SC_GETGR_R_SIZE_MAX);
    std::vector<char> buffer(hint > 0 ? static_cast<std::size_t>(hint) : 16384);
    group entry{};
    group* found = nullptr;
    int rc;
    while ((rc = getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found)) ==
               ERANGE &&
           buffer.size() < (std::size_t{1} << 24))
        buffer.resize(buffer.size() * 2);
    if (found) return {true, 0};
    // getgrnam_r(3): these all mean the group was not found.
    if (rc == 0 || rc == ENOENT || rc == ESRCH || rc == EBADF || rc == EPERM) return {false, 0};
    return {false, rc};
}

}  // namespace

RunEnvironment run_environment_of_this_process() {
    RunEnvironment env;
    if (const char* path = std::getenv("PATH")) env.path = path;
    return env;
}

namespace {

// The search path execvp uses when PATH is not set.
std::string default_search_path() {
    char buffer[256];
    std::size_t n = confstr(_CS_PATH, buffer, sizeof buffer);
    if (n == 0 || n > sizeof buffer) return "/bin:/usr/bin";
    return buffer;
}

}  // namespace

std::vector<ConfigError> check_runnable(const Config& config, const RunEnvironment& env) {
    const std::string file = config.path.empty() ? "built-in defaults" : config.path;
    std::vector<ConfigError> errors;
    auto error_at = [&](SourcePosition at, std::string message) {
        errors.push_back(ConfigError{file, at.line, at.column, config_message_line(message)});
    };
    const std::string kvd_path = env.path.value_or(default_search_path());
    auto path_phrase = [](const std::string& path, bool from_handler_env) {
        return fmt::format("{}PATH ({})", from_handler_env ? "the handler's env " : "", path);
    };

    if (const auto& name = config.daemon.socket_group) {
        GroupLookup group = look_up_group(*name);
        if (group.error != 0)
            error_at(config.sources.socket_group,
                     fmt::format("daemon.socket_group \"{}\" cannot be looked up: {}", *name,
                                 std::strerror(group.error)));
        else if (!group.exists)
            error_at(config.sources.socket_group,
                     fmt::format("daemon.socket_group \"{}\" does not exist", *name));
    }

    // The bucket program: a bare name next to kvd first (the registry's own resolution, so
    // the two cannot disagree), then on kvd's PATH, where the spawner's execvpe looks.
    {
        const SourcePosition at = config.sources.bucket_program;
        const std::string what = fmt::format("bucket.program \"{}\"{}", config.bucket.program,
                                             at.line == 0 ? " (the default)" : "");
        std::string program = resolve_bucket_program(config.bucket.program);
        if (program.find('/') != std::string::npos) {
            std::string problem = problem_of(examine(program));
            if (!problem.empty()) {
                error_at(at, program == config.bucket.program
                                 ? fmt::format("{} {}", what, problem)
                                 : fmt::format("{}: {} {}", what, program, problem));
            }
        } else {
            PathSearch search = search_path(program, kvd_path);
            if (search.unusable && !search.found) {
                error_at(at, fmt::format("{} is in {} only as {}, which {}", what,
                                         path_phrase(kvd_path, false), *search.unusable,
                                         problem_of(search.unusable_examined)));
            } else if (!search.found) {
                error_at(at, fmt::format("{} is neither next to kvd ({}) nor in {}", what,
                                         kvd_directory(), path_phrase(kvd_path, false)));
            }
        }
    }

    // The log directory: kvd creates files in it, not the directory itself.
    if (const auto& dir = config.bucket.log_dir) {
        const std::string what = fmt::format("bucket.log_dir \"{}\"", *dir);
        struct stat st {};
        if (stat(dir->c_str(), &st) != 0)
            error_at(config.sources.bucket_log_dir,
                     errno == ENOENT || errno == ENOTDIR
                         ? fmt::format("{} does not exist", what)
                         : fmt::format("{} cannot be examined: {}", what, std::strerror(errno)));
        else if (!S_ISDIR(st.st_mode))
            error_at(config.sources.bucket_log_dir, fmt::format("{} is not a directory", what));
        else if (access(dir->c_str(), W_OK | X_OK) != 0)
            error_at(config.sources.bucket_log_dir,
                     fmt::format("{} is not writable by kvd: {}", what, std::strerror(errno)));
    }

    // Handler programs are started with uv_spawn, whose execvp searches the PATH of the
    // child's environment: the handler's env PATH when it sets one, else kvd's.
    for (std::size_t i = 0; i < config.handlers.size(); ++i) {
        const HandlerConfig& handler = config.handlers[i];
        if (handler.command.empty()) continue;
        const SourcePosition at = i < config.sources.handler_program.size()
                                      ? config.sources.handler_program[i]
                                      : SourcePosition{};
        const std::string& program = handler.command[0];
        const std::string what = fmt::format("handler.command[0] \"{}\"", program);
        if (program.find('/') != std::string::npos) {
            std::string problem = problem_of(examine(program));
            if (!problem.empty()) error_at(at, fmt::format("{} {}", what, problem));
            continue;
        }
        auto own_path = handler.env.find("PATH");
        bool from_env = own_path != handler.env.end();
        const std::string& path = from_env ? own_path->second : kvd_path;
        PathSearch search = search_path(program, path);
        if (search.unusable && !search.found) {
            error_at(at, fmt::format("{} is in {} only as {}, which {}", what,
                                     path_phrase(path, from_env), *search.unusable,
                                     problem_of(search.unusable_examined)));
        } else if (!search.found) {
            error_at(at, fmt::format("{} is not in {}", what, path_phrase(path, from_env)));
        }
    }

    // Kind programs are started by the spawner, whose execvpe searches kvd's PATH. A program
    // named after the bucket ("{name}" in command[0]) is known only at create.
    for (std::size_t i = 0; i < config.kinds.size(); ++i) {
        const KindConfig& kind = config.kinds[i];
        auto source = [&](const std::vector<SourcePosition>& v) {
            return i < v.size() ? v[i] : SourcePosition{};
        };
        if (!kind.command.empty() && kind.command[0].find("{name}") == std::string::npos) {
            const std::string& program = kind.command[0];
            const std::string what = fmt::format("kind.command[0] \"{}\"", program);
            const SourcePosition at = source(config.sources.kind_program);
            if (program.find('/') != std::string::npos) {
                std::string problem = problem_of(examine(program));
                if (!problem.empty()) error_at(at, fmt::format("{} {}", what, problem));
            } else {
                PathSearch search = search_path(program, kvd_path);
                if (search.unusable && !search.found)
                    error_at(at, fmt::format("{} is in {} only as {}, which {}", what,
                                             path_phrase(kvd_path, false), *search.unusable,
                                             problem_of(search.unusable_examined)));
                else if (!search.found)
                    error_at(at,
                             fmt::format("{} is not in {}", what, path_phrase(kvd_path, false)));
            }
        }
        if (kind.cwd) {
            struct stat st {};
            if (::stat(kind.cwd->c_str(), &st) != 0)
                error_at(source(config.sources.kind_cwd),
                         fmt::format("kind.cwd \"{}\": {}", *kind.cwd, std::strerror(errno)));
            else if (!S_ISDIR(st.st_mode))
                error_at(source(config.sources.kind_cwd),
                         fmt::format("kind.cwd \"{}\" is not a directory", *kind.cwd));
        }
        if (kind.user) {
            errno = 0;
            if (getuid() != 0)
                error_at(source(config.sources.kind_user),
                         fmt::format("kind.user \"{}\": kvd runs as uid {}, and only a kvd "
                                     "running as root can start programs as another user",
                                     *kind.user, getuid()));
            else if (getpwnam(kind.user->c_str()) == nullptr)
                error_at(source(config.sources.kind_user),
                         fmt::format("kind.user \"{}\" does not exist", *kind.user));
        }
    }

    std::stable_sort(errors.begin(), errors.end(), [](const auto& a, const auto& b) {
        return std::tie(a.line, a.column) < std::tie(b.line, b.column);
    });
    return errors;
}

}  // namespace kvd
