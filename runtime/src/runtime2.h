// runtime2.h: the core structures of the scheduler — G, M, P and Sched — and
// their state enums, in one place (Go's runtime2.go). Every shared field says
// how it is synchronised.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "cogo/detail/cancel.h"
#include "cogo/detail/os.h"
#include "cogo/detail/sched.h"
#include "cogo/detail/task.h"
#include "context.h"
#include "run_queue.h"
#include "stack.h"
#include "timer_heap.h"

namespace cogo::detail {

struct M;
struct P;

// GStatus: the life of a goroutine.
//   kIdle     - in a free list, reusable. Set by the g0 that saw it exit.
//   kRunnable - in a run queue or runnext. Set by go() (kIdle->) or ready()
//               (kWaiting->, CAS) or by g0 on yield.
//   kRunning  - an M runs it. Set only by execute() on that M's g0.
//   kWaiting  - parked; exactly one ready() will move it to kRunnable. Set by
//               g0 after the switch, before the park's commit runs.
//   kDead     - finished, about to be freed to a cache (g0 only).
//   kBlocking - running user code inside blocking() with no P (dumps only).
enum class GStatus : uint32_t { kIdle, kRunnable, kRunning, kWaiting, kDead, kBlocking };
const char* gstatus_name(GStatus s);

struct G {
  Context ctx{};               // saved context while not running; owned by whoever runs it
  Stack stack;                 // owned by the G; lent to the free lists with it
  Task fn;                     // the goroutine body; written by go(), run once
  uint64_t id = 0;             // written before the G is published
  std::atomic<GStatus> status{GStatus::kIdle};
  std::atomic<WaitReason> wait_reason{WaitReason::kNone};  // relaxed; for dumps
  std::atomic<int64_t> status_since{0};  // nanotime of the last status change; relaxed
  G* schedlink = nullptr;      // run queue / free list link; owned by that list
  G* alllink = nullptr;        // allgs list; append-only under Sched::allg_lock
  M* m = nullptr;              // the M running it; only meaningful while kRunning
  SanitizerFiber fiber;        // TSan/ASan bookkeeping for the stack switch
  // Cancellation (cancel.cpp): the bound context (one reference held; null
  // is the background) and the CancelShield depth. Only the G itself touches
  // them, except go(), which copies the spawner's into the new G before it
  // is published.
  CancelState* cancel = nullptr;
  uint32_t shield = 0;
  // The C++ runtime's per-thread exception state (the caught-exception
  // stack and the uncaught count, libstdc++'s __cxa_eh_globals) while the G
  // is switched out: a goroutine that parks inside a catch block keeps its
  // exception for `throw;` and std::current_exception() when it resumes,
  // on whatever thread, and another goroutine run meanwhile does not see it.
  // Saved and restored by switch_to_g0(); only the G itself touches it.
  struct EhState {
    void* caught = nullptr;
    unsigned int uncaught = 0;
  } eh;

  // set_status() stamps the time only for the states a dump reports a
  // duration for (waiting, blocking): a clock read per switch is not free.
  void set_status(GStatus s) {
    status.store(s, std::memory_order_release);
    if (s == GStatus::kWaiting || s == GStatus::kBlocking) {
      status_since.store(nanotime(), std::memory_order_relaxed);
    }
  }
};

// cancel.cpp: go() gives the new G a reference to the spawner's context;
// the G drops it when its body returns.
void cancel_inherit(G* g);
void cancel_release_g(G* g);

// PState: who holds a P and what it is doing. The status word packs
// (owner M id << 8) | PState so that a CAS by the owner cannot succeed on a P
// that sysmon retook and somebody else now owns (no ABA).
//   kIdle    - on the idle list (sched.lock). Taken by pidleget.
//   kRunning - owned by an M that runs scheduler code or a runtime call; only
//              the owner changes it.
//   kUser    - the owner M runs user code of a goroutine. The owner CASes it
//              back to kRunning to enter the runtime; sysmon may CAS it to
//              (0 << 8 | kRunning) to retake the P from a hog and hand it off.
enum PState : uint64_t { kPIdle = 0, kPRunning = 1, kPUser = 2 };
inline uint64_t pstatus(uint64_t owner, PState s) { return (owner << 8) | s; }
inline PState pstate_of(uint64_t word) { return static_cast<PState>(word & 0xff); }
inline uint64_t powner_of(uint64_t word) { return word >> 8; }

struct P {
  int id = 0;
  std::atomic<uint64_t> status{kPIdle};
  M* m = nullptr;              // owner; written by acquirep/releasep (owner) or sysmon after retake
  P* link = nullptr;           // idle list; sched.lock
  RunQueue runq;               // lock-free: owner pushes, anyone steals
  std::atomic<uint32_t> schedtick{0};  // owner increments per execute; sysmon reads
  uint32_t sysmon_tick = 0;    // sysmon only
  int64_t sysmon_when = 0;     // sysmon only
  uint32_t runnext_streak = 0; // owner only: bounds runnext ping-pong starvation
  G* gfree = nullptr;          // owner only: dead Gs with stacks, reusable
  uint32_t gfree_count = 0;    // owner only
  TimerHeap timers;            // its own lock
  // Counters (relaxed atomics: written by the owner, read by stats()).
  std::atomic<uint64_t> schedules{0};
  std::atomic<uint64_t> steals{0};
};

// Note: a one-shot sleep/wakeup for one thread (Go's note), on a futex
// (os.h).
struct Note {
  std::atomic<uint32_t> key{0};
  void sleep();             // until wakeup(); then clears
  void wakeup();
  void clear() { key.store(0, std::memory_order_relaxed); }
};

// Pending: what the g0 must do after a goroutine switched to it.
enum class Pending : uint8_t { kNone, kPark, kYield, kExit, kRequeue, kAbandon };

struct M {
  uint64_t id = 0;             // immutable; >= 1
  Context g0ctx{};             // the scheduler context, saved while a G runs on this M
  G* curg = nullptr;           // the G this M runs; only this M
  P* p = nullptr;              // attached P; only this M (a retaken P is detected by CAS)
  P* nextp = nullptr;          // P handed over by startm; written before note wakeup
  bool spinning = false;       // this M looks for work; counted in sched.nmspinning
  bool in_runtime = true;      // this M runs runtime code (g0 or a runtime call)
  // polling: this M is in block_in_poller's poll, holding no P: go() (the
  // netpoller's idle callbacks) queues the G and sets wake_deferred instead
  // of waking an M; block_in_poller takes a P back and runs it, or wakes one.
  bool polling = false;
  bool wake_deferred = false;
  Note park;                   // idle sleep
  M* schedlink = nullptr;      // idle list; sched.lock
  M* alllink = nullptr;        // allm list; sched.lock
  std::thread thread;          // empty for M0 (the thread that called run())
  Pending pending = Pending::kNone;  // set by the G before switching to g0
  ParkCommit commit = nullptr;
  void* commit_arg = nullptr;
  P* blocking_oldp = nullptr;  // the P given away by enter_blocking
  uint64_t rand_state = 0;     // fastrand
  SanitizerThread san;         // g0 bookkeeping for sanitizers
  void* altstack = nullptr;    // sigaltstack for the overflow report
  G::EhState* eh = nullptr;    // this thread's C++ exception state (see G::eh); set at start

