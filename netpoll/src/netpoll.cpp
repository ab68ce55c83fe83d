// netpoll.cpp: the netpoller — readiness from the OS turned into runnable
// goroutines. This is Go's runtime/netpoll.go, in C++.
//
// Concepts
// --------
// Every socket is non-blocking and registered once, edge-triggered, for both
// directions (backend.h; netpoll_epoll.cpp on Linux). An operation always tries
// its syscall first; only on EAGAIN does it wait, on the socket's poll
// descriptor (PollDesc), which has one read slot (rg) and one write slot (wg).
// The scheduler polls the backend — non-blocking when an M looks for work,
// blocking (until the nearest timer) from at most one idle M — and each
// readiness edge moves the slot's goroutine to the run queue. There is no
// event-loop thread: the thread that finds the edge runs the goroutine.
//
// Three kinds of waiter use the same descriptor:
//   - a goroutine parks in rg/wg (netpoll_block below);
//   - a plain thread blocks in poll(2) on the fd itself (wait_thread); the
//     descriptor only counts it, so that close() can shut the socket down to
//     wake it;
//   - an await_readable callback sits in rg as kPdIdle with its Task in
//     idle_fn: an idle keep-alive connection holds no goroutine and no buffer,
//     and the edge (or deadline, or close) spawns a fresh goroutine for it.
//
// The state machine of rg and wg
// ------------------------------
//   kPdNil    no edge pending, nobody waiting.
//   kPdReady  an edge arrived that no waiter consumed yet. Set by the poller
//             (edge with nobody parked); consumed (-> kPdNil) by the waiter
//             that is about to park, which then retries its syscall instead.
//   kPdWait   a goroutine has committed to park but is still on its stack.
//             Set by that goroutine (kPdNil -> kPdWait). Moved on by the park
//             commit (-> G*, on the scheduler stack) or, before that, by an
//             unblocker (-> kPdReady for an edge, -> kPdNil for close or
//             deadline); the commit's CAS then fails and the goroutine
//             resumes at once. This is how an edge that arrives between
//             "EAGAIN" and "parked" is never lost.
//   G*        a goroutine is parked. Only an unblocker moves it on (-> kPdReady
//             for an edge, -> kPdNil otherwise) and then readies the G; the
//             woken goroutine swaps the slot back to kPdNil and retries or
//             reports closed/timeout.
//   kPdIdle   (rg only) a callback is armed. Set by poll_arm_idle (kPdWait ->
//             kPdIdle, under the descriptor's idle shard lock, with idle_fn
//             filled first); claimed by exactly one of: the poller's edge
//             (-> kPdReady), the deadline timer, close(), IdleSet::wake_all
//             (-> kPdNil) — each under the shard lock, so the claim and the
//             unlinking from the idle registry are one step. The claimer
//             spawns idle_fn. The edge stays as kPdReady because the
//             callback's first read may fail before its syscall (an expired
//             deadline) and hand the connection back: the next arm must know
//             bytes are waiting. For the same reason an arm that finds bytes
//             waiting (a pending edge its peek confirms, or an edge during
//             the arm) spawns the callback with kPdReady left in place. A
//             read that reaches its syscall consumes the edge first
//             (poll_consume_ready), so the usual hand-off after a request
//             finds kPdNil and arms without a peek.
// One goroutine per slot is enforced above this layer: FdMutex serialises
// readers (and writers), so "double wait" is a broken invariant and aborts.
//
// Errors (closing, expired deadlines) are not in the slots: they are
// published in `info` under the descriptor's lock, and every waiter checks
// them after setting kPdWait, so an unblocker that found kPdNil (and did
// nothing) is always noticed. Deadlines are runtime timers; their callback
// checks rseq/wseq under the lock, so a timer that fires after the deadline
// was moved, or after the descriptor was closed and reused, does nothing.
//
// Memory: descriptors come from a pool in chunks that are never freed. The
// epoll token is (pool index << 32 | fdseq) and fdseq is bumped on every free,
// so an event still queued for a closed fd is recognised and dropped (a race
// between that check and a reuse can only produce a spurious wake-up, which
// every waiter tolerates by retrying its syscall).
//
// Closing (fd.cpp): FdMutex counts the operations in flight; close() marks
// the fd closing, evicts every waiter here (they return kErrClosed), and the
// last operation to let go unregisters the descriptor and closes the fd
// number — never while a syscall may still use it. Every close() returns only
// after that, so the Conn's owner may free it even if another goroutine
// closed it first.
//
// The runtime's end: run() may return while goroutines are parked here. The
// runtime calls runtime_stopped(): the slots forget the dead goroutines, the
// armed callbacks are dropped (destroyed, like the closures of goroutines that
// never ran), and the fd locks and references the dead goroutines held are
// given back, so Conns that outlive run() can still be closed.
//
// Memory ordering
// ---------------
// rg/wg transitions are acq_rel CAS: whoever moves a slot away from a G* or
// kPdIdle acquires everything its owner wrote before the release that put it
// there (idle_fn is written before kPdWait -> kPdIdle). Readiness itself is
// not data: the syscall retried after a wake-up observes the socket directly.
// `info` is published with seq_cst stores and the thread-waiter count is
// seq_cst too, so close() and a thread about to block in poll(2) cannot both
// miss each other (a Dekker pair): either the thread sees closing, or close()
// sees the thread and shuts the socket down.
//
// Rejected alternatives
// ---------------------
// - A dedicated event-loop thread that hands ready goroutines to the
//   scheduler: one more thread hop per wake-up, and a request/response
//   ping-pong would bounce between cores. Polling from the scheduler lets the
//   M that finds the edge run the goroutine (Go's design: runtime/netpoll.go).
// - Level-triggered epoll, or EPOLLONESHOT re-armed per operation: an
//   epoll_ctl per read/write. Edge-triggered plus kPdReady costs nothing per
//   operation; the price is the "edge before park" race the states above close.
// - Freeing descriptors with the fd: a stale event or timer would touch freed
//   memory. Refcounting them costs an atomic per event; the pool with a
//   sequence tag costs nothing.
// - A mutex around the slots: the wake-up path runs for every edge on every
//   M; Go's lock-free CAS protocol keeps it to one CAS. The lock is taken only
//   for deadlines and close, and the idle shard lock only for callbacks.
// - Keeping an idle connection's goroutine parked in read (the simple way):
//   its stack stays touched (a few KiB) and its buffer allocated. The callback
//   costs one Task (64 bytes) in the descriptor.
// - Waking a plain thread blocked in poll(2) with a signal when its deadline
//   moves: a process-wide signal handler for a rare case. close() wakes it by
//   shutting the socket down instead; a moved deadline is seen at its next
//   wake-up.
#include "netpoll.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include <cstdio>
#include <cstdlib>
#include <new>
#include <utility>
#include <vector>

