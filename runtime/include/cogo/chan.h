// cogo/chan.h: channels (Go's chan) and select.
//
//   cogo::Chan<int> ch;            // unbuffered: a send waits for a receiver
//   cogo::go([ch] { ch.send(42); });
//   std::optional<int> v = ch.recv();   // nullopt once closed and drained
//
//   int taken = cogo::select(
//       cogo::on_recv(in, [](std::optional<Job> j) { ... }),
//       cogo::on_send(out, result, [] { ... }),
//       cogo::on_timeout(std::chrono::seconds(1), [] { ... }));
//
// A Chan is a handle: copies refer to the same channel, which lives as long
// as any handle does. Every operation works on a goroutine (it parks) and on
// a plain thread (it blocks the thread), and both may meet on one channel.
//
// The element type is erased below the handle (detail::ChanCore, in
// chan.cpp), so that one select can wait on channels of different types.
// Values are moved while the channel's internal lock is held, hence the
// requirement that T be nothrow move-constructible.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace cogo {

// ChannelClosed: a send on a closed channel (including one that was blocked
// when the channel was closed), or a second close(). Both are bugs in the
// program's protocol, as in Go, where they panic.
class ChannelClosed : public std::logic_error {
 public:
  explicit ChannelClosed(const char* what = "cogo: send on closed channel")
      : std::logic_error(what) {}
};

// RecvStatus: the outcome of a non-blocking receive.
enum class RecvStatus {
  kValue,   // a value was received
  kEmpty,   // nothing to receive now; the channel is open
  kClosed,  // the channel is closed and drained
};

// TryRecv: the result of Chan::try_recv().
template <class T>
struct TryRecv {
  RecvStatus status = RecvStatus::kEmpty;
  std::optional<T> value;  // engaged iff status == kValue

  bool has_value() const { return status == RecvStatus::kValue; }
  bool empty() const { return status == RecvStatus::kEmpty; }
  bool closed() const { return status == RecvStatus::kClosed; }
  explicit operator bool() const { return has_value(); }
  T& operator*() { return *value; }
  T* operator->() { return &*value; }
};

template <class T>
class Chan;

namespace detail {

// ElemOps: what the type-erased channel needs to know about its element type.
struct ElemOps {
  void (*move_to)(void* dst, void* src) noexcept;  // construct *dst from std::move(*src)
  void (*destroy)(void* p) noexcept;
  std::size_t size;
  std::size_t align;
};
template <class T>
inline constexpr ElemOps kElemOps = {
    [](void* dst, void* src) noexcept { ::new (dst) T(std::move(*static_cast<T*>(src))); },
    [](void* p) noexcept { static_cast<T*>(p)->~T(); },
    sizeof(T),
    alignof(T),
};

// Slot: raw storage a receive move-constructs into. Never destroys on its
// own: take() does, exactly once, when a value arrived.
template <class T>
struct Slot {
  alignas(T) unsigned char bytes[sizeof(T)];
  void* raw() { return bytes; }
  std::optional<T> take() {
    T* p = std::launder(reinterpret_cast<T*>(bytes));
    std::optional<T> v(std::in_place, std::move(*p));
    p->~T();
    return v;
  }
};

class ChanCore;  // defined in chan.cpp

// The channel operations on the erased core. `src` points at a T the
// operation moves from; `dst` at raw storage for a T it move-constructs into.
std::shared_ptr<ChanCore> chan_make(const ElemOps* ops, std::size_t capacity);
void chan_send(ChanCore& c, void* src);      // throws ChannelClosed
bool chan_try_send(ChanCore& c, void* src);  // throws ChannelClosed
bool chan_recv(ChanCore& c, void* dst);      // false: closed and drained
RecvStatus chan_try_recv(ChanCore& c, void* dst);
void chan_close(ChanCore& c);  // throws ChannelClosed
std::size_t chan_size(const ChanCore& c);
std::size_t chan_capacity(const ChanCore& c);

// SelectCase: one send or receive case of a select, type-erased.
struct SelectCase {
  ChanCore* core;
  void* elem;  // send: the value to move from; receive: a Slot to fill
  bool is_send;
};
inline constexpr int kSelectDefault = -1;
inline constexpr int kSelectTimeout = -2;

// select_cases() runs Go's selectgo over cases[0..n): returns the index of the
// case taken, kSelectDefault (only if has_default) or kSelectTimeout (only if
// timeout_ns >= 0). For a receive case *recv_ok tells whether a value arrived
// (false: the channel is closed). Throws ChannelClosed if the chosen case is
// a send on a closed channel. n == 0 with neither default nor timeout blocks
// forever.
int select_cases(SelectCase* cases, int n, bool has_default, int64_t timeout_ns, bool* recv_ok);

// Select case objects, built by cogo::on_recv / on_send / on_default /
// on_timeout. They refer to their channel without owning it: build them
// inside the select(...) call, where temporaries outlive the select.
enum class CaseKind { kRecv, kSend, kDefault, kTimeout };

template <class T, class F>
struct RecvCase {
  static constexpr CaseKind kKind = CaseKind::kRecv;
  ChanCore* core;
  F fn;
  Slot<T> slot;
  SelectCase erase() { return {core, slot.raw(), false}; }
  void finish(bool ok) {
    if constexpr (std::is_invocable_v<F&, std::optional<T>&&>) {
      if (ok) {
        fn(slot.take());
      } else {
        fn(std::optional<T>());
      }
    } else {
      static_assert(std::is_invocable_v<F&>,
                    "cogo::on_recv: the callback must take std::optional<T> or nothing");
      if (ok) slot.take();  // the value is dropped, but it must be destroyed
      fn();
    }
  }
};

template <class T, class F>
struct SendCase {
  static constexpr CaseKind kKind = CaseKind::kSend;
  ChanCore* core;
  T value;
  F fn;
  SelectCase erase() { return {core, std::addressof(value), true}; }
  void finish(bool) { fn(); }
};

template <class F>
struct DefaultCase {
  static constexpr CaseKind kKind = CaseKind::kDefault;
  F fn;
  void finish(bool) { fn(); }
};

template <class F>
struct TimeoutCase {
  static constexpr CaseKind kKind = CaseKind::kTimeout;
  int64_t ns;
  F fn;
  void finish(bool) { fn(); }
};

struct NoOp {
  void operator()() const {}
};

template <class T>
struct AssignTo {
  std::optional<T>* out;
  void operator()(std::optional<T>&& v) const { *out = std::move(v); }
};

template <class C>
inline constexpr bool kIsChanCase = C::kKind == CaseKind::kRecv || C::kKind == CaseKind::kSend;

}  // namespace detail

