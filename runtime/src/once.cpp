// once.cpp: the slow path of cogo::Once.
#include "cogo/once.h"

#include "cogo/detail/waiter.h"

namespace cogo {

void Once::call_slow(void (*invoke)(void*), void* fn) {
  lock_.lock();
  for (;;) {
    uint32_t s = state_.load(std::memory_order_relaxed);
    if (s == kDone) {
      lock_.unlock();
      return;
    }
    if (s == kIdle) break;
    detail::Waiter w;  // another caller runs fn: wait for it, then look again
    waiters_.push(&w.link);
    if (!w.wait(lock_, detail::WaitReason::kOnce)) {
      lock_.lock();
      if (w.link.queued) waiters_.remove(&w.link);
      lock_.unlock();
      detail::throw_cancelled(w.cancel);
    }
    lock_.lock();
  }
  state_.store(kRunning, std::memory_order_relaxed);
  lock_.unlock();
  try {
    invoke(fn);
  } catch (...) {
    finish(kIdle);  // the waiters wake and one of them tries again
    throw;
  }
  finish(kDone);
}

void Once::finish(uint32_t state) {
  lock_.lock();
  state_.store(state, std::memory_order_release);
  detail::WaitLink* chain = waiters_.pop_all_claimed();
  lock_.unlock();
  detail::wake_chain(chain);
}

}  // namespace cogo