#include "backend.h"
#include "cogo/detail/cancel.h"
#include "cogo/runtime.h"

namespace cogo::net::detail {

using cogo::detail::G;
using cogo::detail::GList;
using cogo::detail::WaitReason;

namespace {

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "cogo runtime: netpoll: %s\n", what);
  std::abort();
}

// info bits (PollDesc::info).
constexpr uint32_t kInfoClosing = 1;
constexpr uint32_t kInfoReadExpired = 2;
constexpr uint32_t kInfoWriteExpired = 4;

// ---------------------------------------------------------------------------
// The descriptor pool.

class Pool {
 public:
  PollDesc* alloc() {
    lock_.lock();
    if (!free_) grow();
    PollDesc* pd = free_;
    free_ = pd->free_next;
    pd->free_next = nullptr;
    lock_.unlock();
    return pd;
  }

  void free(PollDesc* pd) {
    // Bump fdseq first, under the descriptor's lock, so that an event still
    // in flight for this fd is recognised as stale.
    pd->lock.lock();
    uint32_t seq = pd->fdseq.load(std::memory_order_relaxed) + 1;
    if (seq == 0) seq = 1;
    pd->fdseq.store(seq, std::memory_order_release);
    pd->fd = -1;
    pd->lock.unlock();
    lock_.lock();
    pd->free_next = free_;
    free_ = pd;
    lock_.unlock();
  }

