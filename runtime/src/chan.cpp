// chan.cpp: the type-erased channel (Go's hchan) and select (Go's selectgo).
//
// A channel is a SpinLock, a ring buffer of `cap` elements, and two wait
// queues: receivers waiting for a value (recvq) and senders waiting for room
// or a receiver (sendq). Invariants, all under the lock:
//  - recvq is non-empty only while the buffer is empty, sendq only while it
//    is full (for an unbuffered channel both are "full" and "empty");
//  - after close, both queues are empty and stay empty.
// So an operation never has to look at both the buffer and the far queue:
//  - send: a waiting receiver gets the value moved straight into its slot
//    (no trip through the buffer), else the value goes into the buffer, else
//    the sender waits with its value in its link;
//  - recv: a waiting sender means a full buffer (or none): take the head and
//    move the sender's value into the freed tail slot — FIFO is kept and the
//    sender completes; else take the head; else wait.
// Every waker claims the waiter first (Waiter::claim), moves the value while
// still holding the channel lock, and calls wake() only after unlocking, so
// the woken goroutine does not immediately spin on the lock we hold.
//
// select locks all its channels at once, in address order (Go's lockorder,
// which makes concurrent selects deadlock-free), checks its cases in a
// random order (Go's pollorder: the first ready case in a uniformly random
// permutation is uniform among the ready cases), and otherwise queues one link
// per case on every channel and parks once. The first waker to claim the
// Waiter wins; the losing links are dropped by wakers that fail to claim them
// or unlinked by the select when it resumes.
#include "cogo/chan.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "cogo/detail/os.h"
#include "cogo/detail/waiter.h"

namespace cogo::detail {

class ChanCore {
 public:
  enum class Result { kDone, kClosed, kWouldBlock };

  ChanCore(const ElemOps* ops, std::size_t cap) : ops_(ops), cap_(cap) {
    if (cap_ > 0) {
      buf_ = static_cast<unsigned char*>(
          ::operator new(cap_ * ops_->size, std::align_val_t(ops_->align)));
    }
  }
  ~ChanCore() {
    for (std::size_t i = 0; i < count_; ++i) ops_->destroy(slot((head_ + i) % cap_));
    if (buf_ != nullptr) ::operator delete(buf_, std::align_val_t(ops_->align));
  }
  ChanCore(const ChanCore&) = delete;
  ChanCore& operator=(const ChanCore&) = delete;

  // send_locked() completes a send of *src if that needs no waiting. *wake
  // gets the receiver to wake after unlocking, if any. Precondition: lock held.
  Result send_locked(void* src, Waiter** wake) {
    if (closed_) return Result::kClosed;
    if (WaitLink* l = recvq_.pop_claimed()) {
      ops_->move_to(l->elem, src);
      *wake = complete(l, true);
      return Result::kDone;
    }
    if (count_ < cap_) {
      ops_->move_to(slot((head_ + count_) % cap_), src);
      ++count_;
      return Result::kDone;
    }
    return Result::kWouldBlock;
  }

  // recv_locked() completes a receive into raw storage dst if that needs no
  // waiting (kClosed: closed and drained). Precondition: lock held.
  Result recv_locked(void* dst, Waiter** wake) {
    if (WaitLink* l = sendq_.pop_claimed()) {
      if (cap_ == 0) {
        ops_->move_to(dst, l->elem);
      } else {
        // A waiting sender means the buffer is full: the head goes to the
        // receiver, the sender's value into the slot it frees (the new tail).
        void* head = slot(head_);
        ops_->move_to(dst, head);
        ops_->destroy(head);
        ops_->move_to(head, l->elem);
        head_ = (head_ + 1) % cap_;
      }
      *wake = complete(l, true);
      return Result::kDone;
    }
    if (count_ > 0) {
      void* head = slot(head_);
      ops_->move_to(dst, head);
      ops_->destroy(head);
      head_ = (head_ + 1) % cap_;
      --count_;
      return Result::kDone;
    }
    return closed_ ? Result::kClosed : Result::kWouldBlock;
  }

