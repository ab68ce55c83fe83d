// chan_test.cpp: Chan<T> and select, on plain threads (no runtime at all),
// on goroutines with 1 and 2 Ps, and with threads and goroutines meeting on
// one channel. No test asserts an upper bound on time; sleeps only give a
// broken implementation the chance to show itself.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cogo/chan.h"
#include "cogo/runtime.h"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Counted tracks live instances, to check that channels neither leak nor
// double-destroy values (buffered, handed off, or left behind at the end).
struct Counted {
  static std::atomic<int> live;
  int v = 0;
  explicit Counted(int x) : v(x) { ++live; }
  Counted(Counted&& o) noexcept : v(o.v) { ++live; }
  Counted(const Counted& o) : v(o.v) { ++live; }
  Counted& operator=(const Counted&) = default;
  ~Counted() { --live; }
};
std::atomic<int> Counted::live{0};

// run_on() runs fn as the main goroutine of a runtime with `procs` Ps.
void run_on(int procs, std::function<void()> fn) {
  setenv("COGO_MAXPROCS", std::to_string(procs).c_str(), 1);
  int rc = cogo::run(std::move(fn));
  EXPECT_EQ(rc, 0);
}

// ---------------------------------------------------------------------------
// Plain threads, no runtime: every wait is a futex wait.

TEST(ChanThreads, UnbufferedSenderWaitsForReceiver) {
  cogo::Chan<int> ch;
  std::atomic<bool> send_returned{false};
  std::thread sender([&] {
    ch.send(7);
    send_returned = true;
  });
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(send_returned.load()) << "an unbuffered send returned with no receiver";
  EXPECT_EQ(ch.size(), 0u);
  EXPECT_EQ(ch.recv(), 7);
  sender.join();
  EXPECT_TRUE(send_returned.load());
}

TEST(ChanThreads, UnbufferedReceiverWaitsForSender) {
  cogo::Chan<std::string> ch;
  std::atomic<bool> got{false};
  std::thread receiver([&] {
    EXPECT_EQ(ch.recv(), "hello");
    got = true;
  });
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(got.load());
  ch.send("hello");
  receiver.join();
  EXPECT_TRUE(got.load());
}

TEST(ChanThreads, BufferedIsFifoAndHoldsCapacity) {
  cogo::Chan<int> ch(3);
  EXPECT_EQ(ch.capacity(), 3u);
  ch.send(1);
  ch.send(2);
  ch.send(3);
  EXPECT_EQ(ch.size(), 3u);
  int four = 4;
  EXPECT_FALSE(ch.try_send(four)) << "a full buffered channel accepted a value";
  EXPECT_EQ(ch.recv(), 1);
  EXPECT_EQ(ch.recv(), 2);
  EXPECT_EQ(ch.recv(), 3);
  EXPECT_EQ(ch.size(), 0u);
}

TEST(ChanThreads, BufferedFifoAcrossThreads) {
  constexpr int kN = 100000;
  cogo::Chan<int> ch(16);
  std::thread producer([&] {
    for (int i = 0; i < kN; ++i) ch.send(i);
    ch.close();
  });
  int expect = 0;
  while (auto v = ch.recv()) {
    ASSERT_EQ(*v, expect);
    ++expect;
  }
  EXPECT_EQ(expect, kN);
  producer.join();
}

TEST(ChanThreads, FullBufferHandsWaitingSenderValueToBuffer) {
  // recv on a full buffer with a parked sender: the head goes to the
  // receiver, the sender's value joins the tail, order is kept.
  cogo::Chan<int> ch(2);
  ch.send(0);
  ch.send(1);
  std::thread sender([&] { ch.send(2); });
  std::this_thread::sleep_for(20ms);  // let the sender block
  EXPECT_EQ(ch.recv(), 0);
  sender.join();  // its value went into the buffer
  EXPECT_EQ(ch.size(), 2u);
  EXPECT_EQ(ch.recv(), 1);
  EXPECT_EQ(ch.recv(), 2);
}

