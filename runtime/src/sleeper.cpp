// sleeper.cpp: Sleeper (see cogo/detail/sleeper.h). A sleep is a Waiter with
// a deadline in the Sleeper's queue: cancel() claims and wakes it like any
// waker, the deadline or the context claim it otherwise (waiter.h).
#include "cogo/detail/sleeper.h"

#include <mutex>

namespace cogo::detail {

namespace {
std::mutex registry_mu;
Sleeper* registry = nullptr;  // guarded by registry_mu
}  // namespace

Sleeper::Sleeper() {
  std::lock_guard<std::mutex> lk(registry_mu);
  reg_next_ = registry;
  if (registry) registry->reg_prev_ = this;
  registry = this;
}

Sleeper::~Sleeper() {
  std::lock_guard<std::mutex> lk(registry_mu);
  if (reg_prev_) {
    reg_prev_->reg_next_ = reg_next_;
  } else {
    registry = reg_next_;
  }
  if (reg_next_) reg_next_->reg_prev_ = reg_prev_;
}

Sleeper::Woken Sleeper::sleep_until(int64_t when) {
  Waiter w;
  lock_.lock();
  if (cancelled_) {
    lock_.unlock();
    return Woken::cancelled;
  }
  sleepers_.push(&w.link);
  // Only cancel() wakes a sleeper; the deadline and the context claim it.
  if (w.wait_until(lock_, WaitReason::kSleep, when)) return Woken::cancelled;
  // The deadline or the context claimed the wait: the link may still be queued.
  lock_.lock();
  if (w.link.queued) sleepers_.remove(&w.link);
  lock_.unlock();
  return w.fired == Waiter::kCancelled ? Woken::context : Woken::deadline;
}

void Sleeper::cancel() {
  lock_.lock();
  cancelled_ = true;
  WaitLink* chain = sleepers_.pop_all_claimed();
  lock_.unlock();
  wake_chain(chain);
}

void Sleeper::drop_all_goroutines() {
  std::lock_guard<std::mutex> lk(registry_mu);
  for (Sleeper* s = registry; s; s = s->reg_next_) {
    s->lock_.lock();
    s->sleepers_.drop_goroutines();
    s->lock_.unlock();
  }
}

}  // namespace cogo::detail