// Chan<T>: a channel of T, unbuffered (capacity 0: a send completes only when
// a receiver takes the value) or buffered (a FIFO of `capacity` values).
template <class T>
class Chan {
  static_assert(std::is_object_v<T> && !std::is_const_v<T> && !std::is_array_v<T>,
                "cogo::Chan<T>: T must be a non-const object type");
  static_assert(std::is_nothrow_move_constructible_v<T>,
                "cogo::Chan<T>: T must be nothrow move-constructible (values move under the "
                "channel's lock); send a std::unique_ptr<T> or std::shared_ptr<T> instead");

 public:
  using value_type = T;

  Chan() : Chan(0) {}
  explicit Chan(std::size_t capacity) : core_(detail::chan_make(&detail::kElemOps<T>, capacity)) {}

  // send() blocks until a receiver took v (unbuffered) or v is in the buffer.
  // Throws ChannelClosed if the channel is or gets closed before that.
  void send(T v) const { detail::chan_send(*core_, std::addressof(v)); }

  // recv() blocks until a value arrives; nullopt once the channel is closed
  // and every buffered value has been received.
  std::optional<T> recv() const {
    detail::Slot<T> s;
    if (!detail::chan_recv(*core_, s.raw())) return std::nullopt;
    return s.take();
  }

  // try_send() sends v if that needs no waiting and returns true (v is then
  // moved from); otherwise returns false and leaves v alone, so the caller
  // may try again. Throws ChannelClosed on a closed channel.
  bool try_send(T& v) const { return detail::chan_try_send(*core_, std::addressof(v)); }
  bool try_send(T&& v) const { return detail::chan_try_send(*core_, std::addressof(v)); }

  // try_recv() receives a value if one is there without waiting.
  TryRecv<T> try_recv() const {
    detail::Slot<T> s;
    TryRecv<T> r;
    r.status = detail::chan_try_recv(*core_, s.raw());
    if (r.status == RecvStatus::kValue) r.value = s.take();
    return r;
  }

  // close() closes the channel: blocked receivers get nullopt once the buffer
  // is drained, blocked senders throw ChannelClosed. Closing twice throws.
  void close() const { detail::chan_close(*core_); }

  // size() is the number of buffered values (always 0 when unbuffered).
  std::size_t size() const { return detail::chan_size(*core_); }
  std::size_t capacity() const { return detail::chan_capacity(*core_); }

  friend bool operator==(const Chan& a, const Chan& b) { return a.core_ == b.core_; }