TEST(ChanThreads, CloseDrainsThenReportsClosed) {
  cogo::Chan<int> ch(4);
  ch.send(1);
  ch.send(2);
  ch.close();
  EXPECT_EQ(ch.recv(), 1);
  EXPECT_EQ(ch.recv(), 2);
  EXPECT_EQ(ch.recv(), std::nullopt);
  EXPECT_EQ(ch.recv(), std::nullopt);
}

TEST(ChanThreads, SendOnClosedThrows) {
  cogo::Chan<int> ch(1);
  ch.close();
  try {
    ch.send(1);
    FAIL() << "send on a closed channel did not throw";
  } catch (const cogo::ChannelClosed& e) {
    EXPECT_STREQ(e.what(), "cogo: send on closed channel");
  }
  int v = 1;
  EXPECT_THROW(ch.try_send(v), cogo::ChannelClosed);
  EXPECT_THROW(ch.try_send(2), cogo::ChannelClosed);
}

TEST(ChanThreads, CloseTwiceThrows) {
  cogo::Chan<int> ch;
  ch.close();
  try {
    ch.close();
    FAIL() << "second close did not throw";
  } catch (const cogo::ChannelClosed& e) {
    EXPECT_STREQ(e.what(), "cogo: close of closed channel");
  }
  static_assert(std::is_base_of_v<std::logic_error, cogo::ChannelClosed>);
}

TEST(ChanThreads, CloseWakesBlockedReceiversAndSenders) {
  cogo::Chan<int> rx;  // receivers block on this one
  cogo::Chan<int> tx;  // senders block on this one
  constexpr int kEach = 4;
  std::atomic<int> got_closed{0}, got_throw{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < kEach; ++i) {
    ts.emplace_back([&] {
      if (!rx.recv()) ++got_closed;
    });
    ts.emplace_back([&] {
      try {
        tx.send(1);
      } catch (const cogo::ChannelClosed&) {
        ++got_throw;
      }
    });
  }
  std::this_thread::sleep_for(50ms);  // let them block (either way the result holds)
  rx.close();
  tx.close();
  for (auto& t : ts) t.join();
  EXPECT_EQ(got_closed.load(), kEach);
  EXPECT_EQ(got_throw.load(), kEach);
}

TEST(ChanThreads, TrySendTryRecv) {
  cogo::Chan<int> unbuffered;
  int v = 5;
  EXPECT_FALSE(unbuffered.try_send(v)) << "try_send succeeded with no receiver";
  EXPECT_EQ(v, 5);
  auto r = unbuffered.try_recv();
  EXPECT_TRUE(r.empty());
  EXPECT_FALSE(r);

  cogo::Chan<std::string> buffered(1);
  std::string s = "x";
  EXPECT_TRUE(buffered.try_send(s));
  std::string t = "y";
  EXPECT_FALSE(buffered.try_send(t));
  EXPECT_EQ(t, "y") << "a failed try_send consumed its value";
  auto got = buffered.try_recv();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, "x");
  EXPECT_TRUE(buffered.try_recv().empty());
  buffered.close();
  EXPECT_TRUE(buffered.try_recv().closed());
}

TEST(ChanThreads, TrySendMeetsBlockedReceiver) {
  cogo::Chan<int> ch;
  std::thread receiver([&] { EXPECT_EQ(ch.recv(), 9); });
  while (!ch.try_send(9)) std::this_thread::yield();
  receiver.join();
}

TEST(ChanThreads, TryRecvMeetsBlockedSender) {
  cogo::Chan<int> ch;
  std::thread sender([&] { ch.send(11); });
  cogo::TryRecv<int> r;
  while ((r = ch.try_recv()).empty()) std::this_thread::yield();
  EXPECT_EQ(*r, 11);
  sender.join();
}

TEST(ChanThreads, HandlesShareOneChannel) {
  cogo::Chan<int> a(1);
  cogo::Chan<int> b = a;
  EXPECT_TRUE(a == b);
  EXPECT_FALSE(a == cogo::Chan<int>(1));
  a.send(3);
  EXPECT_EQ(b.recv(), 3);
}

