// scheduler.cpp: the G-M-P scheduler (Go's proc.go, in C++).
//
// The concepts, in three lines:
//   G - a goroutine: a stack, a saved context, a status, a wait reason.
//   M - an OS thread. It runs the scheduler loop on its own stack (g0) and
//       switches into Gs; it may run Go code only while it holds a P.
//   P - a processor token, GOMAXPROCS of them, each with a local run queue,
//       a runnext slot, a timer heap and a cache of free Gs.
//
// Finding work (find_runnable) has three stages, each starting over when it
// sees that work may have appeared:
//   find_ready     one look, in order: expired timers; every 61st schedule
//                  the global queue (fairness); runnext and the local queue;
//                  the global queue; a non-blocking netpoll.
//   spin_for_work  stealing half of a random victim's queue; while another P
//                  runs, up to 50 us (kSpinNs) of spinning over the queues,
//                  timers and network (with no other P busy, work can only
//                  come from the poller, so the M blocks there at once).
//   wait_for_work  the M releases its P and sleeps on its note; one idle M
//                  instead blocks in the poll backend (block_in_poller) with
//                  a timeout equal to the nearest timer of any P.
// Readying a G wakes an idle M only if there is an idle P and no M is
// already spinning (wakep); a spinning M that finds work wakes the next one,
// so parallelism ramps up without a thundering herd.
//
// Timers and idle Ms (Go's pollUntil rule): an M blocked in the poller sleeps
// no longer than the earliest timer of any P; Ms asleep on their notes have
// no deadline, so expired timers are run either by that poller or by the Ms
// that hold Ps (find_ready runs every P's). It is kept by:
//   - block_in_poller reading nearest_timer() after it took the poller role
//     (lastpoll = 0) and publishing it as poll_until;
//   - timer_start -> wake_poller_for_timer (Go's wakeNetPoller): wakes the
//     poller if its poll_until is later than the new timer (or unset); if
//     no M polls, wakep() starts a spinning M, which ends in block_in_poller;
//   - an M that goes idle while another polls wakes that poller if its own
//     nearest timer is earlier; handoffp (sysmon's retake, blocking()) wakes
//     it for the timers of the P it frees.
// Where timers can still be late, by design: a poller that wakes and finds
// no idle P sleeps on its note, leaving the timers to the Ps that run — a P
// whose goroutine computes without yielding runs none until sysmon retakes
// it (10 ms); wakep() does nothing while an M spins (it reaches
// block_in_poller within kSpinNs). The when0 store (release, under the heap
// lock) and the lastpoll load of timer_start against block_in_poller's
// exchange and nearest_timer() form a store-load pair ordered by the heap
// lock's unlock on x86 and arm64, not by the C++ model; TSan does not
// reorder stores, so it cannot turn this into lateness. Measured (issue 10:
// no oversleeping poller; a timer armed on a busy P fires on the other P's M
// about as late as one on its own): bash loadtest/timer_lateness.sh.
//
// Parking is one primitive (park/ready). A G parks by switching to g0 and
// leaving a commit function there; g0 marks it waiting and runs the commit
// (typically: release the lock under which the G put itself on a wait
// queue). A waker can only find the G after the commit released that lock,
// so it never readies a G that is still running, and no wakeup is lost.
//
// Worker threads park and unpark (Go's "delicate dance"): an M that stops
// spinning decrements nmspinning and then re-checks every run queue, while a
// producer publishes work and then checks nmspinning (wakep). With seq_cst on
// both sides, either the spinner sees the work or the producer sees no
// spinner and wakes one.
//
// Preemption: there is none inside user code (a C++ goroutine cannot be
// interrupted safely at arbitrary points). Instead sysmon retakes the P of an
// M that runs one G for more than 10 ms, or that is inside blocking(), and
// hands it to another M: the hog keeps its thread, the goroutines queued
// behind it keep their processor. The P status word carries the owner's id,
// so the hog's M notices at its next runtime call (its CAS fails) and carries
// on without a P. Rejected: signal-based async preemption (unsafe without
// compiler-known safe points) and a separate event-loop thread (an extra
// hand-off per readiness event; Go polls from the scheduler, so do we).
#include <unistd.h>

#include <cxxabi.h>

#include <algorithm>
#include <climits>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <thread>

#include "cogo/introspect.h"
#include "cogo/runtime.h"
#include "cogo/detail/sleeper.h"
#include "cogo/detail/spinlock.h"
#include "cogo/detail/waiter.h"
#include "cogo/detail/opaque.h"
#include "cpu_relax.h"
#include "runtime2.h"

// COGO_OPAQUE (opaque.h): a function the optimiser may neither inline nor
// reason about across calls (its result is never reused across a stack
// switch); the asm memory clobber in the bodies below does for clang what
// noipa does for gcc.

namespace cogo::detail {

Sched sched;

namespace {

thread_local M* tls_m = nullptr;

constexpr uint32_t kGFreeLocalMax = 64;
constexpr int64_t kSpinNs = 50'000;  // how long a spinning M looks for work before sleeping
constexpr uint32_t kRunnextStreakMax = 16;

// NullBackend: the poll backend of a runtime with no netpoller: an idle M
// sleeps on a futex until the nearest timer.
class NullBackend final : public PollBackend {
 public:
  void poll(int64_t timeout_ns, GList&) override {
    if (timeout_ns == 0) return;
    if (key_.exchange(0, std::memory_order_acq_rel) != 0) return;
    futex_sleep(&key_, 0, timeout_ns < 0 ? -1 : nanotime() + timeout_ns);
    key_.store(0, std::memory_order_release);
  }
  void wake() override {
    key_.store(1, std::memory_order_release);
    futex_wake(&key_, INT_MAX);
  }
  bool waiters() const override { return false; }

 private:
  std::atomic<uint32_t> key_{0};
};

NullBackend g_null_backend;
std::atomic<PollBackend*> g_backend{&g_null_backend};

// RuntimeSection: entered by goroutine code before it touches its P's
// owner-only state (run queue tail, G cache). CASes the P from kUser to
// kRunning; if sysmon retook the P meanwhile, the M drops it and the section
// works without a P (global queue, global caches).
struct RuntimeSection {
  M* m;
  P* p = nullptr;
  bool entered = false;

