// fd_mutex.h: FdMutex, Go's internal/poll fdMutex. It reference-counts the
// operations in flight on one fd so that close() never frees the fd number
// under them, and serialises readers among themselves and writers among
// themselves (a poll descriptor has one read and one write waiter slot).
#pragma once

#include <atomic>
#include <cstdint>

#include "cogo/detail/sema.h"

namespace cogo::net::detail {

using cogo::detail::Sema;

class FdMutex {
 public:
  // incref() adds a reference for an operation that neither reads nor
  // writes (setsockopt, deadlines). False once closing has begun.
  bool incref();
  // increfAndClose() marks the fd closing and adds a reference for close()
  // itself; waiting lockers wake and fail. False if already closing.
  bool incref_and_close();
  // decref() drops a reference. True when this was the last one of a closing
  // fd: the caller must destroy it.
  bool decref();
  // rwlock() takes the read (or write) lock plus a reference, waiting behind
  // another reader (writer). False once closing has begun.
  bool rwlock(bool read);
  // try_rwlock() is rwlock() for the operations that must never park
  // (Conn::try_read, try_writev): it takes the lock only if it is free.
  enum class Try { taken, busy, closed };
  Try try_rwlock(bool read);
  // rwunlock() drops the lock and the reference; true as decref().
  bool rwunlock(bool read);
  // drop_goroutine_waiters(): see Sema; the runtime stopped.
  void drop_goroutine_waiters() {
    rsema_.drop_goroutine_waiters();
    wsema_.drop_goroutine_waiters();
  }

 private:
  // state layout (Go's):
  //   bit 0        closed: no new operations
  //   bit 1        read lock held
  //   bit 2        write lock held
  //   bits 3..22   references (operations in flight, lock holders included)
  //   bits 23..42  goroutines/threads waiting for the read lock
  //   bits 43..62  waiting for the write lock
  // Changed only by CAS; the semaphores carry the hand-off to waiters.
  std::atomic<uint64_t> state_{0};
  Sema rsema_;
  Sema wsema_;
};

}  // namespace cogo::net::detail