TEST(ChanThreads, MoveOnlyValuesAndNoLeaks) {
  {
    cogo::Chan<std::unique_ptr<int>> ch(2);
    ch.send(std::make_unique<int>(1));
    auto p = ch.recv();
    ASSERT_TRUE(p && *p);
    EXPECT_EQ(**p, 1);
  }
  Counted::live = 0;
  {
    cogo::Chan<Counted> ch(4);
    ch.send(Counted(1));
    ch.send(Counted(2));
    ch.send(Counted(3));
    EXPECT_EQ(ch.recv()->v, 1);
    cogo::Chan<Counted> sync;
    std::thread t([&] { sync.send(Counted(4)); });
    EXPECT_EQ(sync.recv()->v, 4);
    t.join();
    // Two values stay buffered when the channel dies.
  }
  EXPECT_EQ(Counted::live.load(), 0) << "values leaked or were destroyed twice";
}

TEST(ChanThreads, ManySendersManyReceivers) {
  for (size_t cap : {size_t(0), size_t(1), size_t(64)}) {
    constexpr int kSenders = 4, kReceivers = 4, kPer = 20000;
    cogo::Chan<int> ch(cap);
    std::atomic<long long> sum{0};
    std::atomic<int> count{0};
    std::vector<std::thread> rs, ss;
    for (int r = 0; r < kReceivers; ++r) {
      rs.emplace_back([&] {
        while (auto v = ch.recv()) {
          sum += *v;
          ++count;
        }
      });
    }
    for (int s = 0; s < kSenders; ++s) {
      ss.emplace_back([&] {
        for (int i = 1; i <= kPer; ++i) ch.send(i);
      });
    }
    for (auto& t : ss) t.join();
    ch.close();
    for (auto& t : rs) t.join();
    EXPECT_EQ(count.load(), kSenders * kPer) << "capacity " << cap;
    EXPECT_EQ(sum.load(), (long long)kSenders * kPer * (kPer + 1) / 2) << "capacity " << cap;
  }
}

// --- select, on threads ----------------------------------------------------

// select_fairness() runs 10,000 selects over two always-ready channels and
// checks each is chosen 40-60% of the time (binomial, sd 0.5%: never flaky).
void select_fairness() {
  constexpr int kRounds = 10000;
  cogo::Chan<int> a(1), b(1);
  a.send(0);
  b.send(1);
  int counts[2] = {0, 0};
  for (int i = 0; i < kRounds; ++i) {
    int got = -1;
    int idx = cogo::select(cogo::on_recv(a, [&](std::optional<int> v) { got = *v; }),
                           cogo::on_recv(b, [&](std::optional<int> v) { got = *v; }));
    ASSERT_TRUE(idx == 0 || idx == 1);
    ASSERT_EQ(got, idx);
    ++counts[idx];
    (idx == 0 ? a : b).send(idx);  // make it ready again
  }
  EXPECT_GE(counts[0], kRounds * 40 / 100);
  EXPECT_LE(counts[0], kRounds * 60 / 100);
  EXPECT_EQ(counts[0] + counts[1], kRounds);
}

TEST(SelectThreads, ChoosesUniformlyAmongReadyCases) {
  select_fairness();
}

TEST(SelectThreads, ThreeWayFairness) {
  constexpr int kRounds = 9000;
  cogo::Chan<int> c[3] = {cogo::Chan<int>(1), cogo::Chan<int>(1), cogo::Chan<int>(1)};
  for (auto& ch : c) ch.send(0);
  int counts[3] = {0, 0, 0};
  for (int i = 0; i < kRounds; ++i) {
    int idx = cogo::select(cogo::on_recv(c[0], [](auto) {}), cogo::on_recv(c[1], [](auto) {}),
                           cogo::on_recv(c[2], [](auto) {}));
    ++counts[idx];
    c[idx].send(0);
  }
  for (int k = 0; k < 3; ++k) {
    EXPECT_GE(counts[k], kRounds * 27 / 100) << "case " << k;
    EXPECT_LE(counts[k], kRounds * 40 / 100) << "case " << k;
  }
}

