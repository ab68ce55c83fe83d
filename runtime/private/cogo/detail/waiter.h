// cogo/detail/waiter.h: one thing that waits — a goroutine or a plain thread
// — so channels and sync work on and off goroutines (Go's sudog).
//
// A wait has two parts, split the way Go splits g and sudog:
//  - Waiter: who waits and how it is woken (park/ready for a goroutine, a
//    futex for a thread), plus the claim word that decides who completes the
//    wait. A select waits on several channels at once and a timeout may race
//    the wakers: each of them must claim() first, and only the one that wins
//    may touch the waiter's value slots and call wake(). This is Go's
//    selectDone CAS, used for every wait so that one protocol covers all.
//  - WaitLink: the waiter's place in one wait queue (WaitQueue,
//    cogo/detail/wait_queue.h), with the value slot for a channel hand-off. A
//    plain wait uses the link embedded in its Waiter; a select uses one link
//    per case, all pointing at the same Waiter.
//
// Lifetime: both live on the waiting goroutine's (or thread's) stack. The
// waiter cannot return before wake(), so a claimer may use the waiter and its
// links until it calls wake(), and never after.
#pragma once

#include <atomic>
#include <cstdint>

#include "cogo/detail/cancel.h"
#include "cogo/detail/sched.h"
#include "cogo/detail/spinlock.h"
#include "cogo/detail/wait_queue.h"

namespace cogo::detail {

struct Waiter;

// WaitLink: one waiter's entry in one WaitQueue. All fields except `waiter`,
// `elem` and `case_index` (fixed before the link is queued) are guarded by the
// lock of the queue the link is in.
struct WaitLink {
  Waiter* waiter = nullptr;
  // elem: channel hand-off slot. A sender's link points at the value to move
  // from; a receiver's link points at raw storage to move-construct into.
  void* elem = nullptr;
  int case_index = -1;  // select: which case this link belongs to
  WaitLink* next = nullptr;
  WaitLink* prev = nullptr;
  bool queued = false;  // in a queue right now (a select's losing links may be
                        // dropped by a waker that failed to claim)
};

// Waiter: a waiting goroutine (g != nullptr) or thread (g == nullptr, blocks
// on a futex). Lives on the waiter's stack for the duration of one wait.
//
// Cancellation: a Waiter observes the context current at its construction
// (cogo/cancel.h); when it is done the context is one more claimant, like the
// deadline (fired = kCancelled). Waiter(kNoCancel) ignores it (Mutex).
struct Waiter {
  // kTimedOut / kCancelled are the values of `fired` when the deadline / the
  // context won the claim.
  static constexpr int kTimedOut = -2;
  static constexpr int kCancelled = -3;
  enum NoCancel { kNoCancel };

  G* g = nullptr;                    // fixed at construction
  CancelState* cancel = nullptr;     // fixed at construction; null: not cancellable
  CancelHook hook;                   // registered on `cancel` while waiting
  std::atomic<uint32_t> claimed{0};  // 0 open, 1 claimed by a waker or the timeout
  std::atomic<uint32_t> woken{0};    // thread: the futex word; goroutine: the
                                     // park-commit/wake hand-off (waiter.cpp)
  // Written by the claimer before wake(), read by the waiter after it.
  int fired = -1;   // case_index of the link that completed the wait, or kTimedOut
  bool ok = false;  // channel: the value was transferred (false: channel closed)
  WaitLink link;    // the single link of a non-select wait

  // Waiter() binds the waiter to the current goroutine, or to the current
  // thread off a goroutine.
  Waiter();
  explicit Waiter(NoCancel);
  Waiter(const Waiter&) = delete;
  Waiter& operator=(const Waiter&) = delete;

  // claim() tries to become the one that completes this wait. Exactly one
  // claim() per wait succeeds.
  bool claim() {
    uint32_t open = 0;
    return claimed.compare_exchange_strong(open, 1, std::memory_order_acq_rel,
                                           std::memory_order_relaxed);
  }

  // Unlock releases whatever guards the queues the waiter is linked into.
  using Unlock = void (*)(void* arg);

  // wait() releases the guarding lock(s) with unlock(arg) once the waiter can
  // no longer miss its wake-up, then blocks until wake(). Precondition: the
  // lock(s) are held and the waiter is linked where a waker will find it.
  // Returns true when a waker completed the wait; false when the context was
  // (or became) done first: fired = kCancelled, the links are still queued
  // (the caller removes them under the locks, then throw_cancelled()).
  [[nodiscard]] bool wait(Unlock unlock, void* arg, WaitReason reason);
  [[nodiscard]] bool wait(SpinLock& lock, WaitReason reason) {
    return wait(&unlock_spinlock, &lock, reason);
  }

  // wait_until() is wait() with a deadline (nanotime clock): if the deadline
  // wins the claim, fired = kTimedOut and wait_until returns false; the
  // waiter's links are then still queued and the caller must remove them
  // (under the locks). The context may win too (fired = kCancelled, false).
  // A waker that claimed first wins and wait_until returns true. Either way
  // it returns with the lock(s) NOT held.
  bool wait_until(Unlock unlock, void* arg, WaitReason reason, int64_t deadline);
  bool wait_until(SpinLock& lock, WaitReason reason, int64_t deadline) {
    return wait_until(&unlock_spinlock, &lock, reason, deadline);
  }

  // wake() ends the wait of a claimed waiter. Precondition: the caller won
  // claim(). The waiter may be gone as soon as wake() returns.
  void wake();

  static void unlock_spinlock(void* lock) { static_cast<SpinLock*>(lock)->unlock(); }
};

// wake_chain() wakes every waiter of a chain built by pop_all_claimed (or by
// hand through WaitLink::next). Call it after releasing the queue's lock.
void wake_chain(WaitLink* chain);

}  // namespace cogo::detail
