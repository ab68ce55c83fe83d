// cogo/detail/cancel.h: the cancellation contract for the layers that wait
// (the netpoller, the server). Not for handler code: see cogo/cancel.h.
//
// A wait observes its context through a CancelHook: registered before the
// waiter can sleep, unregistered after it woke. cancel() calls each
// registered hook once, under the context's lock, so a hook's memory (on the
// waiter's stack) stays valid until unregister_hook() returns. A hook must
// not block and must not take the context's lock: it wakes its waiter (claim
// and ready, a futex wake, a netpoll unblock, a signal to a thread).
#pragma once

#include <atomic>
#include <cstdint>

#include "cogo/cancel.h"

namespace cogo::detail {

struct CancelHook {
  void (*fn)(CancelHook* self) = nullptr;
  void* arg = nullptr;         // the waiter's, for fn
  CancelHook* prev = nullptr;  // guarded by the context's lock
  CancelHook* next = nullptr;
  bool linked = false;
};

// cancel_effective() is the context the current goroutine's (or thread's)
// waits observe: its bound context, or nullptr when there is none (the
// background) or a CancelShield is alive. Cheap: a thread-local read.
CancelState* cancel_effective();
// cancel_reason() is the state's reason (CancelReason::none while not done).
CancelReason cancel_reason(const CancelState* s) noexcept;
inline bool cancel_done(const CancelState* s) noexcept {
  return s != nullptr && cancel_reason(s) != CancelReason::none;
}

// register_hook() links h into s; false (h not linked) when s is already
// done, so the caller must not sleep. unregister_hook() unlinks it if cancel
// did not already; after it returns no call of h->fn is running.
bool register_hook(CancelState* s, CancelHook* h);
void unregister_hook(CancelState* s, CancelHook* h);

// [[noreturn]] throw_cancelled() throws Cancelled with s's reason.
[[noreturn]] void throw_cancelled(const CancelState* s);

// A first-wait callback: called once, the first time a wait registers a
// hook on s (so a handler that never waits never pays for it). The server
// uses it to start watching for a client that leaves. It runs inside the
// registration, under s's lock (maybe on a scheduler stack, with wait queue
// locks held): it must not block, wait, take s's lock or cancel s itself —
// it may spawn a goroutine (cogo::go) that cancels.
using FirstWaitFn = void (*)(CancelState* s, void* arg);
void set_first_wait(CancelState* s, FirstWaitFn fn, void* arg);

// Plain threads: interruptible poll(2). thread_wait_fd() blocks until fd is
// ready for events (POLLIN / POLLOUT...), deadline_ns passes (monotonic ns;
// < 0 none) or the current context is done. Returns the revents (> 0), 0 on
// timeout, or -1 when cancelled (the context is done: throw_cancelled).
// A cancel reaches the blocked thread through a signal (SIGURG, blocked on
// the thread except inside ppoll, so none is ever lost).
int thread_wait_fd(int fd, short events, int64_t deadline_ns, CancelState* s);

// The server's request contexts: a state reused across the requests of one
// connection when nothing else holds it (see cogo/http/request.h).
// cancel_slot() is the bound-context slot of the running goroutine (or
// plain thread): what ContextScope sets, without its reference counting.
// Valid for the life of the goroutine or thread. The server binds the
// request's state here for the handler's run, holding the reference itself.
CancelState*& cancel_slot() noexcept;

// state_alone() tells whether the only reference is the caller's and no
// child or wait holds it; such a state may be reset for the next request.
bool state_alone(CancelState* s) noexcept;
// state_unshared() is the lock-free half of it: the caller's is the only
// reference (acquire: what released the others happened before). A child,
// a bound goroutine and a hang-up watch each hold one, so an unshared state
// has none of them, and nothing can wait on it but the caller.
bool state_unshared(const CancelState* s) noexcept;
// state_rearm() resets a state that state_alone() and not done for the next
// use: (re)sets its deadline (0: none, the timer stops) and its first-wait
// callback (nullptr: none), the callback under the lock.
void state_rearm(CancelState* s, int64_t deadline_ns, FirstWaitFn fn, void* arg);

}  // namespace cogo::detail