  RuntimeSection() : m(getm()) {
    if (m == nullptr) return;
    if (m->in_runtime) {
      p = m->p;
      return;
    }
    P* cur = m->p;
    if (cur == nullptr) return;
    uint64_t expect = pstatus(m->id, kPUser);
    if (cur->status.compare_exchange_strong(expect, pstatus(m->id, kPRunning),
                                            std::memory_order_acq_rel)) {
      p = cur;
      entered = true;
      m->in_runtime = true;
    } else {
      m->p = nullptr;  // sysmon retook it and handed it to another M
    }
  }
  // keep() leaves the M in runtime mode: the caller switches to g0 next.
  void keep() {
    if (m) m->in_runtime = true;
    entered = false;
  }
  ~RuntimeSection() {
    if (entered) {
      m->in_runtime = false;
      p->status.store(pstatus(m->id, kPUser), std::memory_order_release);
    }
  }
};

// ---- M and P lists (sched.lock held) ----

void pidleput(P* p) {
  p->m = nullptr;
  p->status.store(kPIdle, std::memory_order_release);
  p->link = sched.pidle;
  sched.pidle = p;
  sched.npidle.fetch_add(1, std::memory_order_seq_cst);
}

P* pidleget() {
  P* p = sched.pidle;
  if (p != nullptr) {
    sched.pidle = p->link;
    p->link = nullptr;
    sched.npidle.fetch_sub(1, std::memory_order_seq_cst);
  }
  return p;
}

// pidleget_specific() takes p off the idle list if it is there.
P* pidleget_specific(P* want) {
  for (P** pp = &sched.pidle; *pp != nullptr; pp = &(*pp)->link) {
    if (*pp == want) {
      *pp = want->link;
      want->link = nullptr;
      sched.npidle.fetch_sub(1, std::memory_order_seq_cst);
      return want;
    }
  }
  return nullptr;
}

void acquirep(M* m, P* p) {
  m->p = p;
  p->m = m;
  p->status.store(pstatus(m->id, kPRunning), std::memory_order_release);
}

P* releasep(M* m) {
  P* p = m->p;
  m->p = nullptr;
  return p;
}

// ---- global run queue ----

void globrunqput_batch_locked(G* head, G* tail, uint32_t n) {
  tail->schedlink = nullptr;
  if (sched.runq_tail) {
    sched.runq_tail->schedlink = head;
  } else {
    sched.runq_head = head;
  }
  sched.runq_tail = tail;
  sched.runqsize.fetch_add(n, std::memory_order_seq_cst);
}

G* globrunqpop_locked() {
  G* g = sched.runq_head;
  if (g) {
    sched.runq_head = g->schedlink;
    if (!sched.runq_head) sched.runq_tail = nullptr;
    g->schedlink = nullptr;
    sched.runqsize.fetch_sub(1, std::memory_order_relaxed);
  }
  return g;
}

// runqput_noovf() puts g on p's local queue unless it is full.
bool runqput_noovf(P* p, G* g) {
  RunQueue& q = p->runq;
  uint32_t h = q.head.load(std::memory_order_acquire);
  uint32_t t = q.tail.load(std::memory_order_relaxed);
  if (t - h >= RunQueue::kSize) return false;
  q.slots[t % RunQueue::kSize].store(g, std::memory_order_relaxed);
  q.tail.store(t + 1, std::memory_order_release);
  return true;
}

// globrunqget() takes a batch from the global queue: one to run, the rest to
// p's local queue. Lock held. max 0 = no limit.
G* globrunqget(P* p, uint32_t max) {
  uint32_t n = sched.runqsize.load(std::memory_order_relaxed);
  if (n == 0) return nullptr;
  n = std::min<uint32_t>(n, n / static_cast<uint32_t>(sched.gomaxprocs) + 1);
  if (max > 0 && n > max) n = max;
  if (n > RunQueue::kSize / 2) n = RunQueue::kSize / 2;
  G* g = globrunqpop_locked();
  // Each G is unlinked from the global queue before it is published to p's
  // local queue: once it is there another M may steal it, run it to its end
  // and reuse its schedlink (the free list), so nothing here may touch it
  // afterwards. (Publishing first and unlinking after raced with gfput and
  // could splice a free list into the run queue; TSan found it.)
  while (--n > 0 && sched.runq_head != nullptr) {
    G* x = globrunqpop_locked();
    if (!runqput_noovf(p, x)) {
      // p's queue is full (only its owner, this M, adds to it): x goes back
      // to the head of the global queue, where it was.
      x->schedlink = sched.runq_head;
      sched.runq_head = x;
      if (sched.runq_tail == nullptr) sched.runq_tail = x;
      sched.runqsize.fetch_add(1, std::memory_order_relaxed);
      break;
    }
  }
  return g;
}

// runqputslow() moves half of p's full local queue plus g to the global one.
bool runqputslow(P* p, G* g, uint32_t h, uint32_t t) {
  constexpr uint32_t kHalf = RunQueue::kSize / 2;
  G* batch[kHalf + 1];
  uint32_t n = (t - h) / 2;
  if (n != kHalf) fatal("runqputslow: queue is not full");
  for (uint32_t i = 0; i < n; i++) {
    batch[i] = p->runq.slots[(h + i) % RunQueue::kSize].load(std::memory_order_relaxed);
  }
  if (!p->runq.head.compare_exchange_strong(h, h + n, std::memory_order_acq_rel)) return false;
  batch[n] = g;
  for (uint32_t i = 0; i < n; i++) batch[i]->schedlink = batch[i + 1];
  std::lock_guard<std::mutex> lk(sched.lock);
  globrunqput_batch_locked(batch[0], batch[n], n + 1);
  return true;
}

// runqget() takes the next G of p: runnext first (bounded streak), then the
// queue head. Owner only.
G* runqget(P* p) {
  RunQueue& q = p->runq;
  G* next = q.runnext.load(std::memory_order_acquire);
  if (next && (p->runnext_streak < kRunnextStreakMax || q.size() == 0)) {
    if (q.runnext.compare_exchange_strong(next, nullptr, std::memory_order_acq_rel)) {
      p->runnext_streak++;
      return next;
    }
  }
  for (;;) {
    uint32_t h = q.head.load(std::memory_order_acquire);
    uint32_t t = q.tail.load(std::memory_order_relaxed);
    if (t == h) break;
    G* g = q.slots[h % RunQueue::kSize].load(std::memory_order_relaxed);
    if (q.head.compare_exchange_strong(h, h + 1, std::memory_order_acq_rel)) {
      p->runnext_streak = 0;
      return g;
    }
  }
  next = q.runnext.load(std::memory_order_acquire);
  if (next && q.runnext.compare_exchange_strong(next, nullptr, std::memory_order_acq_rel)) {
    p->runnext_streak = 0;
    return next;
  }
  return nullptr;
}

// runqgrab() copies half of victim's queue into dst starting at dst_head and
// claims it. Returns how many.
uint32_t runqgrab(P* victim, std::atomic<G*>* dst, uint32_t dst_head, bool steal_runnext) {
  RunQueue& q = victim->runq;
  for (;;) {
    uint32_t h = q.head.load(std::memory_order_acquire);
    uint32_t t = q.tail.load(std::memory_order_acquire);
    uint32_t n = t - h;
    n = n - n / 2;
    if (n == 0) {
      if (steal_runnext) {
        G* next = q.runnext.load(std::memory_order_acquire);
        if (next && q.runnext.compare_exchange_strong(next, nullptr, std::memory_order_acq_rel)) {
          dst[dst_head % RunQueue::kSize].store(next, std::memory_order_relaxed);
          return 1;
        }
      }
      return 0;
    }
    if (n > RunQueue::kSize / 2) continue;  // h and t read inconsistently
    for (uint32_t i = 0; i < n; i++) {
      G* g = q.slots[(h + i) % RunQueue::kSize].load(std::memory_order_relaxed);
      dst[(dst_head + i) % RunQueue::kSize].store(g, std::memory_order_relaxed);
    }
    if (q.head.compare_exchange_strong(h, h + n, std::memory_order_acq_rel)) return n;
  }
}

G* runqsteal(P* p, P* victim, bool steal_runnext) {
  uint32_t t = p->runq.tail.load(std::memory_order_relaxed);
  uint32_t n = runqgrab(victim, p->runq.slots, t, steal_runnext);
  if (n == 0) return nullptr;
  n--;
  G* g = p->runq.slots[(t + n) % RunQueue::kSize].load(std::memory_order_relaxed);
  if (n > 0) p->runq.tail.store(t + n, std::memory_order_release);
  return g;
}

// ---- G allocation ----

void g_entry(boost::context::detail::transfer_t t);

G* galloc() {
  G* g = new G();
  g->stack = stack_alloc();
  san_fiber_create(g->fiber);
  std::lock_guard<std::mutex> lk(sched.allg_lock);
  g->alllink = sched.allg;
  sched.allg = g;
  sched.allg_count++;
  return g;
}

G* gfget(P* p) {
  if (p != nullptr) {
    if (p->gfree == nullptr) {
      std::lock_guard<std::mutex> lk(sched.gfree_lock);
      while (p->gfree_count < kGFreeLocalMax / 2 &&
             (sched.gfree != nullptr || sched.gfree_cold != nullptr)) {
        G* g;
        if (sched.gfree != nullptr) {
          g = sched.gfree;
          sched.gfree = g->schedlink;
          sched.gfree_count.fetch_sub(1, std::memory_order_relaxed);
        } else {
          g = sched.gfree_cold;
          sched.gfree_cold = g->schedlink;
        }
        g->schedlink = p->gfree;
        p->gfree = g;
        p->gfree_count++;
      }
    }
    G* g = p->gfree;
    if (g) {
      p->gfree = g->schedlink;
      p->gfree_count--;
      g->schedlink = nullptr;
    }
    return g;
  }
  std::lock_guard<std::mutex> lk(sched.gfree_lock);
  G* g = sched.gfree;
  if (g) {
    sched.gfree = g->schedlink;
    sched.gfree_count.fetch_sub(1, std::memory_order_relaxed);
    g->schedlink = nullptr;
  } else if ((g = sched.gfree_cold) != nullptr) {
    sched.gfree_cold = g->schedlink;
    g->schedlink = nullptr;
  }
  return g;
}

void gfput_global(G* g) {
  std::lock_guard<std::mutex> lk(sched.gfree_lock);
  g->schedlink = sched.gfree;
  sched.gfree = g;
  sched.gfree_count.fetch_add(1, std::memory_order_relaxed);
}

void gfput(P* p, G* g) {
  g->set_status(GStatus::kIdle);
  if (p == nullptr) {
    gfput_global(g);
    return;
  }
  g->schedlink = p->gfree;
  p->gfree = g;
  if (++p->gfree_count >= kGFreeLocalMax) {
    while (p->gfree_count > kGFreeLocalMax / 2) {
      G* x = p->gfree;
      p->gfree = x->schedlink;
      p->gfree_count--;
      gfput_global(x);
    }
  }
}

// newg() makes a runnable G for fn. p may be null.
G* newg(P* p, Task&& fn) {
  G* g = gfget(p);
  if (g == nullptr) {
    g = galloc();
  } else {
    san_fiber_renew(g->fiber);
  }
  san_stack_reset(g->stack.lo, g->stack.size);
  g->fn = std::move(fn);
  g->id = sched.goid_gen.fetch_add(1, std::memory_order_relaxed) + 1;
  g->ctx = make_context(g->stack.top(), g->stack.size, g_entry);
  g->m = nullptr;
  g->wait_reason.store(WaitReason::kNone, std::memory_order_relaxed);
  g->set_status(GStatus::kRunnable);
  sched.ngoroutines.fetch_add(1, std::memory_order_relaxed);
  sched.spawned.fetch_add(1, std::memory_order_relaxed);
  return g;
}

// ---- M creation, sleep and wakeup ----

void mstart(M* m);

// newm() starts a new M for p. Its thread is started under sched.lock, and
// not at all once the runtime exits: run()'s teardown joins every M whose
// thread is joinable under that lock and then deletes them all, so an M
// linked into allm with its thread started after the lock (as it once was)
// could be missed by the joins and run mstart on a deleted M (heap corruption
// in router_test's 2-P runs; TSan: signals_thread_fini against run_main's
// delete). startm() checked `exiting`, but released the lock before this.
void newm(P* p, bool spinning) {
  auto m = std::make_unique<M>();
  m->nextp = p;
  m->spinning = spinning;
  std::unique_lock<std::mutex> lk(sched.lock);
  if (sched.exiting.load(std::memory_order_acquire)) {
    pidleput(p);
    lk.unlock();
    if (spinning) sched.nmspinning.fetch_sub(1, std::memory_order_seq_cst);
    return;
  }
  m->id = ++sched.mcount;
  m->rand_state = 0x9E3779B97F4A7C15ull * (m->id + 1);
  m->alllink = sched.allm;
  sched.allm = m.get();
  M* raw = m.release();
  raw->thread = std::thread(mstart, raw);
}

// startm() runs p (an idle P if null) on an idle or new M. If spinning, the
// caller already counted the new M in nmspinning.
void startm(P* p, bool spinning) {
  std::unique_lock<std::mutex> lk(sched.lock);
  if (p == nullptr) {
    p = pidleget();
    if (p == nullptr) {
      lk.unlock();
      if (spinning) sched.nmspinning.fetch_sub(1, std::memory_order_seq_cst);
      return;
    }
  }
  if (sched.exiting.load(std::memory_order_acquire)) {
    pidleput(p);
    lk.unlock();
    if (spinning) sched.nmspinning.fetch_sub(1, std::memory_order_seq_cst);
    return;
  }
  M* m = sched.midle;
  if (m != nullptr) {
    sched.midle = m->schedlink;
    sched.nmidle--;
  }
  p->status.store(pstatus(0, kPRunning), std::memory_order_release);  // in hand-over
  lk.unlock();
  if (m == nullptr) {
    newm(p, spinning);
    return;
  }
  m->spinning = spinning;
  m->nextp = p;
  m->park.wakeup();
}

// stopm() puts m to sleep until startm hands it a P (or the runtime exits).
void stopm(M* m) {
  {
    std::lock_guard<std::mutex> lk(sched.lock);
    if (sched.exiting.load(std::memory_order_acquire)) return;
    m->schedlink = sched.midle;
    sched.midle = m;
    sched.nmidle++;
  }
  m->park.sleep();
  if (m->nextp != nullptr) {
    acquirep(m, m->nextp);
    m->nextp = nullptr;
  }
}

void reset_spinning(M* m) {
  m->spinning = false;
  int32_t n = sched.nmspinning.fetch_sub(1, std::memory_order_seq_cst) - 1;
  if (n < 0) fatal("negative nmspinning");
  // We found work while spinning: there may be more, keep one M looking.
  if (n == 0 && sched.npidle.load(std::memory_order_seq_cst) > 0) wakep();
}

// inject() makes a list of readied Gs runnable.
void inject(M* m, GList& list) {
  if (list.head == nullptr) return;
  P* p = m ? m->p : nullptr;
  if (p != nullptr && (m->in_runtime)) {
    for (G* g = list.head; g != nullptr;) {
      G* next = g->schedlink;
      g->schedlink = nullptr;
      runqput(p, g, false);
      g = next;
    }
  } else {
    std::lock_guard<std::mutex> lk(sched.lock);
    globrunqput_batch_locked(list.head, list.tail, list.size);
  }
  list = GList{};
  wakep();
}

G* glist_pop(GList& list) {
  G* g = list.head;
  if (g) {
    list.head = g->schedlink;
    if (!list.head) list.tail = nullptr;
    list.size--;
    g->schedlink = nullptr;
  }
  return g;
}

// ---- finding work ----

G* steal_work(M* m, P* p) {
  const int n = sched.gomaxprocs;
  for (int round = 0; round < 4; round++) {
    const int start = static_cast<int>(m->fastrand() % static_cast<uint32_t>(n));
    for (int k = 0; k < n; k++) {
      P* victim = sched.allp[(start + k) % n];
      if (victim == p) continue;
      if (sched.exiting.load(std::memory_order_relaxed)) return nullptr;
      if (G* g = runqsteal(p, victim, round == 3)) {
        p->steals.fetch_add(1, std::memory_order_relaxed);
        return g;
      }
    }
  }
  return nullptr;
}

// run_all_timers() runs the expired timers of every P. Reads the clock only
// when some P has a timer (Go's checkTimers): a clock read per schedule is a
// visible share of a channel round trip.
void run_all_timers() {
  int64_t now = 0;
  for (P* q : sched.allp) {
    const int64_t w = q->timers.when0.load(std::memory_order_acquire);
    if (w == 0) continue;
    if (now == 0) now = nanotime();
    if (w <= now) run_timers(q, now);
  }
}

// Search: how one stage of the search for work ended.
//   found    - *g is the G to run; the M holds a P.
//   recheck  - work may have appeared where find_ready() looks (the global
//              queue, an expired timer, a P taken back): start over. The M
//              holds a P.
//   nothing  - this stage found no work; go on to the next one.
//   exit     - the runtime exits.
enum class Search : uint8_t { found, recheck, nothing, exit };

// poll_ready() polls the network without blocking, unless an M is blocked
// in the poller (it will deliver what is ready) or nothing is registered.
// Returns a readied G to run and queues the others.
G* poll_ready(M* m) {
  PollBackend* be = poll_backend();
  if (!be->waiters() || sched.lastpoll.load(std::memory_order_relaxed) == 0) return nullptr;
  GList list;
  be->poll(0, list);
  G* g = glist_pop(list);
  if (g != nullptr) inject(m, list);
  return g;
}

// find_ready() is one look everywhere work waits, without stealing and
// without waiting (Go's findRunnable, top part): expired timers of every P;
// every 61st schedule the global queue first (fairness); runnext and the
// local queue; the global queue; the network.
G* find_ready(M* m) {
  P* p = m->p;
  run_all_timers();
  if (p->schedtick.load(std::memory_order_relaxed) % 61 == 0 &&
      sched.runqsize.load(std::memory_order_relaxed) > 0) {
    std::lock_guard<std::mutex> lk(sched.lock);
    if (G* g = globrunqget(p, 1)) return g;
  }
  if (G* g = runqget(p)) return g;
  if (sched.runqsize.load(std::memory_order_relaxed) > 0) {
    std::lock_guard<std::mutex> lk(sched.lock);
    if (G* g = globrunqget(p, 0)) return g;
  }
  return poll_ready(m);
}

// spin_for_work() is the spinning part (marl's spinForWork): steal from the
// other Ps and, while another P runs, keep looking for up to kSpinNs before
// giving up. An M spins (counted in nmspinning, so that wakep() wakes no
// other) only while fewer than half the busy Ps have a spinning M (Go's
// rule), so idle moments do not turn into every M burning its core.
//
// Why spin at all: waking a sleeping thread costs tens of microseconds on
// these VMs, and a spinning M that finds work saves both sides a futex call.
// Why only while another P runs: work then comes from running goroutines or
// from the poller; with no other P busy this M would spin alone where
// blocking in the poller is both cheaper and as quick (with one P, the
// common server set-up, it would burn up to 50 us of its core per idle
// moment). The spin also polls the network, without blocking.
Search spin_for_work(M* m, G*& g) {
  P* p = m->p;
  const int procs = sched.gomaxprocs;
  if (!m->spinning) {
    if (2 * sched.nmspinning.load(std::memory_order_relaxed) >=
        procs - sched.npidle.load(std::memory_order_relaxed)) {
      return Search::nothing;
    }
    m->spinning = true;
    sched.nmspinning.fetch_add(1, std::memory_order_seq_cst);
  }
  if ((g = steal_work(m, p)) != nullptr) return Search::found;
  if (procs - sched.npidle.load(std::memory_order_relaxed) <= 1) return Search::nothing;
  const int64_t spin_until = nanotime() + kSpinNs;
  for (uint32_t iter = 1; nanotime() < spin_until && !sched.exiting.load(std::memory_order_relaxed);
       iter++) {
    for (int i = 0; i < 32; i++) COGO_CPU_RELAX();
    if (sched.runqsize.load(std::memory_order_relaxed) > 0) return Search::recheck;
    if ((g = runqget(p)) != nullptr) return Search::found;
    if ((g = steal_work(m, p)) != nullptr) return Search::found;
    const int64_t when = p->timers.when0.load(std::memory_order_relaxed);
    if (when != 0 && when <= nanotime()) return Search::recheck;
    if (iter % 8 == 0 && (g = poll_ready(m)) != nullptr) return Search::found;
  }
  return Search::nothing;
}

// reacquire_p() takes an idle P for m, if there is one.
bool reacquire_p(M* m) {
  P* p;
  {
    std::lock_guard<std::mutex> lk(sched.lock);
    p = pidleget();
  }
  if (p == nullptr) return false;
  acquirep(m, p);
  return true;
}

// start_spinning() counts m as spinning again: it took a P back to look for
// work it knows of (or that may come).
void start_spinning(M* m) {
  m->spinning = true;
  sched.nmspinning.fetch_add(1, std::memory_order_seq_cst);
}

// block_in_poller() makes m the M that waits in the poll backend, if none is
// (Go's "poll network until next timer"): it blocks until a socket is ready
// or the nearest timer of any P is due, whichever comes first — a timer
// armed meanwhile with an earlier deadline wakes it (wake_poller_for_timer).
// Precondition: m holds no P. Returns found or recheck with a P taken back,
// or nothing when m should sleep (another M polls, or no P was free: the Gs
// it got are queued for the Ps that run).
Search block_in_poller(M* m, bool was_spinning, G*& g) {
  PollBackend* be = poll_backend();
  int64_t until = nearest_timer();
  if ((!be->waiters() && until == 0) ||
      sched.lastpoll.exchange(0, std::memory_order_seq_cst) == 0) {
    // Another M polls: make sure it wakes for the nearest timer.
    if (until != 0) {
      const int64_t pu = sched.poll_until.load(std::memory_order_seq_cst);
      if (pu == 0 || pu > until) be->wake();
    }
    return Search::nothing;
  }
  until = nearest_timer();  // armed since the look above: it saw lastpoll != 0 and woke nobody
  sched.poll_until.store(until, std::memory_order_seq_cst);
  int64_t delay = -1;
  if (until != 0) delay = std::max<int64_t>(until - nanotime(), 0);
  GList list;
  // Goroutines the poll spawns (an idle connection's callback, go() inside
  // poll) wait in the global queue for this M: it takes a P back below and
  // runs them itself. go()'s usual wakep() would hand the idle P to another
  // M instead (startm: a futex wake for it, a futex sleep for this one, two
  // context switches per idle connection that turns readable).
  m->polling = true;
  m->wake_deferred = false;
  if (!sched.exiting.load(std::memory_order_acquire)) be->poll(delay, list);
  m->polling = false;
  const bool wake_deferred = m->wake_deferred;
  sched.poll_until.store(0, std::memory_order_seq_cst);
  sched.lastpoll.store(nanotime(), std::memory_order_seq_cst);
  if (!reacquire_p(m)) {
    inject(m, list);
    if (wake_deferred) wakep();  // the spawned Gs need another M after all
    return Search::nothing;
  }
  // Other idle Ps may take a share (with one P, wakep() finds none idle).
  if (wake_deferred) wakep();
  if ((g = glist_pop(list)) != nullptr) {
    inject(m, list);
    return Search::found;
  }
  if (was_spinning) start_spinning(m);
  return Search::recheck;  // a timer is due, or the poller was woken
}

// wait_for_work() is the blocking part (marl's waitForWork, Go's
// findRunnable from "drop P" on): m gives its P back, re-checks what a
// producer relies on it to see, then blocks — in the poll backend if no
// other M does, else on its note until startm() hands it a P. Returns found
// or recheck with a P, or exit.
Search wait_for_work(M* m, G*& g) {
  P* p = m->p;
  {
    std::lock_guard<std::mutex> lk(sched.lock);
    if (sched.exiting.load(std::memory_order_acquire)) return Search::exit;
    if (sched.runqsize.load(std::memory_order_relaxed) > 0 && (g = globrunqget(p, 0)) != nullptr) {
      return Search::found;
    }
    if (!p->runq.empty()) return Search::recheck;  // a timer callback readied something
    releasep(m);
    pidleput(p);
  }
  const bool was_spinning = m->spinning;
  if (m->spinning) {
    m->spinning = false;
    if (sched.nmspinning.fetch_sub(1, std::memory_order_seq_cst) <= 0) {
      fatal("negative nmspinning");
    }
    // The delicate dance: producers publish work and then look for a
    // spinning M; we stopped spinning and now look for work. With seq_cst on
    // both sides one of us sees the other.
    bool work = sched.runqsize.load(std::memory_order_seq_cst) > 0;
    for (P* q : sched.allp) work = work || !q->runq.empty();
    if (work && reacquire_p(m)) {
      start_spinning(m);
      return Search::recheck;
    }
  }
  if (Search s = block_in_poller(m, was_spinning, g); s != Search::nothing) return s;
  stopm(m);
  return m->p == nullptr ? Search::exit : Search::recheck;  // no P: woken for exit
}

// find_runnable() returns a G to run on m, blocking until there is one:
// one look everywhere (find_ready), then spinning (spin_for_work), then
// blocking (wait_for_work), starting over whenever a stage says work may
// have appeared. Returns nullptr when the runtime exits. m holds a P on
// entry and on return.
G* find_runnable(M* m) {
  for (;;) {
    if (sched.exiting.load(std::memory_order_acquire)) return nullptr;
    if (G* g = find_ready(m)) return g;
    G* found = nullptr;
    Search s = spin_for_work(m, found);
    if (s == Search::nothing) s = wait_for_work(m, found);
    switch (s) {
      case Search::found:
        return found;
      case Search::exit:
        return nullptr;
      case Search::recheck:
      case Search::nothing:
        break;
    }
  }
}

// ---- switching ----

// execute() runs g on m until it switches back, then does what it asked.
void execute(M* m, G* g) {
  P* p = m->p;
  m->curg = g;
  g->m = m;
  g->status.store(GStatus::kRunning, std::memory_order_release);
  p->schedtick.fetch_add(1, std::memory_order_relaxed);
  p->schedules.fetch_add(1, std::memory_order_relaxed);
  m->in_runtime = false;
  p->status.store(pstatus(m->id, kPUser), std::memory_order_release);

  san_before_enter_g(m->san, g->fiber, g->stack.lo, g->stack.size);
  Transfer t = jump(g->ctx, m);
  san_after_return_to_g0(m->san);
  g->ctx = t.from;
  m->curg = nullptr;
  // The G entered a RuntimeSection and kept it: m->in_runtime is true and
  // m->p is still ours, or null if sysmon retook it.

  switch (m->pending) {
    case Pending::kPark: {
      sched.parks.fetch_add(1, std::memory_order_relaxed);
      g->set_status(GStatus::kWaiting);
      ParkCommit commit = m->commit;
      if (commit != nullptr && !commit(g, m->commit_arg)) {
        GStatus expect = GStatus::kWaiting;
        if (g->status.compare_exchange_strong(expect, GStatus::kRunnable)) {
          if (m->p) {
            runqput(m->p, g, true);
          } else {
            globrunqput(g);
            wakep();  // this M has no P: somebody else must run g
          }
        }
      }
      break;
    }
    case Pending::kYield:
    case Pending::kRequeue:
      g->set_status(GStatus::kRunnable);
      globrunqput(g);
      // Without a P (retaken by sysmon, or back from blocking()) this M will
      // sleep: another M must pick g up.
      if (m->pending == Pending::kRequeue || m->p == nullptr) wakep();
      break;
    case Pending::kExit:
      sched.ngoroutines.fetch_sub(1, std::memory_order_relaxed);
      g->set_status(GStatus::kDead);
      gfput(m->p, g);
      break;
    case Pending::kAbandon:
    case Pending::kNone:
      break;
  }
  m->pending = Pending::kNone;
  m->commit = nullptr;
  m->commit_arg = nullptr;
}

// eh_globals() is this thread's exception state. __cxa_get_globals() is
// declared __attribute__((const)): called directly, its result could be
// reused across a stack switch that moved the goroutine to another thread.
static COGO_OPAQUE G::EhState* eh_globals() {
  auto* eh = reinterpret_cast<G::EhState*>(abi::__cxa_get_globals());
  asm volatile("" ::: "memory");
  return eh;
}

// switch_to_g0() suspends the running goroutine and returns to its M's
// scheduler with `what` to do. Returns when the goroutine is resumed (never
// for kExit).
void switch_to_g0(Pending what, ParkCommit commit, void* arg) {
  M* m = getm();
  G* g = m->curg;
  {
    RuntimeSection section;
    section.keep();
  }
  m->pending = what;
  m->commit = commit;
  m->commit_arg = arg;
  // The exception state goes with the G (see G::eh); the thread's is left
  // empty for the scheduler and the next G. After the jump this may be
  // another thread: its M's pointer, not this one's.
  G::EhState* eh = m->eh;
  g->eh = *eh;
  *eh = G::EhState{};
  san_before_leave_g(m->san, g->fiber, what == Pending::kExit);
  Transfer t = jump(m->g0ctx, nullptr);
  M* nm = static_cast<M*>(t.data);
  nm->g0ctx = t.from;
  san_after_resume_g(nm->san, g->fiber);
  *nm->eh = g->eh;
}

[[noreturn]] void goroutine_panic(G* g, const char* what) {
  std::fprintf(stderr, "cogo: goroutine %llu: uncaught exception: %s\n",
               static_cast<unsigned long long>(g->id), what);
  std::fflush(stderr);
  _exit(2);
}

void g_entry(boost::context::detail::transfer_t t) {
  M* m = static_cast<M*>(t.data);
  m->g0ctx = t.fctx;
  san_first_entry(m->san);
  G* g = m->curg;
  try {
    g->fn();
  } catch (const std::exception& e) {
    goroutine_panic(g, e.what());
  } catch (...) {
    goroutine_panic(g, "(not a std::exception)");
  }
  g->fn.reset();
  cancel_release_g(g);
  switch_to_g0(Pending::kExit, nullptr, nullptr);
  fatal("a dead goroutine was resumed");
}

void schedule(M* m) {
  while (!sched.exiting.load(std::memory_order_acquire)) {
    if (m->p == nullptr) {
      stopm(m);
      continue;
    }
    G* g = find_runnable(m);
    if (g == nullptr) continue;
    if (m->spinning) reset_spinning(m);
    execute(m, g);
  }
}

void mstart(M* m) {
  tls_m = m;
  m->eh = eh_globals();
  san_thread_init(m->san);
  signals_thread_init(m);
  if (m->nextp != nullptr) {
    acquirep(m, m->nextp);
    m->nextp = nullptr;
  }
  schedule(m);
  if (m->p != nullptr) {
    std::lock_guard<std::mutex> lk(sched.lock);
    pidleput(releasep(m));
  }
  signals_thread_fini(m);
  tls_m = nullptr;
}

void main_exit() {
  sched.exiting.store(true, std::memory_order_seq_cst);
  {
    std::lock_guard<std::mutex> lk(sched.lock);
    for (M* m = sched.midle; m != nullptr; m = m->schedlink) m->park.wakeup();
    sched.midle = nullptr;
    sched.nmidle = 0;
  }
  poll_backend()->wake();
}

}  // namespace

// ---- exported internals ----

COGO_OPAQUE M* getm() {
  M* m = tls_m;
  asm volatile("" ::: "memory");
  return m;
}

void trim_free_stacks(uint32_t keep, uint32_t max_release) {
  // Pop the excess off the warm list, release its pages outside the lock,
  // then push it back at the tail end of the list (cold stacks last).
  G* batch = nullptr;
  uint32_t n = 0;
  {
    std::lock_guard<std::mutex> lk(sched.gfree_lock);
    while (sched.gfree_count.load(std::memory_order_relaxed) > keep && n < max_release &&
           sched.gfree != nullptr) {
      G* g = sched.gfree;
      sched.gfree = g->schedlink;
      sched.gfree_count.fetch_sub(1, std::memory_order_relaxed);
      g->schedlink = batch;
      batch = g;
      n++;
    }
  }
  if (batch == nullptr) return;
  G* tail = batch;
  for (G* g = batch; g != nullptr; g = g->schedlink) {
    stack_release_memory(g->stack);
    tail = g;
  }
  std::lock_guard<std::mutex> lk(sched.gfree_lock);
  tail->schedlink = sched.gfree_cold;
  sched.gfree_cold = batch;
}

void Note::sleep() {
  while (key.load(std::memory_order_acquire) == 0) futex_sleep(&key, 0, -1);
  key.store(0, std::memory_order_relaxed);
}

void Note::wakeup() {
  key.store(1, std::memory_order_release);
  futex_wake(&key, 1);
}

void runqput(P* p, G* g, bool next) {
  if (next) {
    G* old = p->runq.runnext.exchange(g, std::memory_order_acq_rel);
    if (old == nullptr) return;
    g = old;  // kick the old runnext to the tail
  }
  for (;;) {
    uint32_t h = p->runq.head.load(std::memory_order_acquire);
    uint32_t t = p->runq.tail.load(std::memory_order_relaxed);
    if (t - h < RunQueue::kSize) {
      p->runq.slots[t % RunQueue::kSize].store(g, std::memory_order_relaxed);
      p->runq.tail.store(t + 1, std::memory_order_seq_cst);
      return;
    }
    if (runqputslow(p, g, h, t)) return;
  }
}

void globrunqput(G* g) {
  std::lock_guard<std::mutex> lk(sched.lock);
  globrunqput_batch_locked(g, g, 1);
}

void wakep() {
  if (sched.npidle.load(std::memory_order_seq_cst) == 0) return;
  int32_t zero = 0;
  if (sched.nmspinning.load(std::memory_order_seq_cst) != 0 ||
      !sched.nmspinning.compare_exchange_strong(zero, 1, std::memory_order_seq_cst)) {
    return;
  }
  startm(nullptr, true);
}

// handoffp() finds a home for p, which no M holds any more.
void handoffp(P* p) {
  if (!p->runq.empty() || sched.runqsize.load(std::memory_order_seq_cst) > 0) {
    startm(p, false);
    return;
  }
  int32_t zero = 0;
  if (sched.nmspinning.load(std::memory_order_seq_cst) +
              sched.npidle.load(std::memory_order_seq_cst) ==
          0 &&
      sched.nmspinning.compare_exchange_strong(zero, 1, std::memory_order_seq_cst)) {
    startm(p, true);
    return;
  }
  std::unique_lock<std::mutex> lk(sched.lock);
  if (sched.runqsize.load(std::memory_order_relaxed) > 0 && !sched.exiting.load()) {
    lk.unlock();
    startm(p, false);
    return;
  }
  // The last running P and nobody polls: somebody must watch the network.
  if (sched.npidle.load(std::memory_order_relaxed) == sched.gomaxprocs - 1 &&
      sched.lastpoll.load(std::memory_order_seq_cst) != 0 && poll_backend()->waiters() &&
      !sched.exiting.load()) {
    lk.unlock();
    startm(p, false);
    return;
  }
  const int64_t when = p->timers.when0.load(std::memory_order_acquire);
  pidleput(p);
  lk.unlock();
  if (when != 0) wake_poller_for_timer(when);
}

PollBackend* poll_backend() { return g_backend.load(std::memory_order_acquire); }

void install_poll_backend(PollBackend* backend) {
  PollBackend* old = g_backend.load(std::memory_order_acquire);
  if (old == backend) return;
  if (old != &g_null_backend) fatal("install_poll_backend: a poll backend is already installed");
  if (!g_backend.compare_exchange_strong(old, backend, std::memory_order_acq_rel)) {
    if (old != backend) fatal("install_poll_backend: a poll backend is already installed");
    return;
  }
  old->wake();  // a poller asleep on the null backend re-polls the new one
}

void wake_poller_for_timer(int64_t when) {
  if (sched.lastpoll.load(std::memory_order_seq_cst) == 0) {
    const int64_t pu = sched.poll_until.load(std::memory_order_seq_cst);
    if (pu == 0 || pu > when) poll_backend()->wake();
  } else {
    wakep();
  }
}

void GList::push(G* g) {
  g->schedlink = nullptr;
  if (tail) {
    tail->schedlink = g;
  } else {
    head = g;
  }
  tail = g;
  size++;
}

G* current_g() {
  M* m = getm();
  return m ? m->curg : nullptr;
}

uint64_t goroutine_id(G* g) { return g ? g->id : 0; }

void park(ParkCommit commit, void* arg, WaitReason reason) {
  M* m = getm();
  if (m == nullptr || m->curg == nullptr) fatal("park called off a goroutine");
  m->curg->wait_reason.store(reason, std::memory_order_relaxed);
  switch_to_g0(Pending::kPark, commit, arg);
  current_g()->wait_reason.store(WaitReason::kNone, std::memory_order_relaxed);
}

// put_runnable() queues runnable g on the section's P (its runnext), or the
// global queue with no P, and says whether the caller should wakep(): not
// when this M is polling in block_in_poller, which takes a P back and runs
// g itself, or wakes an M if it cannot (wake_deferred).
static bool put_runnable(RuntimeSection& section, G* g) {
  if (section.p) {
    runqput(section.p, g, true);
  } else {
    globrunqput(g);
  }
  if (section.m != nullptr && section.m->polling) {
    section.m->wake_deferred = true;
    return false;
  }
  return true;
}

void ready(G* g) {
  GStatus expect = GStatus::kWaiting;
  if (!g->status.compare_exchange_strong(expect, GStatus::kRunnable,
                                         std::memory_order_acq_rel)) {
    fatal("ready of goroutine %llu in state %s", static_cast<unsigned long long>(g->id),
          gstatus_name(expect));
  }
  if (sched.exiting.load(std::memory_order_acquire)) return;
  bool wake;
  {
    RuntimeSection section;
    wake = put_runnable(section, g);
  }
  if (wake) wakep();
}

void enter_blocking() {
  M* m = getm();
  if (m == nullptr || m->curg == nullptr) return;
  G* g = m->curg;
  g->wait_reason.store(WaitReason::kBlocking, std::memory_order_relaxed);
  g->set_status(GStatus::kBlocking);
  P* p;
  {
    RuntimeSection section;
    p = section.p;
    section.keep();
  }
  if (p != nullptr) {
    m->blocking_oldp = p;
    m->p = nullptr;
    p->m = nullptr;
    handoffp(p);
  }
  m->in_runtime = false;
}

void exit_blocking() {
  M* m = getm();
  if (m == nullptr || m->curg == nullptr) return;
  G* g = m->curg;
  if (sched.exiting.load(std::memory_order_acquire)) {
    switch_to_g0(Pending::kAbandon, nullptr, nullptr);
    fatal("an abandoned goroutine was resumed");
  }
  P* p = nullptr;
  {
    std::lock_guard<std::mutex> lk(sched.lock);
    if (m->blocking_oldp != nullptr) p = pidleget_specific(m->blocking_oldp);
    if (p == nullptr) p = pidleget();
  }
  m->blocking_oldp = nullptr;
  g->wait_reason.store(WaitReason::kNone, std::memory_order_relaxed);
  if (p != nullptr) {
    g->set_status(GStatus::kRunning);
    m->in_runtime = true;
    acquirep(m, p);
    m->in_runtime = false;
    p->status.store(pstatus(m->id, kPUser), std::memory_order_release);
    return;
  }
  // No P free: queue ourselves; this M sleeps until it is needed.
  g->set_status(GStatus::kRunning);
  switch_to_g0(Pending::kRequeue, nullptr, nullptr);
}

void run_main(Task main_fn) {
  if (sched.running.exchange(true, std::memory_order_acq_rel)) {
    throw std::logic_error("cogo::run: a runtime is already running in this process");
  }
  sched.gomaxprocs = detect_gomaxprocs();
  stack_configure(detect_stack_size());
  raise_fd_limit();
  sched.exiting.store(false);
  sched.goid_gen.store(0);
  sched.ngoroutines.store(0);
  sched.spawned.store(0);
  sched.parks.store(0);
  sched.retakes.store(0);
  sched.lastpoll.store(nanotime());
  sched.poll_until.store(0);
  sched.nmspinning.store(0);
  sched.mcount = 0;
  for (int i = 0; i < sched.gomaxprocs; i++) {
    P* p = new P();
    p->id = i;
    sched.allp.push_back(p);
  }
  {
    std::lock_guard<std::mutex> lk(sched.lock);
    for (int i = sched.gomaxprocs - 1; i >= 1; i--) pidleput(sched.allp[i]);
  }
  M* m0 = new M();
  {
    std::lock_guard<std::mutex> lk(sched.lock);
    m0->id = ++sched.mcount;
    m0->alllink = sched.allm;
    sched.allm = m0;
  }
  m0->rand_state = 0x2545F4914F6CDD1Dull;
  tls_m = m0;
  m0->eh = eh_globals();
  san_thread_init(m0->san);
  signals_install();
  signals_thread_init(m0);
  acquirep(m0, sched.allp[0]);

  G* main_g = newg(sched.allp[0], Task([fn = std::move(main_fn)]() mutable {
                     fn();
                     main_exit();
                   }));
  runqput(sched.allp[0], main_g, false);
  sysmon_start();

  schedule(m0);

  // Teardown: every M stops at its next trip through the scheduler.
  main_exit();
  sysmon_stop();
  for (;;) {
    M* m = nullptr;
    {
      std::lock_guard<std::mutex> lk(sched.lock);
      for (M* x = sched.allm; x != nullptr; x = x->alllink) {
        if (x->thread.joinable()) {
          m = x;
          break;
        }
      }
      for (M* x = sched.midle; x != nullptr; x = x->schedlink) x->park.wakeup();
    }
    if (m == nullptr) break;
    poll_backend()->wake();
    m->thread.join();
  }
  poll_backend()->runtime_stopped();
  Sleeper::drop_all_goroutines();
  // Timers of goroutines that will never run again.
  for (P* p : sched.allp) {
    std::lock_guard<std::mutex> lk(p->timers.lock);
    for (Timer* t : p->timers.heap) {
      t->heap_p.store(-1, std::memory_order_relaxed);
      t->heap_index = -1;
      t->state.store(kTimerIdle, std::memory_order_release);
    }
    p->timers.heap.clear();
    p->timers.publish_when0();
  }
  // Goroutines still alive are dropped: their closures are destroyed, their
  // stacks unmapped (Go's exit: no unwinding).
  G* all;
  {
    std::lock_guard<std::mutex> lk(sched.allg_lock);
    all = sched.allg;
    sched.allg = nullptr;
    sched.allg_count = 0;
  }
  for (G* g = all; g != nullptr;) {
    G* next = g->alllink;
    g->fn.reset();
    san_stack_reset(g->stack.lo, g->stack.size);
    san_fiber_destroy(g->fiber);
    delete g;
    g = next;
  }
  stack_free_all();
  {
    std::lock_guard<std::mutex> lk(sched.gfree_lock);
    sched.gfree = nullptr;
    sched.gfree_cold = nullptr;
    sched.gfree_count.store(0);
  }
  {
    std::lock_guard<std::mutex> lk(sched.lock);
    sched.runq_head = sched.runq_tail = nullptr;
    sched.runqsize.store(0);
    sched.pidle = nullptr;
    sched.npidle.store(0);
    sched.midle = nullptr;
    sched.nmidle = 0;
    for (M* x = sched.allm; x != nullptr;) {
      M* next = x->alllink;
      if (x != m0) delete x;
      x = next;
    }
    sched.allm = nullptr;
  }
  for (P* p : sched.allp) delete p;
  sched.allp.clear();
  signals_thread_fini(m0);
  signals_uninstall();
  tls_m = nullptr;
  delete m0;
  sched.running.store(false, std::memory_order_release);
}

void fatal(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  std::fprintf(stderr, "cogo runtime: %s\n", buf);
  std::fflush(stderr);
  std::abort();
}

}  // namespace cogo::detail

