// cogo/introspect.h: counters and the goroutine dump (Go's traceback).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cogo {

struct ProcessorStats {
  int id = 0;
  uint32_t run_queue = 0;     // goroutines in the local run queue
  bool has_runnext = false;   // a goroutine waits in runnext
  uint64_t schedules = 0;     // goroutines this P has switched into
  uint64_t steals = 0;        // successful steals by this P from others
  uint64_t timers = 0;        // timers in this P's heap
};

struct RuntimeStats {
  int gomaxprocs = 0;
  uint64_t goroutines = 0;        // alive (not dead), the main goroutine included
  uint64_t spawned = 0;           // goroutines created since run() started
  uint64_t context_switches = 0;  // switches into goroutines
  uint64_t parks = 0;             // goroutines parked
  uint64_t steals = 0;            // successful steals, all Ps
  uint64_t retakes = 0;           // Ps retaken by sysmon (hogs and blocking calls)
  uint64_t threads = 0;           // Ms created (sysmon excluded)
  uint64_t idle_threads = 0;      // Ms asleep
  uint64_t global_run_queue = 0;
  uint64_t stacks_in_use = 0;
  uint64_t stacks_cached = 0;
  uint64_t stack_size = 0;        // bytes reserved per goroutine stack
  std::vector<ProcessorStats> procs;
};

// stats() samples the runtime's counters; all zero when no runtime runs.
RuntimeStats stats();

// goroutine_dump() lists every live goroutine: id, state, wait reason and
// time in that state, like Go's traceback. Also printed to stderr on SIGQUIT
// (the process keeps running).
std::string goroutine_dump();

}  // namespace cogo
