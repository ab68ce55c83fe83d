// cogo/mutex.h: a mutual-exclusion lock that parks a goroutine (never its
// thread) while it waits, and blocks a plain thread on a futex. Goroutines
// and threads may contend on the same Mutex.
//
//   cogo::Mutex mu;
//   { std::lock_guard<cogo::Mutex> g(mu); ... }   // BasicLockable / Lockable
#pragma once

#include <atomic>
#include <cstdint>

#include "cogo/detail/spinlock.h"
#include "cogo/detail/wait_queue.h"

namespace cogo {

// Mutex: uncontended lock() and unlock() are one CAS each. A contended
// lock() spins briefly, then queues and parks; unlock() with waiters hands
// ownership straight to the longest waiter (the lock never looks free in
// between), so a goroutine that re-locks in a loop cannot starve the others.
class Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  // lock() acquires the mutex, waiting as long as it takes. Not recursive:
  // locking a mutex the caller holds deadlocks.
  void lock() {
    uint32_t unlocked = 0;
    if (state_.compare_exchange_strong(unlocked, kLocked, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
      return;
    }
    lock_slow();
  }

  // try_lock() acquires the mutex if it is free right now.
  bool try_lock() {
    uint32_t unlocked = 0;
    return state_.compare_exchange_strong(unlocked, kLocked, std::memory_order_acquire,
                                          std::memory_order_relaxed);
  }

  // unlock() releases the mutex. Precondition: it is locked (by anyone: as in
  // Go, a Mutex is not tied to the goroutine or thread that locked it).
  void unlock() {
    uint32_t locked = kLocked;
    if (state_.compare_exchange_strong(locked, 0, std::memory_order_release,
                                       std::memory_order_relaxed)) {
      return;
    }
    unlock_slow();
  }

 private:
  static constexpr uint32_t kLocked = 1;
  static constexpr uint32_t kWaiters = 2;  // waiters_ is non-empty

  void lock_slow();
  void unlock_slow();

  // state_: kLocked | kWaiters. Set from 0 to kLocked by any CAS; kWaiters is
  // set and cleared only under lock_, and only while kLocked is set — so
  // kWaiters <=> waiters_ non-empty, as seen under lock_.
  std::atomic<uint32_t> state_{0};
  detail::SpinLock lock_;      // guards waiters_ and the kWaiters bit
  detail::WaitQueue waiters_;  // FIFO; guarded by lock_
};

}  // namespace cogo
