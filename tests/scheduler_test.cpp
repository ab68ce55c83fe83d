// scheduler_test: the G-M-P scheduler through its public API, with 1 and 2 Ps.
#include <dirent.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cogo/detail/os.h"
#include "cogo/detail/sched.h"
#include "cogo/introspect.h"
#include "cogo/runtime.h"
#include "cogo/wait_group.h"

using namespace std::chrono_literals;

namespace {

// TSan counts every goroutine's fiber as a thread and caps threads at 8128:
// under TSan the tests that hold many goroutines at once hold fewer.
#if defined(COGO_SANITIZE_THREAD)
constexpr int kMany = 2000;
#else
constexpr int kMany = 10000;
#endif

int count_threads() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/task")) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') n++;
    }
    closedir(d);
  }
  return n;
}

class Scheduler : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override { setenv("COGO_MAXPROCS", std::to_string(GetParam()).c_str(), 1); }
  void TearDown() override { unsetenv("COGO_MAXPROCS"); }
};

INSTANTIATE_TEST_SUITE_P(Procs, Scheduler, ::testing::Values(1, 2),
                         [](const auto& info) { return std::to_string(info.param) + "P"; });

TEST_P(Scheduler, RunReturnsMainExitCode) {
  EXPECT_EQ(cogo::run([] { return 7; }), 7);
  EXPECT_EQ(cogo::run([] {}), 0);
  EXPECT_FALSE(cogo::running());
}

TEST_P(Scheduler, GomaxprocsFollowsEnvironment) {
  int seen = 0;
  cogo::run([&] { seen = cogo::gomaxprocs(); });
  EXPECT_EQ(seen, GetParam());
}

TEST_P(Scheduler, MillionGoroutinesAllRunExactlyOnce) {
  constexpr int kN = 1'000'000;
  std::atomic<int> ran{0};
  uint64_t spawned = 0;
  cogo::run([&] {
    for (int i = 0; i < kN; i++) {
      cogo::go([&ran] { ran.fetch_add(1, std::memory_order_relaxed); });
      if (i % 4096 == 0) cogo::yield();  // keep the live set (and RSS) bounded
    }
    while (ran.load() < kN) cogo::yield();
    spawned = cogo::stats().spawned;
  });
  EXPECT_EQ(ran.load(), kN);
  EXPECT_EQ(spawned, static_cast<uint64_t>(kN) + 1);  // plus main
}

TEST_P(Scheduler, WorkSpreadsToEveryP) {
  // Batches of busy goroutines until every P has run some (an idle P steals
  // or takes from the global queue); a scheduler that never spreads work
  // fails at the cap.
  cogo::RuntimeStats st;
  cogo::run([&] {
    const auto cap = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (;;) {
      std::atomic<int> done{0};
      constexpr int kN = 2000;
      for (int i = 0; i < kN; i++) {
        cogo::go([&done] {
          volatile uint64_t x = 0;
          for (int k = 0; k < 20000; k++) x = x + k;
          done.fetch_add(1);
        });
      }
      while (done.load() < kN) cogo::yield();
      st = cogo::stats();
      bool all = true;
      for (const auto& p : st.procs) all = all && p.schedules > 0;
      if (all || std::chrono::steady_clock::now() > cap) break;
    }
  });
  ASSERT_EQ(st.procs.size(), static_cast<size_t>(GetParam()));
  for (const auto& p : st.procs) {
    EXPECT_GT(p.schedules, 0u) << "P" << p.id << " ran nothing";
  }
}

TEST_P(Scheduler, YieldingForeverDoesNotStarveOthers) {
  std::atomic<bool> stop{false};
  std::atomic<int> progress{0};
  cogo::run([&] {
    for (int i = 0; i < 4; i++) {
      cogo::go([&] {
        while (!stop.load()) cogo::yield();
      });
    }
    cogo::go([&] {
      for (int i = 0; i < 1000; i++) {
        progress.fetch_add(1);
        cogo::yield();
      }
      stop.store(true);
    });
    while (!stop.load()) cogo::yield();
  });
  EXPECT_EQ(progress.load(), 1000);
}

