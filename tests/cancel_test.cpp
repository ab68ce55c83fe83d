// cancel_test.cpp: cancellation contexts (cogo/cancel.h) through the real
// runtime: every kind of wait, on goroutines with 1 and 2 Ps and on plain
// threads, is interrupted by cancel() and by a deadline; what completes
// without waiting completes; shields, inheritance and detached spawns.
// No test asserts an upper bound on time: "stops" means "returns at all",
// bounded by ctest's timeout.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>

#include "cogo/cancel.h"
#include "cogo/chan.h"
#include "cogo/net.h"
#include "cogo/runtime.h"
#include "cogo/sync.h"

namespace {

using namespace std::chrono_literals;
using cogo::CancelReason;
using cogo::Cancelled;
using cogo::Context;
using cogo::ContextScope;

void run_on(int procs, std::function<void()> fn) {
  setenv("COGO_MAXPROCS", std::to_string(procs).c_str(), 1);
  EXPECT_EQ(cogo::run(std::move(fn)), 0);
}

// Where the wait under test runs: a goroutine on a runtime with 1 or 2 Ps,
// or a plain thread (the thread-per-connection model) while a runtime runs.
enum class Where { goroutine_1p, goroutine_2p, thread };

std::string where_name(const ::testing::TestParamInfo<Where>& info) {
  switch (info.param) {
    case Where::goroutine_1p:
      return "Goroutine1P";
    case Where::goroutine_2p:
      return "Goroutine2P";
    case Where::thread:
      return "Thread";
  }
  return "?";
}

class CancelWait : public ::testing::TestWithParam<Where> {
 protected:
  // in_place() runs body where the parameter says, inside a runtime, and
  // returns when it has returned.
  void in_place(const std::function<void()>& body) {
    const Where w = GetParam();
    run_on(w == Where::goroutine_1p ? 1 : 2, [&] {
      if (w == Where::thread) {
        std::thread t(body);
        cogo::blocking([&] { t.join(); });
      } else {
        cogo::WaitGroup wg;
        wg.add(1);
        cogo::go([&] {
          body();
          wg.done();
        });
        wg.wait();
      }
    });
  }

