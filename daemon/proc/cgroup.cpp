#include "daemon/proc/cgroup.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

namespace kvd::proc {

namespace {

// The leaf kvd moves itself into when it holds its cgroup alone.
constexpr const char* kSupervisorLeaf = "supervisor";

bool read_file(const std::string& path, std::string& out) {
    std::ifstream in(path);
    if (!in) return false;
    std::stringstream ss;
    ss << in.rdbuf();
    out = ss.str();
    return true;
}

// 0 or errno.
int write_file(const std::string& path, std::string_view text) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    ssize_t n = ::write(fd, text.data(), text.size());
    int err = n == static_cast<ssize_t>(text.size()) ? 0 : (n < 0 ? errno : EIO);
    ::close(fd);
    return err;
}

std::vector<std::string> split(std::string_view s, char sep) {
    std::vector<std::string> out;
    std::size_t at = 0;
    while (at <= s.size()) {
        std::size_t next = s.find(sep, at);
        if (next == std::string_view::npos) next = s.size();
        if (next > at) out.emplace_back(s.substr(at, next - at));
        at = next + 1;
    }
    return out;
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size()) {
            int v = 0;
            bool octal = true;
            for (std::size_t j = 1; j <= 3; ++j) {
                if (i + j >= s.size() || s[i + j] < '0' || s[i + j] > '7')
                    octal = false;
                else
                    v = v * 8 + (s[i + j] - '0');
            }
            if (octal) {
                out.push_back(static_cast<char>(v));
                i += 3;
                continue;
            }
        }
        out.push_back(s[i]);
    }
    return out;
}

// The first cgroup2 mount: its mount point and the cgroup it shows as its root.
bool find_cgroup2(std::string& mount, std::string& root) {
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    while (std::getline(in, line)) {
        // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
        auto dash = line.find(" - ");
        if (dash == std::string::npos) continue;
        auto after = split(std::string_view(line).substr(dash + 3), ' ');
        if (after.empty() || after[0] != "cgroup2") continue;
        auto fields = split(std::string_view(line).substr(0, dash), ' ');
        if (fields.size() < 5) continue;
        root = unescape(fields[3]);
        mount = unescape(fields[4]);
        return true;
    }
    return false;
}

bool own_cgroup(std::string& path) {
    std::ifstream in("/proc/self/cgroup");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("0::", 0) == 0) {
            path = line.substr(3);
            return true;
        }
    return false;
}

// Whether `dir`'s cgroup.procs lists kvd and nothing else.
bool holds_only_kvd(const std::string& dir) {
    std::string procs;
    if (!read_file(dir + "/cgroup.procs", procs)) return false;
    auto pids = split(procs, '\n');
    std::string self = std::to_string(getpid());
    for (const auto& p : pids)
        if (p != self) return false;
    return !pids.empty();
}

std::atomic<unsigned> g_instances{0};

// Removes what a kvd that was killed (and so could not clean up) left in `dir`: each
// `kvd.PID[.N]` whose PID no longer exists, with the children's cgroups in it, when they are
// empty. Nothing is killed: a process still there is left alone, and so is its cgroup.
void remove_stale(const std::string& dir) {
    DIR* d = opendir(dir.c_str());
    if (!d) return;
    std::vector<std::string> stale;
    while (dirent* e = readdir(d)) {
        std::string_view name = e->d_name;
        if (e->d_type != DT_DIR || name.rfind("kvd.", 0) != 0) continue;
        long pid = std::strtol(std::string(name.substr(4)).c_str(), nullptr, 10);
        if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH)
            stale.emplace_back(dir + "/" + std::string(name));
    }
    closedir(d);
    for (const auto& parent : stale) {
        if (DIR* p = opendir(parent.c_str())) {
            while (dirent* e = readdir(p))
                if (e->d_type == DT_DIR && e->d_name[0] != '.')
                    ::rmdir((parent + "/" + e->d_name).c_str());
            closedir(p);
        }
        ::rmdir(parent.c_str());
    }
}

}  // namespace

std::string cgroup_name(std::string_view label) {
    std::string name;
    for (char c : label.substr(0, 48)) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-';
        name.push_back(ok ? c : '-');
    }
    return name.empty() ? "child" : name;
}

