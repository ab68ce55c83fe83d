// sema.cpp: Sema (see cogo/detail/sema.h).
#include "cogo/detail/sema.h"

namespace cogo::detail {

void Sema::acquire(WaitReason reason) {
  lock_.lock();
  if (count_ > 0) {
    --count_;
    lock_.unlock();
    return;
  }
  Waiter w(Waiter::kNoCancel);
  waiters_.push(&w.link);
  (void)w.wait(lock_, reason);  // release() handed us the unit
}

void Sema::release() {
  lock_.lock();
  WaitLink* l = waiters_.pop_claimed();
  if (l == nullptr) {
    ++count_;
    lock_.unlock();
    return;
  }
  lock_.unlock();
  l->waiter->wake();
}

void Sema::drop_goroutine_waiters() {
  lock_.lock();
  waiters_.drop_goroutines();
  lock_.unlock();
}

}  // namespace cogo::detail
