// cancel.cpp: cancellation contexts (cogo/cancel.h, cogo/detail/cancel.h).
//
// The model is Go's context tree, with one difference that makes it work for
// blocking code: the context is bound to the goroutine (G::cancel) or thread
// (t_cancel), and every wait looks it up on its slow path, so nothing is
// passed by hand.
//
// A CancelState is shared by handles (Context), goroutines bound to it, its
// children (each holds a reference to its parent) and nothing else: the
// reference count says when it dies. Its fields:
//   refs     atomic; the last release deletes.
//   reason   atomic; 0 while not done. Set once, by a CAS, in cancel(): the
//            CAS decides which cancel counts.
//   lock     guards hooks, children, first_wait, done_chan, done_closed.
//   hooks    the waits in progress under this context. cancel() unlinks and
//            calls each under the lock, so a wait that woke for another
//            reason and unregisters meanwhile waits for the call to end: a
//            hook is never called after unregister_hook() returned.
//   children intrusive list of child states (sib_prev/sib_next, guarded by
//            this state's lock). A child unlinks itself when it dies; lock
//            order is always parent before child.
//   timer    the deadline (a runtime timer), armed when the state has a
//            deadline earlier than its parent's. Stopped before the state
//            is freed, so a firing timer never sees freed memory.
//
// Wake-up without loss: a waiter registers its hook first and checks
// `reason` after (register_hook() does both under the lock), and cancel()
// sets `reason` before it takes the lock to call the hooks. Either the
// registration sees the reason, or cancel() sees the hook.
//
// Plain threads blocked in poll(2) are woken with SIGURG (as Go preempts
// with it): the thread keeps SIGURG blocked except inside ppoll(), so a
// signal sent between the check and the call stays pending and ppoll()
// returns at once.
#include "cogo/cancel.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "cogo/detail/cancel.h"
#include "cogo/runtime.h"
#include "cogo/detail/spinlock.h"
#include "runtime2.h"