std::optional<Cgroups> Cgroups::detect(const char* setting, std::string& why_not) {
    if (setting && std::string_view(setting) == "off") {
        why_not = "KVD_CGROUP=off";
        return std::nullopt;
    }
    std::string mount, root, own;
    if (!find_cgroup2(mount, root)) {
        why_not = "no cgroup2 file system is mounted";
        return std::nullopt;
    }
    if (!own_cgroup(own)) {
        why_not = "/proc/self/cgroup has no cgroup v2 entry";
        return std::nullopt;
    }
    if (root != "/") {
        if (own.rfind(root, 0) != 0) {
            why_not = fmt::format("kvd's cgroup {} is outside the cgroup2 mount at {}", own, mount);
            return std::nullopt;
        }
        own = own.substr(root.size());
        if (own.empty()) own = "/";
    }
    std::string dir = own == "/" ? mount : mount + own;
    std::string pid = std::to_string(getpid());

    Cgroups c;
    std::string leaf_suffix = std::string("/") + kSupervisorLeaf;
    bool in_leaf =
        own.size() > leaf_suffix.size() &&
        own.compare(own.size() - leaf_suffix.size(), leaf_suffix.size(), leaf_suffix) == 0;
    if (in_leaf && holds_only_kvd(dir)) {
        // Moved there already (a second table in this process).
        c.parent_ = dir.substr(0, dir.size() - leaf_suffix.size());
    } else if (own != "/" && holds_only_kvd(dir)) {
        // kvd's own cgroup (Delegate=yes): into a leaf, so that controllers can be enabled
        // for the children beside it.
        std::string leaf = dir + leaf_suffix;
        if (::mkdir(leaf.c_str(), 0755) != 0 && errno != EEXIST) {
            why_not = fmt::format("cannot create a cgroup in {}: {}", dir, std::strerror(errno));
            return std::nullopt;
        }
        if (int err = write_file(leaf + "/cgroup.procs", pid); err != 0) {
            ::rmdir(leaf.c_str());
            why_not = fmt::format("cannot move kvd into {}: {}", leaf, std::strerror(err));
            return std::nullopt;
        }
        c.parent_ = dir;
    } else {
        // A shared cgroup: kvd's children get a parent of their own in it.
        remove_stale(dir);
        unsigned n = g_instances++;
        c.parent_ = dir + "/kvd." + pid + (n ? "." + std::to_string(n) : "");
        if (::mkdir(c.parent_.c_str(), 0755) != 0 && errno != EEXIST) {
            why_not = fmt::format("cannot create a cgroup in {}: {}", dir, std::strerror(errno));
            return std::nullopt;
        }
        c.own_parent_ = true;
    }

    std::string available;
    read_file(c.parent_ + "/cgroup.controllers", available);
    auto have = split(available, ' ');
    for (auto& h : have)
        while (!h.empty() && h.back() == '\n') h.pop_back();
    std::vector<std::string> missing;
    for (auto [name, flag] : {std::pair<const char*, bool*>{"memory", &c.memory_},
                              {"pids", &c.pids_},
                              {"cpu", &c.cpu_}}) {
        bool listed = std::find(have.begin(), have.end(), name) != have.end();
        if (listed &&
            write_file(c.parent_ + "/cgroup.subtree_control", std::string("+") + name) == 0)
            *flag = true;
        else
            missing.emplace_back(name);
    }
    if (!missing.empty())
        c.why_no_controllers_ = fmt::format("{} not available", fmt::join(missing, ", "));
    return c;
}

std::string Cgroups::detail() const {
    std::vector<std::string> on;
    if (memory_) on.emplace_back("memory");
    if (pids_) on.emplace_back("pids");
    if (cpu_) on.emplace_back("cpu");
    return fmt::format("children in {}; controllers: {}{}", parent_,
                       on.empty() ? "none" : fmt::format("{}", fmt::join(on, ", ")),
                       why_no_controllers_.empty() ? "" : " (" + why_no_controllers_ + ")");
}

int Cgroups::create(std::string_view label, std::string& path, int& procs_fd) {
    std::string base = parent_ + "/" + cgroup_name(label) + ".";
    for (int attempt = 0;; ++attempt) {
        path = base + std::to_string(++counter_);
        if (::mkdir(path.c_str(), 0755) == 0) break;
        // Left by an earlier kvd with this pid: take the next number.
        if (errno != EEXIST || attempt >= 100) return -errno;
    }
    procs_fd = ::open((path + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
    if (procs_fd < 0) {
        int err = errno;
        ::rmdir(path.c_str());
        return -err;
    }
    return 0;
}

void Cgroups::apply(const std::string& path, const Limits& limits, Limits& rest) const {
    rest = Limits{};
    if (limits.memory_max &&
        (!memory_ || write_file(path + "/memory.max", std::to_string(*limits.memory_max)) != 0))
        rest.memory_max = limits.memory_max;
    if (limits.tasks_max &&
        (!pids_ || write_file(path + "/pids.max", std::to_string(*limits.tasks_max)) != 0))
        rest.tasks_max = limits.tasks_max;
    if (limits.cpu_weight &&
        (!cpu_ || write_file(path + "/cpu.weight", std::to_string(*limits.cpu_weight)) != 0))
        rest.cpu_weight = limits.cpu_weight;
}

void Cgroups::close() {
    if (own_parent_) ::rmdir(parent_.c_str());
    own_parent_ = false;
}

void Cgroups::kill(const std::string& path) {
    if (write_file(path + "/cgroup.kill", "1") != ENOENT) return;
    std::string procs;
    if (!read_file(path + "/cgroup.procs", procs)) return;
    for (const auto& p : split(procs, '\n'))
        if (long v = std::strtol(p.c_str(), nullptr, 10); v > 0)
            ::kill(static_cast<pid_t>(v), SIGKILL);
}

int Cgroups::remove(const std::string& path) {
    return ::rmdir(path.c_str()) == 0 ? 0 : errno;
}

}  // namespace kvd::proc