  // expect_cancelled_by() binds ctx, runs wait (which must block forever
  // unless cancelled), cancels from elsewhere after a moment, and checks
  // that wait threw Cancelled with the reason and that destructors ran.
  void expect_cancelled_by(const std::function<void()>& wait, CancelReason why = CancelReason::cancelled) {
    in_place([&] {
      Context ctx = Context::with_cancel(Context());
      std::atomic<bool> unwound{false};
      std::optional<CancelReason> got;
      std::thread canceller([ctx] {
        std::this_thread::sleep_for(50ms);
        ctx.cancel();
      });
      try {
        struct Sentinel {
          std::atomic<bool>* flag;
          ~Sentinel() { flag->store(true); }
        } sentinel{&unwound};
        ContextScope scope(ctx);
        wait();
      } catch (const Cancelled& e) {
        got = e.reason();
      }
      canceller.join();
      EXPECT_TRUE(unwound.load());
      ASSERT_TRUE(got.has_value()) << "the wait returned instead of throwing";
      EXPECT_EQ(*got, why);
    });
  }
};

TEST_P(CancelWait, Sleep) {
  expect_cancelled_by([] { cogo::sleep_for(1h); });
}

TEST_P(CancelWait, ChanRecv) {
  cogo::Chan<int> ch;
  expect_cancelled_by([ch] { ch.recv(); });
}

TEST_P(CancelWait, ChanSend) {
  cogo::Chan<int> ch;  // unbuffered, nobody receives
  expect_cancelled_by([ch] { ch.send(1); });
}

TEST_P(CancelWait, SelectWithoutTimeout) {
  cogo::Chan<int> a, b;
  expect_cancelled_by([a, b] { cogo::select(cogo::on_recv(a, [] {}), cogo::on_recv(b, [] {})); });
}

TEST_P(CancelWait, SelectWithTimeout) {
  cogo::Chan<int> a;
  expect_cancelled_by([a] { cogo::select(cogo::on_recv(a, [] {}), cogo::on_timeout(1h)); });
}

TEST_P(CancelWait, CondWaitReacquiresTheMutex) {
  cogo::Mutex mu;
  cogo::Cond cv;
  bool owned_after = false;
  expect_cancelled_by([&] {
    std::unique_lock<cogo::Mutex> lk(mu);
    try {
      cv.wait(lk);
    } catch (const Cancelled&) {
      owned_after = lk.owns_lock() && !mu.try_lock();
      throw;
    }
  });
  EXPECT_TRUE(owned_after);
  // The cancelled waiter left the queue: a signal now wakes nobody, and a
  // new waiter is woken by the next one.
  cv.signal();
}

TEST_P(CancelWait, WaitGroupWaitUncountsItself) {
  cogo::WaitGroup wg;
  wg.add(1);
  expect_cancelled_by([&] { wg.wait(); });
  wg.done();  // must not try to wake the cancelled waiter
  wg.wait();  // returns at once: the counter is zero
}

TEST_P(CancelWait, OnceWaitingForAnotherCaller) {
  cogo::Once once;
  cogo::Chan<int> started(1), release;
  in_place([&] {
    // Another caller runs the function and blocks in it (not cancelled).
    std::thread runner([&] {
      once.call([&] {
        started.send(1);
        release.recv();
      });
    });
    started.recv();
    Context ctx = Context::with_cancel(Context());
    std::thread canceller([ctx] {
      std::this_thread::sleep_for(50ms);
      ctx.cancel();
    });
    bool threw = false;
    try {
      ContextScope scope(ctx);
      once.call([] {});
    } catch (const Cancelled&) {
      threw = true;
    }
    canceller.join();
    EXPECT_TRUE(threw);
    release.send(1);
    runner.join();
  });
}

TEST_P(CancelWait, SocketRead) {
  in_place([&] {
    // A listener that accepts and never writes: the read can only end by
    // being cancelled.
    cogo::net::Listener ln = cogo::net::listen("127.0.0.1:0");
    std::string addr = ln.address().to_string();
    Context ctx = Context::with_cancel(Context());
    std::thread canceller([ctx] {
      std::this_thread::sleep_for(50ms);
      ctx.cancel(CancelReason::client_gone);
    });
    std::optional<CancelReason> got;
    cogo::net::Conn c = cogo::net::dial(addr);
    try {
      ContextScope scope(ctx);
      char buf[16];
      c.read(buf, sizeof buf);
    } catch (const Cancelled& e) {
      got = e.reason();
    }
    canceller.join();
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(*got, CancelReason::client_gone);
    // The connection is still usable after a cancelled read.
    cogo::net::Conn peer = ln.accept();
    peer.write_all("x", 1);
    char b = 0;
    c.read(&b, 1);
    EXPECT_EQ(b, 'x');
  });
}

TEST_P(CancelWait, SocketReadNonThrowingFormReportsTheReason) {
  in_place([&] {
    cogo::net::Listener ln = cogo::net::listen("127.0.0.1:0");
    cogo::net::Conn c = cogo::net::dial(ln.address().to_string());
    Context ctx = Context::with_timeout(30ms, Context());
    ContextScope scope(ctx);
    char buf[8];
    std::error_code ec;
    c.read(buf, sizeof buf, ec);
    EXPECT_TRUE(cogo::is_cancelled(ec)) << ec.message();
    EXPECT_EQ(ec, std::errc::operation_canceled);
    EXPECT_EQ(ec.value(), static_cast<int>(CancelReason::deadline));
  });
}

TEST_P(CancelWait, AcceptAndDeadlineReason) {
  in_place([&] {
    cogo::net::Listener ln = cogo::net::listen("127.0.0.1:0");
    Context ctx = Context::with_timeout(30ms, Context());
    std::optional<CancelReason> got;
    try {
      ContextScope scope(ctx);
      ln.accept();
    } catch (const Cancelled& e) {
      got = e.reason();
    }
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(*got, CancelReason::deadline);
  });
}

TEST_P(CancelWait, WaitingAgainAfterCatchingThrowsAgain) {
  in_place([&] {
    Context ctx = Context::with_timeout(10ms, Context());
    ContextScope scope(ctx);
    int throws = 0;
    for (int i = 0; i < 3; ++i) {
      try {
        cogo::sleep_for(1h);
      } catch (const Cancelled&) {
        ++throws;
      }
    }
    EXPECT_EQ(throws, 3);
  });
}

TEST_P(CancelWait, WhatCompletesWithoutWaitingCompletes) {
  in_place([&] {
    Context ctx = Context::with_cancel(Context());
    ctx.cancel();
    ContextScope scope(ctx);
    cogo::Chan<int> ch(2);
    ch.send(1);                     // room in the buffer: no wait
    EXPECT_EQ(ch.recv().value(), 1);  // a value is there: no wait
    cogo::WaitGroup wg;
    wg.wait();  // counter zero
    cogo::Mutex mu;
    mu.lock();  // uncontended
    mu.unlock();
    cogo::sleep_for(0ms);  // nothing to wait for
    EXPECT_THROW(ch.recv(), Cancelled);  // now it would have to wait
    EXPECT_THROW(cogo::check_cancelled(), Cancelled);
  });
}

TEST_P(CancelWait, MutexLockIsNotACancellationPoint) {
  in_place([&] {
    cogo::Mutex mu;
    mu.lock();
    Context ctx = Context::with_cancel(Context());
    std::atomic<bool> locked{false};
    std::thread other([&] {
      ContextScope scope(ctx);
      mu.lock();  // waits for the owner even though ctx gets cancelled
      locked = true;
      mu.unlock();
    });
    std::this_thread::sleep_for(20ms);
    ctx.cancel();
    std::this_thread::sleep_for(20ms);
    EXPECT_FALSE(locked.load());
    mu.unlock();
    other.join();
    EXPECT_TRUE(locked.load());
  });
}

TEST_P(CancelWait, ShieldLetsCleanupWait) {
  in_place([&] {
    Context ctx = Context::with_cancel(Context());
    ctx.cancel();
    ContextScope scope(ctx);
    cogo::Chan<int> ch;
    std::thread sender([ch] {
      std::this_thread::sleep_for(20ms);
      ch.send(7);
    });
    std::optional<int> v;
    {
      cogo::CancelShield shield;
      v = ch.recv();  // waits despite the done context
      cogo::check_cancelled();  // shielded: does not throw
    }
    sender.join();
    EXPECT_EQ(v.value(), 7);
    EXPECT_THROW(cogo::sleep_for(1h), Cancelled);  // the shield is gone
  });
}

TEST_P(CancelWait, BlockingReturnsThenThrows) {
  in_place([&] {
    Context ctx = Context::with_cancel(Context());
    ContextScope scope(ctx);
    bool ran = false;
    EXPECT_THROW(cogo::blocking([&] {
                   ctx.cancel();
                   ran = true;
                 }),
                 Cancelled);
    EXPECT_TRUE(ran);
  });
}

INSTANTIATE_TEST_SUITE_P(Where, CancelWait,
                         ::testing::Values(Where::goroutine_1p, Where::goroutine_2p, Where::thread),
                         where_name);

// ---------------------------------------------------------------------------
// The tree.

TEST(ContextTree, ChildrenAreCancelledWithTheirParentAndNotTheOtherWay) {
  Context parent = Context::with_cancel(Context());
  Context child = Context::with_cancel(parent);
  Context grandchild = Context::with_cancel(child);
  Context sibling = Context::with_cancel(parent);
  child.cancel(CancelReason::shutdown);
  EXPECT_FALSE(parent.done());
  EXPECT_FALSE(sibling.done());
  EXPECT_EQ(child.reason(), CancelReason::shutdown);
  EXPECT_EQ(grandchild.reason(), CancelReason::shutdown);
  parent.cancel(CancelReason::client_gone);
  EXPECT_EQ(sibling.reason(), CancelReason::client_gone);
  EXPECT_EQ(child.reason(), CancelReason::shutdown);  // the first cancel counts
  // A child of a done context is born done.
  EXPECT_EQ(Context::with_cancel(parent).reason(), CancelReason::client_gone);
}

TEST(ContextTree, BackgroundIsNeverDone) {
  Context bg;
  EXPECT_TRUE(bg.background());
  bg.cancel();
  EXPECT_FALSE(bg.done());
  EXPECT_FALSE(bg.deadline().has_value());
  EXPECT_TRUE(cogo::current_context().background());
}

TEST(ContextTree, DeadlineIsTheEarlierOfParentAndOwn) {
  run_on(1, [] {
    auto soon = Context::Clock::now() + 1h;
    Context parent = Context::with_deadline(soon, Context());
    Context later = Context::with_timeout(2h, parent);
    Context sooner = Context::with_timeout(10ms, parent);
    EXPECT_EQ(later.deadline(), parent.deadline());
    EXPECT_LT(*sooner.deadline(), *parent.deadline());
    cogo::select(cogo::on_recv(sooner.done_channel(), [] {}));
    EXPECT_EQ(sooner.reason(), CancelReason::deadline);
    EXPECT_FALSE(parent.done());
    EXPECT_FALSE(later.done());
  });
}

TEST(ContextTree, DoneChannelInSelect) {
  run_on(2, [] {
    Context ctx = Context::with_cancel(Context());
    cogo::Chan<int> never;
    cogo::go([ctx] {
      cogo::sleep_for(10ms);
      ctx.cancel();
    });
    bool done = false;
    // The select itself runs under the background: only the case fires.
    cogo::select(cogo::on_recv(never, [] {}), cogo::on_recv(ctx.done_channel(), [&] { done = true; }));
    EXPECT_TRUE(done);
    // A channel asked for after the cancel is closed already.
    auto late = ctx.done_channel().try_recv();
    EXPECT_TRUE(late.closed());
  });
}

TEST(ContextTree, CurrentContextFollowsScopes) {
  Context a = Context::with_cancel(Context());
  Context b = Context::with_cancel(Context());
  {
    ContextScope sa(a);
    EXPECT_EQ(cogo::current_context(), a);
    {
      ContextScope sb(b);
      EXPECT_EQ(cogo::current_context(), b);
      EXPECT_EQ(Context::with_cancel().reason(), CancelReason::none);
    }
    EXPECT_EQ(cogo::current_context(), a);
  }
  EXPECT_TRUE(cogo::current_context().background());
}

TEST(ContextTree, DeadlineWithoutARuntimeIsRefused) {
  EXPECT_THROW(Context::with_timeout(1s, Context()), std::logic_error);
}

TEST(ContextTree, CancelledIsACogoErrorWithOperationCanceled) {
  try {
    throw Cancelled(CancelReason::client_gone);
  } catch (const cogo::Error& e) {
    EXPECT_EQ(e.code(), std::errc::operation_canceled);
    EXPECT_EQ(std::string(e.code().category().name()), "cogo.cancel");
    EXPECT_NE(std::string(e.what()).find("client_gone"), std::string::npos);
  }
  EXPECT_EQ(cogo::to_string(CancelReason::deadline), "deadline");
}

// ---------------------------------------------------------------------------
// Spawning.

TEST(ContextSpawn, GoroutinesInheritAndDieWithTheContext) {
  run_on(2, [] {
    Context ctx = Context::with_cancel(Context());
    cogo::WaitGroup wg;
    std::atomic<int> cancelled{0};
    {
      ContextScope scope(ctx);
      for (int i = 0; i < 10; ++i) {
        wg.add(1);
        cogo::go([&] {
          try {
            cogo::sleep_for(1h);
          } catch (const Cancelled&) {
            cancelled++;
          }
          wg.done();
        });
      }
    }
    cogo::sleep_for(10ms);
    ctx.cancel();
    wg.wait();
    EXPECT_EQ(cancelled.load(), 10);
  });
}

TEST(ContextSpawn, DetachedGoroutinesOutliveIt) {
  run_on(2, [] {
    Context ctx = Context::with_cancel(Context());
    cogo::Chan<bool> result(1);
    {
      ContextScope scope(ctx);
      cogo::go_detached([result] {
        bool bg = cogo::current_context().background();
        cogo::sleep_for(30ms);  // not cancelled
        result.send(bg);
      });
      EXPECT_EQ(cogo::current_context(), ctx);  // the spawner keeps its own
    }
    ctx.cancel();
    EXPECT_TRUE(result.recv().value());
  });
}

TEST(ContextSpawn, ManyWaitersOnOneContextAllWake) {
  run_on(2, [] {
    Context ctx = Context::with_cancel(Context());
    cogo::WaitGroup wg;
    std::atomic<int> n{0};
    cogo::Chan<int> never;
    for (int i = 0; i < 1000; ++i) {
      wg.add(1);
      cogo::go([&, i, ctx, never] {
        ContextScope scope(ctx);
        try {
          if (i % 2) {
            never.recv();
          } else {
            cogo::sleep_for(1h);
          }
        } catch (const Cancelled&) {
          n++;
        }
        wg.done();
      });
    }
    cogo::sleep_for(20ms);
    ctx.cancel();
    wg.wait();
    EXPECT_EQ(n.load(), 1000);
  });
}

}  // namespace
