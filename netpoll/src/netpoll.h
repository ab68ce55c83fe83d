// netpoll.h: the poll descriptor and the operations fd.cpp builds on. The
// design (and the state machine in full) is at the top of netpoll.cpp.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "cogo/detail/os.h"
#include "cogo/detail/sched.h"
#include "cogo/detail/spinlock.h"
#include "cogo/detail/task.h"

namespace cogo::net::detail {

using cogo::detail::G;
using cogo::detail::SpinLock;
using cogo::detail::Task;
using cogo::detail::Timer;

// IdleSetState: the shared part of a net::IdleSet (idle.cpp).
struct IdleSetState {
  std::atomic<std::size_t> count{0};  // callbacks armed in this set now
  std::atomic<bool> closed{false};    // later arms run their callback at once
};

// Error numbers inside the layer: 0 ok, > 0 an errno, < 0 these.
enum : int {
  kErrEOF = -1,
  kErrTimeout = -2,
  kErrClosed = -3,
  kErrUnexpectedEOF = -4,
  kErrCancelled = -5,  // the current context is done (cogo/cancel.h)
};

enum class Mode : uint8_t { read, write };

// The values of PollDesc::rg / wg besides a G* (see netpoll.cpp). A G* is
// always above these: goroutine descriptors are aligned allocations.
enum : uintptr_t {
  kPdNil = 0,    // nothing pending, nobody waiting
  kPdReady = 1,  // a readiness edge arrived and no one has consumed it yet
  kPdWait = 2,   // a goroutine is about to park (between netpoll_block and its commit)
  kPdIdle = 3,   // rg only: an await_readable callback is armed in idle_fn
};

// PollDesc: one per registered fd. Lives in a pool and is never returned to
// the OS, so a stale epoll event or timer for a closed fd never touches freed
// memory (fdseq / rseq / wseq tell it that it is stale).
struct PollDesc {
  // --- identity: set once by the pool ---
  uint32_t index = 0;  // slot in the pool; the high half of the epoll token
  // fdseq: bumped each time the descriptor is freed; the low half of the
  // epoll token. Written under `lock`, read without.
  std::atomic<uint32_t> fdseq{1};
  PollDesc* free_next = nullptr;  // the pool's free list, under the pool's lock
  int fd = -1;                    // set by poll_open; stable while refs are held
  void* owner = nullptr;          // the FD (fd.h) using it; for runtime_stopped repairs

  // --- the waiter state machine: changed only by CAS (see netpoll.cpp) ---
  std::atomic<uintptr_t> rg{kPdNil};
  std::atomic<uintptr_t> wg{kPdNil};

  // --- guarded by `lock` ---
  SpinLock lock;
  bool closing = false;
  uintptr_t rseq = 0;  // generation of the read deadline timer
  uintptr_t wseq = 0;  // generation of the write deadline timer
  // Deadlines: 0 none, > 0 expiry (monotonic ns), -1 expired. Written under
  // `lock`; read without it by the fast paths.
  std::atomic<int64_t> rd{0};
  std::atomic<int64_t> wd{0};
  // info: closing | expired-read | expired-write, published under `lock`
  // for lock-free checks (Go's pollInfo).
  std::atomic<uint32_t> info{0};

  // --- deadline timers; start/stop serialised by timer_lock, which timer
  // callbacks never take (they take `lock` and check the generation) ---
  SpinLock timer_lock;
  Timer rt;
  Timer wt;
  bool rt_armed = false;  // under timer_lock
  bool wt_armed = false;  // under timer_lock

  // --- plain threads blocked in poll(2) on this fd: close() shuts the socket
  // down to wake them when this is non-zero ---
  std::atomic<int> thread_waiters{0};

  // --- the armed await_readable callback; guarded by the idle shard lock of
  // this descriptor (a fixed function of `index`) ---
  Task idle_fn;
  IdleSetState* idle_set = nullptr;
  PollDesc* idle_prev = nullptr;
  PollDesc* idle_next = nullptr;
};

// poll_open() allocates a descriptor and registers fd with the backend.
// Returns nullptr and sets err on failure.
PollDesc* poll_open(int fd, int& err);
// poll_close() unregisters and frees. Preconditions: poll_evict() was called
// and no operation uses the descriptor any more.
void poll_close(PollDesc* pd);
// poll_evict() starts closing: every waiter (goroutine, thread, callback) is
// woken and sees kErrClosed; deadline timers are stopped.
void poll_evict(PollDesc* pd);

// poll_check() is the pre-syscall check: kErrClosed, kErrTimeout or 0.
int poll_check(PollDesc* pd, Mode mode);
// poll_check_closed() is the check of an operation that never waits (so no
// deadline bounds it): kErrClosed or 0, without reading the clock.
int poll_check_closed(PollDesc* pd);
// poll_consume_ready() is called by a reader about to make its syscall:
// the syscall sees whatever a pending edge announced, so the edge is consumed
// (an await_readable after a successful read then needs no peek).
inline void poll_consume_ready(PollDesc* pd) {
  if (pd->rg.load(std::memory_order_relaxed) == kPdReady) {
    uintptr_t ready = kPdReady;
    pd->rg.compare_exchange_strong(ready, kPdNil, std::memory_order_acq_rel);
  }
}

// poll_wait() waits until the fd may be ready in `mode` (after EAGAIN): parks
// the goroutine on the descriptor, or blocks the thread in poll(2). Returns 0
// (retry the syscall), kErrClosed, kErrTimeout or kErrCancelled (the current
// context is or became done: every socket wait is a cancellation point). Precondition: the caller
// holds the fd's read (write) lock, so it is the only waiter in its mode.
int poll_wait(PollDesc* pd, Mode mode);
// poll_set_deadline() sets the read and/or write deadline (absolute
// monotonic ns; 0 clears it; a time not after now expires it at once and
// wakes the waiter). A parked goroutine sees the change at once.
void poll_set_deadline(PollDesc* pd, int64_t when, bool read, bool write);

// poll_arm_idle() hands the fd to the poller with a callback (the third kind
// of read waiter beside a goroutine and a thread): fn is spawned as a new
// goroutine when the fd is readable, hung up, its read deadline passes, it is
// closed, or set is closed. Precondition: the caller holds the read lock.
void poll_arm_idle(PollDesc* pd, Task fn, IdleSetState* set);

// idle_wake_all() claims every callback armed with `set` and spawns them;
// returns how many. Used by IdleSet.
std::size_t idle_wake_all(IdleSetState* set);

// fd_runtime_stopped() is called (from the runtime's teardown; implemented
// in fd.cpp) for every descriptor in use: it gives back the fd locks and
// references held by goroutines that no longer exist.
void fd_runtime_stopped(void* owner);

// ensure_poller() initialises the backend and installs the poller into the
// runtime (once). Returns 0 or an errno.
int ensure_poller();

}  // namespace cogo::net::detail