// A sleep never ends before its time, and every sleeper wakes. The order in
// which the sleepers then *run* is not asserted: on a loaded machine (or
// under TSan) two timers 10 ms apart on different Ps can be seen in either
// order, since each P runs its own timers. Firing order within one P is
// asserted below, on the runtime's timers themselves.
TEST_P(Scheduler, SleepNeverWakesEarlyAndEverySleeperWakes) {
  std::vector<int> woke;
  std::mutex mu;
  std::atomic<int> early{0};
  cogo::run([&] {
    cogo::WaitGroup wg;
    const int delays_ms[] = {50, 10, 30, 20, 40};
    for (int d : delays_ms) {
      wg.add(1);
      cogo::go([&, d] {
        auto start = std::chrono::steady_clock::now();
        cogo::sleep_for(std::chrono::milliseconds(d));
        if (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(d)) early++;
        {
          std::lock_guard<std::mutex> lk(mu);
          woke.push_back(d);
        }
        wg.done();
      });
    }
    wg.wait();
  });
  EXPECT_EQ(early.load(), 0);
  std::sort(woke.begin(), woke.end());
  EXPECT_EQ(woke, (std::vector<int>{10, 20, 30, 40, 50}));  // each exactly once
}

// TimersOfOneProcessorFireInDeadlineOrder: with one P there is one timer
// heap and only the M holding that P runs it, so callbacks run in the order
// of their deadlines however late the machine lets them run, and none early.
TEST(SchedulerTimers, TimersOfOneProcessorFireInDeadlineOrder) {
  setenv("COGO_MAXPROCS", "1", 1);
  struct Fired {
    std::mutex mu;
    std::vector<uintptr_t> seqs;
    std::vector<int64_t> late_ns;  // fire time - deadline
  } fired;
  constexpr int kTimers = 64;
  std::vector<cogo::detail::Timer> timers(kTimers);
  cogo::run([&] {
    const int64_t now = cogo::detail::nanotime();
    for (int i = 0; i < kTimers; i++) {
      // Deadlines 1..kTimers ms ahead, armed in a scrambled order.
      const int k = (i * 37) % kTimers;
      cogo::detail::Timer& t = timers[k];
      t.fn = [](void* arg, uintptr_t seq) {
        auto* f = static_cast<Fired*>(arg);
        std::lock_guard<std::mutex> lk(f->mu);
        f->seqs.push_back(seq);
        f->late_ns.push_back(cogo::detail::nanotime() - (static_cast<int64_t>(seq) >> 8));
      };
      t.arg = &fired;
      const int64_t when = now + (k + 1) * 1'000'000;
      t.seq = (static_cast<uintptr_t>(when) << 8) | static_cast<uintptr_t>(k);
      cogo::detail::timer_start(&t, when);
    }
    for (;;) {
      {
        std::lock_guard<std::mutex> lk(fired.mu);
        if (fired.seqs.size() == kTimers) break;
      }
      cogo::sleep_for(5ms);
    }
  });
  unsetenv("COGO_MAXPROCS");
  ASSERT_EQ(fired.seqs.size(), static_cast<size_t>(kTimers));
  for (int i = 0; i < kTimers; i++) {
    EXPECT_EQ(static_cast<int>(fired.seqs[i] & 0xff), i) << "position " << i;
    EXPECT_GE(fired.late_ns[i], 0) << "timer " << i << " fired early";
  }
}

TEST_P(Scheduler, ManySleepersAllWake) {
  std::atomic<int> woke{0};
  cogo::run([&] {
    for (int i = 0; i < kMany; i++) {
      cogo::go([&woke, i] {
        cogo::sleep_for(std::chrono::milliseconds(1 + i % 20));
        woke.fetch_add(1);
      });
    }
    while (woke.load() < kMany) cogo::sleep_for(2ms);
  });
  EXPECT_EQ(woke.load(), kMany);
}

// With one P, a goroutine stuck in a busy loop (no yield) or in a blocking
// call must not stop another goroutine from making progress. Each test's
// stuck goroutine waits for the other one to make 20 steps: if the runtime
// stalled it, the wait would only end at its 60 s cap and the test fails. No
// time is asserted; a loaded machine only makes it slower.
constexpr int kSteps = 20;
constexpr auto kCap = std::chrono::seconds(60);

