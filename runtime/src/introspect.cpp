// introspect.cpp: counters and the goroutine dump.
#include "cogo/introspect.h"

#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <string>

#include "runtime2.h"

namespace cogo::detail {

const char* wait_reason_name(WaitReason r) {
  switch (r) {
    case WaitReason::kNone: return "";
    case WaitReason::kChanSend: return "chan send";
    case WaitReason::kChanRecv: return "chan receive";
    case WaitReason::kSelect: return "select";
    case WaitReason::kSelectNoCases: return "select (no cases)";
    case WaitReason::kSleep: return "sleep";
    case WaitReason::kMutex: return "sync.Mutex.Lock";
    case WaitReason::kCond: return "sync.Cond.Wait";
    case WaitReason::kWaitGroup: return "sync.WaitGroup.Wait";
    case WaitReason::kOnce: return "sync.Once";
    case WaitReason::kIORead: return "IO wait (read)";
    case WaitReason::kIOWrite: return "IO wait (write)";
    case WaitReason::kBlocking: return "blocking call";
    case WaitReason::kPreempted: return "preempted";
  }
  return "?";
}

const char* gstatus_name(GStatus s) {
  switch (s) {
    case GStatus::kIdle: return "idle";
    case GStatus::kRunnable: return "runnable";
    case GStatus::kRunning: return "running";
    case GStatus::kWaiting: return "waiting";
    case GStatus::kDead: return "dead";
    case GStatus::kBlocking: return "syscall";
  }
  return "?";
}

void print_dump_to_stderr() {
  std::string s = cogo::goroutine_dump();
  size_t off = 0;
  while (off < s.size()) {
    ssize_t w = write(STDERR_FILENO, s.data() + off, s.size() - off);
    if (w <= 0) break;
    off += static_cast<size_t>(w);
  }
}

}  // namespace cogo::detail

namespace cogo {

using namespace detail;

RuntimeStats stats() {
  RuntimeStats st;
  if (!sched.running.load(std::memory_order_acquire)) return st;
  st.gomaxprocs = sched.gomaxprocs;
  st.goroutines = static_cast<uint64_t>(sched.ngoroutines.load(std::memory_order_relaxed));
  st.spawned = sched.spawned.load(std::memory_order_relaxed);
  st.parks = sched.parks.load(std::memory_order_relaxed);
  st.retakes = sched.retakes.load(std::memory_order_relaxed);
  st.global_run_queue = sched.runqsize.load(std::memory_order_relaxed);
  st.stack_size = stack_size();
  for (P* p : sched.allp) {
    ProcessorStats ps;
    ps.id = p->id;
    ps.run_queue = p->runq.size();
    ps.has_runnext = p->runq.runnext.load(std::memory_order_relaxed) != nullptr;
    ps.schedules = p->schedules.load(std::memory_order_relaxed);
    ps.steals = p->steals.load(std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lk(p->timers.lock);
      ps.timers = p->timers.heap.size();
    }
    st.context_switches += ps.schedules;
    st.steals += ps.steals;
    st.procs.push_back(ps);
  }
  {
    std::lock_guard<std::mutex> lk(sched.lock);
    st.threads = sched.mcount;
    st.idle_threads = sched.nmidle;
  }
  {
    std::lock_guard<std::mutex> lk(sched.gfree_lock);
    st.stacks_cached = sched.gfree_count;
  }
  for (P* p : sched.allp) (void)p;  // per-P caches are owner-only; counted globally below
  st.stacks_in_use = st.goroutines;
  return st;
}

std::string goroutine_dump() {
  std::string out;
  if (!sched.running.load(std::memory_order_acquire)) return out;
  const int64_t now = nanotime();
  char line[256];
  std::snprintf(line, sizeof line, "cogo: %" PRId64 " goroutines, GOMAXPROCS=%d\n",
                sched.ngoroutines.load(std::memory_order_relaxed), sched.gomaxprocs);
  out += line;
  std::lock_guard<std::mutex> lk(sched.allg_lock);
  for (G* g = sched.allg; g != nullptr; g = g->alllink) {
    const GStatus s = g->status.load(std::memory_order_acquire);
    if (s == GStatus::kIdle || s == GStatus::kDead) continue;
    const WaitReason r = g->wait_reason.load(std::memory_order_relaxed);
    const double secs =
        static_cast<double>(now - g->status_since.load(std::memory_order_relaxed)) / 1e9;
    if (s == GStatus::kWaiting || s == GStatus::kBlocking) {
      std::snprintf(line, sizeof line, "goroutine %" PRIu64 " [%s: %s, %.3fs]\n", g->id,
                    gstatus_name(s), wait_reason_name(r), secs);
    } else {
      std::snprintf(line, sizeof line, "goroutine %" PRIu64 " [%s]\n", g->id, gstatus_name(s));
    }
    out += line;
  }
  return out;
}

}  // namespace cogo
