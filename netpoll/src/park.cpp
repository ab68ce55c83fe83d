// park.cpp: Sema and Sleeper (see park.h).
#include "park.h"

#include <mutex>

#include "cogo/detail/os.h"

namespace cogo::net::detail {

using cogo::detail::current_g;
using cogo::detail::futex_sleep;
using cogo::detail::futex_wake;
using cogo::detail::nanotime;
using cogo::detail::park;
using cogo::detail::ready;
using cogo::detail::Timer;
using cogo::detail::WaitReason;

namespace {
// unlock_commit: the park commit that releases the queue's lock once the
// goroutine is off its stack, so a waker that pops it can ready it at once.
bool unlock_commit(G*, void* lock) {
  static_cast<SpinLock*>(lock)->unlock();
  return true;
}
}  // namespace

void Sema::acquire(WaitReason reason) {
  mu_.lock();
  if (count_ > 0) {
    --count_;
    mu_.unlock();
    return;
  }
  Waiter w;
  w.g = current_g();
  if (tail_) {
    tail_->next = &w;
  } else {
    head_ = &w;
  }
  tail_ = &w;
  if (w.g) {
    park(unlock_commit, &mu_, reason);
    return;  // release() handed us the unit
  }
  mu_.unlock();
  while (w.done.load(std::memory_order_acquire) == 0) futex_sleep(&w.done, 0, -1);
}

void Sema::release() {
  mu_.lock();
  Waiter* w = head_;
  if (!w) {
    ++count_;
    mu_.unlock();
    return;
  }
  head_ = w->next;
  if (!head_) tail_ = nullptr;
  mu_.unlock();
  if (G* g = w->g) {
    ready(g);  // w stays valid: its goroutine cannot run before this
  } else {
    w->done.store(1, std::memory_order_release);
    futex_wake(&w->done, 1);  // a stale address at worst: futex tolerates that
  }
}

void Sema::drop_goroutine_waiters() {
  mu_.lock();
  Waiter* keep_head = nullptr;
  Waiter* keep_tail = nullptr;
  for (Waiter* w = head_; w;) {
    Waiter* next = w->next;
    if (!w->g) {
      w->next = nullptr;
      if (keep_tail) {
        keep_tail->next = w;
      } else {
        keep_head = w;
      }
      keep_tail = w;
    }
    w = next;
  }
  head_ = keep_head;
  tail_ = keep_tail;
  mu_.unlock();
}

namespace {
std::mutex sleepers_mu;
Sleeper* sleepers = nullptr;  // guarded by sleepers_mu
}  // namespace

Sleeper::Sleeper() {
  std::lock_guard<std::mutex> lk(sleepers_mu);
  reg_next_ = sleepers;
  if (sleepers) sleepers->reg_prev_ = this;
  sleepers = this;
}

Sleeper::~Sleeper() {
  std::lock_guard<std::mutex> lk(sleepers_mu);
  if (reg_prev_) {
    reg_prev_->reg_next_ = reg_next_;
  } else {
    sleepers = reg_next_;
  }
  if (reg_next_) reg_next_->reg_prev_ = reg_prev_;
}

// A Node is one sleep, on the sleeper's stack. state moves
//   kRunning -> kParked    (the goroutine's park commit)
//   kRunning|kParked -> kWoken   (the timer, cancel(), or a thread's own timeout)
// and only the one who moves it to kWoken from kParked readies the goroutine.
struct Sleeper::Node {
  static constexpr uint32_t kRunning = 0, kParked = 1, kWoken = 2;
  G* g = nullptr;
  std::atomic<uint32_t> state{kRunning};
  Timer timer;
  Node* prev = nullptr;
  Node* next = nullptr;

  void wake() {
    for (;;) {
      uint32_t s = state.load(std::memory_order_acquire);
      if (s == kWoken) return;
      if (state.compare_exchange_weak(s, kWoken, std::memory_order_acq_rel)) {
        if (g) {
          if (s == kParked) ready(g);
        } else {
          futex_wake(&state, 1);
        }
        return;
      }
    }
  }
};

bool Sleeper::sleep_until(int64_t when) {
  Node n;
  n.g = current_g();
  mu_.lock();
  if (cancelled_) {
    mu_.unlock();
    return false;
  }
  n.next = head_;
  if (head_) head_->prev = &n;
  head_ = &n;
  mu_.unlock();

  if (n.g) {
    n.timer.fn = [](void* arg, uintptr_t) { static_cast<Node*>(arg)->wake(); };
    n.timer.arg = &n;
    cogo::detail::timer_start(&n.timer, when);
    park(
        [](G*, void* arg) {
          uint32_t running = Node::kRunning;
          return static_cast<Node*>(arg)->state.compare_exchange_strong(running, Node::kParked,
                                                                        std::memory_order_acq_rel);
        },
        &n, WaitReason::kSleep);
    cogo::detail::timer_stop(&n.timer);  // waits out a callback still touching n
  } else {
    for (;;) {
      if (n.state.load(std::memory_order_acquire) == Node::kWoken) break;
      if (!futex_sleep(&n.state, Node::kRunning, when) || nanotime() >= when) {
        n.wake();  // claim it ourselves; cancel() may have won meanwhile
        break;
      }
    }
  }

  mu_.lock();
  if (n.prev) {
    n.prev->next = n.next;
  } else {
    head_ = n.next;
  }
  if (n.next) n.next->prev = n.prev;
  bool cancelled = cancelled_;
  mu_.unlock();
  return !cancelled;
}

void Sleeper::drop_all_goroutines() {
  std::lock_guard<std::mutex> lk(sleepers_mu);
  for (Sleeper* s = sleepers; s; s = s->reg_next_) {
    s->mu_.lock();
    for (Node* n = s->head_; n;) {
      Node* next = n->next;
      if (n->g) {
        if (n->prev) {
          n->prev->next = n->next;
        } else {
          s->head_ = n->next;
        }
        if (n->next) n->next->prev = n->prev;
      }
      n = next;
    }
    s->mu_.unlock();
  }
}

void Sleeper::cancel() {
  mu_.lock();
  cancelled_ = true;
  // Nodes unlink themselves under mu_, so each stays valid while we hold it.
  for (Node* n = head_; n; n = n->next) n->wake();
  mu_.unlock();
}

}  // namespace cogo::net::detail