TEST(SchedulerOneP, BusyLoopDoesNotStallOthers) {
  setenv("COGO_MAXPROCS", "1", 1);
  std::atomic<bool> hog_done{false};
  std::atomic<int> ticks{0};
  uint64_t retakes = 0;
  cogo::run([&] {
    cogo::go([&] {
      while (!hog_done.load()) {
        ticks.fetch_add(1);
        cogo::sleep_for(1ms);
      }
    });
    cogo::go([&] {
      // Never yields: only sysmon retaking this P lets the ticker run.
      const auto cap = std::chrono::steady_clock::now() + kCap;
      while (ticks.load() < kSteps && std::chrono::steady_clock::now() < cap) {
      }
      hog_done.store(true);
    });
    while (!hog_done.load()) cogo::sleep_for(1ms);
    retakes = cogo::stats().retakes;
  });
  unsetenv("COGO_MAXPROCS");
  EXPECT_GE(ticks.load(), kSteps);
  EXPECT_GT(retakes, 0u);
}

TEST(SchedulerOneP, BlockingCallDoesNotStallOthers) {
  setenv("COGO_MAXPROCS", "1", 1);
  std::atomic<bool> blocked_done{false};
  std::atomic<int> ticks{0};
  cogo::run([&] {
    cogo::go([&] {
      cogo::blocking([&] {
        const auto cap = std::chrono::steady_clock::now() + kCap;
        while (ticks.load() < kSteps && std::chrono::steady_clock::now() < cap) {
          std::this_thread::sleep_for(1ms);
        }
      });
      blocked_done.store(true);
    });
    cogo::go([&] {
      while (!blocked_done.load()) {
        ticks.fetch_add(1);
        cogo::sleep_for(1ms);
      }
    });
    while (!blocked_done.load()) cogo::sleep_for(1ms);
  });
  unsetenv("COGO_MAXPROCS");
  EXPECT_GE(ticks.load(), kSteps);
}

TEST_P(Scheduler, BlockingReturnsValueAndCanBeNested) {
  int v = 0;
  cogo::run([&] {
    v = cogo::blocking([] { return 41; }) + 1;
    std::atomic<int> done{0};
    for (int i = 0; i < 50; i++) {
      cogo::go([&] {
        cogo::blocking([] { std::this_thread::sleep_for(1ms); });
        done.fetch_add(1);
      });
    }
    while (done.load() < 50) cogo::sleep_for(1ms);
  });
  EXPECT_EQ(v, 42);
}

TEST_P(Scheduler, MainExitStopsOtherGoroutines) {
  std::atomic<int> after{0};
  cogo::run([&] {
    for (int i = 0; i < 100; i++) {
      cogo::go([&] {
        cogo::sleep_for(std::chrono::hours(1));
        after.fetch_add(1);
      });
    }
    cogo::sleep_for(5ms);
  });
  EXPECT_EQ(after.load(), 0);
}

TEST_P(Scheduler, NothingLeaksAcrossRuns) {
  cogo::run([] {});  // a sanitizer may start a helper thread of its own on first use
  const int threads_before = count_threads();
  for (int round = 0; round < 3; round++) {
    cogo::run([] {
      std::atomic<int> n{0};
      for (int i = 0; i < 1000; i++) {
        cogo::go([&n] {
          cogo::sleep_for(1ms);
          n.fetch_add(1);
        });
      }
      while (n.load() < 1000) cogo::yield();
    });
    EXPECT_EQ(count_threads(), threads_before) << "round " << round;
  }
}

TEST_P(Scheduler, GoFromPlainThreadWhileRunning) {
  std::atomic<int> ran{0};
  cogo::run([&] {
    std::thread t([&] {
      for (int i = 0; i < 1000; i++) cogo::go([&ran] { ran.fetch_add(1); });
    });
    cogo::blocking([&] { t.join(); });
    while (ran.load() < 1000) cogo::yield();
  });
  EXPECT_EQ(ran.load(), 1000);
}

TEST_P(Scheduler, DumpShowsWaitingGoroutines) {
  std::string dump;
  cogo::run([&] {
    cogo::go([] { cogo::sleep_for(std::chrono::hours(1)); });
    cogo::sleep_for(20ms);
    dump = cogo::goroutine_dump();
  });
  EXPECT_NE(dump.find("goroutine 1 [running]"), std::string::npos) << dump;
  EXPECT_NE(dump.find("[waiting: sleep"), std::string::npos) << dump;
}

