// cogo/detail/sleeper.h: Sleeper, timed sleeps that one call ends early, for
// goroutines and threads alike, built on the one waiter (waiter.h). The
// netpoller's accept back-off sleeps on one, and closing the listener ends
// the sleep.
#pragma once

#include <cstdint>

#include "cogo/detail/spinlock.h"
#include "cogo/detail/waiter.h"

namespace cogo::detail {

// Sleeper: any number of concurrent sleeps; cancel() wakes them all and
// makes every later sleep return at once. A sleep is a cancellation point:
// the sleeper's context (cogo/cancel.h) ends it too.
class Sleeper {
 public:
  // Woken: why a sleep ended.
  enum class Woken {
    deadline,   // it slept until `when`
    cancelled,  // cancel() was called, before or during the sleep
    context,    // the sleeper's context is done (cancel_effective())
  };

  Sleeper();
  ~Sleeper();
  Sleeper(const Sleeper&) = delete;
  Sleeper& operator=(const Sleeper&) = delete;

  // sleep_until() sleeps until `when` (nanotime ns), cancel() or the end of
  // the caller's context, whichever comes first.
  Woken sleep_until(int64_t when);
  // cancel() wakes every sleeper and makes later sleeps return at once.
  void cancel();
  // drop_all_goroutines() unlinks the sleeping goroutines of every Sleeper.
  // Called by run() once its goroutines are gone, before their stacks are.
  static void drop_all_goroutines();

 private:
  Sleeper* reg_prev_ = nullptr;  // the registry of all Sleepers, under its mutex
  Sleeper* reg_next_ = nullptr;
  SpinLock lock_;
  bool cancelled_ = false;  // guarded by lock_
  WaitQueue sleepers_;      // guarded by lock_
};

}  // namespace cogo::detail