  // close_locked() closes the channel and claims every waiter; returns them
  // chained through WaitLink::next, to be woken after unlocking.
  // Precondition: lock held, not closed.
  WaitLink* close_locked() {
    closed_ = true;
    WaitLink* wake = nullptr;
    for (WaitQueue* q : {&recvq_, &sendq_}) {
      while (WaitLink* l = q->pop_claimed()) {
        complete(l, false);
        l->next = wake;  // the link is ours now that it is claimed and unqueued
        wake = l;
      }
    }
    return wake;
  }

  WaitQueue& queue(bool send) { return send ? sendq_ : recvq_; }
  bool closed() const { return closed_; }
  std::size_t count() const { return count_; }
  std::size_t cap() const { return cap_; }

  mutable SpinLock lock;  // guards every field below except ops_ and cap_

 private:
  static Waiter* complete(WaitLink* l, bool ok) {
    Waiter* w = l->waiter;
    w->ok = ok;
    w->fired = l->case_index;
    return w;
  }
  void* slot(std::size_t i) { return buf_ + i * ops_->size; }

  const ElemOps* const ops_;
  const std::size_t cap_;
  unsigned char* buf_ = nullptr;  // cap_ slots; [head_, head_ + count_) constructed
  std::size_t head_ = 0;
  std::size_t count_ = 0;
  bool closed_ = false;
  WaitQueue recvq_;
  WaitQueue sendq_;
};

namespace {

// fastrand() is a per-thread wyrand. Never inlined into a caller that may
// park: a goroutine can resume on another thread, and a compiler may cache a
// thread_local's address across the park.
[[gnu::noinline]] uint64_t fastrand() {
  thread_local uint64_t state = [] {
    std::random_device rd;
    return (uint64_t(rd()) << 32) ^ rd() ^
           uint64_t(std::hash<std::thread::id>{}(std::this_thread::get_id()));
  }();
  state += 0xa0761d6478bd642fULL;
  __uint128_t m = __uint128_t(state) * (state ^ 0xe7037ed1a0b428dbULL);
  return uint64_t(m >> 64) ^ uint64_t(m);
}

// fastrandn() is uniform enough in [0, n) for shuffling a handful of cases
// (Lemire's multiply-shift; the bias is below 2^-32 for small n).
uint32_t fastrandn(uint32_t n) {
  return uint32_t((uint64_t(uint32_t(fastrand())) * n) >> 32);
}

// Scratch is select's per-call workspace: on the stack for the usual handful
// of cases, on the heap beyond that.
template <class T, std::size_t N = 8>
class Scratch {
 public:
  explicit Scratch(int n) {
    if (std::size_t(n) > N) {
      heap_.reset(new T[n]);
      p_ = heap_.get();
    }
  }
  T& operator[](int i) { return p_[i]; }
  T* data() { return p_; }

