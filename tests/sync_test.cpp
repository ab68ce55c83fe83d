// sync_test.cpp: Mutex, Cond, WaitGroup and Once on plain threads (no
// runtime), on goroutines with 1 and 2 Ps, and with threads and goroutines
// contending for the same object. No test asserts an upper bound on time.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <deque>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cogo/chan.h"
#include "cogo/introspect.h"
#include "cogo/runtime.h"
#include "cogo/sync.h"

namespace {

using namespace std::chrono_literals;

// run_on() runs fn as the main goroutine of a runtime with `procs` Ps.
void run_on(int procs, std::function<void()> fn) {
  setenv("COGO_MAXPROCS", std::to_string(procs).c_str(), 1);
  int rc = cogo::run(std::move(fn));
  EXPECT_EQ(rc, 0);
}

// ---------------------------------------------------------------------------
// Plain threads, no runtime.

TEST(MutexThreads, CounterExactUnderContention) {
  constexpr int kThreads = 4, kPer = 50000;
  cogo::Mutex mu;
  long long counter = 0;  // deliberately not atomic: the mutex must protect it
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&] {
      for (int i = 0; i < kPer; ++i) {
        std::lock_guard<cogo::Mutex> g(mu);
        ++counter;
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(counter, (long long)kThreads * kPer);
}

TEST(MutexThreads, TryLock) {
  cogo::Mutex mu;
  EXPECT_TRUE(mu.try_lock());
  EXPECT_FALSE(mu.try_lock());
  std::thread t([&] { EXPECT_FALSE(mu.try_lock()); });
  t.join();
  mu.unlock();
  std::unique_lock<cogo::Mutex> lk(mu, std::try_to_lock);
  EXPECT_TRUE(lk.owns_lock());
}

TEST(MutexThreads, UnlockFromAnotherThread) {
  // Like Go's sync.Mutex, a Mutex is not owned by a thread.
  cogo::Mutex mu;
  mu.lock();
  std::thread t([&] { mu.unlock(); });
  t.join();
  EXPECT_TRUE(mu.try_lock());
  mu.unlock();
}

TEST(MutexThreads, WaiterGetsTheLock) {
  cogo::Mutex mu;
  mu.lock();
  std::atomic<bool> acquired{false};
  std::thread t([&] {
    mu.lock();
    acquired = true;
    mu.unlock();
  });
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(acquired.load()) << "lock() returned while the mutex was held";
  mu.unlock();
  t.join();
  EXPECT_TRUE(acquired.load());
}

TEST(MutexDeathTest, UnlockOfUnlockedMutexAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        cogo::Mutex mu;
        mu.unlock();
      },
      "cogo: unlock of unlocked Mutex");
}