TEST(SelectThreads, DefaultWhenNothingReady) {
  cogo::Chan<int> a, b(1);
  bool ran_default = false;
  int idx = cogo::select(cogo::on_recv(a, [](std::optional<int>) { FAIL(); }),
                         cogo::on_recv(b, [](std::optional<int>) { FAIL(); }),
                         cogo::on_default([&] { ran_default = true; }));
  EXPECT_EQ(idx, 2);
  EXPECT_TRUE(ran_default);
  b.send(4);
  std::optional<int> out;
  idx = cogo::select(cogo::on_recv(a, out), cogo::on_recv(b, out), cogo::on_default());
  EXPECT_EQ(idx, 1);
  EXPECT_EQ(out, 4);
}

TEST(SelectThreads, TimeoutFiresNotEarly) {
  cogo::Chan<int> a;
  bool timed_out = false;
  auto start = Clock::now();
  int idx = cogo::select(cogo::on_recv(a, [](std::optional<int>) { FAIL(); }),
                         cogo::on_timeout(30ms, [&] { timed_out = true; }));
  EXPECT_GE(Clock::now() - start, 30ms) << "the timeout fired early";
  EXPECT_EQ(idx, 1);
  EXPECT_TRUE(timed_out);
}

TEST(SelectThreads, OnlyTimeout) {
  auto start = Clock::now();
  EXPECT_EQ(cogo::select(cogo::on_timeout(10ms)), 0);
  EXPECT_GE(Clock::now() - start, 10ms);
  EXPECT_EQ(cogo::select(cogo::on_timeout(-5ms)), 0);  // negative: already due
}

TEST(SelectThreads, ReadyCaseBeatsTimeout) {
  cogo::Chan<int> a(1);
  a.send(1);
  EXPECT_EQ(cogo::select(cogo::on_timeout(0ms), cogo::on_recv(a, [](auto) {})), 1);
}

TEST(SelectThreads, SendCases) {
  cogo::Chan<int> full(1), room(1);
  full.send(0);
  bool sent = false;
  int idx = cogo::select(cogo::on_send(full, 1, [] { FAIL(); }),
                         cogo::on_send(room, 2, [&] { sent = true; }));
  EXPECT_EQ(idx, 1);
  EXPECT_TRUE(sent);
  EXPECT_EQ(room.recv(), 2);
  EXPECT_EQ(full.recv(), 0);
}

TEST(SelectThreads, BlockingRecvWokenBySender) {
  cogo::Chan<int> a, b;
  std::thread t([&] {
    std::this_thread::sleep_for(20ms);
    b.send(42);
  });
  std::optional<int> got;
  int idx = cogo::select(cogo::on_recv(a, got), cogo::on_recv(b, got));
  EXPECT_EQ(idx, 1);
  EXPECT_EQ(got, 42);
  t.join();
}

TEST(SelectThreads, BlockingSendTakenByReceiver) {
  cogo::Chan<std::string> a, b;
  std::thread t([&] {
    std::this_thread::sleep_for(20ms);
    EXPECT_EQ(a.recv(), "to-a");
  });
  int idx =
      cogo::select(cogo::on_send(a, std::string("to-a")), cogo::on_send(b, std::string("to-b")));
  EXPECT_EQ(idx, 0);
  t.join();
  EXPECT_TRUE(b.try_recv().empty()) << "a losing send case delivered its value";
}

TEST(SelectThreads, MixedElementTypes) {
  cogo::Chan<int> ints;
  cogo::Chan<std::string> strs(1);
  cogo::Chan<std::unique_ptr<int>> ptrs(1);
  strs.send("s");
  std::string got;
  int idx = cogo::select(
      cogo::on_recv(ints, [](auto) { FAIL(); }),
      cogo::on_recv(strs, [&](std::optional<std::string> v) { got = v.value_or("closed"); }),
      cogo::on_send(ptrs, std::make_unique<int>(3)));
  if (idx == 1) {
    EXPECT_EQ(got, "s");
    EXPECT_TRUE(ptrs.try_recv().empty()) << "a losing send case delivered its value";
  } else {
    EXPECT_EQ(idx, 2);
    EXPECT_EQ(**ptrs.recv(), 3);
  }
}

