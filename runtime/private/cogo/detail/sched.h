// cogo/detail/sched.h: the scheduler's internal contract for the layers built
// on it (channels, sync, the netpoller). Not for handler code.
//
// park/ready is the one primitive under everything that waits: a goroutine
// parks with a commit function that runs on the scheduler stack after the
// switch, so a waker that finds the goroutine (under the lock the commit
// releases) can never ready it before it has stopped running.
#pragma once

#include <atomic>
#include <cstdint>

namespace cogo::detail {

struct G;  // a goroutine; opaque outside the runtime

// WaitReason says why a goroutine is parked; shown in goroutine dumps.
enum class WaitReason : uint8_t {
  kNone,
  kChanSend,
  kChanRecv,
  kSelect,
  kSelectNoCases,
  kSleep,
  kMutex,
  kCond,
  kWaitGroup,
  kOnce,
  kIORead,
  kIOWrite,
  kBlocking,
  kPreempted,
};
const char* wait_reason_name(WaitReason r);

// current_g() is the running goroutine, or nullptr off a goroutine.
G* current_g();
uint64_t goroutine_id(G* g);

// park() parks the current goroutine. commit(g, arg) runs on the scheduler
// stack after the goroutine has been switched out; if it returns false the
// goroutine resumes at once (the wait was satisfied meanwhile). Precondition:
// current_g() != nullptr.
using ParkCommit = bool (*)(G* g, void* arg);
void park(ParkCommit commit, void* arg, WaitReason reason);

// ready() makes a parked goroutine runnable. Callable from any thread, from a
// goroutine, a timer callback or the poll backend. Each park is matched by
// exactly one ready.
void ready(G* g);

// Timer: a one-shot runtime timer. fn(arg, seq) runs on a scheduler stack
// (never on a goroutine): it must not block; it may call ready(). Times are
// nanotime() ns (cogo/detail/os.h). Timers live
// in per-P heaps; the nearest one bounds how long an idle M sleeps.
struct Timer {
  void (*fn)(void* arg, uintptr_t seq) = nullptr;
  void* arg = nullptr;
  uintptr_t seq = 0;
  // Internal, owned by the timer heaps.
  int64_t when = 0;
  std::atomic<int> state{0};
  std::atomic<int> heap_p{-1};  // written under the heap's lock; read racily as a hint
  int heap_index = -1;
};
// timer_start() arms t to fire at `when` (nanotime clock). t must not be armed.
// Requires a running runtime.
void timer_start(Timer* t, int64_t when);
// timer_stop() disarms t. Returns true if t was armed and will not fire; false
// if it already fired. If its callback is running on another thread, waits for
// it to finish, so t may be destroyed afterwards.
bool timer_stop(Timer* t);

// GList is a list of goroutines a poll backend hands back to the scheduler.
struct GList {
  G* head = nullptr;
  G* tail = nullptr;
  uint32_t size = 0;
  void push(G* g);
};

// PollBackend: what the scheduler needs of a netpoller (Go's netpollinit /
// netpoll(delta) / netpollBreak). The runtime runs without one (idle Ms then
// sleep on a futex); the netpoll layer installs the epoll backend.
class PollBackend {
 public:
  virtual ~PollBackend() = default;
  // poll() waits at most timeout_ns (-1: until woken, 0: do not wait) and
  // appends the goroutines made runnable to out.
  virtual void poll(int64_t timeout_ns, GList& out) = 0;
  // wake() makes a blocked poll() return promptly. Async-signal safe.
  virtual void wake() = 0;
  // waiters() tells whether any goroutine or fd is registered (Go's
  // netpollWaiters); when false, pollers do not bother polling.
  virtual bool waiters() const = 0;
  // runtime_stopped() is called when run() returns: every goroutine is gone,
  // so the backend must forget the ones parked on it.
  virtual void runtime_stopped() {}
};
// install_poll_backend() sets the process-wide backend (once; later calls
// with another backend abort). The backend must live for the process.
void install_poll_backend(PollBackend* backend);
// Note: cogo::go() is safe from inside PollBackend::poll and timer callbacks
// (on a scheduler stack it queues to the M's P, or globally without one).

}  // namespace cogo::detail
