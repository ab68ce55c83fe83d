// netpoll_epoll.cpp: the Linux backend of the netpoller (backend.h), Go's
// netpoll_epoll.go. One epoll instance for the process, every fd registered
// once with EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET, and an eventfd to break a
// blocked epoll_wait.
#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "backend.h"

namespace cogo::net::detail::backend {
namespace {

int epfd = -1;
int wake_fd = -1;
// wake_pending coalesces wake(): set by the first waker, cleared by the
// poller that drains the eventfd (Go's netpollWakeSig).
std::atomic<uint32_t> wake_pending{0};
// The token of the eventfd itself; real tokens carry a pool index in their
// upper half that never reaches this value.
constexpr uint64_t kWakeToken = ~uint64_t{0};
// epoll_pwait2 (Linux 5.11) takes a nanosecond timeout; older kernels get
// epoll_wait with the timeout rounded up to a millisecond.
std::atomic<bool> have_pwait2{true};

[[noreturn]] void die(const char* what, int err) {
  std::fprintf(stderr, "cogo runtime: netpoll: %s failed: errno %d\n", what, err);
  std::abort();
}

}  // namespace

int init() {
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) return errno;
  wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd < 0) {
    int err = errno;
    ::close(epfd);
    epfd = -1;
    return err;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;  // level-triggered: stays readable until drained
  ev.data.u64 = kWakeToken;
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, wake_fd, &ev) < 0) return errno;
  return 0;
}

int open(int fd, uint64_t token) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.u64 = token;
  return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? errno : 0;
}

int close(int fd) {
  epoll_event ev{};  // non-null for kernels before 2.6.9
  return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &ev) < 0 ? errno : 0;
}

int poll(int64_t timeout_ns, Event* events, int max) {
  constexpr int kBatch = 128;
  epoll_event evs[kBatch];
  if (max > kBatch) max = kBatch;
  int n;
  if (have_pwait2.load(std::memory_order_relaxed)) {
    timespec ts{}, *tsp = nullptr;
    if (timeout_ns >= 0) {
      ts.tv_sec = timeout_ns / 1'000'000'000;
      ts.tv_nsec = timeout_ns % 1'000'000'000;
      tsp = &ts;
    }
    n = epoll_pwait2(epfd, evs, max, tsp, nullptr);
    if (n < 0 && errno == ENOSYS) {
      have_pwait2.store(false, std::memory_order_relaxed);
      return poll(timeout_ns, events, max);
    }
  } else {
    int ms;
    if (timeout_ns < 0) {
      ms = -1;
    } else if (timeout_ns == 0) {
      ms = 0;
    } else if (timeout_ns < 1'000'000) {
      ms = 1;  // round up: never spin on a sub-millisecond timer
    } else if (timeout_ns < 1'000'000'000'000'000) {
      ms = static_cast<int>(timeout_ns / 1'000'000);
    } else {
      ms = 1'000'000'000;  // about 11.5 days
    }
    n = epoll_wait(epfd, evs, max, ms);
  }
  if (n < 0) {
    // EINTR: return so that the caller re-checks its timers.
    if (errno != EINTR) die("epoll_wait", errno);
    return 0;
  }
  int out = 0;
  for (int i = 0; i < n; ++i) {
    const epoll_event& ev = evs[i];
    if (ev.data.u64 == kWakeToken) {
      uint64_t v;
      while (::read(wake_fd, &v, sizeof v) < 0 && errno == EINTR) {
      }
      wake_pending.store(0, std::memory_order_release);
      continue;
    }
    const uint32_t e = ev.events;
    Event& o = events[out];
    o.token = ev.data.u64;
    o.read = (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
    o.write = (e & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0;
    if (o.read || o.write) ++out;
  }
  return out;
}

void wake() {
  uint32_t expected = 0;
  if (!wake_pending.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) return;
  const uint64_t one = 1;
  for (;;) {
    ssize_t r = ::write(wake_fd, &one, sizeof one);
    if (r == sizeof one) return;
    if (r < 0 && errno == EINTR) continue;
    // EAGAIN: the counter is saturated, so a wake is pending anyway.
    if (r < 0 && errno == EAGAIN) return;
    die("eventfd write", errno);
  }
}

}  // namespace cogo::net::detail::backend