TEST(CondThreads, ProducerConsumer) {
  constexpr int kProducers = 3, kConsumers = 3, kPer = 10000;
  cogo::Mutex mu;
  cogo::Cond cond;
  std::deque<int> queue;
  int producers_left = kProducers;
  std::atomic<long long> sum{0};
  std::vector<std::thread> ts;
  for (int c = 0; c < kConsumers; ++c) {
    ts.emplace_back([&] {
      std::unique_lock<cogo::Mutex> lk(mu);
      for (;;) {
        cond.wait(lk, [&] { return !queue.empty() || producers_left == 0; });
        if (queue.empty()) return;
        sum += queue.front();
        queue.pop_front();
      }
    });
  }
  for (int p = 0; p < kProducers; ++p) {
    ts.emplace_back([&] {
      for (int i = 1; i <= kPer; ++i) {
        std::lock_guard<cogo::Mutex> g(mu);
        queue.push_back(i);
        cond.signal();
      }
      std::lock_guard<cogo::Mutex> g(mu);
      if (--producers_left == 0) cond.broadcast();
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(sum.load(), (long long)kProducers * kPer * (kPer + 1) / 2);
}

TEST(CondThreads, BroadcastWakesEveryWaiter) {
  constexpr int kWaiters = 8;
  cogo::Mutex mu;
  cogo::Cond cond;
  bool go = false;
  int woke = 0;
  std::vector<std::thread> ts;
  for (int i = 0; i < kWaiters; ++i) {
    ts.emplace_back([&] {
      std::unique_lock<cogo::Mutex> lk(mu);
      cond.wait(lk, [&] { return go; });
      ++woke;
    });
  }
  std::this_thread::sleep_for(20ms);
  {
    std::lock_guard<cogo::Mutex> g(mu);
    go = true;
  }
  cond.broadcast();
  for (auto& t : ts) t.join();
  EXPECT_EQ(woke, kWaiters);
}

TEST(CondThreads, SignalWithoutWaitersIsNotRemembered) {
  cogo::Mutex mu;
  cogo::Cond cond;
  cond.signal();
  cond.broadcast();
  std::atomic<bool> woke{false};
  std::thread t([&] {
    std::unique_lock<cogo::Mutex> lk(mu);
    cond.wait(lk);
    woke = true;
  });
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(woke.load()) << "an earlier signal woke a later waiter";
  for (;;) {  // the waiter may not be queued yet: signal until it wakes
    cond.signal();
    if (woke.load()) break;
    std::this_thread::sleep_for(1ms);
  }
  t.join();
}

TEST(WaitGroupThreads, WaitsForAll) {
  constexpr int kThreads = 8;
  cogo::WaitGroup wg;
  std::atomic<int> finished{0};
  std::vector<std::thread> ts;
  wg.add(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    ts.emplace_back([&] {
      std::this_thread::sleep_for(5ms);
      ++finished;
      wg.done();
    });
  }
  std::thread other_waiter([&] {
    wg.wait();
    EXPECT_EQ(finished.load(), kThreads);
  });
  wg.wait();
  EXPECT_EQ(finished.load(), kThreads);
  other_waiter.join();
  for (auto& t : ts) t.join();
}

TEST(WaitGroupThreads, ZeroDoesNotBlockAndReuse) {
  cogo::WaitGroup wg;
  wg.wait();
  std::atomic<int> done_calls{0};
  for (int round = 0; round < 100; ++round) {
    wg.add(2);
    std::thread a([&] {
      ++done_calls;
      wg.done();
    });
    std::thread b([&] {
      ++done_calls;
      wg.done();
    });
    wg.wait();
    // wait() returned only after both of this round's done() calls began.
    EXPECT_EQ(done_calls.load(), 2 * (round + 1)) << "round " << round;
    a.join();
    b.join();
  }
}

TEST(WaitGroupThreads, NegativeCounterThrows) {
  cogo::WaitGroup wg;
  try {
    wg.done();
    FAIL() << "done() on a zero WaitGroup did not throw";
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find("negative WaitGroup counter"), std::string::npos);
  }
}

// Go's idiom: the WaitGroup lives on the waiter's stack and dies as soon as
// wait() returns; a done() still finishing must not touch it (ASan checks).
TEST(WaitGroupThreads, WaiterMayDestroyItRightAway) {
  for (int round = 0; round < 200; ++round) {
    auto wg = std::make_unique<cogo::WaitGroup>();
    wg->add(1);
    std::atomic<bool> before_done{false};
    std::thread t([w = wg.get(), &before_done] {
      before_done = true;
      w->done();
    });
    wg->wait();
    EXPECT_TRUE(before_done.load()) << "wait() returned before done() was called";
    wg.reset();
    t.join();
  }
}

TEST(OnceThreads, RunsOnceAndOthersWait) {
  cogo::Once once;
  std::atomic<int> runs{0};
  std::atomic<bool> ready{false};
  std::vector<std::thread> ts;
  for (int i = 0; i < 8; ++i) {
    ts.emplace_back([&] {
      once.call([&] {
        std::this_thread::sleep_for(20ms);
        ++runs;
        ready = true;
      });
      EXPECT_TRUE(ready.load()) << "call() returned before the first call finished";
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(runs.load(), 1);
  EXPECT_TRUE(once.done());
  once.call([&] { ++runs; });
  EXPECT_EQ(runs.load(), 1);
}

TEST(OnceThreads, ThrowingCallLeavesItUnused) {
  cogo::Once once;
  EXPECT_THROW(once.call([] { throw std::runtime_error("init failed"); }), std::runtime_error);
  EXPECT_FALSE(once.done());
  int runs = 0;
  once.call([&] { ++runs; });
  once.call([&] { ++runs; });
  EXPECT_EQ(runs, 1);
}

// ---------------------------------------------------------------------------
// Goroutines, with 1 and 2 Ps.

class SyncRuntime : public ::testing::TestWithParam<int> {};
INSTANTIATE_TEST_SUITE_P(Procs, SyncRuntime, ::testing::Values(1, 2),
                         [](const auto& info) { return "P" + std::to_string(info.param); });

TEST_P(SyncRuntime, MutexCounterExact) {
  run_on(GetParam(), [] {
    constexpr int kGoroutines = 100, kPer = 10000;
    cogo::Mutex mu;
    cogo::WaitGroup wg;
    long long counter = 0;
    wg.add(kGoroutines);
    for (int g = 0; g < kGoroutines; ++g) {
      cogo::go([&] {
        for (int i = 0; i < kPer; ++i) {
          std::lock_guard<cogo::Mutex> lock(mu);
          ++counter;
          if (i % 1000 == 0) cogo::yield();  // get preempted while holding it
        }
        wg.done();
      });
    }
    wg.wait();
    std::lock_guard<cogo::Mutex> lock(mu);
    EXPECT_EQ(counter, (long long)kGoroutines * kPer);
  });
}

TEST_P(SyncRuntime, MutexSharedByThreadsAndGoroutines) {
  run_on(GetParam(), [] {
    constexpr int kThreads = 2, kThreadPer = 5000, kGoroutines = 50, kGoPer = 2000;
    cogo::Mutex mu;
    cogo::WaitGroup wg;
    long long counter = 0;
    wg.add(kThreads + kGoroutines);
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; ++t) {
      ts.emplace_back([&] {
        for (int i = 0; i < kThreadPer; ++i) {
          std::lock_guard<cogo::Mutex> lock(mu);
          ++counter;
        }
        wg.done();
      });
    }
    for (int g = 0; g < kGoroutines; ++g) {
      cogo::go([&] {
        for (int i = 0; i < kGoPer; ++i) {
          std::lock_guard<cogo::Mutex> lock(mu);
          ++counter;
          if (i % 100 == 0) cogo::yield();  // let threads and goroutines queue up
        }
        wg.done();
      });
    }
    wg.wait();
    for (auto& t : ts) t.join();
    EXPECT_EQ(counter, (long long)kThreads * kThreadPer + (long long)kGoroutines * kGoPer);
  });
}

// A goroutine waiting for a Mutex parks: with one P, a third goroutine still
// runs while the holder sleeps. (A thread-blocking lock would hang here.)
TEST_P(SyncRuntime, MutexParksTheGoroutineNotTheThread) {
  run_on(GetParam(), [] {
    cogo::Mutex mu;
    cogo::Chan<int> progressed, done;
    mu.lock();
    cogo::go([&] {
      mu.lock();
      mu.unlock();
      done.send(1);
    });
    cogo::go([&] { progressed.send(1); });
    cogo::yield();
    EXPECT_EQ(progressed.recv(), 1);
    mu.unlock();
    EXPECT_EQ(done.recv(), 1);
  });
}

// waiting_in() counts the goroutines parked with the given wait reason, from
// the goroutine dump (so a test can wait until its goroutines really park).
int waiting_in(const std::string& reason) {
  const std::string dump = cogo::goroutine_dump();
  const std::string needle = "[waiting: " + reason;
  int n = 0;
  for (size_t pos = dump.find(needle); pos != std::string::npos; pos = dump.find(needle, pos + 1)) {
    ++n;
  }
  return n;
}

void wait_until_waiting(const std::string& reason, int n) {
  while (waiting_in(reason) < n) cogo::sleep_for(1ms);
}

// Direct hand-off in FIFO order: waiters get the mutex in the order they
// queued, and an unlocker that re-locks at once goes behind them instead of
// barging in (no starvation).
TEST_P(SyncRuntime, MutexHandsOffInFifoOrder) {
  run_on(GetParam(), [] {
    cogo::Mutex mu;
    cogo::WaitGroup wg;
    std::string order;  // guarded by mu
    mu.lock();
    wg.add(3);
    for (char name : {'a', 'b', 'c'}) {
      cogo::go([&, name] {
        mu.lock();
        order += name;
        mu.unlock();
        wg.done();
      });
      wait_until_waiting("sync.Mutex.Lock", name - 'a' + 1);
    }
    mu.unlock();
    mu.lock();  // the unlocker comes back at once: it must queue behind a, b, c
    order += 'M';
    mu.unlock();
    wg.wait();
    EXPECT_EQ(order, "abcM");
  });
}

// A goroutine that re-locks in a loop cannot keep a queued waiter out, even
// on one P where the waiter runs only when the looper yields.
TEST_P(SyncRuntime, MutexLooperDoesNotStarveWaiter) {
  run_on(GetParam(), [] {
    cogo::Mutex mu;
    std::atomic<bool> waiter_got_it{false};
    cogo::WaitGroup wg;
    wg.add(2);
    cogo::go([&] {
      while (!waiter_got_it) {
        mu.lock();
        cogo::yield();  // the waiter runs and queues meanwhile
        mu.unlock();
      }
      wg.done();
    });
    cogo::go([&] {
      mu.lock();
      waiter_got_it = true;
      mu.unlock();
      wg.done();
    });
    wg.wait();
    EXPECT_TRUE(waiter_got_it);
  });
}

TEST_P(SyncRuntime, WaitGroupManyGoroutinesAndWaiters) {
  run_on(GetParam(), [] {
    constexpr int kWorkers = 1000, kWaiters = 10;
    cogo::WaitGroup wg, waiters;
    std::atomic<int> finished{0}, saw_all{0};
    wg.add(kWorkers);
    waiters.add(kWaiters + 1);
    for (int w = 0; w < kWaiters; ++w) {
      cogo::go([&] {
        wg.wait();
        saw_all += finished.load() == kWorkers;
        waiters.done();
      });
    }
    std::thread thread_waiter([&] {
      wg.wait();
      saw_all += finished.load() == kWorkers;
      waiters.done();
    });
    for (int i = 0; i < kWorkers; ++i) {
      cogo::go([&, i] {
        if (i % 2) cogo::yield();
        ++finished;
        wg.done();
      });
    }
    wg.wait();
    EXPECT_EQ(finished.load(), kWorkers);
    waiters.wait();
    thread_waiter.join();
    EXPECT_EQ(saw_all.load(), kWaiters + 1);
  });
}

TEST_P(SyncRuntime, CondProducerConsumer) {
  run_on(GetParam(), [] {
    constexpr int kProducers = 10, kConsumers = 10, kPer = 2000;
    cogo::Mutex mu;
    cogo::Cond cond;
    cogo::WaitGroup wg;
    std::deque<int> queue;
    int producers_left = kProducers;
    long long sum = 0;  // guarded by mu
    wg.add(kProducers + kConsumers);
    for (int c = 0; c < kConsumers; ++c) {
      cogo::go([&] {
        std::unique_lock<cogo::Mutex> lk(mu);
        for (;;) {
          cond.wait(lk, [&] { return !queue.empty() || producers_left == 0; });
          if (queue.empty()) break;
          sum += queue.front();
          queue.pop_front();
        }
        lk.unlock();
        wg.done();
      });
    }
    for (int p = 0; p < kProducers; ++p) {
      cogo::go([&] {
        for (int i = 1; i <= kPer; ++i) {
          std::lock_guard<cogo::Mutex> g(mu);
          queue.push_back(i);
          cond.signal();
        }
        {
          std::lock_guard<cogo::Mutex> g(mu);
          if (--producers_left == 0) cond.broadcast();
        }
        wg.done();
      });
    }
    wg.wait();
    EXPECT_EQ(sum, (long long)kProducers * kPer * (kPer + 1) / 2);
  });
}

TEST_P(SyncRuntime, CondBroadcastWakesGoroutinesAndThreads) {
  run_on(GetParam(), [] {
    constexpr int kGoroutines = 50, kThreads = 2;
    cogo::Mutex mu;
    cogo::Cond cond;
    cogo::WaitGroup wg;
    bool go = false;
    int waiting = 0, woke = 0;  // guarded by mu
    auto wait_for_go = [&] {
      std::unique_lock<cogo::Mutex> lk(mu);
      ++waiting;
      cond.wait(lk, [&] { return go; });
      ++woke;
      lk.unlock();
      wg.done();
    };
    wg.add(kGoroutines + kThreads);
    for (int i = 0; i < kGoroutines; ++i) cogo::go(wait_for_go);
    std::vector<std::thread> ts;
    for (int i = 0; i < kThreads; ++i) ts.emplace_back(wait_for_go);
    for (;;) {  // broadcast once everyone is inside wait()
      {
        std::lock_guard<cogo::Mutex> g(mu);
        if (waiting == kGoroutines + kThreads) {
          go = true;
          break;
        }
      }
      cogo::sleep_for(1ms);
    }
    cond.broadcast();
    wg.wait();
    for (auto& t : ts) t.join();
    EXPECT_EQ(woke, kGoroutines + kThreads);
  });
}

TEST_P(SyncRuntime, OnceConcurrentCallersPark) {
  run_on(GetParam(), [] {
    constexpr int kCallers = 100;
    cogo::Once once;
    cogo::WaitGroup wg;
    std::atomic<int> runs{0}, saw_init{0};
    int value = 0;  // written by the once function, read by every caller
    wg.add(kCallers);
    for (int i = 0; i < kCallers; ++i) {
      cogo::go([&] {
        once.call([&] {
          cogo::sleep_for(10ms);  // parks: the other callers must wait on the Once
          value = 42;
          ++runs;
        });
        saw_init += value == 42;
        wg.done();
      });
    }
    wg.wait();
    EXPECT_EQ(runs.load(), 1);
    EXPECT_EQ(saw_init.load(), kCallers);
  });
}

TEST_P(SyncRuntime, WaitGroupOnWaiterStack) {
  run_on(GetParam(), [] {
    std::atomic<int> done_calls{0};
    for (int round = 0; round < 200; ++round) {
      cogo::WaitGroup wg;
      wg.add(3);
      for (int i = 0; i < 3; ++i) {
        cogo::go([&wg, &done_calls] {
          ++done_calls;
          wg.done();
        });
      }
      wg.wait();
      EXPECT_EQ(done_calls.load(), 3 * (round + 1)) << "round " << round;
    }
  });
}

}  // namespace
