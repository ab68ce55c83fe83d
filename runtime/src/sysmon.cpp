// sysmon.cpp: the system monitor — a thread without a P (Go's sysmon). It
// wakes every 20 µs to 10 ms (backing off while nothing happens) and:
//   - retakes the P of an M that has run one goroutine for over 10 ms while
//     other work waits, and hands it to another M (no goroutine hogs a P);
//   - polls the network if nobody has for 10 ms;
//   - every 100 ms, trims the free-goroutine pool: cached stacks beyond the
//     4,096 warm ones release their pages (stack_release_memory, up to 4,096
//     a round) and move to the cold list, so a burst of goroutines does not
//     pin its memory after it is gone;
//   - every 5 s, if 16 MiB or more sit free in the C heap's arenas after a
//     burst, gives their pages back (scavenge.cpp);
//   - prints the goroutine dump when SIGQUIT arrived.
#include <atomic>
#include <thread>

#include "runtime2.h"

namespace cogo::detail {

namespace {

std::atomic<uint32_t> g_sysmon_key{0};  // futex: sysmon's sleep; bumped to wake it
std::atomic<int> g_dump_requested{0};   // set by sysmon_request_dump() (SIGQUIT)

constexpr int64_t kForcePreemptNs = 10'000'000;  // Go's forcePreemptNS
constexpr int64_t kPollIntervalNs = 10'000'000;
constexpr int64_t kTrimIntervalNs = 100'000'000;
constexpr uint32_t kWarmStacks = 4096;  // pooled stacks that keep their pages

std::thread g_sysmon;
std::atomic<bool> g_sysmon_stop{false};

void sysmon_sleep(int64_t us) {
  const uint32_t seen = g_sysmon_key.load(std::memory_order_acquire);
  if (g_sysmon_stop.load(std::memory_order_acquire)) return;
  futex_sleep(&g_sysmon_key, seen, nanotime() + us * 1000);
}

// sysmon_wake() cuts sysmon's sleep short. Async-signal safe.
void sysmon_wake() {
  g_sysmon_key.fetch_add(1, std::memory_order_acq_rel);
  futex_wake(&g_sysmon_key, 1);
}

bool work_waiting(P* p) {
  return !p->runq.empty() || sched.runqsize.load(std::memory_order_relaxed) > 0 ||
         p->timers.when0.load(std::memory_order_relaxed) != 0 || poll_backend()->waiters();
}

// retake() takes Ps away from goroutines that hog them. Returns how many.
int retake(int64_t now) {
  int n = 0;
  for (P* p : sched.allp) {
    const uint64_t word = p->status.load(std::memory_order_acquire);
    const uint32_t tick = p->schedtick.load(std::memory_order_relaxed);
    if (pstate_of(word) != kPUser || tick != p->sysmon_tick) {
      p->sysmon_tick = tick;
      p->sysmon_when = now;
      continue;
    }
    if (now - p->sysmon_when < kForcePreemptNs || !work_waiting(p)) continue;
    uint64_t expect = word;
    if (!p->status.compare_exchange_strong(expect, pstatus(0, kPRunning),
                                           std::memory_order_acq_rel)) {
      continue;  // the owner entered the runtime meanwhile
    }
    p->m = nullptr;
    p->sysmon_when = now;
    sched.retakes.fetch_add(1, std::memory_order_relaxed);
    handoffp(p);
    n++;
  }
  return n;
}

void sysmon_loop() {
  int64_t delay_us = 20;
  int idle = 0;
  int64_t last_trim = nanotime();
  while (!g_sysmon_stop.load(std::memory_order_acquire)) {
    if (idle == 0) {
      delay_us = 20;
    } else if (idle > 50) {
      delay_us *= 2;
    }
    if (delay_us > 10'000) delay_us = 10'000;
    sysmon_sleep(delay_us);
    if (g_sysmon_stop.load(std::memory_order_acquire)) break;
    const int64_t now = nanotime();

    if (g_dump_requested.exchange(0, std::memory_order_acq_rel) != 0) print_dump_to_stderr();

    PollBackend* be = poll_backend();
    const int64_t last = sched.lastpoll.load(std::memory_order_seq_cst);
    if (be->waiters() && last != 0 && last + kPollIntervalNs < now) {
      int64_t expect = last;
      if (sched.lastpoll.compare_exchange_strong(expect, now, std::memory_order_seq_cst)) {
        GList list;
        be->poll(0, list);
        if (list.head != nullptr) {
          {
            std::lock_guard<std::mutex> lk(sched.lock);
            list.tail->schedlink = nullptr;
            if (sched.runq_tail) {
              sched.runq_tail->schedlink = list.head;
            } else {
              sched.runq_head = list.head;
            }
            sched.runq_tail = list.tail;
            sched.runqsize.fetch_add(list.size, std::memory_order_seq_cst);
          }
          wakep();
          idle = 0;
        }
      }
    }
    // A burst of goroutines has ended: give the pages of idle pooled stacks
    // back, a batch at a time, off the scheduling path.
    if (now - last_trim > kTrimIntervalNs) {
      last_trim = now;
      trim_free_stacks(kWarmStacks, 4096);
      scavenge_heap(now);
    }
    if (retake(now) > 0) {
      idle = 0;
    } else {
      idle++;
    }
  }
}

}  // namespace

void sysmon_start() {
  g_sysmon_stop.store(false, std::memory_order_release);
  g_sysmon = std::thread(sysmon_loop);
}

void sysmon_stop() {
  g_sysmon_stop.store(true, std::memory_order_release);
  sysmon_wake();
  if (g_sysmon.joinable()) g_sysmon.join();
}

void sysmon_request_dump() {
  g_dump_requested.store(1, std::memory_order_release);
  sysmon_wake();
}

}  // namespace cogo::detail
