// spinlock.cpp: SpinLock's contended path — spin on a plain load (no cache
// line ping-pong) with the CPU's pause hint, and after 64 spins give the
// thread's CPU away between looks (the holder may have been preempted).
#include "cogo/detail/spinlock.h"

#include "cogo/detail/os.h"
#include "cpu_relax.h"

namespace cogo::detail {

void SpinLock::lock_contended() {
  for (int spins = 0;; ++spins) {
    while (flag_.load(std::memory_order_relaxed)) {
      if (spins++ < 64) {
        COGO_CPU_RELAX();
      } else {
        osyield();
      }
    }
    if (!flag_.exchange(true, std::memory_order_acquire)) return;
  }
}

}  // namespace cogo::detail