TEST_P(Scheduler, GoroutineIdsAreDistinct) {
  std::vector<uint64_t> ids(100);
  cogo::run([&] {
    std::atomic<int> done{0};
    for (int i = 0; i < 100; i++) {
      cogo::go([&, i] {
        ids[i] = cogo::goroutine_id();
        done.fetch_add(1);
      });
    }
    while (done.load() < 100) cogo::yield();
  });
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(std::unique(ids.begin(), ids.end()), ids.end());
  EXPECT_GT(ids.front(), 1u);  // 1 is main
}

TEST(SchedulerOffRuntime, CallsWorkOnPlainThreads) {
  EXPECT_FALSE(cogo::in_goroutine());
  EXPECT_EQ(cogo::goroutine_id(), 0u);
  auto start = std::chrono::steady_clock::now();
  cogo::sleep_for(5ms);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 5ms);
  cogo::yield();
  EXPECT_EQ(cogo::blocking([] { return 3; }), 3);
  EXPECT_THROW(cogo::go([] {}), std::logic_error);
}

TEST(SchedulerOffRuntime, NestedRunIsRejected) {
  bool threw = false;
  cogo::run([&] {
    try {
      cogo::run([] {});
    } catch (const std::logic_error&) {
      threw = true;
    }
  });
  EXPECT_TRUE(threw);
}

TEST(SchedulerOffRuntime, RaisesSoftFdLimitToHard) {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rlimit lowered = rl;
  lowered.rlim_cur = rl.rlim_max > 1024 ? 1024 : rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &lowered);
  rlimit seen{};
  cogo::run([&] { getrlimit(RLIMIT_NOFILE, &seen); });
  EXPECT_EQ(seen.rlim_cur, rl.rlim_max);
}

// The one SIGPIPE policy (runtime/private/cogo/detail/os.h): run() ignores
// SIGPIPE while its disposition is the default — a write to a pipe whose
// reader is gone is EPIPE, not death — and keeps a handler the program set.
int g_sigpipes = 0;
TEST(SchedulerOffRuntime, SigpipeIgnoredUnlessTheProgramHandlesIt) {
  struct sigaction saved {};
  sigaction(SIGPIPE, nullptr, &saved);
  // Written to a pipe nobody reads from; returns write(2)'s errno.
  auto write_to_widowed_pipe = [] {
    int fds[2];
    if (pipe(fds) != 0) return -1;
    close(fds[0]);
    errno = 0;
    const ssize_t n = write(fds[1], "x", 1);
    const int err = n < 0 ? errno : 0;
    close(fds[1]);
    return err;
  };

  signal(SIGPIPE, SIG_DFL);
  int err = -1;
  cogo::run([&] { err = write_to_widowed_pipe(); });
  EXPECT_EQ(err, EPIPE);
  struct sigaction now {};
  sigaction(SIGPIPE, nullptr, &now);
  EXPECT_EQ(now.sa_handler, SIG_IGN);

  struct sigaction mine {};
  mine.sa_handler = [](int) { ++g_sigpipes; };
  sigemptyset(&mine.sa_mask);
  sigaction(SIGPIPE, &mine, nullptr);
  g_sigpipes = 0;
  cogo::run([&] { err = write_to_widowed_pipe(); });
  EXPECT_EQ(err, EPIPE);
  EXPECT_EQ(g_sigpipes, 1) << "the program's SIGPIPE handler was replaced";
  sigaction(SIGPIPE, nullptr, &now);
  EXPECT_EQ(now.sa_handler, mine.sa_handler);

  sigaction(SIGPIPE, &saved, nullptr);
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winfinite-recursion"
void recurse_forever(volatile char* prev) {
  volatile char frame[1024];
  frame[0] = prev ? prev[0] : 1;
  recurse_forever(frame);
  frame[1] = 0;
}
#pragma GCC diagnostic pop

TEST(SchedulerDeathTest, StackOverflowIsReported) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        setenv("COGO_STACK_SIZE", "64K", 1);
        cogo::run([] {
          cogo::go([] { recurse_forever(nullptr); });
          cogo::sleep_for(std::chrono::seconds(10));
        });
      },
      "goroutine [0-9]+ overflowed its 65536-byte stack; raise COGO_STACK_SIZE");
}

