// fd_mutex.cpp: FdMutex, a line-by-line port of Go's internal/poll/fd_mutex.go.
#include "fd_mutex.h"

#include <cstdio>
#include <cstdlib>

namespace cogo::net::detail {
namespace {

constexpr uint64_t kClosed = 1ull << 0;
constexpr uint64_t kRLock = 1ull << 1;
constexpr uint64_t kWLock = 1ull << 2;
constexpr uint64_t kRef = 1ull << 3;
constexpr uint64_t kRefMask = ((1ull << 20) - 1) << 3;
constexpr uint64_t kRWait = 1ull << 23;
constexpr uint64_t kRMask = ((1ull << 20) - 1) << 23;
constexpr uint64_t kWWait = 1ull << 43;
constexpr uint64_t kWMask = ((1ull << 20) - 1) << 43;

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "cogo runtime: %s\n", what);
  std::abort();
}
constexpr const char* kOverflow = "too many concurrent operations on a single socket (max 1048575)";

// Lane: the state bits of one direction's lock — the held bit, one waiter,
// and the mask of the waiter count.
struct Lane {
  uint64_t bit, wait, mask;
};
constexpr Lane lane(bool read) {
  return read ? Lane{kRLock, kRWait, kRMask} : Lane{kWLock, kWWait, kWMask};
}

// last_ref_of_closed(): the fd is closing and no reference is left, so the
// one that dropped the last reference destroys it.
constexpr bool last_ref_of_closed(uint64_t state) {
  return (state & (kClosed | kRefMask)) == kClosed;
}

}  // namespace

bool FdMutex::incref() {
  uint64_t old = state_.load(std::memory_order_relaxed);
  for (;;) {
    if (old & kClosed) return false;
    uint64_t nw = old + kRef;
    if ((nw & kRefMask) == 0) die(kOverflow);
    if (state_.compare_exchange_weak(old, nw, std::memory_order_acq_rel)) return true;
  }
}

bool FdMutex::incref_and_close() {
  uint64_t old = state_.load(std::memory_order_relaxed);
  for (;;) {
    if (old & kClosed) return false;
    uint64_t nw = (old | kClosed) + kRef;
    if ((nw & kRefMask) == 0) die(kOverflow);
    nw &= ~(kRMask | kWMask);  // the waiters are woken below, to fail
    if (state_.compare_exchange_weak(old, nw, std::memory_order_acq_rel)) {
      for (; old & kRMask; old -= kRWait) rsema_.release();
      for (; old & kWMask; old -= kWWait) wsema_.release();
      return true;
    }
  }
}

bool FdMutex::decref() {
  uint64_t old = state_.load(std::memory_order_relaxed);
  for (;;) {
    if ((old & kRefMask) == 0) die("inconsistent netpoll FdMutex (decref without a reference)");
    uint64_t nw = old - kRef;
    if (state_.compare_exchange_weak(old, nw, std::memory_order_acq_rel)) {
      return last_ref_of_closed(nw);
    }
  }
}

bool FdMutex::rwlock(bool read) {
  const auto [bit, wait, mask] = lane(read);
  Sema& sema = read ? rsema_ : wsema_;
  uint64_t old = state_.load(std::memory_order_relaxed);
  for (;;) {
    if (old & kClosed) return false;
    uint64_t nw;
    if ((old & bit) == 0) {
      nw = (old | bit) + kRef;  // free: take it
      if ((nw & kRefMask) == 0) die(kOverflow);
    } else {
      nw = old + wait;  // held: queue up
      if ((nw & mask) == 0) die(kOverflow);
    }
    if (state_.compare_exchange_weak(old, nw, std::memory_order_acq_rel)) {
      if ((old & bit) == 0) return true;
      sema.acquire(cogo::detail::WaitReason::kMutex);
      // The unlocker (or closer) subtracted our wait count; try again.
      old = state_.load(std::memory_order_relaxed);
    }
  }
}

// try_rwlock(): a lock held by another reader (writer) is `busy` at once,
// with no place taken in its queue. Go's fdMutex has no such call because its
// callers never need one; ours do: a goroutine that parks may resume on
// another thread, and try_read()'s callers read into a per-thread buffer.
FdMutex::Try FdMutex::try_rwlock(bool read) {
  const uint64_t bit = lane(read).bit;
  uint64_t old = state_.load(std::memory_order_relaxed);
  for (;;) {
    if (old & kClosed) return Try::closed;
    if (old & bit) return Try::busy;
    const uint64_t nw = (old | bit) + kRef;
    if ((nw & kRefMask) == 0) die(kOverflow);
    if (state_.compare_exchange_weak(old, nw, std::memory_order_acq_rel)) return Try::taken;
  }
}

bool FdMutex::rwunlock(bool read) {
  const auto [bit, wait, mask] = lane(read);
  Sema& sema = read ? rsema_ : wsema_;
  uint64_t old = state_.load(std::memory_order_relaxed);
  for (;;) {
    if ((old & bit) == 0 || (old & kRefMask) == 0) die("inconsistent netpoll FdMutex (unlock)");
    if (old & mask) {
      // Hand the lock to a waiter. Keep our reference across the release so
      // that a concurrent close() cannot destroy the fd (and the semaphore
      // with it) under us; drop it afterwards.
      uint64_t nw = (old & ~bit) - wait;
      if (state_.compare_exchange_weak(old, nw, std::memory_order_acq_rel)) {
        sema.release();
        return decref();
      }
      continue;
    }
    uint64_t nw = (old & ~bit) - kRef;
    if (state_.compare_exchange_weak(old, nw, std::memory_order_acq_rel)) {
      return last_ref_of_closed(nw);
    }
  }
}

}  // namespace cogo::net::detail