 private:
  template <class U, class F>
  friend detail::RecvCase<U, F> on_recv(const Chan<U>& ch, F fn);
  template <class U, class F>
  friend detail::SendCase<U, F> on_send(const Chan<U>& ch, std::type_identity_t<U> value, F fn);

  std::shared_ptr<detail::ChanCore> core_;  // never null
};

// on_recv(ch, fn): a select case receiving from ch; fn gets the
// std::optional<T> (nullopt: ch is closed) or takes no argument.
template <class T, class F>
detail::RecvCase<T, F> on_recv(const Chan<T>& ch, F fn) {
  return {ch.core_.get(), std::move(fn), {}};
}
// on_recv(ch, out): a select case storing what it receives into out.
template <class T>
detail::RecvCase<T, detail::AssignTo<T>> on_recv(const Chan<T>& ch, std::optional<T>& out) {
  return on_recv(ch, detail::AssignTo<T>{&out});
}

// on_send(ch, value, fn): a select case sending value on ch, then running fn.
template <class T, class F>
detail::SendCase<T, F> on_send(const Chan<T>& ch, std::type_identity_t<T> value, F fn) {
  return {ch.core_.get(), std::move(value), std::move(fn)};
}
template <class T>
detail::SendCase<T, detail::NoOp> on_send(const Chan<T>& ch, std::type_identity_t<T> value) {
  return on_send(ch, std::move(value), detail::NoOp{});
}

// on_default(fn): taken when no other case is ready (a non-blocking select).
template <class F>
detail::DefaultCase<F> on_default(F fn) {
  return {std::move(fn)};
}
inline detail::DefaultCase<detail::NoOp> on_default() {
  return {{}};
}

// on_timeout(d, fn): taken when no other case became ready within d.
template <class Rep, class Period, class F>
detail::TimeoutCase<F> on_timeout(std::chrono::duration<Rep, Period> d, F fn) {
  int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
  return {ns < 0 ? 0 : ns, std::move(fn)};
}
template <class Rep, class Period>
detail::TimeoutCase<detail::NoOp> on_timeout(std::chrono::duration<Rep, Period> d) {
  return on_timeout(d, detail::NoOp{});
}

namespace detail {

template <class... Cases, std::size_t... I>
int select_impl(std::index_sequence<I...>, Cases&... cs) {
  constexpr int kChanCases = (0 + ... + int(kIsChanCase<Cases>));
  std::array<SelectCase, kChanCases == 0 ? 1 : kChanCases> erased{};
  std::array<int, kChanCases == 0 ? 1 : kChanCases> arg_of{};  // erased index -> argument
  int n = 0, default_arg = -1, timeout_arg = -1;
  int64_t timeout_ns = -1;
  [[maybe_unused]] auto add = [&](auto& c, int arg) {
    using C = std::remove_reference_t<decltype(c)>;
    if constexpr (kIsChanCase<C>) {
      erased[n] = c.erase();
      arg_of[n++] = arg;
    } else if constexpr (C::kKind == CaseKind::kDefault) {
      default_arg = arg;
    } else {
      timeout_ns = c.ns;
      timeout_arg = arg;
    }
  };
  (add(cs, int(I)), ...);

  bool ok = false;
  int r = select_cases(erased.data(), n, default_arg >= 0, timeout_ns, &ok);
  int arg = r >= 0 ? arg_of[r] : r == kSelectDefault ? default_arg : timeout_arg;
  ((int(I) == arg ? (cs.finish(ok), 0) : 0), ...);
  return arg;
}

}  // namespace detail

// select() waits until one of its cases can proceed, performs it, runs its
// callback and returns its position among the arguments. Among several ready
// cases it picks one uniformly at random. With on_default it never waits;
// with on_timeout it waits at most that long; with no case at all it blocks
// forever (Go's `select {}`). A send case on a closed channel throws
// ChannelClosed; a receive case on one is ready and yields nullopt.
template <class... Cases>
int select(Cases&&... cases) {
  constexpr int kDefaults =
      (0 + ... + int(std::decay_t<Cases>::kKind == detail::CaseKind::kDefault));
  constexpr int kTimeouts =
      (0 + ... + int(std::decay_t<Cases>::kKind == detail::CaseKind::kTimeout));
  static_assert(kDefaults <= 1, "cogo::select: at most one on_default case");
  static_assert(kTimeouts <= 1, "cogo::select: at most one on_timeout case");
  static_assert(kDefaults == 0 || kTimeouts == 0,
                "cogo::select: on_default and on_timeout together — the default runs whenever "
                "no channel is ready, so the timeout could never fire; drop one of them");
  return detail::select_impl(std::index_sequence_for<Cases...>{}, cases...);
}

}  // namespace cogo
