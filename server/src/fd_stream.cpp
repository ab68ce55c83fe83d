#include "cogo/http/fd_stream.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstddef>

#include "cogo/detail/cancel.h"
#include "cogo/detail/os.h"
#include "file_io.h"

namespace cogo::http {

static_assert(sizeof(ConstBuffer) == sizeof(iovec), "ConstBuffer must have iovec's layout");
static_assert(offsetof(ConstBuffer, data) == offsetof(iovec, iov_base));
static_assert(offsetof(ConstBuffer, size) == offsetof(iovec, iov_len));

namespace {

[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

// wait_ready() blocks in poll(): only reached when a socket without a timeout
// reports EAGAIN (somebody made it non-blocking behind our back).
void wait_ready(int fd, short events) {
  pollfd p{fd, events, 0};
  while (::poll(&p, 1, -1) < 0 && errno == EINTR) {
  }
}

}  // namespace

FdStream::FdStream(int fd) : fd_(fd) {
  const int flags = ::fcntl(fd_, F_GETFL);
  if (flags >= 0 && (flags & O_NONBLOCK) != 0) ::fcntl(fd_, F_SETFL, flags & ~O_NONBLOCK);
}

FdStream::~FdStream() {
  if (fd_ >= 0) ::close(fd_);
}

int FdStream::release() noexcept {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

// arm() makes the socket's SO_RCVTIMEO / SO_SNDTIMEO end the next blocking
// call close to deadline. The timeout is per call, the deadline absolute: a
// timeout already set is kept while it ends no earlier than the deadline and
// not much later (1/16 of the remaining time, at most a second), so a loop
// that sets the same relative deadline for each request changes it once.
void FdStream::arm(int option, Deadline deadline, long& armed_us) {
  long want_us = 0;
  if (deadline != no_deadline) {
    const auto remaining = deadline - std::chrono::steady_clock::now();
    if (remaining <= std::chrono::steady_clock::duration::zero()) {
      throw TimeoutError(option == SO_RCVTIMEO ? "read: deadline exceeded"
                                               : "write: deadline exceeded");
    }
    const long remaining_us =
        static_cast<long>(std::chrono::ceil<std::chrono::microseconds>(remaining).count());
    const long slack_us = std::clamp(remaining_us / 16, 1000L, 1'000'000L);
    if (armed_us >= remaining_us && armed_us <= remaining_us + slack_us) return;
    want_us = remaining_us + slack_us / 2;
  } else if (armed_us == 0) {
    return;
  }
  timeval tv{want_us / 1'000'000, want_us % 1'000'000};
  if (::setsockopt(fd_, SOL_SOCKET, option, &tv, sizeof tv) != 0) throw_errno("setsockopt");
  armed_us = want_us;
}

// wait_cancellable() waits for fd under the thread's context (cogo/cancel.h)
// before a call that would block: a blocked recv or send cannot be
// interrupted without losing the race, ppoll can (thread_wait_fd).
void wait_cancellable(int fd, short events, Deadline deadline, cogo::detail::CancelState* cancel,
                      const char* timeout_message) {
  const int64_t until =
      deadline == no_deadline
          ? -1
          : std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch()).count();
  const int r = cogo::detail::thread_wait_fd(fd, events, until, cancel);
  if (r < 0) cogo::detail::throw_cancelled(cancel);
  if (r == 0) throw TimeoutError(timeout_message);
}

std::size_t FdStream::read(void* buf, std::size_t size) {
  if (cogo::detail::CancelState* cancel = cogo::detail::cancel_effective()) {
    for (;;) {
      const ssize_t n = ::recv(fd_, buf, size, MSG_DONTWAIT);
      if (n >= 0) return static_cast<std::size_t>(n);
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) throw_errno("read");
      wait_cancellable(fd_, POLLIN, read_deadline_, cancel, "read: deadline exceeded");
    }
  }
  for (;;) {
    arm(SO_RCVTIMEO, read_deadline_, rcv_timeout_us_);
    const ssize_t n = ::recv(fd_, buf, size, 0);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      // SO_RCVTIMEO ran out: arm() throws if the deadline has passed.
      if (read_deadline_ == no_deadline) wait_ready(fd_, POLLIN);
      continue;
    }
    throw_errno("read");
  }
}

std::ptrdiff_t FdStream::try_read(void* buf, std::size_t size) {
  for (;;) {
    const ssize_t n = ::recv(fd_, buf, size, MSG_DONTWAIT);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return would_block;
    throw_errno("read");
  }
}

void FdStream::wait_readable() {
  wait_cancellable(fd_, POLLIN, read_deadline_, cogo::detail::cancel_effective(),
                   "read: deadline exceeded");
}

