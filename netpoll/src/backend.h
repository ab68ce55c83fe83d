// backend.h: the contract between the netpoller (netpoll.cpp) and the OS
// readiness mechanism, Go's netpollinit / netpollopen / netpollclose /
// netpoll(delay) / netpollBreak. netpoll_epoll.cpp implements it for Linux;
// a kqueue or io_uring backend would be one more file implementing these five
// functions, chosen by netpoll/CMakeLists.txt.
//
// The backend knows nothing about goroutines or poll descriptors: it maps
// an fd to an opaque 64-bit token given at open() and hands tokens back with
// the directions that became ready.
#pragma once

#include <cstdint>

namespace cogo::net::detail::backend {

// Event: one readiness report. `read` covers readable, peer hang-up and
// error (a reader must retry its syscall to see which); `write` covers
// writable, hang-up and error.
struct Event {
  uint64_t token;
  bool read;
  bool write;
};

// init() creates the OS poller and its wake channel. Called once, before any
// other function. Returns 0 or an errno.
int init();

// open() registers fd for edge-triggered readiness in both directions, for
// its whole life (no per-operation re-arming). Returns 0 or an errno.
int open(int fd, uint64_t token);

// close() unregisters fd (before the fd itself is closed). Returns 0 or an
// errno; errors are not fatal, the fd is about to be closed anyway.
int close(int fd);

// poll() waits at most timeout_ns (-1 forever, 0 not at all) and stores up to
// max events. Returns how many (0 on timeout, on wake() and on EINTR). Safe to
// call from several threads at once.
int poll(int64_t timeout_ns, Event* events, int max);

// wake() makes a blocked poll() return promptly; wakes that arrive while one
// is already pending are coalesced. Async-signal safe.
void wake();

}  // namespace cogo::net::detail::backend