 private:
  T local_[N]{};
  std::unique_ptr<T[]> heap_;
  T* p_ = local_;
};

// Locks is the set of distinct channels of a select, in lock order.
struct Locks {
  ChanCore** cores;
  int n;
};

void lock_all(const Locks& ls) {
  for (int i = 0; i < ls.n; ++i) ls.cores[i]->lock.lock();
}

// unlock_all() is also the park commit's unlock: once it has released the
// last lock the select may resume and return, so nothing of `arg` (on the
// select's stack) may be read after that.
void unlock_all(void* arg) {
  auto* ls = static_cast<Locks*>(arg);
  ChanCore** cores = ls->cores;
  for (int i = ls->n - 1; i >= 0; --i) cores[i]->lock.unlock();
}

void no_unlock(void*) {}

int64_t deadline_after(int64_t timeout_ns) {
  // Clamp so that deadline arithmetic in the timer heaps cannot overflow.
  constexpr int64_t kMax = int64_t(1) << 62;
  return nanotime() + std::min(timeout_ns, kMax);
}

// cancelled_wait() ends a send or receive whose context won the claim: its
// link is still queued (unless a waker that failed to claim dropped it).
[[noreturn]] void cancelled_wait(ChanCore& c, bool send, Waiter& w) {
  c.lock.lock();
  if (w.link.queued) c.queue(send).remove(&w.link);
  c.lock.unlock();
  throw_cancelled(w.cancel);
}

[[noreturn]] void block_forever() {
  // A waiter that nobody can find: parks the goroutine (or blocks the
  // thread) for good. Go's `select {}`.
  Waiter w;
  if (!w.wait(&no_unlock, nullptr, WaitReason::kSelectNoCases)) throw_cancelled(w.cancel);
  std::fprintf(stderr, "cogo runtime: a goroutine blocked forever in select was woken\n");
  std::abort();
}

}  // namespace

std::shared_ptr<ChanCore> chan_make(const ElemOps* ops, std::size_t capacity) {
  return std::make_shared<ChanCore>(ops, capacity);
}

void chan_send(ChanCore& c, void* src) {
  c.lock.lock();
  Waiter* wake = nullptr;
  switch (c.send_locked(src, &wake)) {
    case ChanCore::Result::kDone:
      c.lock.unlock();
      if (wake != nullptr) wake->wake();
      return;
    case ChanCore::Result::kClosed:
      c.lock.unlock();
      throw ChannelClosed();
    case ChanCore::Result::kWouldBlock:
      break;
  }
  Waiter w;
  w.link.elem = src;
  c.queue(true).push(&w.link);
  if (!w.wait(c.lock, WaitReason::kChanSend)) cancelled_wait(c, true, w);
  if (!w.ok) throw ChannelClosed();  // closed while we waited
}

bool chan_try_send(ChanCore& c, void* src) {
  c.lock.lock();
  Waiter* wake = nullptr;
  ChanCore::Result r = c.send_locked(src, &wake);
  c.lock.unlock();
  if (wake != nullptr) wake->wake();
  if (r == ChanCore::Result::kClosed) throw ChannelClosed();
  return r == ChanCore::Result::kDone;
}

bool chan_recv(ChanCore& c, void* dst) {
  c.lock.lock();
  Waiter* wake = nullptr;
  switch (c.recv_locked(dst, &wake)) {
    case ChanCore::Result::kDone:
      c.lock.unlock();
      if (wake != nullptr) wake->wake();
      return true;
    case ChanCore::Result::kClosed:
      c.lock.unlock();
      return false;
    case ChanCore::Result::kWouldBlock:
      break;
  }
  Waiter w;
  w.link.elem = dst;
  c.queue(false).push(&w.link);
  if (!w.wait(c.lock, WaitReason::kChanRecv)) cancelled_wait(c, false, w);
  return w.ok;
}

RecvStatus chan_try_recv(ChanCore& c, void* dst) {
  c.lock.lock();
  Waiter* wake = nullptr;
  ChanCore::Result r = c.recv_locked(dst, &wake);
  c.lock.unlock();
  if (wake != nullptr) wake->wake();
  switch (r) {
    case ChanCore::Result::kDone:
      return RecvStatus::kValue;
    case ChanCore::Result::kClosed:
      return RecvStatus::kClosed;
    default:
      return RecvStatus::kEmpty;
  }
}

void chan_close(ChanCore& c) {
  c.lock.lock();
  if (c.closed()) {
    c.lock.unlock();
    throw ChannelClosed("cogo: close of closed channel");
  }
  WaitLink* wake = c.close_locked();
  c.lock.unlock();
  wake_chain(wake);
}

std::size_t chan_size(const ChanCore& c) {
  c.lock.lock();
  std::size_t n = c.count();
  c.lock.unlock();
  return n;
}

std::size_t chan_capacity(const ChanCore& c) {
  return c.cap();
}

int select_cases(SelectCase* cases, int n, bool has_default, int64_t timeout_ns, bool* recv_ok) {
  if (n == 0) {
    if (has_default) return kSelectDefault;
    if (timeout_ns < 0) block_forever();
    // Only a timeout: a wait nobody else can claim. No lock is involved, so
    // the unlock is a no-op (the waiter may resume before the commit ends).
    Waiter w;
    if (!w.wait_until(&no_unlock, nullptr, WaitReason::kSelect, deadline_after(timeout_ns)) &&
        w.fired == Waiter::kCancelled) {
      throw_cancelled(w.cancel);
    }
    return kSelectTimeout;
  }
  const int64_t deadline = timeout_ns >= 0 ? deadline_after(timeout_ns) : -1;

  // pollorder: a uniformly random permutation (inside-out Fisher-Yates).
  Scratch<int> poll(n);
  for (int i = 0; i < n; ++i) {
    int j = int(fastrandn(uint32_t(i + 1)));
    poll[i] = poll[j];
    poll[j] = i;
  }
  // lockorder: case indices by channel address; each channel locked once.
  Scratch<int> order(n);
  for (int i = 0; i < n; ++i) order[i] = i;
  std::sort(order.data(), order.data() + n,
            [cases](int a, int b) { return std::less<ChanCore*>()(cases[a].core, cases[b].core); });
  Scratch<ChanCore*> cores(n);
  int ncores = 0;
  for (int i = 0; i < n; ++i) {
    ChanCore* c = cases[order[i]].core;
    if (ncores == 0 || cores[ncores - 1] != c) cores[ncores++] = c;
  }
  Locks locks{cores.data(), ncores};
  lock_all(locks);

  // Pass 1: take the first ready case in poll order.
  for (int k = 0; k < n; ++k) {
    int i = poll[k];
    SelectCase& sc = cases[i];
    Waiter* wake = nullptr;
    ChanCore::Result r =
        sc.is_send ? sc.core->send_locked(sc.elem, &wake) : sc.core->recv_locked(sc.elem, &wake);
    if (r == ChanCore::Result::kWouldBlock) continue;
    unlock_all(&locks);
    if (wake != nullptr) wake->wake();
    if (sc.is_send && r == ChanCore::Result::kClosed) throw ChannelClosed();
    *recv_ok = r == ChanCore::Result::kDone;
    return i;
  }
  if (has_default) {
    unlock_all(&locks);
    return kSelectDefault;
  }

  // Pass 2: queue a link on every case's channel and park once.
  Waiter w;
  Scratch<WaitLink> links(n);
  for (int k = 0; k < n; ++k) {
    int i = order[k];
    links[i].waiter = &w;
    links[i].elem = cases[i].elem;
    links[i].case_index = i;
    cases[i].core->queue(cases[i].is_send).push(&links[i]);
  }
  if (deadline >= 0) {
    (void)w.wait_until(&unlock_all, &locks, WaitReason::kSelect, deadline);
  } else {
    (void)w.wait(&unlock_all, &locks, WaitReason::kSelect);
  }

  // Pass 3: unlink the cases that did not fire (a waker that failed to claim
  // may have dropped some already).
  // With one case that a waker completed, its link is already unqueued (the
  // claimer's writes reached us through wake()), so skip the locking.
  if (n > 1 || w.fired == Waiter::kTimedOut || w.fired == Waiter::kCancelled) {
    lock_all(locks);
    for (int i = 0; i < n; ++i) {
      if (links[i].queued) cases[i].core->queue(cases[i].is_send).remove(&links[i]);
    }
    unlock_all(&locks);
  }

  if (w.fired == Waiter::kTimedOut) return kSelectTimeout;
  if (w.fired == Waiter::kCancelled) throw_cancelled(w.cancel);
  int i = w.fired;
  if (cases[i].is_send && !w.ok) throw ChannelClosed();  // closed while we waited
  *recv_ok = w.ok;
  return i;
}

}  // namespace cogo::detail