namespace cogo::detail {

struct CancelState {
  std::atomic<uint32_t> refs{1};
  std::atomic<uint8_t> reason{0};
  int64_t deadline = 0;  // monotonic ns, 0: none; the earlier of its own and the parent's
  CancelState* parent = nullptr;  // one reference held
  SpinLock lock;
  CancelHook* hooks = nullptr;
  uint32_t nhooks = 0;
  CancelState* children = nullptr;
  CancelState* sib_prev = nullptr;  // in parent->children, under parent->lock
  CancelState* sib_next = nullptr;
  FirstWaitFn first_wait = nullptr;
  void* first_wait_arg = nullptr;
  std::optional<Chan<Done>> done_chan;
  bool done_closed = false;  // cancel() has taken done_chan (or found none)
  Timer timer;
  bool timer_armed = false;  // only its creator (or state_rearm's caller) touches it
};

namespace {

thread_local CancelState* t_cancel = nullptr;  // plain threads: the bound context
thread_local uint32_t t_shield = 0;

void retain(CancelState* s) noexcept {
  if (s) s->refs.fetch_add(1, std::memory_order_relaxed);
}

void release(CancelState* s) noexcept;

void cancel_state(CancelState* s, CancelReason r, std::vector<Chan<Done>>& to_close) noexcept {
  uint8_t none = 0;
  if (!s->reason.compare_exchange_strong(none, static_cast<uint8_t>(r), std::memory_order_seq_cst)) {
    return;
  }
  s->lock.lock();
  while (CancelHook* h = s->hooks) {
    s->hooks = h->next;
    if (s->hooks) s->hooks->prev = nullptr;
    h->linked = false;
    h->prev = h->next = nullptr;
    --s->nhooks;
    h->fn(h);
  }
  for (CancelState* c = s->children; c != nullptr; c = c->sib_next) cancel_state(c, r, to_close);
  if (!s->done_closed) {
    s->done_closed = true;
    if (s->done_chan) {
      try {
        to_close.push_back(*s->done_chan);
      } catch (...) {
        std::fputs("cogo: out of memory while cancelling a context\n", stderr);
        std::abort();
      }
    }
  }
  s->lock.unlock();
}

void cancel_and_close(CancelState* s, CancelReason r) noexcept {
  std::vector<Chan<Done>> to_close;
  cancel_state(s, r, to_close);
  // Closed after every context lock is released: a select holds its
  // channels' locks while it registers on a context.
  for (auto& ch : to_close) ch.close();
}

void deadline_fired(void* arg, uintptr_t) {
  cancel_and_close(static_cast<CancelState*>(arg), CancelReason::deadline);
}

void destroy(CancelState* s) noexcept {
  if (CancelState* p = s->parent) {
    p->lock.lock();
    if (s->sib_prev) {
      s->sib_prev->sib_next = s->sib_next;
    } else {
      p->children = s->sib_next;
    }
    if (s->sib_next) s->sib_next->sib_prev = s->sib_prev;
    p->lock.unlock();
  }
  if (s->timer_armed) timer_stop(&s->timer);  // waits out a callback in flight
  CancelState* parent = s->parent;
  delete s;
  release(parent);
}

void release(CancelState* s) noexcept {
  if (s && s->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) destroy(s);
}

CancelState* make_child(CancelState* parent, int64_t deadline) {
  auto* s = new CancelState();
  if (parent == nullptr) {
    s->deadline = deadline;
  } else {
    retain(parent);
    s->parent = parent;
    s->deadline = parent->deadline;
    if (deadline > 0 && (s->deadline == 0 || deadline < s->deadline)) s->deadline = deadline;
    parent->lock.lock();
    s->sib_next = parent->children;
    if (parent->children) parent->children->sib_prev = s;
    parent->children = s;
    // Checked under the parent's lock: a cancel after this finds the child.
    const auto r = static_cast<CancelReason>(parent->reason.load(std::memory_order_seq_cst));
    parent->lock.unlock();
    if (r != CancelReason::none) {
      cancel_and_close(s, r);
      return s;
    }
  }
  if (deadline > 0 && deadline == s->deadline) {  // its own deadline is the earliest
    if (deadline <= nanotime()) {
      cancel_and_close(s, CancelReason::deadline);
    } else {
      if (!sched.running.load(std::memory_order_acquire)) {
        release(s);
        throw std::logic_error("cogo::Context: a deadline needs a running runtime");
      }
      s->timer.fn = &deadline_fired;
      s->timer.arg = s;
      s->timer_armed = true;
      timer_start(&s->timer, deadline);
    }
  }
  return s;
}

int64_t to_ns(std::chrono::steady_clock::time_point t) {
  const int64_t ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  return ns <= 0 ? 1 : ns;  // 0 means "none"; a time that early has passed anyway
}

CancelState*& bound_slot() {
  if (G* g = current_g()) return g->cancel;
  return t_cancel;
}

uint32_t& shield_slot() {
  if (G* g = current_g()) return g->shield;
  return t_shield;
}

// ---- SIGURG: interrupting a thread blocked in ppoll ----

void on_sigurg(int) {}

std::once_flag g_sigurg_once;
thread_local bool t_sigurg_blocked = false;

void prepare_thread_signal() {
  std::call_once(g_sigurg_once, [] {
    struct sigaction sa {};
    struct sigaction old {};
    sigaction(SIGURG, nullptr, &old);
    // Keep a handler somebody else installed; ours only has to exist so the
    // signal interrupts ppoll instead of being ignored (SIGURG's default).
    if (old.sa_handler == SIG_DFL || old.sa_handler == SIG_IGN) {
      sa.sa_handler = &on_sigurg;
      sigemptyset(&sa.sa_mask);
      sa.sa_flags = 0;  // no SA_RESTART: ppoll returns EINTR
      sigaction(SIGURG, &sa, nullptr);
    }
  });
  if (!t_sigurg_blocked) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGURG);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    t_sigurg_blocked = true;
  }
}

void thread_hook_fired(CancelHook* h) {
  pthread_kill(*static_cast<pthread_t*>(h->arg), SIGURG);
}

}  // namespace

CancelState* cancel_effective() {
  if (G* g = current_g()) return g->shield ? nullptr : g->cancel;
  return t_shield ? nullptr : t_cancel;
}

CancelReason cancel_reason(const CancelState* s) noexcept {
  return static_cast<CancelReason>(s->reason.load(std::memory_order_seq_cst));
}

