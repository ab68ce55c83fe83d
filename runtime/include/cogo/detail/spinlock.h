// cogo/detail/spinlock.h: SpinLock, a tiny lock for short critical sections
// inside the runtime (channel and sync state). Never held across a park:
// Waiter::wait releases it after the switch.
//
// Public only because Mutex, Cond, Once and WaitGroup hold one by value, so
// a user's compiler must know its size; nothing here is for a user to call.
// The uncontended lock() stays inline (one exchange); the spinning, with its
// CPU pause and yield, lives in src/spinlock.cpp.
#pragma once

#include <atomic>

namespace cogo::detail {

class SpinLock {
 public:
  void lock() {
    if (!flag_.exchange(true, std::memory_order_acquire)) return;
    lock_contended();
  }
  bool try_lock() { return !flag_.exchange(true, std::memory_order_acquire); }
  void unlock() { flag_.store(false, std::memory_order_release); }

 private:
  // lock_contended() spins (pausing the CPU, then yielding the thread) until
  // it takes the lock.
  void lock_contended();

  std::atomic<bool> flag_{false};
};

}  // namespace cogo::detail
