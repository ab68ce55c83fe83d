// wait_group.cpp: cogo::WaitGroup.
//
// A waiter increments the waiter count and queues itself in one critical
// section of lock_, so an add() that sees "counter zero, waiters > 0" and
// then takes lock_ finds every counted waiter queued. The waiters cannot
// return before that add() wakes them, which keeps the WaitGroup alive for it.
#include "cogo/wait_group.h"

#include <stdexcept>

#include "cogo/detail/waiter.h"

namespace cogo {

void WaitGroup::add(int32_t n) {
  const uint64_t delta = uint64_t(int64_t(n)) << 32;
  const uint64_t s = state_.fetch_add(delta, std::memory_order_acq_rel) + delta;
  const int32_t counter = int32_t(s >> 32);
  const uint32_t waiters = uint32_t(s);
  if (counter < 0) {
    throw std::logic_error(
        "cogo: negative WaitGroup counter — done() was called more times than add() counted");
  }
  if (counter > 0 || waiters == 0) return;

  lock_.lock();
  detail::WaitLink* chain = waiters_.pop_all_claimed();
  uint32_t woken = 0;
  for (detail::WaitLink* l = chain; l != nullptr; l = l->next) ++woken;
  state_.fetch_sub(woken, std::memory_order_relaxed);
  lock_.unlock();
  detail::wake_chain(chain);
}

void WaitGroup::wait() {
  if ((state_.load(std::memory_order_acquire) >> 32) == 0) return;
  lock_.lock();
  uint64_t s = state_.load(std::memory_order_acquire);
  for (;;) {
    if ((s >> 32) == 0) {
      lock_.unlock();
      return;
    }
    if (state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel,
                                     std::memory_order_acquire)) {
      break;
    }
  }
  detail::Waiter w;
  waiters_.push(&w.link);
  if (!w.wait(lock_, detail::WaitReason::kWaitGroup)) {
    // add() counts only the waiters it claimed, so this one uncounts itself.
    lock_.lock();
    if (w.link.queued) waiters_.remove(&w.link);
    state_.fetch_sub(1, std::memory_order_relaxed);
    lock_.unlock();
    detail::throw_cancelled(w.cancel);
  }
}

}  // namespace cogo