TEST(SchedulerDeathTest, UncaughtExceptionEndsTheProgram) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        cogo::run([] {
          cogo::go([] { throw std::runtime_error("boom in a goroutine"); });
          cogo::sleep_for(std::chrono::seconds(10));
        });
      },
      ::testing::ExitedWithCode(2), "goroutine [0-9]+: uncaught exception: boom in a goroutine");
}

TEST(SchedulerDeathTest, BadMaxprocsIsNamed) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        setenv("COGO_MAXPROCS", "two", 1);
        cogo::run([] {});
      },
      "COGO_MAXPROCS=two is not a number of processors");
}

TEST(SchedulerDeathTest, SigquitPrintsDumpAndKeepsRunning) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        // The dump is printed by sysmon, later than the signal: stderr goes
        // to a pipe until the dump has arrived there (a loaded or TSan
        // machine may take a while; 20 s is only a hang guard), then the
        // text is passed on to the real stderr for the matcher.
        int code = cogo::run([] {
          cogo::go([] { cogo::sleep_for(std::chrono::hours(1)); });
          cogo::sleep_for(10ms);
          const int saved = dup(2);
          int p[2];
          if (pipe(p) != 0) return 1;
          dup2(p[1], 2);
          kill(getpid(), SIGQUIT);
          std::string got;
          cogo::blocking([&] {
            const auto give_up = std::chrono::steady_clock::now() + 20s;
            while (got.find("[waiting: sleep") == std::string::npos &&
                   std::chrono::steady_clock::now() < give_up) {
              pollfd pf{p[0], POLLIN, 0};
              if (poll(&pf, 1, 100) == 1) {
                char buf[4096];
                const ssize_t n = read(p[0], buf, sizeof buf);
                if (n > 0) got.append(buf, static_cast<size_t>(n));
              }
            }
          });
          dup2(saved, 2);  // then take whatever else of the dump is there
          for (pollfd pf{p[0], POLLIN, 0}; poll(&pf, 1, 0) == 1;) {
            char buf[4096];
            const ssize_t n = read(p[0], buf, sizeof buf);
            if (n <= 0) break;
            got.append(buf, static_cast<size_t>(n));
          }
          if (write(2, got.data(), got.size()) < 0) return 1;
          return 3;
        });
        std::exit(code);
      },
      ::testing::ExitedWithCode(3), "goroutine [0-9]+ \\[waiting: sleep");
}

}  // namespace

// A goroutine that parks inside a catch block keeps its exception: `throw;`
// and std::current_exception() after the park see its own exception, while
// other goroutines (on the same thread or another) parked in catch blocks of
// their own do not see it, and std::uncaught_exceptions() is per goroutine.
TEST_P(Scheduler, ExceptionStateFollowsTheGoroutineAcrossParks) {
  constexpr int kN = 16;
  std::atomic<int> right{0};
  std::atomic<int> wrong{0};
  cogo::run([&] {
    cogo::WaitGroup wg;
    for (int i = 0; i < kN; ++i) {
      wg.add(1);
      cogo::go([&, i] {
        const std::string mine = "goroutine " + std::to_string(i);
        try {
          try {
            throw std::runtime_error(mine);
          } catch (const std::runtime_error&) {
            for (int k = 0; k < 20; ++k) {
              cogo::yield();
              if (k % 5 == 0) cogo::sleep_for(std::chrono::milliseconds(1));
            }
            std::exception_ptr p = std::current_exception();
            try {
              std::rethrow_exception(p);
            } catch (const std::runtime_error& e) {
              (e.what() == mine ? right : wrong).fetch_add(1);
            }
            throw;  // the goroutine's own, after 20 parks
          }
        } catch (const std::runtime_error& e) {
          (e.what() == mine ? right : wrong).fetch_add(1);
        }
        if (std::uncaught_exceptions() != 0 || std::current_exception()) wrong.fetch_add(1);
        wg.done();
      });
    }
    wg.wait();
  });
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(right.load(), 2 * kN);
}
