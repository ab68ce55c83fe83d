// sema_test.cpp: the runtime's Sema (cogo/detail/sema.h), the semaphore the
// netpoller's FdMutex queues readers and writers of one fd on: counting,
// FIFO hand-off, and goroutines and threads on one Sema, with 1 and 2 Ps.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cogo/detail/sema.h"
#include "cogo/introspect.h"
#include "cogo/runtime.h"
#include "cogo/sync.h"

namespace {

using cogo::detail::Sema;
using cogo::detail::WaitReason;

void run_on(int procs, std::function<void()> fn) {
  setenv("COGO_MAXPROCS", std::to_string(procs).c_str(), 1);
  EXPECT_EQ(cogo::run(std::move(fn)), 0);
}

TEST(SemaThreads, ReleasedUnitsAreCountedAndTakenWithoutWaiting) {
  Sema s;
  s.release();
  s.release();
  s.acquire(WaitReason::kMutex);
  s.acquire(WaitReason::kMutex);
  std::atomic<bool> got{false};
  std::thread t([&] {
    s.acquire(WaitReason::kMutex);  // none left: waits for the release below
    got = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(got.load());
  s.release();
  t.join();
  EXPECT_TRUE(got.load());
}

class SemaRuntime : public ::testing::TestWithParam<int> {};
INSTANTIATE_TEST_SUITE_P(Procs, SemaRuntime, ::testing::Values(1, 2),
                         [](const auto& info) { return std::to_string(info.param) + "P"; });

// parked_on_io() counts the goroutines the dump shows parked with the
// reason this test's waits use (none of the runtime's own waits here).
int parked_on_io() {
  const std::string dump = cogo::goroutine_dump();
  const std::string tag =
      std::string("waiting: ") + cogo::detail::wait_reason_name(WaitReason::kIORead);
  int n = 0;
  for (size_t at = dump.find(tag); at != std::string::npos; at = dump.find(tag, at + 1)) ++n;
  return n;
}

// Waiters get the released units in the order they queued: five goroutines,
// each seen parked before the next starts, then a thread.
TEST_P(SemaRuntime, ReleaseHandsUnitsOutInArrivalOrder) {
  run_on(GetParam(), [] {
    Sema s;
    std::mutex mu;
    std::vector<int> order;
    auto take = [&](int i) {
      s.acquire(WaitReason::kIORead);
      std::lock_guard<std::mutex> lk(mu);
      order.push_back(i);
    };
    cogo::WaitGroup wg;
    for (int i = 0; i < 5; ++i) {
      wg.add(1);
      cogo::go([&, i] {
        take(i);
        wg.done();
      });
      while (parked_on_io() < i + 1) cogo::sleep_for(std::chrono::milliseconds(1));
    }
    std::thread thread_waiter([&] { take(5); });  // queued, or finds the unit counted
    // One unit at a time, each taken before the next is released: who got
    // it is the hand-off order (several released at once would be taken in
    // whatever order the scheduler runs the readied goroutines).
    for (size_t i = 0; i < 6; ++i) {
      s.release();
      for (;;) {
        {
          std::lock_guard<std::mutex> lk(mu);
          if (order.size() > i) break;
        }
        cogo::sleep_for(std::chrono::milliseconds(1));
      }
    }
    wg.wait();
    cogo::blocking([&] { thread_waiter.join(); });
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5}));
  });
}

}  // namespace