  // lookup() maps a token's index back to its descriptor (nullptr if the
  // token is garbage).
  PollDesc* lookup(uint32_t index) const {
    uint32_t c = index >> kChunkShift;
    if (c >= kMaxChunks) return nullptr;
    PollDesc* chunk = chunks_[c].load(std::memory_order_acquire);
    return chunk ? &chunk[index & (kChunk - 1)] : nullptr;
  }

 private:
  static constexpr uint32_t kChunkShift = 8;
  static constexpr uint32_t kChunk = 1u << kChunkShift;
  static constexpr uint32_t kMaxChunks = 1u << 14;  // 4M descriptors

  void grow() {  // lock_ held
    if (nchunks_ == kMaxChunks) die("more than 4M sockets open at once");
    PollDesc* chunk = new PollDesc[kChunk];
    for (uint32_t i = 0; i < kChunk; ++i) {
      chunk[i].index = nchunks_ * kChunk + i;
      chunk[i].free_next = i + 1 < kChunk ? &chunk[i + 1] : free_;
      chunk[i].rt.arg = &chunk[i];
      chunk[i].wt.arg = &chunk[i];
    }
    free_ = chunk;
    chunks_[nchunks_++].store(chunk, std::memory_order_release);
  }

  SpinLock lock_;
  PollDesc* free_ = nullptr;  // guarded by lock_
  uint32_t nchunks_ = 0;      // guarded by lock_
  std::atomic<PollDesc*> chunks_[kMaxChunks] = {};
};

Pool pool;

uint64_t token_of(PollDesc* pd) {
  return (uint64_t{pd->index} << 32) | pd->fdseq.load(std::memory_order_acquire);
}

// ---------------------------------------------------------------------------
// The idle registry: armed callbacks, in shards keyed by descriptor index
// (fixed for a descriptor's whole life, so a claimer always takes the right
// lock even while the descriptor is being reused). Lock order: a descriptor's
// `lock` before its shard lock; never the other way.

struct alignas(64) IdleShard {
  SpinLock lock;
  PollDesc* head = nullptr;
};
constexpr uint32_t kIdleShards = 64;
IdleShard idle_shards[kIdleShards];

IdleShard& shard_of(PollDesc* pd) {
  return idle_shards[pd->index % kIdleShards];
}

void idle_link(IdleShard& sh, PollDesc* pd) {  // sh.lock held
  pd->idle_prev = nullptr;
  pd->idle_next = sh.head;
  if (sh.head) sh.head->idle_prev = pd;
  sh.head = pd;
}

void idle_unlink(IdleShard& sh, PollDesc* pd) {  // sh.lock held
  if (pd->idle_prev) {
    pd->idle_prev->idle_next = pd->idle_next;
  } else {
    sh.head = pd->idle_next;
  }
  if (pd->idle_next) pd->idle_next->idle_prev = pd->idle_prev;
  pd->idle_prev = pd->idle_next = nullptr;
}

// ---------------------------------------------------------------------------
// The poller the scheduler sees.

class Poller final : public cogo::detail::PollBackend {
 public:
  void poll(int64_t timeout_ns, GList& out) override;
  void wake() override { backend::wake(); }
  void runtime_stopped() override;
  bool waiters() const override { return waiter_count.load(std::memory_order_acquire) > 0; }

  // Parked goroutines plus armed callbacks (Go's netpollWaiters). Plain
  // threads are not counted: they do not need the scheduler to poll.
  std::atomic<int64_t> waiter_count{0};
};

Poller* poller = nullptr;  // set once by ensure_poller(), never freed

// Wakeup: what an unblock found to wake, run after locks are released.
struct Wakeup {
  G* g = nullptr;
  Task fn;
  void run() {
    if (g) cogo::detail::ready(g);
    if (fn) cogo::go(std::move(fn));
  }
};