TEST(SelectThreads, ClosedChannelCases) {
  cogo::Chan<int> closed(1);
  closed.close();
  bool saw_nullopt = false;
  EXPECT_EQ(cogo::select(
                cogo::on_recv(closed, [&](std::optional<int> v) { saw_nullopt = !v.has_value(); })),
            0);
  EXPECT_TRUE(saw_nullopt);
  EXPECT_THROW(cogo::select(cogo::on_send(closed, 1)), cogo::ChannelClosed);
}

TEST(SelectThreads, CloseWakesBlockedSelect) {
  cogo::Chan<int> a, b, s;
  std::thread t([&] {
    std::this_thread::sleep_for(20ms);
    b.close();
    std::this_thread::sleep_for(5ms);
    s.close();
  });
  std::optional<int> out = 1;
  EXPECT_EQ(cogo::select(cogo::on_recv(a, out), cogo::on_recv(b, out)), 1);
  EXPECT_EQ(out, std::nullopt);
  EXPECT_THROW(cogo::select(cogo::on_recv(a, out), cogo::on_send(s, 5)), cogo::ChannelClosed);
  t.join();
}

TEST(SelectThreads, SameChannelTwice) {
  cogo::Chan<int> a(1);
  std::thread t([&] {
    std::this_thread::sleep_for(10ms);
    a.send(8);
  });
  std::optional<int> x, y;
  int idx = cogo::select(cogo::on_recv(a, x), cogo::on_recv(a, y));
  EXPECT_TRUE(idx == 0 ? x == 8 && !y : y == 8 && !x);
  t.join();
  // Both directions on one channel: the send case is the ready one.
  idx = cogo::select(cogo::on_recv(a, x), cogo::on_send(a, 9));
  EXPECT_EQ(idx, 1);
  EXPECT_EQ(a.recv(), 9);
}

// Timeouts racing real senders: no value is lost or duplicated, whichever
// of the timer and the sender claims the select first.
TEST(SelectThreads, TimeoutRaceLosesNothing) {
  constexpr int kN = 3000;
  cogo::Chan<int> a, b;
  std::thread ta([&] {
    for (int i = 0; i < kN; ++i) a.send(1);
  });
  std::thread tb([&] {
    for (int i = 0; i < kN; ++i) b.send(1);
  });
  int got = 0, timeouts = 0;
  while (got < 2 * kN) {
    cogo::select(cogo::on_recv(a, [&](std::optional<int> v) { got += *v; }),
                 cogo::on_recv(b, [&](std::optional<int> v) { got += *v; }),
                 cogo::on_timeout(std::chrono::microseconds(got % 50), [&] { ++timeouts; }));
  }
  ta.join();
  tb.join();
  EXPECT_EQ(got, 2 * kN);
  EXPECT_TRUE(a.try_recv().empty());
  EXPECT_TRUE(b.try_recv().empty());
}

// Two threads selecting on the same pair of channels in opposite argument
// order: address-ordered locking keeps them from deadlocking.
TEST(SelectThreads, ConcurrentSelectsDoNotDeadlock) {
  constexpr int kN = 20000;
  cogo::Chan<int> a, b;
  std::thread t1([&] {
    for (int i = 0; i < kN; ++i) cogo::select(cogo::on_send(a, i), cogo::on_send(b, i));
  });
  int got = 0;
  for (int i = 0; i < kN; ++i) {
    cogo::select(cogo::on_recv(b, [&](auto) { ++got; }), cogo::on_recv(a, [&](auto) { ++got; }));
  }
  t1.join();
  EXPECT_EQ(got, kN);
}

// ---------------------------------------------------------------------------
// Goroutines, with 1 and 2 Ps. Goroutines capture the main goroutine's
// locals by reference and the main goroutine waits for their last message:
// a goroutine still alive when main returns is dropped without unwinding
// (Go's main-goroutine rule), so nothing it owns should need destroying.

class ChanRuntime : public ::testing::TestWithParam<int> {};
INSTANTIATE_TEST_SUITE_P(Procs, ChanRuntime, ::testing::Values(1, 2),
                         [](const auto& info) { return "P" + std::to_string(info.param); });

