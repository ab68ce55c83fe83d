// cogo/wait_group.h: wait for a collection of goroutines (or threads) to
// finish (Go's sync.WaitGroup).
//
//   cogo::WaitGroup wg;
//   for (...) { wg.add(1); cogo::go([&] { work(); wg.done(); }); }
//   wg.wait();
#pragma once

#include <atomic>
#include <cstdint>

#include "cogo/detail/spinlock.h"
#include "cogo/detail/wait_queue.h"

namespace cogo {

// WaitGroup: a counter; wait() blocks until it is zero. Call add() before
// starting the work it counts (not inside it), or wait() may see zero early.
class WaitGroup {
 public:
  WaitGroup() = default;
  WaitGroup(const WaitGroup&) = delete;
  WaitGroup& operator=(const WaitGroup&) = delete;

  // add() adds n (may be negative) to the counter; reaching zero releases
  // every waiter. Throws std::logic_error if the counter would go negative.
  void add(int32_t n);
  // done() is add(-1).
  void done() { add(-1); }
  // wait() blocks until the counter is zero.
  void wait();

 private:
  // state_: counter (signed) in the high 32 bits, number of waiters in the
  // low 32. One word, so that add() knows atomically whether anybody waits:
  // with no waiter it never touches lock_ — the WaitGroup may already be
  // gone once its counter reads zero.
  std::atomic<uint64_t> state_{0};
  detail::SpinLock lock_;      // guards waiters_; waiters are counted under it
  detail::WaitQueue waiters_;  // guarded by lock_
};

}  // namespace cogo
