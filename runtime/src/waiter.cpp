// waiter.cpp: Waiter and WaitQueue — how channels and the sync primitives
// block a goroutine (park/ready) or a plain thread (futex, os.h).
//
// Why the goroutine path arms its timeout timer inside the park commit and
// not before park(): a timer that fired before the switch would ready() a
// goroutine that is still running, and each park must be matched by exactly
// one ready that comes after it. In the commit the goroutine is already
// switched out, exactly like a waker that finds it after the lock is released.
//
// The commit publishes the waiter three times — the cancel hook, the timer,
// the unlock — and a waker may claim it after the first. Such a waker must
// not ready the goroutine yet: the commit still writes its ParkArgs and arms
// the timer, both on the goroutine's stack, which would then be running (or
// gone) on another M. So the goroutine path hands off through `woken`:
// wake() and the end of the commit each add one, and whichever comes second
// resumes the goroutine — wake() by ready(), the commit by returning false
// (resume at once). Everything built on Waiter (channels, sync, Sema,
// Sleeper) wakes through wake(), never ready() on the waiter's g.
#include "cogo/detail/waiter.h"

#include "cogo/detail/os.h"

namespace cogo::detail {

namespace {

// ParkArgs travels to the park commit on the parking goroutine's stack. The
// commit must not touch it after its hand-off (park_commit): a waker may then ready the goroutine,
// which may then return and pop this frame.
struct ParkArgs {
  Waiter* w;
  Waiter::Unlock unlock;
  void* arg;
  Timer* timer;  // armed in the commit when non-null
  int64_t deadline;
  bool registered;  // the cancel hook is linked (written before unlock)
};

// cancel_fired() is the context's claim on a waiting Waiter.
void cancel_fired(CancelHook* h) {
  auto* w = static_cast<Waiter*>(h->arg);
  if (w->claim()) {
    w->fired = Waiter::kCancelled;
    w->wake();
  }
}

// register_cancel() links the waiter's hook before it may sleep. False when
// the context is already done and this call claimed the waiter for it (the
// wait must not sleep; fired = kCancelled). With the wait's locks held no
// waker can have claimed it, nor the timer, which is not armed yet.
bool register_cancel(Waiter* w, bool& registered) {
  registered = false;
  if (w->cancel == nullptr) return true;
  w->hook.fn = &cancel_fired;
  w->hook.arg = w;
  if (register_hook(w->cancel, &w->hook)) {
    registered = true;
    return true;
  }
  if (w->claim()) {
    w->fired = Waiter::kCancelled;
    return false;
  }
  return true;
}

bool park_commit(G*, void* p) {
  auto* a = static_cast<ParkArgs*>(p);
  Waiter::Unlock unlock = a->unlock;
  void* arg = a->arg;
  // Registered here, not before park(): a cancel that fired before the
  // switch would ready a goroutine that is still running.
  if (!register_cancel(a->w, a->registered)) {
    unlock(arg);
    return false;  // done already: resume at once
  }
  Waiter* w = a->w;
  if (a->timer != nullptr) timer_start(a->timer, a->deadline);
  unlock(arg);
  // Last touch of the goroutine's stack: a wake() before this one left the
  // ready to us; after it, the waker readies and we must touch nothing.
  return w->woken.fetch_add(1, std::memory_order_acq_rel) == 0;
}

void timeout_fired(void* arg, uintptr_t) {
  auto* w = static_cast<Waiter*>(arg);
  if (w->claim()) {
    w->fired = Waiter::kTimedOut;
    w->wake();
  }
}

}  // namespace

Waiter::Waiter() : g(current_g()), cancel(cancel_effective()) {
  link.waiter = this;
}

Waiter::Waiter(NoCancel) : g(current_g()) {
  link.waiter = this;
}

bool Waiter::wait(Unlock unlock, void* arg, WaitReason reason) {
  if (g != nullptr) {
    ParkArgs a{this, unlock, arg, nullptr, 0, false};
    park(&park_commit, &a, reason);
    if (a.registered) unregister_hook(cancel, &hook);
    return fired != kCancelled;
  }
  bool registered;
  if (!register_cancel(this, registered)) {
    unlock(arg);
    return false;
  }
  unlock(arg);
  while (woken.load(std::memory_order_acquire) == 0) futex_sleep(&woken, 0, -1);
  if (registered) unregister_hook(cancel, &hook);
  return fired != kCancelled;
}

bool Waiter::wait_until(Unlock unlock, void* arg, WaitReason reason, int64_t deadline) {
  if (g != nullptr) {
    Timer t;
    t.fn = &timeout_fired;
    t.arg = this;
    ParkArgs a{this, unlock, arg, &t, deadline, false};
    park(&park_commit, &a, reason);
    // Woken by a waker, the timer or the context; either way the timer must
    // be disarmed (or its callback finished) before `t` leaves this frame.
    timer_stop(&t);
    if (a.registered) unregister_hook(cancel, &hook);
    return fired != kTimedOut && fired != kCancelled;
  }
  bool registered;
  if (!register_cancel(this, registered)) {
    unlock(arg);
    return false;
  }
  unlock(arg);
  bool ok = true;
  while (woken.load(std::memory_order_acquire) == 0) {
    if (futex_sleep(&woken, 0, deadline) || nanotime() < deadline) continue;
    if (claim()) {
      fired = kTimedOut;
      ok = false;
      break;
    }
    // A waker (or the context) claimed us first and is about to call wake();
    // it may still be writing our slots, so wait for it without a deadline.
    while (woken.load(std::memory_order_acquire) == 0) futex_sleep(&woken, 0, -1);
  }
  if (registered) unregister_hook(cancel, &hook);
  return ok && fired != kCancelled;
}

void Waiter::wake() {
  if (g != nullptr) {
    // The second of {park commit, wake} resumes the goroutine (see the top).
    if (woken.fetch_add(1, std::memory_order_acq_rel) == 1) ready(g);
    return;
  }
  woken.store(1, std::memory_order_release);
  futex_wake(&woken, 1);  // the waiter may be gone already: see os.h
}

void WaitQueue::push(WaitLink* l) {
  l->next = nullptr;
  l->prev = tail;
  if (tail != nullptr) {
    tail->next = l;
  } else {
    head = l;
  }
  tail = l;
  l->queued = true;
}

void WaitQueue::remove(WaitLink* l) {
  if (l->prev != nullptr) {
    l->prev->next = l->next;
  } else {
    head = l->next;
  }
  if (l->next != nullptr) {
    l->next->prev = l->prev;
  } else {
    tail = l->prev;
  }
  l->next = l->prev = nullptr;
  l->queued = false;
}

WaitLink* WaitQueue::pop_claimed() {
  while (head != nullptr) {
    WaitLink* l = head;
    remove(l);
    if (l->waiter->claim()) return l;
  }
  return nullptr;
}

WaitLink* WaitQueue::pop_all_claimed() {
  WaitLink* chain = nullptr;
  while (WaitLink* l = pop_claimed()) {
    l->next = chain;  // the link is ours once claimed and unqueued
    chain = l;
  }
  // The chain is LIFO; reverse it so that waiters wake in arrival order.
  WaitLink* fifo = nullptr;
  while (chain != nullptr) {
    WaitLink* next = chain->next;
    chain->next = fifo;
    fifo = chain;
    chain = next;
  }
  return fifo;
}

void WaitQueue::drop_goroutines() {
  for (WaitLink* l = head; l != nullptr;) {
    WaitLink* next = l->next;
    if (l->waiter->g != nullptr) remove(l);
    l = next;
  }
}

void wake_chain(WaitLink* l) {
  while (l != nullptr) {
    WaitLink* next = l->next;  // read before wake(): the link dies with its waiter
    l->waiter->wake();
    l = next;
  }
}

}  // namespace cogo::detail
