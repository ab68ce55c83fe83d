// cogo/middleware/concurrency_limit.h: at most N requests in flight, a
// bounded queue behind them, then 503 (chi's Throttle).
//
//   cogo::middleware::ConcurrencyLimitOptions o;
//   o.max_in_flight = 100;                     // handlers running at once
//   o.backlog = 200;                           // requests allowed to wait
//   o.backlog_timeout = std::chrono::seconds(2);
//   server.use(cogo::middleware::concurrency_limit(o));   // after the log and rate_limit
//
// What it does:
// - With fewer than max_in_flight requests inside, the request goes on.
// - Else, if fewer than backlog requests wait, it waits (FIFO) up to
//   backlog_timeout for one to finish. The wait parks the goroutine (a
//   plain thread in the thread model) and is a cancellation point: a client
//   that leaves, or the request's deadline, ends it (499 / 503 as for any
//   cancelled request).
// - Otherwise — the backlog is full, or the wait timed out — it answers
//   503 Service Unavailable, "Retry-After: <retry_after seconds>", body
//   "server busy: too many requests in flight\n", without running the rest
//   of the chain.
// Counting covers the rest of the chain (the handler, and the middlewares
// after this one) until it returns or throws.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>

#include "cogo/http/handler.h"

namespace cogo::middleware {

struct ConcurrencyLimitOptions {
  std::size_t max_in_flight = 0;  // required: 1 or more
  std::size_t backlog = 0;        // 0: none wait (503 at once when full)
  std::chrono::milliseconds backlog_timeout{1000};
  std::chrono::seconds retry_after{1};  // the 503's Retry-After
};

// ConcurrencyLimit: the limiter, for the caller that wants to watch it
// (tests, a gauge).
class ConcurrencyLimit {
 public:
  // ConcurrencyLimit() throws std::invalid_argument naming an option that
  // is out of range (max_in_flight 0, a negative timeout or Retry-After).
  explicit ConcurrencyLimit(ConcurrencyLimitOptions options);
  http::Middleware middleware() const;
  std::size_t in_flight() const noexcept;  // requests inside now
  std::size_t waiting() const noexcept;    // requests in the backlog now

  struct State;

 private:
  std::shared_ptr<State> state_;
};

// concurrency_limit() is ConcurrencyLimit(options).middleware().
http::Middleware concurrency_limit(ConcurrencyLimitOptions options);

}  // namespace cogo::middleware