// claim_idle() moves rg from kPdIdle to kPdReady (an edge) or kPdNil and
// takes the callback. False if someone else claimed it first.
bool claim_idle(PollDesc* pd, Wakeup& w, bool ioready) {
  IdleShard& sh = shard_of(pd);
  sh.lock.lock();
  uintptr_t idle = kPdIdle;
  if (!pd->rg.compare_exchange_strong(idle, ioready ? kPdReady : kPdNil,
                                      std::memory_order_acq_rel)) {
    sh.lock.unlock();
    return false;
  }
  idle_unlink(sh, pd);
  w.fn = std::move(pd->idle_fn);
  IdleSetState* set = pd->idle_set;
  pd->idle_set = nullptr;
  if (set) set->count.fetch_sub(1, std::memory_order_relaxed);
  sh.lock.unlock();
  poller->waiter_count.fetch_sub(1, std::memory_order_relaxed);
  return true;
}

// unblock() is Go's netpollunblock: an edge (ioready) or an error (close,
// deadline) reaches a slot. Returns what to wake.
Wakeup unblock(PollDesc* pd, Mode mode, bool ioready) {
  std::atomic<uintptr_t>& gpp = mode == Mode::read ? pd->rg : pd->wg;
  for (;;) {
    uintptr_t old = gpp.load(std::memory_order_acquire);
    if (old == kPdReady) return {};
    if (old == kPdNil && !ioready) return {};  // the waiter-to-be checks info
    if (old == kPdIdle) {
      // An edge leaves kPdReady behind: the callback's first read may not
      // reach its syscall (an expired deadline fails first), and if it hands
      // the connection back, the edge must still be there. A read that does
      // reach its syscall consumes it (poll_consume_ready).
      Wakeup w;
      if (claim_idle(pd, w, ioready)) return w;
      continue;
    }
    uintptr_t nw = ioready ? kPdReady : kPdNil;
    if (gpp.compare_exchange_weak(old, nw, std::memory_order_acq_rel)) {
      if (old == kPdNil || old == kPdWait) return {};
      poller->waiter_count.fetch_sub(1, std::memory_order_relaxed);
      return Wakeup{reinterpret_cast<G*>(old), {}};
    }
  }
}

void Poller::poll(int64_t timeout_ns, GList& out) {
  backend::Event events[128];
  int n = backend::poll(timeout_ns, events, 128);
  for (int i = 0; i < n; ++i) {
    const backend::Event& ev = events[i];
    PollDesc* pd = pool.lookup(static_cast<uint32_t>(ev.token >> 32));
    if (!pd) continue;
    if (pd->fdseq.load(std::memory_order_acquire) != static_cast<uint32_t>(ev.token)) {
      continue;  // the fd was closed since: a stale event
    }
    for (Mode m : {Mode::read, Mode::write}) {
      if (!(m == Mode::read ? ev.read : ev.write)) continue;
      Wakeup w = unblock(pd, m, true);
      if (w.g) out.push(w.g);
      if (w.fn) cogo::go(std::move(w.fn));  // allowed from inside poll()
    }
  }
}

// runtime_stopped(): run() returned and its goroutines are gone without
// unwinding. Forget the ones parked here, give back the fd locks they held,
// and drop the armed callbacks (destroying them, like the closures of the
// goroutines that never ran, closes the connections they own).
void Poller::runtime_stopped() {
  std::vector<void*> owners;
  std::vector<Task> dropped;
  for (uint32_t index = 0;; ++index) {
    PollDesc* pd = pool.lookup(index);
    if (!pd) break;
    for (std::atomic<uintptr_t>* gpp : {&pd->rg, &pd->wg}) {
      uintptr_t v = gpp->load(std::memory_order_acquire);
      if (v == kPdIdle) {
        Wakeup wk;
        if (claim_idle(pd, wk, false)) dropped.push_back(std::move(wk.fn));
      } else if (v == kPdWait || v > kPdIdle) {
        gpp->store(kPdNil, std::memory_order_release);  // a dead goroutine
      }
    }
    if (pd->owner) owners.push_back(pd->owner);
  }
  waiter_count.store(0, std::memory_order_release);
  for (void* owner : owners) fd_runtime_stopped(owner);
  dropped.clear();
}