TEST_P(ChanRuntime, UnbufferedPingPong) {
  run_on(GetParam(), [] {
    constexpr int kRounds = 20000;
    cogo::Chan<int> ping, pong, done;
    cogo::go([&] {
      while (auto v = ping.recv()) pong.send(*v + 1);
      done.send(0);
    });
    for (int i = 0; i < kRounds; ++i) {
      ping.send(i);
      ASSERT_EQ(pong.recv(), i + 1);
    }
    ping.close();
    done.recv();
  });
}

TEST_P(ChanRuntime, UnbufferedSenderWaitsForReceiver) {
  run_on(GetParam(), [] {
    cogo::Chan<int> ch, done;
    std::atomic<bool> returned{false};
    cogo::go([&] {
      ch.send(1);
      returned = true;
      done.send(0);
    });
    for (int i = 0; i < 50; ++i) cogo::yield();
    cogo::sleep_for(20ms);
    EXPECT_FALSE(returned.load()) << "an unbuffered send returned with no receiver";
    EXPECT_EQ(ch.recv(), 1);
    done.recv();
    EXPECT_TRUE(returned.load());
  });
}

TEST_P(ChanRuntime, BufferedFifoPerProducer) {
  run_on(GetParam(), [] {
    constexpr int kProducers = 8, kPer = 5000;
    cogo::Chan<std::pair<int, int>> ch(32);
    cogo::Chan<int> done;
    for (int p = 0; p < kProducers; ++p) {
      cogo::go([&, p] {
        for (int i = 0; i < kPer; ++i) ch.send({p, i});
        done.send(p);
      });
    }
    cogo::go([&] {
      for (int p = 0; p < kProducers; ++p) done.recv();
      ch.close();
    });
    std::vector<int> next(kProducers, 0);
    int total = 0;
    while (auto v = ch.recv()) {
      ASSERT_EQ(v->second, next[v->first]) << "producer " << v->first << " out of order";
      ++next[v->first];
      ++total;
    }
    EXPECT_EQ(total, kProducers * kPer);
  });
}

TEST_P(ChanRuntime, CloseWakesBlockedGoroutines) {
  run_on(GetParam(), [] {
    constexpr int kEach = 50;
    cogo::Chan<int> rx, tx;
    cogo::Chan<int> results(2 * kEach);
    for (int i = 0; i < kEach; ++i) {
      cogo::go([&] { results.send(rx.recv() ? 0 : 1); });
      cogo::go([&] {
        try {
          tx.send(1);
          results.send(0);
        } catch (const cogo::ChannelClosed&) {
          results.send(2);
        }
      });
    }
    cogo::sleep_for(20ms);  // let them block (either way the result holds)
    rx.close();
    tx.close();
    int closed = 0, thrown = 0;
    for (int i = 0; i < 2 * kEach; ++i) {
      int r = *results.recv();
      closed += r == 1;
      thrown += r == 2;
    }
    EXPECT_EQ(closed, kEach);
    EXPECT_EQ(thrown, kEach);
  });
}

TEST_P(ChanRuntime, ManyToManySum) {
  run_on(GetParam(), [] {
    for (size_t cap : {size_t(0), size_t(8)}) {
      constexpr int kSenders = 50, kReceivers = 10, kPer = 2000;
      cogo::Chan<int> ch(cap);
      cogo::Chan<long long> sums;
      cogo::Chan<int> sent;
      for (int r = 0; r < kReceivers; ++r) {
        cogo::go([&] {
          long long s = 0;
          while (auto v = ch.recv()) s += *v;
          sums.send(s);
        });
      }
      for (int s = 0; s < kSenders; ++s) {
        cogo::go([&] {
          for (int i = 1; i <= kPer; ++i) ch.send(i);
          sent.send(0);
        });
      }
      for (int s = 0; s < kSenders; ++s) sent.recv();
      ch.close();
      long long total = 0;
      for (int r = 0; r < kReceivers; ++r) total += *sums.recv();
      EXPECT_EQ(total, (long long)kSenders * kPer * (kPer + 1) / 2) << "capacity " << cap;
    }
  });
}