  uint32_t fastrand() {
    rand_state ^= rand_state << 13;
    rand_state ^= rand_state >> 7;
    rand_state ^= rand_state << 17;
    return static_cast<uint32_t>(rand_state >> 32);
  }
};

// Sched: global state. lock guards the lists; counters that are read without
// it are atomics.
struct Sched {
  std::mutex lock;
  // Global run queue (lock); runqsize also readable without it.
  G* runq_head = nullptr;
  G* runq_tail = nullptr;
  std::atomic<uint32_t> runqsize{0};
  // Idle Ps and Ms (lock); npidle readable without it.
  P* pidle = nullptr;
  std::atomic<int32_t> npidle{0};
  M* midle = nullptr;
  uint32_t nmidle = 0;
  M* allm = nullptr;
  uint64_t mcount = 0;
  std::atomic<int32_t> nmspinning{0};
  // Dead Gs with stacks (gfree_lock).
  std::mutex gfree_lock;
  G* gfree = nullptr;       // warm: stacks keep their pages
  G* gfree_cold = nullptr;  // stacks whose pages went back to the OS (sysmon trims)
  std::atomic<uint32_t> gfree_count{0};  // written under gfree_lock; read racily as a hint
  // allgs: append-only (allg_lock).
  std::mutex allg_lock;
  G* allg = nullptr;
  uint64_t allg_count = 0;

  std::vector<P*> allp;        // immutable while running
  int gomaxprocs = 0;          // immutable while running
  std::atomic<bool> running{false};
  std::atomic<bool> exiting{false};
  std::atomic<uint64_t> goid_gen{0};
  std::atomic<int64_t> ngoroutines{0};

  // Netpoll / timers (Go's sched.lastpoll and sched.pollUntil).
  std::atomic<int64_t> lastpoll{1};    // 0 while an M is blocked in poll
  std::atomic<int64_t> poll_until{0};  // when that M's poll times out; 0 = never

  // Counters.
  std::atomic<uint64_t> spawned{0};
  std::atomic<uint64_t> parks{0};
  std::atomic<uint64_t> retakes{0};
};

extern Sched sched;

// getm() is the M of the calling thread, or nullptr on a plain thread. Never
// inlined and never cached across a switch: a goroutine may resume on another
// thread.
M* getm();

// Scheduler internals shared by the runtime's files.
void runqput(P* p, G* g, bool next);
void globrunqput(G* g);
void wakep();
void handoffp(P* p);
PollBackend* poll_backend();
void wake_poller_for_timer(int64_t when);
int64_t run_timers(P* p, int64_t now);  // returns the next timer's when, or 0
int64_t nearest_timer();                // across all Ps; 0 = none
void trim_free_stacks(uint32_t keep, uint32_t max_release);
// scavenge_heap() gives free heap pages back after a burst (scavenge.cpp). sysmon only.
void scavenge_heap(int64_t now);
void sysmon_start();
void sysmon_stop();
// sysmon_request_dump() asks sysmon to print the goroutine dump (SIGQUIT).
// Async-signal safe.
void sysmon_request_dump();
int detect_gomaxprocs();
size_t detect_stack_size();
void signals_install();
void signals_uninstall();
void signals_thread_init(M* m);
void signals_thread_fini(M* m);
void print_dump_to_stderr();
[[noreturn]] void fatal(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace cogo::detail
