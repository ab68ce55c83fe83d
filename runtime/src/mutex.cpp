// mutex.cpp: the contended paths of cogo::Mutex.
//
// Direct hand-off (the unlocker keeps kLocked set and gives the lock to the
// head waiter) trades some throughput for fairness: under contention every
// unlock costs a wake-up, but no waiter can be overtaken forever — Go gets
// the same guarantee from its starvation mode. Spinning before queueing pays
// off when the holder runs on another core and is about to release; it is
// skipped as soon as anyone queues, since the lock then goes to the queue.
#include "cogo/mutex.h"

#include <cstdio>
#include <cstdlib>

#include "cogo/detail/waiter.h"
#include "cogo/runtime.h"
#include "cpu_relax.h"

namespace cogo {

namespace {
constexpr int kSpinRounds = 4;   // Go's active_spin
constexpr int kSpinPauses = 30;  // Go's active_spin_cnt

// worth_spinning() tells whether the holder might release the mutex while
// we spin: not if we are a goroutine on the only P (Go's canSpin has the same
// rule; a plain thread may always spin).
bool worth_spinning() {
  return detail::current_g() == nullptr || gomaxprocs() > 1;
}

}  // namespace

void Mutex::lock_slow() {
  const int rounds = worth_spinning() ? kSpinRounds : 0;
  for (int round = 0; round < rounds; ++round) {
    for (int i = 0; i < kSpinPauses; ++i) COGO_CPU_RELAX();
    uint32_t s = state_.load(std::memory_order_relaxed);
    if (s == 0 && state_.compare_exchange_weak(s, kLocked, std::memory_order_acquire,
                                               std::memory_order_relaxed)) {
      return;
    }
    if (s & kWaiters) break;
  }

  lock_.lock();
  uint32_t s = state_.load(std::memory_order_relaxed);
  for (;;) {
    if (s == 0) {
      if (state_.compare_exchange_weak(s, kLocked, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
        lock_.unlock();
        return;
      }
      continue;
    }
    if (s & kWaiters) break;  // cannot change while we hold lock_
    if (state_.compare_exchange_weak(s, kLocked | kWaiters, std::memory_order_relaxed,
                                     std::memory_order_relaxed)) {
      break;
    }
  }
  detail::Waiter w(detail::Waiter::kNoCancel);  // not a cancellation point
  waiters_.push(&w.link);
  (void)w.wait(lock_, detail::WaitReason::kMutex);
  // unlock_slow() handed us the mutex: kLocked stayed set on our behalf, and
  // its critical section happened before our wake-up.
}

void Mutex::unlock_slow() {
  lock_.lock();
  uint32_t s = state_.load(std::memory_order_relaxed);
  if (!(s & kLocked)) {
    lock_.unlock();
    std::fprintf(stderr,
                 "cogo: unlock of unlocked Mutex (unlock() without a matching lock(), or "
                 "called twice)\n");
    std::abort();
  }
  detail::WaitLink* next = waiters_.pop_claimed();
  if (next == nullptr) {
    // kWaiters without waiters would break the invariant above.
    lock_.unlock();
    std::fprintf(stderr, "cogo runtime: Mutex state %u has kWaiters but no waiter\n", s);
    std::abort();
  }
  if (waiters_.empty()) state_.store(kLocked, std::memory_order_relaxed);
  lock_.unlock();
  // The mutex stays locked and now belongs to `next`; nobody else can lock
  // (or destroy) it before `next` runs, so touching only `next` is safe.
  next->waiter->wake();
}

}  // namespace cogo