bool register_hook(CancelState* s, CancelHook* h) {
  s->lock.lock();
  if (FirstWaitFn first = s->first_wait) {
    s->first_wait = nullptr;
    first(s, s->first_wait_arg);
  }
  if (s->reason.load(std::memory_order_seq_cst) != 0) {
    s->lock.unlock();
    return false;
  }
  h->prev = nullptr;
  h->next = s->hooks;
  if (s->hooks) s->hooks->prev = h;
  s->hooks = h;
  h->linked = true;
  ++s->nhooks;
  s->lock.unlock();
  return true;
}

void unregister_hook(CancelState* s, CancelHook* h) {
  s->lock.lock();
  if (h->linked) {
    if (h->prev) {
      h->prev->next = h->next;
    } else {
      s->hooks = h->next;
    }
    if (h->next) h->next->prev = h->prev;
    h->linked = false;
    h->prev = h->next = nullptr;
    --s->nhooks;
  }
  s->lock.unlock();
}

void throw_cancelled(const CancelState* s) {
  CancelReason r = cancel_reason(s);
  throw Cancelled(r == CancelReason::none ? CancelReason::cancelled : r);
}

void set_first_wait(CancelState* s, FirstWaitFn fn, void* arg) {
  s->lock.lock();
  s->first_wait = fn;
  s->first_wait_arg = arg;
  s->lock.unlock();
}

int thread_wait_fd(int fd, short events, int64_t deadline_ns, CancelState* s) {
  CancelHook hook;
  pthread_t self = pthread_self();
  if (s) {
    prepare_thread_signal();
    hook.fn = &thread_hook_fired;
    hook.arg = &self;
    if (!register_hook(s, &hook)) return -1;
  }
  sigset_t during;
  pthread_sigmask(SIG_SETMASK, nullptr, &during);
  sigdelset(&during, SIGURG);
  int result;
  for (;;) {
    if (s && cancel_done(s)) {
      result = -1;
      break;
    }
    timespec ts{};
    timespec* tsp = nullptr;
    if (deadline_ns >= 0) {
      const int64_t left = deadline_ns - nanotime();
      if (left <= 0) {
        result = 0;
        break;
      }
      ts.tv_sec = left / 1'000'000'000;
      ts.tv_nsec = left % 1'000'000'000;
      tsp = &ts;
    }
    pollfd p{fd, events, 0};
    const int r = ppoll(&p, 1, tsp, s ? &during : nullptr);
    if (r > 0) {
      result = p.revents;
      break;
    }
    if (r < 0 && errno != EINTR) {
      result = p.revents ? p.revents : POLLERR;
      break;
    }
  }
  if (s) unregister_hook(s, &hook);
  return result;
}

bool state_alone(CancelState* s) noexcept {
  if (s->refs.load(std::memory_order_acquire) != 1) return false;
  s->lock.lock();
  const bool alone = s->children == nullptr && s->nhooks == 0;
  s->lock.unlock();
  return alone;
}

CancelState*& cancel_slot() noexcept { return bound_slot(); }

bool state_unshared(const CancelState* s) noexcept {
  return s->refs.load(std::memory_order_acquire) == 1;
}

void state_rearm(CancelState* s, int64_t deadline_ns, FirstWaitFn fn, void* arg) {
  if (s->timer_armed) {
    timer_stop(&s->timer);
    s->timer_armed = false;
  }
  s->lock.lock();
  s->first_wait = fn;
  s->first_wait_arg = arg;
  s->lock.unlock();
  int64_t d = s->parent ? s->parent->deadline : 0;
  if (deadline_ns > 0 && (d == 0 || deadline_ns < d)) d = deadline_ns;
  s->deadline = d;
  if (deadline_ns > 0 && d == deadline_ns) {
    s->timer.fn = &deadline_fired;
    s->timer.arg = s;
    s->timer_armed = true;
    timer_start(&s->timer, deadline_ns);
  }
}

void check_cancelled_after_blocking() {
  if (CancelState* s = cancel_effective(); cancel_done(s)) throw_cancelled(s);
}

void cancel_inherit(G* g) {
  // Called by go() on the spawning side: the new G holds its own reference.
  CancelState* s = bound_slot();
  retain(s);
  g->cancel = s;
  g->shield = 0;
}

