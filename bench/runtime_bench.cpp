// runtime_bench: the scheduler's costs, each beside its OS-thread equivalent
// in the same binary (see ../shared/BENCH.md and issue 2, "Figures").
//
//   build/bin/runtime_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
//
// Every cogo benchmark runs its whole measured loop inside one cogo::run, so
// the runtime is started once per benchmark invocation with the P count of
// the benchmark's `procs` argument (COGO_MAXPROCS is read when run() starts).
// All benchmarks use real time: a goroutine's body may hop between Ms, so the
// CPU time of the benchmark thread means nothing.
//
// Counters: items_per_second (Google Benchmark's), and ns_per_op: the
// measured loop's wall time divided by the operations of the benchmark's unit
// — one goroutine spawned and finished, one ping-pong round trip, one lock
// acquisition. (Debian's libbenchmark prints "Library was built as DEBUG":
// that is the library's own build, not ours.)
//
// BM_IdleRuntime is not a speed: it parks 1,000 goroutines on channels, sleeps
// 5 s and reports the process's CPU time over that window as cpu_pct_of_core
// (getrusage(RUSAGE_SELF): every thread, sysmon included).
#include <benchmark/benchmark.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cogo/chan.h"
#include "cogo/introspect.h"
#include "cogo/runtime.h"
#include "cogo/sync.h"

