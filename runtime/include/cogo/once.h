// cogo/once.h: run an initialisation exactly once (Go's sync.Once).
//
//   static cogo::Once once;
//   once.call([] { init_tables(); });
#pragma once

#include <atomic>
#include <cstdint>
#include <type_traits>

#include "cogo/detail/spinlock.h"
#include "cogo/detail/wait_queue.h"

namespace cogo {

// Once: the first call() runs its function; concurrent callers wait (parked
// or blocked) until it has finished, later callers return at once. If the
// function throws, the exception reaches its caller and the Once stays
// unused, so the next call() tries again (like std::call_once).
class Once {
 public:
  Once() = default;
  Once(const Once&) = delete;
  Once& operator=(const Once&) = delete;

  // call() runs fn unless a call() already completed. fn must not call()
  // the same Once (that deadlocks).
  template <class F>
  void call(F&& fn) {
    if (state_.load(std::memory_order_acquire) == kDone) return;
    using Fn = std::remove_reference_t<F>;
    call_slow([](void* f) { (*static_cast<Fn*>(f))(); },
              const_cast<void*>(static_cast<const volatile void*>(&fn)));
  }

  // done() tells whether a call() has completed.
  bool done() const { return state_.load(std::memory_order_acquire) == kDone; }

 private:
  enum : uint32_t { kIdle, kRunning, kDone };

  void call_slow(void (*invoke)(void*), void* fn);
  void finish(uint32_t state);

  std::atomic<uint32_t> state_{kIdle};  // moves only under lock_; read freely
  detail::SpinLock lock_;               // guards waiters_ and state_ changes
  detail::WaitQueue waiters_;           // callers waiting for kRunning to end
};

}  // namespace cogo
