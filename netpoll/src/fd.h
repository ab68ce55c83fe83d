// fd.h: FD, Go's internal/poll.FD — a non-blocking socket, its poll
// descriptor and the reference count that keeps the fd number alive under
// the operations in flight. Every operation here tries the syscall first and
// waits on the poll descriptor only on EAGAIN; EINTR is retried. Results are
// the layer's error numbers (netpoll.h): 0, an errno, or kErr*.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>

#include "cogo/net.h"
#include "fd_mutex.h"
#include "netpoll.h"
#include "park.h"

namespace cogo::net::detail {

struct FD {
  FdMutex fdmu;
  int sysfd = -1;          // immutable until destroy
  PollDesc* pd = nullptr;  // immutable until destroy
  Sema csema;              // close() waits here for the last reference
  // close_done: released once by the first close() when it has finished with
  // this object. A later close() (the owner's destructor, typically, after
  // another goroutine closed the Conn under it) waits for it and passes it
  // on, so the owner never frees the FD under a closer still inside it.
  Sema close_done;
  Address remote;          // from accept/connect; immutable afterwards

  // fd_open() wraps sysfd (already non-blocking). Returns nullptr and sets
  // err (and closes sysfd) if it cannot be registered.
  static FD* open(int sysfd, int& err);

  // read() reads up to n bytes; 0 with err set on EOF/error.
  std::size_t read(void* p, std::size_t n, int& err);
  // write_all() writes all n bytes; returns how many were written.
  std::size_t write_all(const void* p, std::size_t n, int& err);
  // writev_all() writes every buffer; returns the total written.
  std::size_t writev_all(iovec* iov, int iovcnt, int& err);
  // accept() returns a new non-blocking fd, or -1 with err set.
  int accept(sockaddr* sa, socklen_t* len, int& err);
  // connect() connects, waiting until `deadline` (0: none). 0 or an error.
  int connect(const sockaddr* sa, socklen_t len, int64_t deadline);
  // wait() waits for readiness without a syscall (TLS libraries).
  int wait(Mode mode);
  // close() evicts waiters and closes once the last reference drops; waits
  // for that. kErrClosed if already closed (after waiting for the first
  // close() to finish).
  int close();
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
  // destroy_orphan(): destroy() for runtime_stopped's repairs.
  void destroy_orphan();

 private:
  // destroy() runs when the last reference of a closing fd drops.
  void destroy();
  void unlock(bool read) {
    if (fdmu.rwunlock(read)) destroy();
  }
  void decref() {
    if (fdmu.decref()) destroy();
  }
};

}  // namespace cogo::net::detail