// publish_info() refreshes `info` from the fields it mirrors. pd->lock held.
void publish_info(PollDesc* pd) {
  uint32_t info = 0;
  if (pd->closing) info |= kInfoClosing;
  if (pd->rd.load(std::memory_order_relaxed) < 0) info |= kInfoReadExpired;
  if (pd->wd.load(std::memory_order_relaxed) < 0) info |= kInfoWriteExpired;
  pd->info.store(info, std::memory_order_seq_cst);
}

// ---------------------------------------------------------------------------
// Goroutine waits.

bool block_commit(G* g, void* arg) {
  auto* gpp = static_cast<std::atomic<uintptr_t>*>(arg);
  // Count first, so that waiters() never reports zero while a G is parked.
  poller->waiter_count.fetch_add(1, std::memory_order_relaxed);
  uintptr_t wait = kPdWait;
  if (gpp->compare_exchange_strong(wait, reinterpret_cast<uintptr_t>(g),
                                   std::memory_order_acq_rel)) {
    return true;
  }
  poller->waiter_count.fetch_sub(1, std::memory_order_relaxed);
  return false;  // an edge or an error arrived meanwhile: resume at once
}

// netpoll_block() parks the current goroutine until an edge, an error, a
// deadline or a cancel of `cancel`. True if woken by (or found) an edge.
bool netpoll_block(PollDesc* pd, Mode mode, cogo::detail::CancelState* cancel) {
  std::atomic<uintptr_t>& gpp = mode == Mode::read ? pd->rg : pd->wg;
  for (;;) {
    uintptr_t v = kPdReady;
    if (gpp.compare_exchange_strong(v, kPdNil, std::memory_order_acq_rel)) return true;
    v = kPdNil;
    if (gpp.compare_exchange_strong(v, kPdWait, std::memory_order_acq_rel)) break;
    if (v != kPdReady && v != kPdNil) die("two goroutines wait on one socket in one direction");
  }
  // Re-check errors after kPdWait: an unblocker that saw kPdNil did nothing
  // (a cancel hook is such an unblocker, and sets the reason before).
  if (poll_check(pd, mode) == 0 && !cogo::detail::cancel_done(cancel)) {
    cogo::detail::park(block_commit, &gpp,
                       mode == Mode::read ? WaitReason::kIORead : WaitReason::kIOWrite);
  }
  uintptr_t old = gpp.exchange(kPdNil, std::memory_order_acq_rel);
  if (old > kPdWait) die("corrupted poll descriptor");
  return old == kPdReady;
}

// wait_thread() blocks a plain thread in poll(2) until the fd may be ready,
// the deadline passes, the descriptor is closed or the thread's context is
// done (thread_wait_fd signals the thread out of its ppoll).
int wait_thread(PollDesc* pd, Mode mode) {
  cogo::detail::CancelState* cancel = cogo::detail::cancel_effective();
  pd->thread_waiters.fetch_add(1, std::memory_order_seq_cst);
  std::atomic<int64_t>& deadline = mode == Mode::read ? pd->rd : pd->wd;
  int err;
  for (;;) {
    err = poll_check(pd, mode);
    if (err) break;
    int64_t until = -1;
    if (int64_t d = deadline.load(std::memory_order_acquire); d > 0) until = d;
    const short events = mode == Mode::read ? (POLLIN | POLLRDHUP) : POLLOUT;
    const int r = cogo::detail::thread_wait_fd(pd->fd, events, until, cancel);
    if (r < 0) {
      err = kErrCancelled;
      break;
    }
    if (r == 0) continue;  // the deadline: poll_check reports it
    err = (pd->info.load(std::memory_order_seq_cst) & kInfoClosing) ? kErrClosed : 0;
    break;
  }
  pd->thread_waiters.fetch_sub(1, std::memory_order_seq_cst);
  return err;
}

