// fd.h: FD, Go's internal/poll.FD — a non-blocking socket, its poll
// descriptor and the reference count that keeps the fd number alive under
// the operations in flight. Every operation here tries the syscall first and
// waits on the poll descriptor only on EAGAIN; EINTR is retried. Results are
// the layer's error numbers (netpoll.h): 0, an errno, or kErr*.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <atomic>
#include <cerrno>
#include <cstddef>

#include "cogo/net.h"
#include "fd_mutex.h"
#include "netpoll.h"

namespace cogo::net::detail {

struct FD {
  FdMutex fdmu;
  int sysfd = -1;          // immutable until destroy
  PollDesc* pd = nullptr;  // immutable until destroy
  // socket: sysfd is a socket, so reads use recv(2), which skips the VFS
  // layer read(2) goes through (a few % of a small request's CPU). Set by
  // open()'s caller before the FD is shared; immutable afterwards.
  bool socket = true;
  Address remote;          // from accept/connect; immutable afterwards
  // destroyed: set by destroy() as its very last touch of *this. Every
  // close() returns only once it is set.
  std::atomic<uint32_t> destroyed{0};
  // closers: close() calls still inside close(); the owner frees the FD only
  // when none is (close_and_free).
  std::atomic<uint32_t> closers{0};
  // The goroutine holding the read / write lock (nullptr: free, or held by a
  // plain thread). Written by the holder only; read by runtime_stopped, which
  // gives back the locks of goroutines that died holding them.
  std::atomic<G*> read_holder{nullptr};
  std::atomic<G*> write_holder{nullptr};

  // open() wraps sysfd (already non-blocking). Returns nullptr and sets err
  // (and closes sysfd) if it cannot be registered.
  static FD* open(int sysfd, int& err);

  // read() reads up to n bytes; 0 with err set on EOF/error. Without wait
  // it never parks: EAGAIN when nothing is there or another goroutine holds
  // the read lock (its read takes what is there), and deadlines do not apply
  // (there is no wait to bound); closing does.
  std::size_t read(void* p, std::size_t n, int& err, bool wait = true);
  // write_all() writes all n bytes; returns how many were written.
  std::size_t write_all(const void* p, std::size_t n, int& err);
  // writev_all() writes every buffer; returns the total written. Without
  // wait it stops with EAGAIN where it would park, behind another writer too
  // (deadlines do not apply).
  std::size_t writev_all(iovec* iov, int iovcnt, int& err, bool wait = true);
  // accept() returns a new non-blocking fd, or -1 with err set.
  int accept(sockaddr* sa, socklen_t* len, int& err);
  // connect() connects, waiting until `deadline` (0: none). 0 or an error.
  int connect(const sockaddr* sa, socklen_t len, int64_t deadline);
  // wait() waits for readiness without a syscall (TLS libraries).
  int wait(Mode mode);
  // close() evicts waiters and closes once the last reference drops; returns
  // when the fd is closed (0), or kErrClosed if another close() was first
  // (it too returns only once the fd is closed).
  int close();
  // close_and_free() closes fd and deletes it once no other close() is
  // still inside it. For the owner (Conn, Listener destructors).
  static void close_and_free(FD* fd);
  // shutdown(how) for close_write / close_read.
  int shutdown(int how);
  // set_deadline() sets deadlines (0 clears).
  void set_deadline(int64_t when, bool read, bool write);
  // sockopt() runs setsockopt under a reference.
  int sockopt(int level, int name, const void* val, socklen_t len);
  // sockname()/peername() under a reference.
  int sockname(Address& out, bool peer);
  // arm_idle(): see Conn::await_readable.
  int arm_idle(cogo::detail::Task fn, IdleSetState* set);
  // runtime_stopped(): the goroutines are gone; give back what they held.
  void runtime_stopped();

 private:
  // destroy() runs when the last reference of a closing fd drops.
  void destroy();
  bool lock(bool read) {
    if (!fdmu.rwlock(read)) return false;
    (read ? read_holder : write_holder).store(cogo::detail::current_g(), std::memory_order_relaxed);
    return true;
  }
  // lock_now(): lock() for the calls that never park, as an error: 0, EAGAIN
  // while another goroutine holds the lock, or kErrClosed.
  int lock_now(bool read) {
    switch (fdmu.try_rwlock(read)) {
      case FdMutex::Try::taken:
        (read ? read_holder : write_holder).store(cogo::detail::current_g(), std::memory_order_relaxed);
        return 0;
      case FdMutex::Try::busy:
        return EAGAIN;
      case FdMutex::Try::closed:
        break;
    }
    return kErrClosed;
  }
  // lock_for(): lock() or lock_now(), as the operation waits or not.
  int lock_for(bool read, bool wait) {
    if (!wait) return lock_now(read);
    return lock(read) ? 0 : kErrClosed;
  }
  void unlock(bool read) {
    (read ? read_holder : write_holder).store(nullptr, std::memory_order_relaxed);
    if (fdmu.rwunlock(read)) destroy();
  }
  void decref() {
    if (fdmu.decref()) destroy();
  }
};

}  // namespace cogo::net::detail