void cancel_release_g(G* g) {
  release(std::exchange(g->cancel, nullptr));
  g->shield = 0;
}

}  // namespace cogo::detail

namespace cogo {

using detail::CancelState;

namespace {

class CancelCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "cogo.cancel"; }
  std::string message(int v) const override {
    return std::string("cancelled: ") + std::string(to_string(static_cast<CancelReason>(v)));
  }
  bool equivalent(int, const std::error_condition& cond) const noexcept override {
    return cond == std::errc::operation_canceled;
  }
};

}  // namespace

std::string_view to_string(CancelReason r) noexcept {
  switch (r) {
    case CancelReason::none:
      return "none";
    case CancelReason::cancelled:
      return "cancelled";
    case CancelReason::deadline:
      return "deadline";
    case CancelReason::client_gone:
      return "client_gone";
    case CancelReason::shutdown:
      return "shutdown";
  }
  return "unknown";
}

const std::error_category& cancel_category() noexcept {
  static const CancelCategory category;
  return category;
}

Cancelled::Cancelled(CancelReason reason)
    : Error(std::error_code(static_cast<int>(reason), cancel_category()),
            std::string("cogo: cancelled (") + std::string(to_string(reason)) + ")"),
      reason_(reason) {}

Context::Context(const Context& o) noexcept : s_(o.s_) {
  detail::retain(s_);
}

Context::~Context() {
  detail::release(s_);
}

Context Context::with_cancel(const Context& parent) {
  return Context(detail::make_child(parent.s_, 0));
}
Context Context::with_cancel() {
  return Context(detail::make_child(detail::bound_slot(), 0));
}
Context Context::with_deadline(Clock::time_point deadline, const Context& parent) {
  return Context(detail::make_child(parent.s_, detail::to_ns(deadline)));
}
Context Context::with_deadline(Clock::time_point deadline) {
  return Context(detail::make_child(detail::bound_slot(), detail::to_ns(deadline)));
}

void Context::cancel(CancelReason reason) const noexcept {
  if (s_ == nullptr) return;
  if (reason == CancelReason::none) reason = CancelReason::cancelled;
  detail::cancel_and_close(s_, reason);
}

CancelReason Context::reason() const noexcept {
  return s_ ? detail::cancel_reason(s_) : CancelReason::none;
}

std::optional<Context::Clock::time_point> Context::deadline() const noexcept {
  if (s_ == nullptr || s_->deadline == 0) return std::nullopt;
  return Clock::time_point(std::chrono::duration_cast<Clock::duration>(
      std::chrono::nanoseconds(s_->deadline)));
}

Chan<Done> Context::done_channel() const {
  if (s_ == nullptr) {
    static const Chan<Done>* never = new Chan<Done>();  // nobody sends or closes it
    return *never;
  }
  bool close_now = false;
  s_->lock.lock();
  if (!s_->done_chan) {
    try {
      s_->done_chan.emplace();
    } catch (...) {
      s_->lock.unlock();
      throw;
    }
    close_now = s_->done_closed;  // cancel() already passed: it will not close it
  }
  Chan<Done> ch = *s_->done_chan;
  s_->lock.unlock();
  if (close_now) ch.close();
  return ch;
}

Context current_context() {
  CancelState* s = detail::bound_slot();
  detail::retain(s);
  return Context(s);
}

void check_cancelled() {
  if (CancelState* s = detail::cancel_effective(); detail::cancel_done(s)) {
    detail::throw_cancelled(s);
  }
}

ContextScope::ContextScope(const Context& ctx) {
  CancelState*& slot = detail::bound_slot();
  previous_ = slot;
  detail::retain(ctx.state());
  slot = ctx.state();
}

ContextScope::~ContextScope() {
  CancelState*& slot = detail::bound_slot();
  detail::release(std::exchange(slot, previous_));
}

CancelShield::CancelShield() noexcept {
  ++detail::shield_slot();
}

CancelShield::~CancelShield() {
  --detail::shield_slot();
}

void go_detached(detail::Task fn) {
  CancelState*& slot = detail::bound_slot();
  CancelState* saved = std::exchange(slot, nullptr);
  struct Restore {
    CancelState*& slot;
    CancelState* saved;
    ~Restore() { slot = saved; }
  } restore{slot, saved};
  go(std::move(fn));
}

}  // namespace cogo