namespace {

// run_with_procs() runs body as the main goroutine of a fresh runtime with
// `procs` Ps.
template <class F>
void run_with_procs(int procs, F&& body) {
  setenv("COGO_MAXPROCS", std::to_string(procs).c_str(), 1);
  cogo::run(std::forward<F>(body));
}

// LoopClock: wall time of the measured loop. Start it right before
// `for (auto _ : state)` (after the setup), stop it right after.
struct LoopClock {
  std::chrono::steady_clock::time_point t0, t1;
  void start() { t0 = std::chrono::steady_clock::now(); }
  void stop() { t1 = std::chrono::steady_clock::now(); }
  double ns() const { return std::chrono::duration<double, std::nano>(t1 - t0).count(); }
};

// set_per_op() reports ns_per_op (the loop's wall time / ops) and
// items_per_second.
void set_per_op(benchmark::State& state, const LoopClock& clock, double ops) {
  state.SetItemsProcessed(static_cast<int64_t>(ops));
  state.counters["ns_per_op"] = clock.ns() / ops;
}

void pin_to_cpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

void unpin() {
  cpu_set_t set;
  CPU_ZERO(&set);
  const int n = static_cast<int>(std::thread::hardware_concurrency());
  for (int i = 0; i < n; i++) CPU_SET(i, &set);
  pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

// ---- spawn + run + exit ----

// BM_GoroutineSpawn: each iteration spawns a batch of goroutines that each
// call WaitGroup::done(), then waits for them (Go: `go f()` + wg.Done()).
// Stacks come from the pool after the first batch: that is the steady state.
void BM_GoroutineSpawn(benchmark::State& state) {
  LoopClock clock;
  const int procs = static_cast<int>(state.range(0));
  const int batch = static_cast<int>(state.range(1));
  run_with_procs(procs, [&] {
    clock.start();
    for (auto _ : state) {
      cogo::WaitGroup wg;
      wg.add(batch);
      for (int i = 0; i < batch; i++) cogo::go([&wg] { wg.done(); });
      wg.wait();
    }
    clock.stop();
  });
  set_per_op(state, clock, static_cast<double>(state.iterations()) * batch);
}
BENCHMARK(BM_GoroutineSpawn)
    ->ArgNames({"procs", "batch"})
    ->Args({1, 1000})
    ->Args({2, 1000})
    ->UseRealTime();

// BM_ThreadCreateJoin: the thread-per-task equivalent, one at a time.
void BM_ThreadCreateJoin(benchmark::State& state) {
  LoopClock clock;
  std::atomic<int> sink{0};
  clock.start();
  for (auto _ : state) {
    std::thread t([&sink] { sink.fetch_add(1, std::memory_order_relaxed); });
    t.join();
  }
  clock.stop();
  set_per_op(state, clock, static_cast<double>(state.iterations()));
}
BENCHMARK(BM_ThreadCreateJoin)->UseRealTime();

// ---- unbuffered channel ping-pong ----

// BM_ChanPingPong: one round trip = a send on `ping` received by the partner
// goroutine, and its send on `pong` received back (two rendezvous, two
// park/ready pairs; on one P two switches into goroutines, each through g0).
void BM_ChanPingPong(benchmark::State& state) {
  LoopClock clock;
  const int procs = static_cast<int>(state.range(0));
  uint64_t switches = 0;
  run_with_procs(procs, [&] {
    cogo::Chan<int> ping, pong;
    cogo::WaitGroup done;
    done.add(1);
    cogo::go([ping, pong, &done] {
      while (auto v = ping.recv()) pong.send(*v + 1);
      done.done();
    });
    int v = 0;
    const uint64_t s0 = cogo::stats().context_switches;
    clock.start();
    for (auto _ : state) {
      ping.send(v);
      v = *pong.recv();
    }
    clock.stop();
    switches = cogo::stats().context_switches - s0;
    ping.close();
    done.wait();
    benchmark::DoNotOptimize(v);
  });
  set_per_op(state, clock, static_cast<double>(state.iterations()));
  state.counters["switches_per_op"] =
      static_cast<double>(switches) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_ChanPingPong)->ArgName("procs")->Arg(1)->Arg(2)->UseRealTime();

// BM_CondVarPingPong: two threads hand a turn back and forth under a
// std::mutex + std::condition_variable. pinned=0: the kernel places the
// threads (on this 2-core machine: one per core, so every wake-up crosses
// cores); pinned=1: both on CPU 0 (a wake-up is a switch on one core).
void BM_CondVarPingPong(benchmark::State& state) {
  LoopClock clock;
  const bool pinned = state.range(0) != 0;
  std::mutex mu;
  std::condition_variable cv;
  int turn = 0;  // 0: main's turn, 1: partner's turn, 2: stop
  if (pinned) pin_to_cpu(0);
  std::thread partner([&] {
    if (pinned) pin_to_cpu(0);
    std::unique_lock<std::mutex> lk(mu);
    for (;;) {
      cv.wait(lk, [&] { return turn != 0; });
      if (turn == 2) return;
      turn = 0;
      cv.notify_one();
    }
  });
  clock.start();
  for (auto _ : state) {
    std::unique_lock<std::mutex> lk(mu);
    turn = 1;
    cv.notify_one();
    cv.wait(lk, [&] { return turn == 0; });
  }
  clock.stop();
  {
    std::lock_guard<std::mutex> lk(mu);
    turn = 2;
  }
  cv.notify_one();
  partner.join();
  if (pinned) unpin();
  set_per_op(state, clock, static_cast<double>(state.iterations()));
}
BENCHMARK(BM_CondVarPingPong)->ArgName("pinned")->Arg(0)->Arg(1)->UseRealTime();

// ---- Mutex under contention ----

constexpr int kLocksPerWorker = 10'000;

// BM_MutexContended: `workers` goroutines each take the lock kLocksPerWorker
// times around a short critical section. One iteration = workers x
// kLocksPerWorker acquisitions. On one P the holder is never interrupted
// inside the critical section (no preemption), so this is the uncontended
// fast path; on 2 Ps the lock is really fought over. parks_per_op says how
// often a lock() had to park.
void BM_MutexContended(benchmark::State& state) {
  LoopClock clock;
  const int procs = static_cast<int>(state.range(0));
  const int workers = static_cast<int>(state.range(1));
  uint64_t parks = 0;
  run_with_procs(procs, [&] {
    cogo::Mutex mu;
    uint64_t counter = 0;
    const uint64_t p0 = cogo::stats().parks;
    clock.start();
    for (auto _ : state) {
      cogo::WaitGroup wg;
      wg.add(workers);
      for (int w = 0; w < workers; w++) {
        cogo::go([&] {
          for (int i = 0; i < kLocksPerWorker; i++) {
            std::lock_guard<cogo::Mutex> g(mu);
            counter++;
          }
          wg.done();
        });
      }
      wg.wait();
    }
    clock.stop();
    parks = cogo::stats().parks - p0;
    benchmark::DoNotOptimize(counter);
  });
  const double ops = static_cast<double>(state.iterations()) * workers * kLocksPerWorker;
  set_per_op(state, clock, ops);
  state.counters["parks_per_op"] = static_cast<double>(parks) / ops;
}
BENCHMARK(BM_MutexContended)
    ->ArgNames({"procs", "workers"})
    ->Args({1, 4})
    ->Args({2, 2})
    ->Args({2, 4})
    ->UseRealTime();

// BM_StdMutexContended: the same with std::mutex and `workers` threads.
void BM_StdMutexContended(benchmark::State& state) {
  LoopClock clock;
  const int workers = static_cast<int>(state.range(0));
  std::mutex mu;
  uint64_t counter = 0;
  clock.start();
  for (auto _ : state) {
    std::vector<std::thread> ts;
    ts.reserve(static_cast<size_t>(workers));
    for (int w = 0; w < workers; w++) {
      ts.emplace_back([&] {
        for (int i = 0; i < kLocksPerWorker; i++) {
          std::lock_guard<std::mutex> g(mu);
          counter++;
        }
      });
    }
    for (auto& t : ts) t.join();
  }
  clock.stop();
  benchmark::DoNotOptimize(counter);
  set_per_op(state, clock, static_cast<double>(state.iterations()) * workers * kLocksPerWorker);
}
BENCHMARK(BM_StdMutexContended)->ArgName("workers")->Arg(2)->Arg(4)->UseRealTime();

// BM_MutexHandoff: every acquisition is a hand-off. Each worker holds the
// lock across a yield, so by the time it unlocks the other workers have
// queued on the lock and parked; unlock() hands ownership to the longest
// waiter and readies it. One op = one lock/yield/unlock cycle (so it
// includes a yield: compare with BM_Yield).
void BM_MutexHandoff(benchmark::State& state) {
  LoopClock clock;
  const int procs = static_cast<int>(state.range(0));
  const int workers = static_cast<int>(state.range(1));
  constexpr int kCycles = 2'000;
  uint64_t parks = 0;
  run_with_procs(procs, [&] {
    cogo::Mutex mu;
    const uint64_t p0 = cogo::stats().parks;
    clock.start();
    for (auto _ : state) {
      cogo::WaitGroup wg;
      wg.add(workers);
      for (int w = 0; w < workers; w++) {
        cogo::go([&] {
          for (int i = 0; i < kCycles; i++) {
            std::lock_guard<cogo::Mutex> g(mu);
            cogo::yield();
          }
          wg.done();
        });
      }
      wg.wait();
    }
    clock.stop();
    parks = cogo::stats().parks - p0;
  });
  const double ops = static_cast<double>(state.iterations()) * workers * kCycles;
  set_per_op(state, clock, ops);
  state.counters["parks_per_op"] = static_cast<double>(parks) / ops;
}
BENCHMARK(BM_MutexHandoff)
    ->ArgNames({"procs", "workers"})
    ->Args({1, 2})
    ->Args({2, 2})
    ->UseRealTime();

// BM_StdMutexHandoff: the thread equivalent — hold a std::mutex across
// sched_yield(). The kernel does not hand a std::mutex over, so this measures
// what threads get instead (often the holder re-takes it: see ns_per_op).
void BM_StdMutexHandoff(benchmark::State& state) {
  LoopClock clock;
  const int workers = static_cast<int>(state.range(0));
  constexpr int kCycles = 2'000;
  std::mutex mu;
  clock.start();
  for (auto _ : state) {
    std::vector<std::thread> ts;
    for (int w = 0; w < workers; w++) {
      ts.emplace_back([&] {
        for (int i = 0; i < kCycles; i++) {
          std::lock_guard<std::mutex> g(mu);
          sched_yield();
        }
      });
    }
    for (auto& t : ts) t.join();
  }
  clock.stop();
  set_per_op(state, clock, static_cast<double>(state.iterations()) * workers * kCycles);
}
BENCHMARK(BM_StdMutexHandoff)->ArgName("workers")->Arg(2)->UseRealTime();

// BM_Yield: the cost of one cogo::yield() with one other runnable goroutine
// (the yield inside BM_MutexHandoff).
void BM_Yield(benchmark::State& state) {
  LoopClock clock;
  const int procs = static_cast<int>(state.range(0));
  run_with_procs(procs, [&] {
    std::atomic<bool> stop{false};
    cogo::WaitGroup wg;
    wg.add(1);
    cogo::go([&] {
      while (!stop.load(std::memory_order_relaxed)) cogo::yield();
      wg.done();
    });
    clock.start();
    for (auto _ : state) cogo::yield();
    clock.stop();
    stop.store(true);
    wg.wait();
  });
  set_per_op(state, clock, static_cast<double>(state.iterations()));
}
BENCHMARK(BM_Yield)->ArgName("procs")->Arg(1)->UseRealTime();

// ---- idle ----

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

// BM_IdleRuntime: 1,000 goroutines parked on channels, nothing to do for
// 5 s. cpu_pct_of_core = process CPU time / wall time x 100 over that window.
void BM_IdleRuntime(benchmark::State& state) {
  const int procs = static_cast<int>(state.range(0));
  constexpr int kParked = 1000;
  constexpr auto kIdle = std::chrono::seconds(5);
  double cpu = 0, wall = 0;
  uint64_t threads = 0;
  run_with_procs(procs, [&] {
    cogo::Chan<int> gate;
    cogo::WaitGroup parked, finished;
    parked.add(kParked);
    finished.add(kParked);
    for (int i = 0; i < kParked; i++) {
      cogo::go([gate, &parked, &finished] {
        parked.done();
        gate.recv();
        finished.done();
      });
    }
    parked.wait();
    cogo::sleep_for(std::chrono::milliseconds(100));  // let them all park
    for (auto _ : state) {
      const double c0 = cpu_seconds();
      const auto t0 = std::chrono::steady_clock::now();
      // The main goroutine sleeps too: the runtime has nothing at all to do.
      cogo::sleep_for(kIdle);
      wall += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      cpu += cpu_seconds() - c0;
    }
    threads = cogo::stats().threads;
    gate.close();
    finished.wait();
  });
  state.counters["cpu_pct_of_core"] = 100.0 * cpu / wall;
  state.counters["cpu_ms"] = 1000.0 * cpu;
  state.counters["threads"] = static_cast<double>(threads);
}
BENCHMARK(BM_IdleRuntime)
    ->ArgName("procs")
    ->Arg(1)
    ->Arg(2)
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
