// timer_heap.h: a P's timer heap (binary min-heap on `when`) and its lock.
// Timer states (Timer::state): kTimerIdle (not armed; its owner may destroy
// it), kTimerArmed (in heap heap_p at heap_index; moved out only under that
// heap's lock), kTimerRunning (popped, its callback runs; the runner moves it
// back to idle unless the callback re-armed it).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include "cogo/detail/sched.h"

namespace cogo::detail {

enum TimerState : int { kTimerIdle = 0, kTimerArmed = 1, kTimerRunning = 2 };

struct TimerHeap {
  std::mutex lock;
  std::vector<Timer*> heap;          // lock
  std::atomic<int64_t> when0{0};     // heap top's when, 0 if empty; written under lock

  void push(Timer* t);               // lock held
  void remove_at(int i);             // lock held
  Timer* top() const { return heap.empty() ? nullptr : heap.front(); }
  void publish_when0() {
    when0.store(heap.empty() ? 0 : heap.front()->when, std::memory_order_release);
  }

 private:
  void sift_up(int i);
  void sift_down(int i);
  void swap_at(int a, int b);
};

}  // namespace cogo::detail