// Deadline timer callbacks: run on a scheduler stack; must not block.
void deadline_fired(PollDesc* pd, uintptr_t seq, Mode mode) {
  pd->lock.lock();
  if (pd->closing || seq != (mode == Mode::read ? pd->rseq : pd->wseq)) {
    pd->lock.unlock();  // moved, cleared, or the fd was closed: stale
    return;
  }
  (mode == Mode::read ? pd->rd : pd->wd).store(-1, std::memory_order_release);
  publish_info(pd);
  Wakeup w = unblock(pd, mode, false);
  pd->lock.unlock();
  w.run();
}
void read_deadline_fired(void* arg, uintptr_t seq) {
  deadline_fired(static_cast<PollDesc*>(arg), seq, Mode::read);
}
void write_deadline_fired(void* arg, uintptr_t seq) {
  deadline_fired(static_cast<PollDesc*>(arg), seq, Mode::write);
}

// rearm() replaces the timer of one direction. pd->timer_lock held.
void rearm(Timer* t, bool& armed, int64_t when, uintptr_t seq) {
  if (armed) {
    cogo::detail::timer_stop(t);  // a running callback finishes first
    armed = false;
  }
  if (when > 0 && cogo::running()) {
    t->seq = seq;
    cogo::detail::timer_start(t, when);
    armed = true;
  }
}

// peek_readable() tells whether a read would not block now (bytes, EOF or an
// error are all "readable": the callback's read reports them).
bool peek_readable(int fd) {
  char c;
  for (;;) {
    ssize_t r = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (r >= 0) return true;
    if (errno == EINTR) continue;
    return errno != EAGAIN && errno != EWOULDBLOCK;
  }
}

int init_poller() {
  if (int err = backend::init()) return err;
  // Sockets may be used without a running runtime: the one SIGPIPE policy
  // (os.h) applies from the first socket on, as it does from run().
  cogo::detail::ignore_sigpipe();
  poller = new Poller;
  cogo::detail::install_poll_backend(poller);
  return 0;
}

}  // namespace

// ---------------------------------------------------------------------------
// The operations of netpoll.h.

int ensure_poller() {
  static const int err = init_poller();
  return err;
}

PollDesc* poll_open(int fd, int& err) {
  if ((err = ensure_poller())) return nullptr;
  PollDesc* pd = pool.alloc();
  pd->lock.lock();
  uintptr_t r = pd->rg.load(std::memory_order_relaxed);
  uintptr_t w = pd->wg.load(std::memory_order_relaxed);
  if ((r != kPdNil && r != kPdReady) || (w != kPdNil && w != kPdReady)) {
    die("a waiter is still blocked on a free poll descriptor");
  }
  pd->fd = fd;
  pd->closing = false;
  ++pd->rseq;
  ++pd->wseq;
  pd->rd.store(0, std::memory_order_relaxed);
  pd->wd.store(0, std::memory_order_relaxed);
  pd->rg.store(kPdNil, std::memory_order_relaxed);
  pd->wg.store(kPdNil, std::memory_order_relaxed);
  publish_info(pd);
  pd->lock.unlock();
  pd->rt.fn = read_deadline_fired;
  pd->wt.fn = write_deadline_fired;
  if ((err = backend::open(fd, token_of(pd)))) {
    pd->lock.lock();
    pd->closing = true;
    publish_info(pd);
    pd->lock.unlock();
    pool.free(pd);
    return nullptr;
  }
  return pd;
}

void poll_close(PollDesc* pd) {
  if (!(pd->info.load(std::memory_order_acquire) & kInfoClosing)) {
    die("poll descriptor closed without evict");
  }
  uintptr_t r = pd->rg.load(std::memory_order_acquire);
  uintptr_t w = pd->wg.load(std::memory_order_acquire);
  if ((r != kPdNil && r != kPdReady) || (w != kPdNil && w != kPdReady)) {
    die("a waiter is still blocked on a closing poll descriptor");
  }
  backend::close(pd->fd);
  pool.free(pd);
}