namespace cogo {

using namespace detail;

void go(Task fn) {
  if (!sched.running.load(std::memory_order_acquire)) {
    throw std::logic_error("cogo::go: no runtime is running; call it inside cogo::run()");
  }
  if (sched.exiting.load(std::memory_order_acquire)) return;  // the program is ending
  G* g;
  bool wake;
  {
    RuntimeSection section;
    g = newg(section.p, std::move(fn));
    cancel_inherit(g);  // the spawner's context, as Go's ctx handed to a goroutine
    wake = put_runnable(section, g);
  }
  if (wake) wakep();
}

void yield() {
  if (current_g() == nullptr) {
    std::this_thread::yield();
    return;
  }
  switch_to_g0(Pending::kYield, nullptr, nullptr);
}

// sleep_until() is a wait nobody else can claim but the deadline and the
// context: a Waiter with no queue.
void sleep_until(std::chrono::steady_clock::time_point t) {
  // steady_clock is CLOCK_MONOTONIC on Linux: the runtime's clock.
  const int64_t when = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  if (when <= nanotime()) {  // completes without waiting, even when cancelled
    yield();
    return;
  }
  Waiter w;
  if (w.g == nullptr && w.cancel == nullptr) {
    std::this_thread::sleep_until(t);
    return;
  }
  if (!w.wait_until([](void*) {}, nullptr, WaitReason::kSleep, when) &&
      w.fired == Waiter::kCancelled) {
    throw_cancelled(w.cancel);
  }
}

bool in_goroutine() { return current_g() != nullptr; }
uint64_t goroutine_id() { return detail::goroutine_id(current_g()); }
bool running() { return sched.running.load(std::memory_order_acquire); }
int gomaxprocs() {
  return running() ? sched.gomaxprocs : detect_gomaxprocs();
}

}  // namespace cogo
