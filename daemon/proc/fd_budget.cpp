#include "daemon/proc/fd_budget.hpp"

#include <algorithm>
#include <utility>

namespace kvd::proc {

FdBudget::FdBudget(std::size_t open_file_limit, std::size_t max_buckets)
    : limit_(open_file_limit),
      slots_(open_file_limit - std::min(kFdsForOthers, open_file_limit / 4)),
      max_buckets_(max_buckets) {}

FdBudget FdBudget::with_slots(std::size_t slots, std::size_t max_buckets) {
    FdBudget b;
    b.limit_ = slots + kFdsForOthers;
    b.slots_ = slots;
    b.max_buckets_ = max_buckets;
    return b;
}

FdShare FdBudget::admit(std::size_t needed) {
    if (in_use() + needed > slots_) return {};
    ++buckets_;
    needed_ += needed;
    return FdShare(this, needed);
}

// Only from an FdShare, which admit() made: what it gives back was counted.
void FdBudget::leave(std::size_t needed) {
    --buckets_;
    needed_ -= needed;
}

bool FdBudget::take_spare() {
    std::size_t to_come = max_buckets_ > buckets_ ? max_buckets_ - buckets_ : 0;
    if (in_use() + 1 + to_come > slots_) return false;
    ++spare_;
    return true;
}

void FdBudget::give_spare() {
    --spare_;
}

FdShare& FdShare::operator=(FdShare&& o) noexcept {
    if (this != &o) {
        release();
        budget_ = std::exchange(o.budget_, nullptr);
        needed_ = o.needed_;
        spare_ = o.spare_;
    }
    return *this;
}

bool FdShare::take_spare() {
    if (!budget_ || !budget_->take_spare()) return false;
    ++spare_;
    return true;
}

void FdShare::release() {
    if (!budget_) return;
    budget_->leave(needed_);
    for (; spare_ > 0; --spare_) budget_->give_spare();
    budget_ = nullptr;
}

}  // namespace kvd::proc
