// middleware::concurrency_limit through a real Server in every model: N
// in flight, a bounded FIFO backlog, 503 + Retry-After when it is full or
// the wait times out, and a waiting client that leaves frees its place
// (the wait is a cancellation point).
#include "cogo/middleware/concurrency_limit.h"

#include <gtest/gtest.h>

#include <future>

#include "cogo/chan.h"
#include "cogo/http/request.h"
#include "cogo/http/response.h"
#include "http_test_util.h"
#include "support/served_server.h"
#include "support/server_process.h"

namespace cogo::middleware {
namespace {

using cogo_test::ServedServer;
using http::testing::Client;

// Held: requests to /hold stay in their handler until the test lets one go.
struct Held {
  cogo::Chan<int> release{16};
  std::atomic<int> entered{0};
};

std::function<void(http::Server&)> routes(std::shared_ptr<ConcurrencyLimit> limit,
                                          std::shared_ptr<Held> held) {
  return [limit, held](http::Server& s) {
    s.use(limit->middleware());
    s.router().get("/hold", [held](http::Request&, http::Response& res) {
      ++held->entered;
      held->release.recv();
      res.text(200, "done");
    });
    s.router().get("/", [](http::Request&, http::Response& res) { res.text(200, "ok"); });
  };
}

// wait_until() polls cond for up to 20 s.
bool wait_until(const std::function<bool()>& cond) {
  for (int i = 0; i < 2000; ++i) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return cond();
}

std::unique_ptr<Client> start(const ServedServer& s, const std::string& path) {
  auto c = std::make_unique<Client>(cogo_test::connect_to(s.port));
  c->send("GET " + path + " HTTP/1.1\r\nHost: h\r\n\r\n");
  return c;
}

// OneHeld: a server whose limit lets one request in, with backlog places
// that wait up to backlog_timeout, and a request to /hold holding the place.
struct OneHeld {
  std::shared_ptr<ConcurrencyLimit> limit;
  std::shared_ptr<Held> held = std::make_shared<Held>();
  ServedServer s;
  std::unique_ptr<Client> holder;

  OneHeld(cogo_test::ServeModel model, std::size_t backlog,
          std::chrono::milliseconds backlog_timeout)
      : limit(std::make_shared<ConcurrencyLimit>(ConcurrencyLimitOptions{
            .max_in_flight = 1, .backlog = backlog, .backlog_timeout = backlog_timeout})),
        s(model, routes(limit, held)),
        holder(start(s, "/hold")) {}
};

class ConcurrencyLimitTest : public cogo_test::ServeModelTest {};
INSTANTIATE_TEST_SUITE_P(Models, ConcurrencyLimitTest, cogo_test::kServeModels,
                         cogo_test::serve_model_param_name);

TEST_P(ConcurrencyLimitTest, NInFlightThenTheBacklogThen503) {
  ConcurrencyLimitOptions o;
  o.max_in_flight = 2;
  o.backlog = 1;
  o.backlog_timeout = std::chrono::seconds(60);
  o.retry_after = std::chrono::seconds(7);
  auto limit = std::make_shared<ConcurrencyLimit>(o);
  auto held = std::make_shared<Held>();
  ServedServer s(GetParam(), routes(limit, held));
  auto a = start(s, "/hold");
  auto b = start(s, "/hold");
  ASSERT_TRUE(wait_until([&] { return held->entered == 2; }));
  EXPECT_EQ(limit->in_flight(), 2u);
  auto c = start(s, "/hold");  // waits in the backlog
  ASSERT_TRUE(wait_until([&] { return limit->waiting() == 1; }));
  auto d = start(s, "/");  // the backlog is full: answered at once
  auto r = d->read_response();
  EXPECT_EQ(r.status, 503);  // RFC 9110 15.6.4
  EXPECT_EQ(r.header("Retry-After"), "7");
  EXPECT_EQ(r.body, "server busy: too many requests in flight\n");
  EXPECT_EQ(held->entered.load(), 2);
  held->release.send(1);  // one finishes: the waiting one goes in
  ASSERT_TRUE(wait_until([&] { return held->entered == 3; }));
  EXPECT_EQ(limit->waiting(), 0u);
  held->release.send(1);
  held->release.send(1);
  for (auto* client : {a.get(), b.get(), c.get()}) {
    r = client->read_response();
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "done");
  }
  EXPECT_TRUE(wait_until([&] { return limit->in_flight() == 0; }));
}

TEST_P(ConcurrencyLimitTest, AWaitThatTimesOutIs503) {
  OneHeld h(GetParam(), 5, std::chrono::milliseconds(100));
  ASSERT_TRUE(wait_until([&] { return h.held->entered == 1; }));
  auto b = start(h.s, "/");
  auto r = b->read_response();
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.header("Retry-After"), "1");
  EXPECT_EQ(h.limit->waiting(), 0u);
  h.held->release.send(1);
  EXPECT_EQ(h.holder->read_response().status, 200);
}

TEST_P(ConcurrencyLimitTest, AWaitingClientThatLeavesFreesItsPlace) {
  OneHeld h(GetParam(), 1, std::chrono::seconds(60));
  ASSERT_TRUE(wait_until([&] { return h.held->entered == 1; }));
  auto b = start(h.s, "/");
  ASSERT_TRUE(wait_until([&] { return h.limit->waiting() == 1; }));
  b.reset();  // leaves while waiting: its wait is cancelled
  ASSERT_TRUE(wait_until([&] { return h.limit->waiting() == 0; }));
  auto c = start(h.s, "/");  // takes the freed place in the backlog
  ASSERT_TRUE(wait_until([&] { return h.limit->waiting() == 1; }));
  h.held->release.send(1);
  EXPECT_EQ(h.holder->read_response().status, 200);
  EXPECT_EQ(c->read_response().status, 200);
}

TEST(ConcurrencyLimit, BadOptionsAreNamed) {
  ConcurrencyLimitOptions o;
  try {
    ConcurrencyLimit l(o);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("max_in_flight"), std::string::npos);
  }
  o.max_in_flight = 1;
  o.backlog_timeout = std::chrono::milliseconds(-1);
  EXPECT_THROW(ConcurrencyLimit{o}, std::invalid_argument);
}

}  // namespace
}  // namespace cogo::middleware
