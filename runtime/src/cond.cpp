// cond.cpp: cogo::Cond.
//
// The waiter queues itself under the Cond's lock *before* releasing the
// user's mutex and keeps that lock until it is parked, so a signal() issued
// after the mutex is released always finds it: no lost wake-ups. Lock order:
// Cond::lock_, then the Mutex's internal lock (inside unlock); nothing takes
// them the other way round.
#include "cogo/cond.h"

#include <cstdio>
#include <cstdlib>

#include "cogo/detail/waiter.h"

namespace cogo {

void Cond::wait(std::unique_lock<Mutex>& lk) {
  if (!lk.owns_lock()) {
    std::fprintf(stderr, "cogo: Cond::wait with a unique_lock that does not own its Mutex\n");
    std::abort();
  }
  detail::Waiter w;
  lock_.lock();
  waiters_.push(&w.link);
  lk.unlock();
  if (!w.wait(lock_, detail::WaitReason::kCond)) {
    lock_.lock();
    if (w.link.queued) waiters_.remove(&w.link);
    lock_.unlock();
    lk.lock();  // as after any wait: the caller owns the mutex again
    detail::throw_cancelled(w.cancel);
  }
  lk.lock();
}

void Cond::signal() {
  lock_.lock();
  detail::WaitLink* l = waiters_.pop_claimed();
  lock_.unlock();
  if (l != nullptr) l->waiter->wake();
}

void Cond::broadcast() {
  lock_.lock();
  detail::WaitLink* chain = waiters_.pop_all_claimed();
  lock_.unlock();
  detail::wake_chain(chain);
}

}  // namespace cogo
