// timer.cpp: runtime timers in per-P heaps. A timer is armed on the heap of
// the P that arms it (any heap when armed off a P); every M that looks for
// work runs the expired timers of its own heap, and of others' while it
// steals; the nearest timer of all heaps bounds how long the polling M sleeps.
#include <sched.h>

#include "runtime2.h"

namespace cogo::detail {

void TimerHeap::swap_at(int a, int b) {
  Timer* ta = heap[a];
  heap[a] = heap[b];
  heap[b] = ta;
  heap[a]->heap_index = a;
  heap[b]->heap_index = b;
}

void TimerHeap::sift_up(int i) {
  while (i > 0) {
    int parent = (i - 1) / 2;
    if (heap[parent]->when <= heap[i]->when) break;
    swap_at(i, parent);
    i = parent;
  }
}

void TimerHeap::sift_down(int i) {
  const int n = static_cast<int>(heap.size());
  for (;;) {
    int l = 2 * i + 1, r = l + 1, m = i;
    if (l < n && heap[l]->when < heap[m]->when) m = l;
    if (r < n && heap[r]->when < heap[m]->when) m = r;
    if (m == i) return;
    swap_at(i, m);
    i = m;
  }
}

void TimerHeap::push(Timer* t) {
  t->heap_index = static_cast<int>(heap.size());
  heap.push_back(t);
  sift_up(t->heap_index);
}

void TimerHeap::remove_at(int i) {
  const int last = static_cast<int>(heap.size()) - 1;
  Timer* t = heap[i];
  if (i != last) {
    swap_at(i, last);
    heap.pop_back();
    sift_down(i);
    sift_up(i);
  } else {
    heap.pop_back();
  }
  t->heap_index = -1;
}

void timer_start(Timer* t, int64_t when) {
  if (!sched.running.load(std::memory_order_acquire) || sched.allp.empty()) {
    fatal("timer_start with no runtime running");
  }
  const int s = t->state.load(std::memory_order_acquire);
  if (s == kTimerArmed) fatal("timer_start on an armed timer");
  M* m = getm();
  const int hp = (m && m->p) ? m->p->id : 0;
  TimerHeap& h = sched.allp[hp]->timers;
  {
    std::lock_guard<std::mutex> lk(h.lock);
    t->when = when;
    t->heap_p.store(hp, std::memory_order_relaxed);
    t->state.store(kTimerArmed, std::memory_order_release);
    h.push(t);
    h.publish_when0();
  }
  wake_poller_for_timer(when);
}

bool timer_stop(Timer* t) {
  for (;;) {
    int s = t->state.load(std::memory_order_acquire);
    if (s == kTimerIdle) return false;
    if (s == kTimerRunning) {
      // Its callback runs on another thread (it is short: it may only ready
      // goroutines); wait so that the caller may destroy t.
      while (t->state.load(std::memory_order_acquire) == kTimerRunning) sched_yield();
      continue;  // it may have re-armed itself
    }
    const int hp = t->heap_p.load(std::memory_order_relaxed);
    if (hp < 0 || hp >= static_cast<int>(sched.allp.size())) continue;
    TimerHeap& h = sched.allp[hp]->timers;
    std::lock_guard<std::mutex> lk(h.lock);
    if (t->state.load(std::memory_order_relaxed) == kTimerArmed &&
        t->heap_p.load(std::memory_order_relaxed) == hp) {
      h.remove_at(t->heap_index);
      h.publish_when0();
      t->heap_p.store(-1, std::memory_order_relaxed);
      t->state.store(kTimerIdle, std::memory_order_release);
      return true;
    }
  }
}

int64_t run_timers(P* p, int64_t now) {
  TimerHeap& h = p->timers;
  const int64_t w0 = h.when0.load(std::memory_order_acquire);
  if (w0 == 0 || w0 > now) return w0;
  std::unique_lock<std::mutex> lk(h.lock, std::try_to_lock);
  if (!lk.owns_lock()) return w0;  // somebody else runs them
  for (;;) {
    Timer* t = h.top();
    if (t == nullptr || t->when > now) break;
    h.remove_at(0);
    t->heap_p.store(-1, std::memory_order_relaxed);
    t->state.store(kTimerRunning, std::memory_order_release);
    h.publish_when0();
    lk.unlock();
    t->fn(t->arg, t->seq);
    int running = kTimerRunning;
    t->state.compare_exchange_strong(running, kTimerIdle, std::memory_order_acq_rel);
    // t may be gone now.
    lk.lock();
  }
  h.publish_when0();
  return h.when0.load(std::memory_order_relaxed);
}

int64_t nearest_timer() {
  int64_t best = 0;
  for (P* p : sched.allp) {
    int64_t w = p->timers.when0.load(std::memory_order_acquire);
    if (w != 0 && (best == 0 || w < best)) best = w;
  }
  return best;
}

}  // namespace cogo::detail