TEST_P(ChanRuntime, TrySendTryRecvBetweenGoroutines) {
  run_on(GetParam(), [] {
    cogo::Chan<int> ch, done;
    cogo::go([&] {
      EXPECT_EQ(ch.recv(), 5);
      done.send(0);
    });
    while (!ch.try_send(5)) cogo::yield();
    done.recv();
    cogo::go([&] {
      ch.send(6);
      done.send(0);
    });
    cogo::TryRecv<int> r;
    while ((r = ch.try_recv()).empty()) cogo::yield();
    EXPECT_EQ(*r, 6);
    done.recv();
  });
}

TEST_P(ChanRuntime, SelectFairness) {
  run_on(GetParam(), [] { select_fairness(); });
}

TEST_P(ChanRuntime, SelectDefaultAndTimeout) {
  run_on(GetParam(), [] {
    cogo::Chan<int> a;
    EXPECT_EQ(cogo::select(cogo::on_recv(a, [](auto) {}), cogo::on_default()), 1);
    auto start = Clock::now();
    EXPECT_EQ(cogo::select(cogo::on_recv(a, [](auto) {}), cogo::on_timeout(30ms)), 1);
    EXPECT_GE(Clock::now() - start, 30ms) << "the timeout fired early";
    start = Clock::now();
    EXPECT_EQ(cogo::select(cogo::on_timeout(10ms)), 0);
    EXPECT_GE(Clock::now() - start, 10ms);
  });
}

TEST_P(ChanRuntime, SelectWokenBySendAndRecv) {
  run_on(GetParam(), [] {
    cogo::Chan<int> a, b, done;
    cogo::Chan<std::string> out;
    cogo::go([&] {
      cogo::sleep_for(5ms);
      b.send(3);
      cogo::sleep_for(5ms);
      EXPECT_EQ(out.recv(), "reply");
      done.send(0);
    });
    std::optional<int> got;
    EXPECT_EQ(cogo::select(cogo::on_recv(a, got), cogo::on_recv(b, got)), 1);
    EXPECT_EQ(got, 3);
    EXPECT_EQ(cogo::select(cogo::on_recv(a, got), cogo::on_send(out, std::string("reply"))), 1);
    done.recv();
  });
}

TEST_P(ChanRuntime, SelectCloseWakes) {
  run_on(GetParam(), [] {
    cogo::Chan<int> a, b, done(2);
    cogo::go([&] {
      cogo::sleep_for(5ms);
      a.close();
      done.send(0);
    });
    std::optional<int> out = 0;
    EXPECT_EQ(cogo::select(cogo::on_recv(a, out), cogo::on_recv(b, out)), 0);
    EXPECT_EQ(out, std::nullopt);
    cogo::go([&] {
      cogo::sleep_for(5ms);
      b.close();
      done.send(0);
    });
    EXPECT_THROW(cogo::select(cogo::on_send(b, 1), cogo::on_timeout(std::chrono::hours(1))),
                 cogo::ChannelClosed);
    done.recv();
    done.recv();
  });
}

TEST_P(ChanRuntime, SelectTimeoutRaceLosesNothing) {
  run_on(GetParam(), [] {
    constexpr int kN = 5000;
    cogo::Chan<int> a, b, done(2);
    cogo::go([&] {
      for (int i = 0; i < kN; ++i) a.send(1);
      done.send(0);
    });
    cogo::go([&] {
      for (int i = 0; i < kN; ++i) b.send(1);
      done.send(0);
    });
    int got = 0, timeouts = 0;
    while (got < 2 * kN) {
      cogo::select(cogo::on_recv(a, [&](std::optional<int> v) { got += *v; }),
                   cogo::on_recv(b, [&](std::optional<int> v) { got += *v; }),
                   cogo::on_timeout(std::chrono::microseconds(got % 20), [&] { ++timeouts; }));
    }
    EXPECT_EQ(got, 2 * kN);
    done.recv();
    done.recv();
    EXPECT_TRUE(a.try_recv().empty());
    EXPECT_TRUE(b.try_recv().empty());
  });
}

