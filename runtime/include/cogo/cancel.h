// cogo/cancel.h: cancellation that stops blocking code — Go's context tree,
// bound to the running goroutine (or thread) instead of passed by hand.
//
//   cogo::Context ctx = cogo::Context::with_timeout(500ms);
//   cogo::ContextScope scope(ctx);   // this goroutine now runs under ctx
//   conn.read(buf);                  // throws cogo::Cancelled after 500 ms
//
// Every place a goroutine parks is a cancellation point: sleep, channel send,
// receive and select, Cond, WaitGroup, Once, socket accept/read/write/dial
// and readiness waits, the TLS handshake and record I/O, and so the server's
// Request::read/body and Response::flush. An operation that can complete
// without waiting completes even when the context is done; one that must
// wait, or is waiting, throws cogo::Cancelled as soon as it is done. The same
// holds on a plain thread (the thread-per-connection model): a blocked socket
// wait, a condition wait or a sleep there is interrupted too.
//
// Not cancellation points: Mutex::lock (a critical section must not be torn
// apart; hold mutexes briefly), and code inside blocking(fn) — but once
// blocking() returns, a done context throws. A computation that never waits
// is never interrupted; it may poll check_cancelled().
//
// Goroutines spawned while a context is current inherit it, so a request's
// helpers die with the request; go_detached() spawns without it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

#include "cogo/chan.h"
#include "cogo/detail/task.h"
#include "cogo/error.h"

namespace cogo {

namespace detail {
struct CancelState;
}

// CancelReason says why a context is done.
enum class CancelReason : std::uint8_t {
  none = 0,     // not done
  cancelled,    // cancel() was called (or the owner of the context ended)
  deadline,     // its deadline passed
  client_gone,  // the server's client disconnected (the server's 499)
  shutdown,     // the server's graceful shutdown ran out of grace
};
// to_string() is the reason's name: "none", "cancelled", "deadline",
// "client_gone", "shutdown".
std::string_view to_string(CancelReason r) noexcept;

// cancel_category() is the error category of Cancelled: the error value is
// the CancelReason; every one compares equal to errc::operation_canceled.
const std::error_category& cancel_category() noexcept;

// Cancelled is thrown by a wait whose context is done. Catching it and
// waiting again throws again (the context stays done); unwind instead.
class Cancelled : public Error {
 public:
  explicit Cancelled(CancelReason reason);
  CancelReason reason() const noexcept { return reason_; }

 private:
  CancelReason reason_;
};

// is_cancelled() tells whether ec (from a non-throwing form, e.g.
// net::Conn::read(buf, n, ec)) says the wait was cancelled;
// throw_if_cancelled() throws the Cancelled it stands for.
inline bool is_cancelled(const std::error_code& ec) noexcept {
  return ec.category() == cancel_category();
}
inline void throw_if_cancelled(const std::error_code& ec) {
  if (is_cancelled(ec)) throw Cancelled(static_cast<CancelReason>(ec.value()));
}

// Done: the value type of Context::done_channel(), which only ever closes.
struct Done {};

// Context: a handle to a cancellation context (cheap to copy; the state is
// shared and reference counted). A default-constructed Context is the
// background: never done, no deadline.
class Context {
 public:
  using Clock = std::chrono::steady_clock;

  Context() noexcept = default;
  Context(const Context& o) noexcept;
  Context(Context&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  Context& operator=(Context o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  ~Context();

  // with_cancel() is a new context that is done when cancel() is called on it
  // or when parent is done. with_deadline()/with_timeout() also end it at a
  // time (the earlier of its own and its parent's). The parent defaults to
  // the current context, as Go's WithCancel(ctx) with the ctx in hand.
  // A deadline needs a running runtime (its timer is a runtime timer).
  static Context with_cancel(const Context& parent);
  static Context with_cancel();
  static Context with_deadline(Clock::time_point deadline, const Context& parent);
  static Context with_deadline(Clock::time_point deadline);
  template <class Rep, class Period>
  static Context with_timeout(std::chrono::duration<Rep, Period> d) {
    return with_deadline(Clock::now() + std::chrono::duration_cast<Clock::duration>(d));
  }
  template <class Rep, class Period>
  static Context with_timeout(std::chrono::duration<Rep, Period> d, const Context& parent) {
    return with_deadline(Clock::now() + std::chrono::duration_cast<Clock::duration>(d), parent);
  }

  // cancel() makes the context (and its children) done with reason, waking
  // every wait under it. Only the first cancel counts. No-op on background.
  void cancel(CancelReason reason = CancelReason::cancelled) const noexcept;

  // done() tells whether it is done; reason() why (none while not done).
  bool done() const noexcept { return reason() != CancelReason::none; }
  CancelReason reason() const noexcept;
  // deadline() is the time it ends at, if it has one.
  std::optional<Clock::time_point> deadline() const noexcept;
  // throw_if_done() throws Cancelled(reason()) when done.
  void throw_if_done() const {
    if (CancelReason r = reason(); r != CancelReason::none) throw Cancelled(r);
  }

  // done_channel() closes when the context is done: a select case for it is
  // on_recv(ctx.done_channel(), fn). The background's never closes.
  Chan<Done> done_channel() const;

  // background() tells whether this is the background (never done).
  bool background() const noexcept { return s_ == nullptr; }
  friend bool operator==(const Context& a, const Context& b) noexcept { return a.s_ == b.s_; }

  // Internal: adopt a state (its reference moves into the handle).
  explicit Context(detail::CancelState* adopted) noexcept : s_(adopted) {}
  detail::CancelState* state() const noexcept { return s_; }

 private:
  detail::CancelState* s_ = nullptr;
};

// current_context() is the context of the running goroutine or thread
// (background when none was bound).
Context current_context();

// check_cancelled() throws Cancelled when the current context is done
// (outside a CancelShield): a cancellation point for code that never waits.
void check_cancelled();

// ContextScope binds ctx as the current context of this goroutine (or
// thread) until it is destroyed, then restores the previous one. Scopes nest.
class ContextScope {
 public:
  explicit ContextScope(const Context& ctx);
  ~ContextScope();
  ContextScope(const ContextScope&) = delete;
  ContextScope& operator=(const ContextScope&) = delete;

 private:
  detail::CancelState* previous_;
};

// CancelShield: while one is alive, waits on this goroutine (or thread) do not
// observe cancellation (userver's TaskCancellationBlocker): for cleanup that
// must talk to the network after a cancel, e.g. in a destructor. Spawned
// goroutines still inherit the context. Shields nest.
class CancelShield {
 public:
  CancelShield() noexcept;
  ~CancelShield();
  CancelShield(const CancelShield&) = delete;
  CancelShield& operator=(const CancelShield&) = delete;
};

// go_detached() spawns fn like go(), but under the background context: it
// outlives the request (or whatever context is current) that spawned it.
void go_detached(detail::Task fn);

}  // namespace cogo
