// cogo/detail/spinlock.h: a tiny lock for short critical sections inside the
// runtime (channel and mutex state). Never held across a park: Waiter::wait
// releases it after the switch.
#pragma once

#include <atomic>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define COGO_CPU_RELAX() _mm_pause()
#else
#define COGO_CPU_RELAX() ((void)0)
#endif

namespace cogo::detail {

void spin_yield_thread();

class SpinLock {
 public:
  void lock() {
    for (int spins = 0;; ++spins) {
      if (!flag_.exchange(true, std::memory_order_acquire)) return;
      while (flag_.load(std::memory_order_relaxed)) {
        if (spins++ < 64) {
          COGO_CPU_RELAX();
        } else {
          spin_yield_thread();
        }
      }
    }
  }
  bool try_lock() { return !flag_.exchange(true, std::memory_order_acquire); }
  void unlock() { flag_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> flag_{false};
};

}  // namespace cogo::detail