// Many selecting goroutines on both ends of shared channels: every value
// sent is received exactly once.
TEST_P(ChanRuntime, SelectStress) {
  run_on(GetParam(), [] {
    constexpr int kWorkers = 20, kPer = 2000;
    cogo::Chan<int> a, b(4), sent;
    cogo::Chan<long long> sums;
    auto add = [](long long& sum, bool& open) {
      return [sum = &sum, open = &open](std::optional<int> v) {
        if (v) {
          *sum += *v;
        } else {
          *open = false;
        }
      };
    };
    for (int w = 0; w < kWorkers; ++w) {
      cogo::go([&] {
        for (int i = 1; i <= kPer; ++i) cogo::select(cogo::on_send(a, i), cogo::on_send(b, i));
        sent.send(0);
      });
      cogo::go([&] {
        long long s = 0;
        bool a_open = true, b_open = true;
        while (a_open && b_open) {
          cogo::select(cogo::on_recv(a, add(s, a_open)), cogo::on_recv(b, add(s, b_open)));
        }
        auto& rest = a_open ? a : b;
        while (auto v = rest.recv()) s += *v;
        sums.send(s);
      });
    }
    for (int w = 0; w < kWorkers; ++w) sent.recv();
    a.close();
    b.close();
    long long total = 0;
    for (int w = 0; w < kWorkers; ++w) total += *sums.recv();
    EXPECT_EQ(total, (long long)kWorkers * kPer * (kPer + 1) / 2);
  });
}

// Goroutines and plain threads on the same channels.
TEST_P(ChanRuntime, ThreadsAndGoroutinesShareChannels) {
  run_on(GetParam(), [] {
    constexpr int kPer = 5000;
    cogo::Chan<int> to_g, to_t(4), done;
    std::thread t([&] {
      for (int i = 0; i < kPer; ++i) to_g.send(i);  // a goroutine receives
      long long s = 0;
      for (int i = 0; i < kPer; ++i) s += *to_t.recv();  // goroutines send
      EXPECT_EQ(s, (long long)kPer * (kPer - 1) / 2);
    });
    for (int i = 0; i < kPer; ++i) ASSERT_EQ(to_g.recv(), i);
    cogo::go([&] {
      for (int i = 0; i < kPer / 2; ++i) to_t.send(i);
      done.send(0);
    });
    for (int i = kPer / 2; i < kPer; ++i) to_t.send(i);
    done.recv();
    t.join();
  });
}

TEST_P(ChanRuntime, ThreadPingPongWithGoroutine) {
  run_on(GetParam(), [] {
    cogo::Chan<int> ping, pong;
    std::thread t([&] {
      while (auto v = ping.recv()) pong.send(*v);
    });
    for (int i = 0; i < 2000; ++i) {
      ping.send(i);
      ASSERT_EQ(pong.recv(), i);
    }
    ping.close();
    t.join();
  });
}

// A select with no cases blocks its goroutine forever; the program still
// ends when the main goroutine returns.
std::atomic<bool> g_reached_empty_select{false};
TEST_P(ChanRuntime, EmptySelectBlocksForever) {
  g_reached_empty_select = false;
  run_on(GetParam(), [] {
    cogo::go([] {
      g_reached_empty_select = true;
      cogo::select();
      ADD_FAILURE() << "select() with no cases returned";
    });
    while (!g_reached_empty_select) cogo::yield();
    cogo::sleep_for(5ms);
  });
  EXPECT_TRUE(g_reached_empty_select);
}

TEST_P(ChanRuntime, NoLeakedValues) {
  Counted::live = 0;
  run_on(GetParam(), [] {
    cogo::Chan<Counted> ch(2), sync;
    cogo::Chan<int> done;
    cogo::go([&] {
      for (int i = 0; i < 1000; ++i) sync.send(Counted(i));
      ch.send(Counted(-1));
      done.send(0);
    });
    for (int i = 0; i < 1000; ++i) ASSERT_EQ(sync.recv()->v, i);
    done.recv();
    cogo::select(cogo::on_recv(sync, [](auto) {}), cogo::on_send(ch, Counted(5)),
                 cogo::on_default());
  });
  EXPECT_EQ(Counted::live.load(), 0);
}

}  // namespace
