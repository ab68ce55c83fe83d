#include "cogo/http/connection.h"

#include <memory>
#include <vector>

#include "exchange.h"

namespace cogo::http {

namespace {

// Exchanges are pooled per thread: serving a request then needs no
// allocation, and a connection that goes idle costs only its HttpConnection.
// An Exchange taken on one thread may come back on another (goroutines
// migrate); the cap keeps any one pool bounded.
constexpr std::size_t kPoolCap = 64;

struct ExchangePool {
  std::vector<std::unique_ptr<detail::Exchange>> free;
};

[[gnu::noinline]] ExchangePool& thread_pool() {
  thread_local ExchangePool pool;
  return pool;
}

detail::Exchange* acquire_exchange() {
  ExchangePool& pool = thread_pool();
  if (pool.free.empty()) return new detail::Exchange();
  detail::Exchange* x = pool.free.back().release();
  pool.free.pop_back();
  return x;
}

void release_exchange(detail::Exchange* x) noexcept {
  x->detach();
  ExchangePool& pool = thread_pool();
  if (pool.free.size() >= kPoolCap) {
    delete x;
    return;
  }
  try {
    pool.free.emplace_back(x);
  } catch (...) {
    delete x;
  }
}

}  // namespace

HttpConnection::HttpConnection(const Handler& handler, const HttpOptions& options,
                               std::string remote_address)
    : handler_(&handler), options_(&options), remote_address_(std::move(remote_address)) {}

HttpConnection::~HttpConnection() {
  if (exchange_ != nullptr) release_exchange(exchange_);
}

void HttpConnection::serve(Stream& stream) {
  if (exchange_ == nullptr) exchange_ = acquire_exchange();
  exchange_->attach(stream, *handler_, *options_, remote_address_, false);
  exchange_->serve();
  release_exchange(exchange_);
  exchange_ = nullptr;
}

HttpConnection::State HttpConnection::serve_ready(Stream& stream) {
  if (exchange_ == nullptr) exchange_ = acquire_exchange();
  exchange_->attach(stream, *handler_, *options_, remote_address_, true);
  const State state = exchange_->serve();
  got_input_ = exchange_->got_input();
  release_exchange(exchange_);
  exchange_ = nullptr;
  return state;
}

void serve_http_connection(Stream& stream, const Handler& handler, const HttpOptions& options,
                           std::string_view remote_address) {
  HttpConnection(handler, options, std::string(remote_address)).serve(stream);
}

}  // namespace cogo::http
