// cogo/detail/waiter.h: one thing that waits — a goroutine or a plain thread
// — so channels and sync work on and off goroutines (Go's sudog).
#pragma once

#include <atomic>
#include <cstdint>

#include "cogo/detail/sched.h"
#include "cogo/detail/spinlock.h"

namespace cogo::detail {

// Waiter: a waiting goroutine (g != nullptr) or thread (g == nullptr, blocks
// on a futex). Lives on the waiter's stack for the duration of one wait.
// Wakers must claim() before they complete the wait, so exactly one of
// several wakers (select cases, a timeout) wins.
struct Waiter {
  G* g = nullptr;
  std::atomic<uint32_t> claimed{0};  // 0 open, 1 claimed by a waker or the timeout
  std::atomic<uint32_t> woken{0};    // thread waiters: futex word
  int fired = -1;                    // which case won (select), set by the claimer
  void* elem = nullptr;              // value slot for channel hand-off
  bool ok = false;                   // channel: value received (not closed)
  Waiter* next = nullptr;            // intrusive queue links, owned by the queue's lock
  Waiter* prev = nullptr;
  void* owner = nullptr;             // the queue's object (channel), for select
  int case_index = -1;

  Waiter();  // binds to the current goroutine or thread

  bool claim() {
    uint32_t open = 0;
    return claimed.compare_exchange_strong(open, 1, std::memory_order_acq_rel);
  }
  // wait() releases `lock` and blocks until wake(). Precondition: lock held,
  // the waiter is linked where a waker will find it.
  void wait(SpinLock& lock, WaitReason reason);
  // wait_until() is wait() with a deadline (nanotime clock): at the deadline
  // it claims the waiter itself and returns false. A waker that claimed first
  // wins and wait_until returns true. Returns with `lock` NOT held.
  bool wait_until(SpinLock& lock, WaitReason reason, int64_t deadline);
  // wake() ends the wait of a claimed waiter.
  void wake();
};

// WaitQueue: FIFO of waiters, guarded by the owner's lock.
struct WaitQueue {
  Waiter* head = nullptr;
  Waiter* tail = nullptr;
  bool empty() const { return head == nullptr; }
  void push(Waiter* w);
  void remove(Waiter* w);  // w must be in this queue
  bool contains(const Waiter* w) const;
  // pop_claimed() removes waiters from the front until one is claimed and
  // returns it; waiters that lost their claim elsewhere are dropped.
  Waiter* pop_claimed();
};

}  // namespace cogo::detail
