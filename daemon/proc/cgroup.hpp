// The cgroup v2 subtree kvd puts its children in, when it has one it may write to.
//
// At start (detect()) kvd finds the cgroup2 mount in /proc/self/mountinfo and its own cgroup
// in /proc/self/cgroup, then picks where children go:
//  - its own cgroup holds kvd alone (systemd with Delegate=yes): kvd moves itself into the
//    leaf `supervisor` (a cgroup with controllers enabled for its children may hold no
//    process) and its children go beside it;
//  - otherwise (kvd shares its cgroup, e.g. started from a shell) a cgroup of its own,
//    `kvd.PID`, created under it and removed at close(); the empty ones left by kvds that
//    were killed (whose PID is gone) are removed first.
// It enables the memory, pids and cpu controllers there, those that are available. Each
// child then gets a cgroup `LABEL.N` that it joins before exec; once its main process has
// been reaped, whatever is left in it is killed (cgroup.kill) and the cgroup removed.
// No usable cgroup (none mounted, not writable, KVD_CGROUP=off): nullopt and why, and the
// process table uses process groups instead (process_table.hpp).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "daemon/proc/child.hpp"

namespace kvd::proc {

class Cgroups {
  public:
    // Where children go, or nullopt with `why_not` set. `setting` is KVD_CGROUP's value
    // (null when unset): "off" disables cgroups.
    static std::optional<Cgroups> detect(const char* setting, std::string& why_not);

    // The directory children's cgroups are created in, e.g. /sys/fs/cgroup/kvd.service.
    const std::string& parent() const { return parent_; }
    bool memory() const { return memory_; }
    bool pids() const { return pids_; }
    bool cpu() const { return cpu_; }
    // One line for kvd's log and `status`: the path and the controllers enabled.
    std::string detail() const;

    // A new cgroup for a child labelled `label`: its path and an open (O_WRONLY, close-on-exec)
    // fd on its cgroup.procs; 0 or a negative errno.
    int create(std::string_view label, std::string& path, int& procs_fd);
    // Writes each limit its controller takes; `rest` gets those it could not apply.
    void apply(const std::string& path, const Limits& limits, Limits& rest) const;
    // Removes the parent kvd created (kvd.PID) once it is empty; children's cgroups first.
    void close();

    // SIGKILLs every process in `path` (cgroup.kill, or one by one from cgroup.procs on a
    // kernel before 5.14).
    static void kill(const std::string& path);
    // rmdir: 0, or errno (EBUSY while a process remains).
    static int remove(const std::string& path);

  private:
    std::string parent_;
    bool own_parent_ = false;  // kvd.PID, created by kvd, removed by close()
    bool memory_ = false, pids_ = false, cpu_ = false;
    std::string why_no_controllers_;
    unsigned long counter_ = 0;
};

// "bucket shopping/1" -> "bucket-shopping-1": a name any cgroup directory may take.
std::string cgroup_name(std::string_view label);

}  // namespace kvd::proc
