// fd.cpp: the operations of FD (fd.h), after Go's internal/poll/fd_unix.go.
#include "fd.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#include <algorithm>

#include "cogo/runtime.h"

namespace cogo::net::detail {
namespace {

// Reads and writes are capped per syscall, as Go does (1 GiB): some kernels
// reject larger counts on some file types.
constexpr std::size_t kMaxRW = std::size_t{1} << 30;

// precheck() is the pre-syscall check of an operation: with wait, poll_check
// (closing, expired deadline); without, only closing (poll_check_closed).
int precheck(PollDesc* pd, Mode mode, bool wait) {
  return wait ? poll_check(pd, mode) : poll_check_closed(pd);
}

// retry_syscall() repeats call() (a syscall: >= 0, or -1 with errno) until it
// has an answer: EINTR repeats it; EAGAIN parks on pd until `mode` is ready
// and repeats it, or without wait gives up with EAGAIN (never parking). Returns
// the syscall's result, or -1 with err set (its errno, EAGAIN, poll_wait's).
template <class Syscall>
ssize_t retry_syscall(PollDesc* pd, Mode mode, bool wait, int& err, Syscall call) {
  for (;;) {
    const ssize_t r = call();
    if (r >= 0) return r;
    if (errno == EINTR) continue;
    if (errno != EAGAIN) {
      err = errno;
      return -1;
    }
    if (!wait) {
      err = EAGAIN;
      return -1;
    }
    if ((err = poll_wait(pd, mode))) return -1;
  }
}

// consume_iov() advances (iov, iovcnt) past n written bytes and past the
// empty buffers that follow them.
void consume_iov(iovec*& iov, int& iovcnt, std::size_t n) {
  while (iovcnt > 0 && n >= iov->iov_len) {
    n -= iov->iov_len;
    ++iov;
    --iovcnt;
  }
  if (iovcnt > 0 && n > 0) {
    iov->iov_base = static_cast<char*>(iov->iov_base) + n;
    iov->iov_len -= n;
  }
}

}  // namespace

FD* FD::open(int sysfd, int& err) {
  PollDesc* pd = poll_open(sysfd, err);
  if (!pd) {
    ::close(sysfd);
    return nullptr;
  }
  FD* fd = new FD;
  fd->sysfd = sysfd;
  fd->pd = pd;
  pd->owner = fd;
  return fd;
}

void fd_runtime_stopped(void* owner) {
  static_cast<FD*>(owner)->runtime_stopped();
}

void FD::runtime_stopped() {
  fdmu.drop_goroutine_waiters();
  // A goroutine that died inside an operation (parked on the poller, or
  // readied but never run again) still holds its lock and reference; give
  // them back so that a close() from the code that owns the Conn completes.
  for (bool read : {true, false}) {
    std::atomic<G*>& holder = read ? read_holder : write_holder;
    if (holder.exchange(nullptr, std::memory_order_relaxed) && fdmu.rwunlock(read)) {
      destroy();
      return;
    }
  }
}

void FD::destroy() {
  // The poller forgets the fd before the number can be reused.
  pd->owner = nullptr;
  poll_close(pd);
  ::close(sysfd);  // never retried on EINTR: Linux has closed it regardless
  destroyed.store(1, std::memory_order_release);  // the last touch of *this
}

namespace {
// wait_until() waits for a flag that its setter cannot signal (the setter
// may not touch the object after setting it): yield a few times to the
// goroutines (or threads) on their way out, then sleep in growing steps.
template <class Pred>
void wait_until(Pred done) {
  int64_t pause_ns = 10'000;
  for (int spins = 0; !done(); ++spins) {
    if (spins < 16) {
      cogo::yield();
    } else {
      cogo::sleep_for(std::chrono::nanoseconds(pause_ns));
      pause_ns = std::min<int64_t>(pause_ns * 2, 1'000'000);
    }
  }
}
}  // namespace

int FD::close() {
  closers.fetch_add(1, std::memory_order_acq_rel);
  const bool first = fdmu.incref_and_close();
  if (first) {
    // Wake every waiter. They return kErrClosed and drop their references;
    // the last one to go (maybe us, just below) destroys the fd.
    poll_evict(pd);
    decref();
  }
  // Wait for destroy(); usually it already ran (no operation was in flight).
  wait_until([this] { return destroyed.load(std::memory_order_acquire) != 0; });
  closers.fetch_sub(1, std::memory_order_acq_rel);  // our last touch of *this
  return first ? 0 : kErrClosed;
}

void FD::close_and_free(FD* fd) {
  fd->close();
  // Another goroutine's close() (a shutdown closing connections it does not
  // own) may still be on its way out of *fd.
  wait_until([fd] { return fd->closers.load(std::memory_order_acquire) == 0; });
  delete fd;
}

std::size_t FD::read(void* p, std::size_t n, int& err, bool wait) {
  err = 0;
  // Without wait, not even behind another reader: the caller may be reading
  // into a per-thread buffer (the HTTP engine's boundary scratch), and a
  // goroutine that parks can resume on another thread, where the buffer it
  // holds belongs to whatever that thread runs next.
  if ((err = lock_for(true, wait)) != 0) return 0;
  std::size_t got = 0;
  if ((err = precheck(pd, Mode::read, wait)) == 0 && n > 0) {
    n = std::min(n, kMaxRW);
    // Consume the pending edge before the syscall: an edge that arrives
    // after it is news, and await_readable() then arms without a peek.
    poll_consume_ready(pd);
    const ssize_t r = retry_syscall(pd, Mode::read, wait, err, [&] {
      return socket ? ::recv(sysfd, p, n, 0) : ::read(sysfd, p, n);
    });
    if (r > 0) got = static_cast<std::size_t>(r);
    if (r == 0) err = kErrEOF;
  }
  unlock(true);
  return got;
}

std::size_t FD::write_all(const void* p, std::size_t n, int& err) {
  err = 0;
  if (!lock(false)) {
    err = kErrClosed;
    return 0;
  }
  std::size_t done = 0;
  if ((err = poll_check(pd, Mode::write)) == 0) {
    const char* b = static_cast<const char*>(p);
    while (done < n) {
      const ssize_t r = retry_syscall(pd, Mode::write, true, err, [&] {
        const std::size_t len = std::min(n - done, kMaxRW);
        // An adopted non-socket (a pipe) takes a plain write.
        return socket ? ::send(sysfd, b + done, len, MSG_NOSIGNAL) : ::write(sysfd, b + done, len);
      });
      if (r < 0) break;
      done += static_cast<std::size_t>(r);
    }
  }
  unlock(false);
  return done;
}

std::size_t FD::writev_all(iovec* iov, int iovcnt, int& err, bool wait) {
  if ((err = lock_for(false, wait)) != 0) return 0;
  std::size_t done = 0;
  if ((err = precheck(pd, Mode::write, wait)) == 0) {
    // Skip empty buffers up front so the loop's "all written" test is simple.
    consume_iov(iov, iovcnt, 0);
    while (iovcnt > 0) {
      const ssize_t r = retry_syscall(pd, Mode::write, wait, err, [&] {
        msghdr msg{};
        msg.msg_iov = iov;
        msg.msg_iovlen = static_cast<std::size_t>(std::min(iovcnt, IOV_MAX));
        return ::sendmsg(sysfd, &msg, MSG_NOSIGNAL);
      });
      if (r < 0) break;
      done += static_cast<std::size_t>(r);
      consume_iov(iov, iovcnt, static_cast<std::size_t>(r));
    }
  }
  unlock(false);
  return done;
}

int FD::accept(sockaddr* sa, socklen_t* len, int& err) {
  err = 0;
  if (!lock(true)) {
    err = kErrClosed;
    return -1;
  }
  int s = -1;
  if ((err = poll_check(pd, Mode::read)) == 0) {
    const socklen_t cap = *len;
    s = static_cast<int>(retry_syscall(pd, Mode::read, true, err, [&] {
      int c;
      do {  // ECONNABORTED: the peer reset before we got to it; take the next one.
        *len = cap;
        c = ::accept4(sysfd, sa, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      } while (c < 0 && errno == ECONNABORTED);
      return c;
    }));
  }
  unlock(true);
  return s;
}

int FD::connect(const sockaddr* sa, socklen_t len, int64_t deadline) {
  if (!lock(false)) return kErrClosed;
  int err = 0;
  if (deadline) poll_set_deadline(pd, deadline, false, true);
  for (;;) {
    if (::connect(sysfd, sa, len) == 0) break;
    if (errno == EISCONN) break;
    if (errno != EINPROGRESS && errno != EALREADY && errno != EINTR) {
      err = errno;
      break;
    }
    // In progress (EINTR too: Linux keeps connecting in the background).
    // Wait for writability, then ask the socket how it went.
    for (;;) {
      if ((err = poll_wait(pd, Mode::write))) break;
      int soerr = 0;
      socklen_t sl = sizeof soerr;
      if (::getsockopt(sysfd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0) {
        err = errno;
        break;
      }
      if (soerr == 0) {
        // Connected — unless the wake-up was spurious (a stale edge).
        sockaddr_storage peer;
        socklen_t pl = sizeof peer;
        if (::getpeername(sysfd, reinterpret_cast<sockaddr*>(&peer), &pl) == 0) break;
        if (errno != ENOTCONN) {
          err = errno;
          break;
        }
        continue;
      }
      if (soerr != EINPROGRESS && soerr != EALREADY && soerr != EINTR) {
        err = soerr;
        break;
      }
    }
    break;
  }
  if (deadline) poll_set_deadline(pd, 0, false, true);
  unlock(false);
  return err;
}

int FD::wait(Mode mode) {
  bool read = mode == Mode::read;
  if (!lock(read)) return kErrClosed;
  int err = poll_check(pd, mode);
  if (!err) err = poll_wait(pd, mode);
  unlock(read);
  return err;
}

int FD::shutdown(int how) {
  if (!fdmu.incref()) return kErrClosed;
  int err = ::shutdown(sysfd, how) < 0 ? errno : 0;
  decref();
  return err;
}

void FD::set_deadline(int64_t when, bool read, bool write) {
  if (!fdmu.incref()) return;
  poll_set_deadline(pd, when, read, write);
  decref();
}

int FD::sockopt(int level, int name, const void* val, socklen_t len) {
  if (!fdmu.incref()) return kErrClosed;
  int err = ::setsockopt(sysfd, level, name, val, len) < 0 ? errno : 0;
  decref();
  return err;
}

int FD::sockname(Address& out, bool peer) {
  if (!fdmu.incref()) return kErrClosed;
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  auto* sa = reinterpret_cast<sockaddr*>(&ss);
  int r = peer ? ::getpeername(sysfd, sa, &len) : ::getsockname(sysfd, sa, &len);
  int err = r < 0 ? errno : 0;
  decref();
  if (!err) out = Address::from_sockaddr(&ss, len);
  return err;
}

int FD::arm_idle(cogo::detail::Task fn, IdleSetState* set) {
  // Hold the read lock while arming: no read may be in flight, and a close()
  // racing with us finds either the armed callback or the closing bit.
  if (!lock(true)) {
    cogo::go(std::move(fn));  // closed: run it at once; its read says so
    return 0;
  }
  poll_arm_idle(pd, std::move(fn), set);
  unlock(true);
  return 0;
}

}  // namespace cogo::net::detail