void poll_evict(PollDesc* pd) {
  pd->lock.lock();
  if (pd->closing) die("poll descriptor evicted twice");
  pd->closing = true;
  ++pd->rseq;  // every armed timer is now stale
  ++pd->wseq;
  publish_info(pd);
  Wakeup rw = unblock(pd, Mode::read, false);
  Wakeup ww = unblock(pd, Mode::write, false);
  pd->lock.unlock();

  pd->timer_lock.lock();
  rearm(&pd->rt, pd->rt_armed, 0, 0);
  rearm(&pd->wt, pd->wt_armed, 0, 0);
  pd->timer_lock.unlock();

  // Threads in poll(2) do not see `closing` until the fd reports something.
  if (pd->thread_waiters.load(std::memory_order_seq_cst) > 0) ::shutdown(pd->fd, SHUT_RDWR);
  rw.run();
  ww.run();
}

int poll_check(PollDesc* pd, Mode mode) {
  uint32_t info = pd->info.load(std::memory_order_seq_cst);
  if (info & kInfoClosing) return kErrClosed;
  if (info & (mode == Mode::read ? kInfoReadExpired : kInfoWriteExpired)) return kErrTimeout;
  // A deadline that passed before its timer fired (or with no runtime to
  // run timers at all) counts as well.
  int64_t d = (mode == Mode::read ? pd->rd : pd->wd).load(std::memory_order_acquire);
  if (d > 0 && d <= cogo::detail::nanotime()) return kErrTimeout;
  return 0;
}

int poll_check_closed(PollDesc* pd) {
  return (pd->info.load(std::memory_order_seq_cst) & kInfoClosing) ? kErrClosed : 0;
}

namespace {

// CancelWait: a socket wait's hook on its context. The cancel unblocks the
// waiter like an expired deadline (no edge); the waiter then sees the reason.
struct CancelWait {
  PollDesc* pd;
  Mode mode;
  static void fired(cogo::detail::CancelHook* h) {
    auto* cw = static_cast<CancelWait*>(h->arg);
    cw->pd->lock.lock();
    Wakeup w = unblock(cw->pd, cw->mode, false);
    cw->pd->lock.unlock();
    w.run();
  }
};

}  // namespace

int poll_wait(PollDesc* pd, Mode mode) {
  if (!cogo::detail::current_g()) return wait_thread(pd, mode);
  if (int err = poll_check(pd, mode)) return err;
  cogo::detail::CancelState* cancel = cogo::detail::cancel_effective();
  CancelWait cw{pd, mode};
  cogo::detail::CancelHook hook;
  if (cancel != nullptr) {
    hook.fn = &CancelWait::fired;
    hook.arg = &cw;
    if (!cogo::detail::register_hook(cancel, &hook)) return kErrCancelled;
  }
  int err = 0;
  while (!netpoll_block(pd, mode, cancel)) {
    // Woken without an edge: closed, timed out or cancelled — or a deadline
    // that fired and was moved before we ran, in which case we wait again.
    if ((err = poll_check(pd, mode)) != 0) break;
    if (cogo::detail::cancel_done(cancel)) {
      err = kErrCancelled;
      break;
    }
  }
  if (cancel != nullptr) cogo::detail::unregister_hook(cancel, &hook);
  return err;
}

void poll_set_deadline(PollDesc* pd, int64_t when, bool read, bool write) {
  int64_t d = when;
  if (d != 0 && d <= cogo::detail::nanotime()) d = -1;
  pd->timer_lock.lock();
  pd->lock.lock();
  if (pd->closing) {
    pd->lock.unlock();
    pd->timer_lock.unlock();
    return;
  }
  uintptr_t rseq = 0, wseq = 0;
  if (read) {
    pd->rd.store(d, std::memory_order_release);
    rseq = ++pd->rseq;
  }
  if (write) {
    pd->wd.store(d, std::memory_order_release);
    wseq = ++pd->wseq;
  }
  publish_info(pd);
  Wakeup rw, ww;
  if (d < 0) {  // in the past: wake the waiters now (Go's idiom for cancel)
    if (read) rw = unblock(pd, Mode::read, false);
    if (write) ww = unblock(pd, Mode::write, false);
  }
  pd->lock.unlock();
  if (read) rearm(&pd->rt, pd->rt_armed, d, rseq);
  if (write) rearm(&pd->wt, pd->wt_armed, d, wseq);
  pd->timer_lock.unlock();
  rw.run();
  ww.run();
}

