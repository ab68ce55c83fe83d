// cogo/detail/sema.h: Sema, a counting semaphore for goroutines and threads
// alike (Go's runtime semaphore, sema.go), built on the one waiter
// (waiter.h). The netpoller's FdMutex queues a second reader (writer) of an
// fd behind the one in flight on it.
#pragma once

#include <cstdint>

#include "cogo/detail/sched.h"
#include "cogo/detail/spinlock.h"
#include "cogo/detail/waiter.h"

namespace cogo::detail {

// Sema: FIFO among waiters; release() hands its unit straight to the oldest
// waiter. Not a cancellation point (like Mutex: a lock hand-off).
class Sema {
 public:
  // acquire() takes one unit, parking (or blocking the thread) until one is
  // released.
  void acquire(WaitReason reason);
  // release() adds one unit, handing it to the oldest waiter if any. Does not
  // touch *this after waking the waiter, so the waiter may destroy it.
  void release();
  // drop_goroutine_waiters() forgets waiting goroutines (the runtime has
  // stopped: they will never run again). Thread waiters stay.
  void drop_goroutine_waiters();

 private:
  SpinLock lock_;
  uint32_t count_ = 0;  // guarded by lock_
  WaitQueue waiters_;   // guarded by lock_
};

}  // namespace cogo::detail
