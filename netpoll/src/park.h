// park.h: the two small waits the netpoll layer needs beside the poll
// descriptor itself, each working for a goroutine (park/ready) and for a
// plain thread (futex) alike:
//   Sema     a counting semaphore (Go's runtime_Semacquire/Semrelease), used
//            by FdMutex to queue readers (writers) behind the one in flight;
//   Sleeper  a timed sleep that cancel() cuts short (accept's EMFILE back-off,
//            which close() must be able to interrupt).
#pragma once

#include <atomic>
#include <cstdint>

#include "cogo/detail/sched.h"
#include "cogo/detail/spinlock.h"

namespace cogo::net::detail {

using cogo::detail::G;
using cogo::detail::SpinLock;

// Sema: a counting semaphore for goroutines and threads. FIFO among waiters.
class Sema {
 public:
  // acquire() takes one unit, parking (or blocking the thread) until one is
  // released.
  void acquire(cogo::detail::WaitReason reason);
  // release() adds one unit, handing it to the oldest waiter if any. Does not
  // touch *this after waking the waiter, so the waiter may destroy it.
  void release();
  // drop_goroutine_waiters() forgets waiting goroutines (the runtime has
  // stopped: they will never run again). Thread waiters stay.
  void drop_goroutine_waiters();

 private:
  struct Waiter {
    G* g = nullptr;
    std::atomic<uint32_t> done{0};  // thread waiters: the futex word
    Waiter* next = nullptr;
  };
  SpinLock mu_;
  uint32_t count_ = 0;      // guarded by mu_
  Waiter* head_ = nullptr;  // guarded by mu_
  Waiter* tail_ = nullptr;  // guarded by mu_
};

// Sleeper: sleeps that cancel() ends early, for any number of concurrent
// sleepers. Once cancelled, every later sleep returns false at once.
class Sleeper {
 public:
  Sleeper();
  ~Sleeper();
  Sleeper(const Sleeper&) = delete;
  Sleeper& operator=(const Sleeper&) = delete;

  // sleep_until() sleeps until `when` (monotonic ns). Returns false if
  // cancelled before or during the sleep.
  bool sleep_until(int64_t when);
  // cancel() wakes every sleeper and makes later sleeps fail at once.
  void cancel();
  // drop_all_goroutines() unlinks the sleeping goroutines of every Sleeper
  // (the runtime stopped; their stacks are about to go).
  static void drop_all_goroutines();

 private:
  struct Node;
  Sleeper* reg_prev_ = nullptr;  // the registry of all Sleepers, under its mutex
  Sleeper* reg_next_ = nullptr;
  SpinLock mu_;
  bool cancelled_ = false;  // guarded by mu_
  Node* head_ = nullptr;    // guarded by mu_
};

}  // namespace cogo::net::detail