// poll_arm_idle() arms fn as the descriptor's idle callback, or spawns it at
// once when bytes are waiting (or the fd is closed or timed out). When it
// spawns it because bytes are waiting it leaves rg at kPdReady, as
// claim_idle() does: the callback's first read may fail before its syscall
// (an expired deadline) and hand the connection back, and the next arm must
// then peek, not wait for an edge that came long ago.
void poll_arm_idle(PollDesc* pd, Task fn, IdleSetState* set) {
  std::atomic<uintptr_t>& rg = pd->rg;
  for (;;) {
    uintptr_t v = kPdReady;
    if (rg.compare_exchange_strong(v, kPdNil, std::memory_order_acq_rel)) {
      // An edge is pending — but edges are not consumed by successful reads,
      // so it may be old news. Ask the socket (after clearing the slot, so
      // that an edge arriving during the peek is not folded into the old one).
      if (peek_readable(pd->fd)) {
        rg.store(kPdReady, std::memory_order_release);  // a new edge may have set it too
        break;
      }
      continue;
    }
    v = kPdNil;
    if (!rg.compare_exchange_strong(v, kPdWait, std::memory_order_acq_rel)) {
      if (v != kPdReady) die("await_readable while another reader waits on the socket");
      continue;
    }
    // Leaving kPdWait without arming: to kPdNil unless an edge came in
    // meanwhile (then the CAS fails and kPdReady stays for the callback).
    auto leave_wait = [&rg] {
      uintptr_t wait = kPdWait;
      rg.compare_exchange_strong(wait, kPdNil, std::memory_order_acq_rel);
    };
    if (poll_check(pd, Mode::read) != 0) {  // closed or timed out already
      leave_wait();
      break;
    }
    IdleShard& sh = shard_of(pd);
    sh.lock.lock();
    if (set && set->closed.load(std::memory_order_acquire)) {
      sh.lock.unlock();
      leave_wait();
      break;
    }
    pd->idle_fn = std::move(fn);
    pd->idle_set = set;
    idle_link(sh, pd);
    if (set) set->count.fetch_add(1, std::memory_order_relaxed);
    poller->waiter_count.fetch_add(1, std::memory_order_relaxed);
    uintptr_t wait = kPdWait;
    if (rg.compare_exchange_strong(wait, kPdIdle, std::memory_order_acq_rel)) {
      sh.lock.unlock();
      return;  // armed: the poller owns the callback now
    }
    // An edge (kPdReady) or an error (kPdNil) came in while we armed.
    idle_unlink(sh, pd);
    fn = std::move(pd->idle_fn);
    pd->idle_set = nullptr;
    if (set) set->count.fetch_sub(1, std::memory_order_relaxed);
    poller->waiter_count.fetch_sub(1, std::memory_order_relaxed);
    sh.lock.unlock();
    if (rg.load(std::memory_order_acquire) == kPdReady) break;  // it stays for the callback
    // kPdNil: loop; poll_check sees the error (or a moved deadline re-arms).
  }
  cogo::go(std::move(fn));
}

std::size_t idle_wake_all(IdleSetState* set) {
  std::vector<Task> fns;
  for (IdleShard& sh : idle_shards) {
    sh.lock.lock();
    for (PollDesc* pd = sh.head; pd;) {
      PollDesc* next = pd->idle_next;
      if (pd->idle_set == set) {
        // Under the shard lock a linked descriptor is always kPdIdle.
        uintptr_t idle = kPdIdle;
        if (!pd->rg.compare_exchange_strong(idle, kPdNil, std::memory_order_acq_rel)) {
          die("idle registry out of step with its descriptor");
        }
        idle_unlink(sh, pd);
        fns.push_back(std::move(pd->idle_fn));
        pd->idle_set = nullptr;
        if (set) set->count.fetch_sub(1, std::memory_order_relaxed);
        poller->waiter_count.fetch_sub(1, std::memory_order_relaxed);
      }
      pd = next;
    }
    sh.lock.unlock();
  }
  for (Task& fn : fns) cogo::go(std::move(fn));
  return fns.size();
}

}  // namespace cogo::net::detail
