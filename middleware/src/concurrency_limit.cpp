// concurrency_limit.cpp: cogo/middleware/concurrency_limit.h says what it
// does; permits.h holds the permits.
#include "cogo/middleware/concurrency_limit.h"

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>

#include "cogo/http/request.h"
#include "cogo/http/response.h"
#include "permits.h"

namespace cogo::middleware {

struct ConcurrencyLimit::State {
  explicit State(const ConcurrencyLimitOptions& o)
      : options(o), permits(o.max_in_flight), retry_after(std::to_string(o.retry_after.count())) {}
  ConcurrencyLimitOptions options;
  detail::Semaphore permits;
  std::atomic<std::size_t> waiting{0};    // requests in the backlog now
  std::atomic<std::size_t> in_flight{0};  // requests holding a permit now
  std::string retry_after;
};

namespace {

void busy(const ConcurrencyLimit::State& s, http::Response& res) {
  res.set_header("Retry-After", s.retry_after);
  res.text(503, "server busy: too many requests in flight\n");
}

}  // namespace

ConcurrencyLimit::ConcurrencyLimit(ConcurrencyLimitOptions options) {
  if (options.max_in_flight == 0)
    throw std::invalid_argument("concurrency_limit: max_in_flight must be 1 or more");
  if (options.backlog_timeout.count() < 0)
    throw std::invalid_argument("concurrency_limit: backlog_timeout must not be negative");
  if (options.retry_after.count() < 0)
    throw std::invalid_argument("concurrency_limit: retry_after must not be negative");
  state_ = std::make_shared<State>(options);
}

std::size_t ConcurrencyLimit::in_flight() const noexcept {
  return state_->in_flight.load(std::memory_order_relaxed);
}
std::size_t ConcurrencyLimit::waiting() const noexcept {
  return state_->waiting.load(std::memory_order_relaxed);
}

http::Middleware concurrency_limit(ConcurrencyLimitOptions options) {
  return ConcurrencyLimit(std::move(options)).middleware();
}

http::Middleware ConcurrencyLimit::middleware() const {
  return [state = state_](http::Request& req, http::Response& res, const http::Next& next) {
    State& s = *state;
    if (!s.permits.try_acquire()) {
      if (s.waiting.fetch_add(1, std::memory_order_relaxed) >= s.options.backlog) {
        s.waiting.fetch_sub(1, std::memory_order_relaxed);
        return busy(s, res);
      }
      struct Leave {
        std::atomic<std::size_t>& waiting;
        ~Leave() { waiting.fetch_sub(1, std::memory_order_relaxed); }
      } leave{s.waiting};
      if (!s.permits.acquire_for(s.options.backlog_timeout)) return busy(s, res);
    }
    s.in_flight.fetch_add(1, std::memory_order_relaxed);
    struct Release {
      State& s;
      ~Release() {
        s.in_flight.fetch_sub(1, std::memory_order_relaxed);
        s.permits.release();
      }
    } release{s};
    next(req, res);
  };
}

}  // namespace cogo::middleware
