// kvd's open file limit, shared out among its children.
//
// Some descriptors a bucket cannot start without: its socket, or the stdout and stderr pipes
// of a program that holds no data. Others kvd can do without: a child's pidfd (its exit is
// then found at SIGCHLD, see process_table.hpp) and the pipe that captures a data bucket's
// stderr (that stderr then goes to /dev/null, and `logs` and `status` say so). A spare
// descriptor is granted only while, after it, the limit still holds one descriptor for every
// bucket that max_buckets still allows: so a limit too low for every bucket's every
// descriptor costs pidfds and captures, first those of the last buckets created, and never
// refuses a bucket below max_buckets that one descriptor each would fit. A bucket whose
// needed descriptors do not fit is refused (`limit`), not half started.
//
// Kept out of the children's share: kFdsForOthers (a quarter of a lower limit), for kvd's
// own descriptors, clients, handlers' sockets and pipes, log files and the spawner.
//
// Pure: counts only. The owners say when they take and give back.
#pragma once

#include <cstddef>
#include <utility>

namespace kvd::proc {

inline constexpr std::size_t kFdsForOthers = 2048;

class FdBudget;

// What one bucket process holds of an FdBudget, given back when destroyed. Empty (false)
// when its needed descriptors did not fit.
class FdShare {
  public:
    FdShare() = default;
    ~FdShare() { release(); }
    FdShare(FdShare&& o) noexcept
        : budget_(std::exchange(o.budget_, nullptr)), needed_(o.needed_), spare_(o.spare_) {}
    FdShare& operator=(FdShare&& o) noexcept;
    FdShare(const FdShare&) = delete;
    FdShare& operator=(const FdShare&) = delete;

    explicit operator bool() const { return budget_ != nullptr; }
    // One more descriptor this process can do without: false when it does not fit.
    bool take_spare();

  private:
    friend class FdBudget;
    FdShare(FdBudget* budget, std::size_t needed) : budget_(budget), needed_(needed) {}
    void release();

    FdBudget* budget_ = nullptr;
    std::size_t needed_ = 0;
    std::size_t spare_ = 0;
};

class FdBudget {
  public:
    // For an open file limit of `open_file_limit`.
    FdBudget(std::size_t open_file_limit, std::size_t max_buckets);
    // With `slots` descriptors for children whatever the limit (tests).
    static FdBudget with_slots(std::size_t slots, std::size_t max_buckets);

    void set_max_buckets(std::size_t max_buckets) { max_buckets_ = max_buckets; }

    // A bucket's process holds `needed` descriptors it cannot start without: an empty share,
    // and nothing counted, when they do not fit.
    FdShare admit(std::size_t needed);
    // A descriptor kvd can do without (see above): false when it does not fit.
    bool take_spare();
    void give_spare();

    std::size_t open_file_limit() const { return limit_; }
    std::size_t slots() const { return slots_; }
    std::size_t in_use() const { return needed_ + spare_; }
    std::size_t spare_in_use() const { return spare_; }
    std::size_t buckets() const { return buckets_; }

  private:
    friend class FdShare;
    FdBudget() = default;
    void leave(std::size_t needed);

    std::size_t limit_ = 0;
    std::size_t slots_ = 0;
    std::size_t max_buckets_ = 0;
    std::size_t buckets_ = 0;  // processes admitted
    std::size_t needed_ = 0;
    std::size_t spare_ = 0;
};

}  // namespace kvd::proc