void FdStream::write_all(const void* data, std::size_t size) {
  const ConstBuffer one{data, size};
  writev_all(std::span<const ConstBuffer>(&one, 1));
}

void FdStream::writev_all(std::span<const ConstBuffer> buffers) {
  // sendmsg() rather than writev(): MSG_NOSIGNAL turns a write to a closed
  // peer into EPIPE instead of a process-killing SIGPIPE.
  iovec iov[IOV_MAX];
  std::size_t count = std::min<std::size_t>(buffers.size(), IOV_MAX);
  std::size_t next = count;  // first buffer not yet in iov
  for (std::size_t i = 0; i < count; ++i)
    iov[i] = iovec{const_cast<void*>(buffers[i].data), buffers[i].size};
  std::size_t first = 0;
  cogo::detail::CancelState* cancel = cogo::detail::cancel_effective();
  while (first < count) {
    if (iov[first].iov_len == 0) {
      ++first;
      continue;
    }
    if (!cancel) arm(SO_SNDTIMEO, write_deadline_, snd_timeout_us_);
    msghdr msg{};
    msg.msg_iov = iov + first;
    msg.msg_iovlen = count - first;
    ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL | (cancel ? MSG_DONTWAIT : 0));
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (cancel) {
          wait_cancellable(fd_, POLLOUT, write_deadline_, cancel, "write: deadline exceeded");
        } else if (write_deadline_ == no_deadline) {
          wait_ready(fd_, POLLOUT);
        }
        continue;
      }
      throw_errno("write");
    }
    auto left = static_cast<std::size_t>(n);
    while (first < count && left >= iov[first].iov_len) {
      left -= iov[first].iov_len;
      ++first;
    }
    if (first < count) {
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
    if (first == count && next < buffers.size()) {
      // More buffers than one sendmsg() takes: load the next batch.
      count = std::min<std::size_t>(buffers.size() - next, IOV_MAX);
      for (std::size_t i = 0; i < count; ++i) {
        iov[i] = iovec{const_cast<void*>(buffers[next + i].data), buffers[next + i].size};
      }
      next += count;
      first = 0;
    }
  }
}

void FdStream::send_file(int fd, std::uint64_t offset, std::uint64_t length) {
  // sendfile(2) has no MSG_NOSIGNAL: a peer gone mid-file would raise
  // SIGPIPE. The one SIGPIPE policy (os.h) covers it, once: the thread model
  // may run without a runtime that applied it.
  static const bool sigpipe_ignored = [] {
    cogo::detail::ignore_sigpipe();
    return true;
  }();
  (void)sigpipe_ignored;
  // Under a cancellation context the socket waits in ppoll (as writev_all
  // does), so sendfile must not block: the socket is non-blocking meanwhile.
  cogo::detail::CancelState* cancel = cogo::detail::cancel_effective();
  struct NonBlocking {
    int fd;
    int flags = -1;
    ~NonBlocking() {
      if (flags >= 0) ::fcntl(fd, F_SETFL, flags);
    }
  } nonblocking{fd_};
  if (cancel != nullptr) {
    nonblocking.flags = ::fcntl(fd_, F_GETFL);
    if (nonblocking.flags >= 0) ::fcntl(fd_, F_SETFL, nonblocking.flags | O_NONBLOCK);
  }
  detail::FileIoCounters& counters = detail::file_io_counters();
  constexpr std::uint64_t kMaxCall = 1 << 30;
  while (length > 0) {
    if (cancel == nullptr) arm(SO_SNDTIMEO, write_deadline_, snd_timeout_us_);
    auto pos = static_cast<off_t>(offset);
    const ssize_t n =
        ::sendfile(fd_, fd, &pos, static_cast<std::size_t>(std::min(length, kMaxCall)));
    counters.sendfile_calls.fetch_add(1, std::memory_order_relaxed);
    if (n > 0) {
      offset += static_cast<std::uint64_t>(n);
      length -= static_cast<std::uint64_t>(n);
      continue;
    }
    if (n == 0) {
      throw std::system_error(EIO, std::generic_category(),
                              "sendfile: the file is shorter than when the response began");
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) throw_errno("write");
    if (cancel != nullptr) {
      wait_cancellable(fd_, POLLOUT, write_deadline_, cancel, "write: deadline exceeded");
    } else if (write_deadline_ == no_deadline) {
      wait_ready(fd_, POLLOUT);
    }
  }
}

void FdStream::shutdown_write() {
  if (::shutdown(fd_, SHUT_WR) != 0 && errno != ENOTCONN) throw_errno("shutdown");
}

}  // namespace cogo::http
