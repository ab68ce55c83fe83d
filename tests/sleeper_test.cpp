// sleeper_test.cpp: the runtime's Sleeper (cogo/detail/sleeper.h), the
// back-off sleep that closing a listener ends: on plain threads, on
// goroutines with 1 and 2 Ps, and both sleeping on one Sleeper. Every sleep
// that must be cut short has a deadline far away (30 s) and the test
// asserts why it woke, so a cancel that does not reach it fails the test.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "cogo/cancel.h"
#include "cogo/detail/os.h"
#include "cogo/detail/sleeper.h"
#include "cogo/runtime.h"
#include "cogo/sync.h"

namespace {

using cogo::detail::nanotime;
using cogo::detail::Sleeper;
using Woken = Sleeper::Woken;

constexpr int64_t kFar = 30'000'000'000;  // 30 s: only a cancel ends such a sleep in time

void run_on(int procs, std::function<void()> fn) {
  setenv("COGO_MAXPROCS", std::to_string(procs).c_str(), 1);
  EXPECT_EQ(cogo::run(std::move(fn)), 0);
}

TEST(SleeperThreads, SleepsUntilTheDeadlineNeverEarly) {
  Sleeper s;
  const int64_t when = nanotime() + 20'000'000;
  EXPECT_EQ(s.sleep_until(when), Woken::deadline);
  EXPECT_GE(nanotime(), when);
  EXPECT_EQ(s.sleep_until(nanotime() - 1), Woken::deadline);  // in the past: at once
}

TEST(SleeperThreads, CancelWakesEverySleeperAndLaterSleepsReturnAtOnce) {
  Sleeper s;
  std::atomic<int> cancelled{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 4; ++i) {
    ts.emplace_back([&] {
      if (s.sleep_until(nanotime() + kFar) == Woken::cancelled) ++cancelled;
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // let some of them sleep
  s.cancel();
  for (auto& t : ts) t.join();
  EXPECT_EQ(cancelled.load(), 4);
  EXPECT_EQ(s.sleep_until(nanotime() + kFar), Woken::cancelled);
}

class SleeperRuntime : public ::testing::TestWithParam<int> {};
INSTANTIATE_TEST_SUITE_P(Procs, SleeperRuntime, ::testing::Values(1, 2),
                         [](const auto& info) { return std::to_string(info.param) + "P"; });

TEST_P(SleeperRuntime, GoroutinesAndThreadsWakeOnOneCancel) {
  run_on(GetParam(), [] {
    Sleeper s;
    std::atomic<int> cancelled{0};
    cogo::WaitGroup wg;
    for (int i = 0; i < 8; ++i) {
      wg.add(1);
      cogo::go([&] {
        if (s.sleep_until(nanotime() + kFar) == Woken::cancelled) ++cancelled;
        wg.done();
      });
    }
    std::thread t([&] {
      if (s.sleep_until(nanotime() + kFar) == Woken::cancelled) ++cancelled;
    });
    cogo::sleep_for(std::chrono::milliseconds(20));
    s.cancel();
    wg.wait();
    cogo::blocking([&] { t.join(); });
    EXPECT_EQ(cancelled.load(), 9);
  });
}

TEST_P(SleeperRuntime, GoroutineSleepsUntilTheDeadlineNeverEarly) {
  run_on(GetParam(), [] {
    Sleeper s;
    for (int i = 0; i < 5; ++i) {
      const int64_t when = nanotime() + 2'000'000 * (i + 1);
      EXPECT_EQ(s.sleep_until(when), Woken::deadline);
      EXPECT_GE(nanotime(), when);
    }
  });
}

// A sleep is a cancellation point: the sleeper's context ends it.
TEST_P(SleeperRuntime, TheSleepersContextEndsTheSleep) {
  run_on(GetParam(), [] {
    Sleeper s;
    cogo::Context ctx = cogo::Context::with_cancel();
    std::atomic<int> woken_by_context{0};
    cogo::WaitGroup wg;
    wg.add(1);
    {
      cogo::ContextScope scope(ctx);
      cogo::go([&] {  // inherits ctx
        if (s.sleep_until(nanotime() + kFar) == Woken::context) ++woken_by_context;
        wg.done();
      });
    }
    cogo::sleep_for(std::chrono::milliseconds(10));
    ctx.cancel();
    wg.wait();
    EXPECT_EQ(woken_by_context.load(), 1);
    // A done context ends a sleep before it starts; the Sleeper itself is
    // still usable by others.
    {
      cogo::ContextScope scope(ctx);
      EXPECT_EQ(s.sleep_until(nanotime() + kFar), Woken::context);
    }
    EXPECT_EQ(s.sleep_until(nanotime() + 1'000'000), Woken::deadline);
  });
}

// run() ends while goroutines sleep on a Sleeper that outlives it: they are
// dropped (their stacks are gone), and a later cancel() touches none of them.
TEST(SleeperRunEnds, SleepingGoroutinesAreForgotten) {
  Sleeper s;
  std::atomic<int> asleep{0};
  run_on(2, [&] {
    for (int i = 0; i < 4; ++i) {
      cogo::go([&] {
        ++asleep;
        (void)s.sleep_until(nanotime() + kFar);
      });
    }
    while (asleep.load() < 4) cogo::sleep_for(std::chrono::milliseconds(1));
    cogo::sleep_for(std::chrono::milliseconds(5));
  });
  s.cancel();  // under ASan: a use-after-free if a dead goroutine's wait was still linked
  EXPECT_EQ(s.sleep_until(nanotime() + kFar), Woken::cancelled);
}

}  // namespace
