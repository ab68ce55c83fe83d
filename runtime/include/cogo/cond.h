// cogo/cond.h: a condition variable over cogo::Mutex (Go's sync.Cond).
//
//   std::unique_lock<cogo::Mutex> lk(mu);
//   cond.wait(lk, [&] { return !queue.empty(); });
#pragma once

#include <mutex>

#include "cogo/detail/spinlock.h"
#include "cogo/detail/wait_queue.h"
#include "cogo/mutex.h"

namespace cogo {

// Cond: goroutines and threads wait for a condition guarded by a Mutex. No
// spurious wake-ups, but a woken waiter re-locks the mutex after the
// signaller, so it must re-check its condition (use the predicate form).
class Cond {
 public:
  Cond() = default;
  Cond(const Cond&) = delete;
  Cond& operator=(const Cond&) = delete;

  // wait() atomically releases lk's mutex and waits for signal() or
  // broadcast(), then re-locks it. Precondition: lk owns its mutex.
  void wait(std::unique_lock<Mutex>& lk);
  template <class Pred>
  void wait(std::unique_lock<Mutex>& lk, Pred pred) {
    while (!pred()) wait(lk);
  }

  // signal() wakes the longest-waiting waiter, if any.
  void signal();
  // broadcast() wakes every waiter.
  void broadcast();

 private:
  detail::SpinLock lock_;      // guards waiters_
  detail::WaitQueue waiters_;  // FIFO; guarded by lock_
};

}  // namespace cogo
