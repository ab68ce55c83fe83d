#include "cogo/http/http1_session.h"

#include <memory>
#include <vector>

#include "http1_engine.h"

namespace cogo::http {

namespace {

// Engines are pooled per thread: serving a request then needs no
// allocation, and a connection that goes idle costs only its Http1Session.
// An Http1Engine taken on one thread may come back on another (goroutines
// migrate); the cap keeps any one pool bounded.
constexpr std::size_t kPoolCap = 64;

struct EnginePool {
  std::vector<std::unique_ptr<detail::Http1Engine>> free;
};

[[gnu::noinline]] EnginePool& thread_pool() {
  thread_local EnginePool pool;
  return pool;
}

detail::Http1Engine* acquire_engine() {
  EnginePool& pool = thread_pool();
  if (pool.free.empty()) return new detail::Http1Engine();
  detail::Http1Engine* x = pool.free.back().release();
  pool.free.pop_back();
  return x;
}

void release_engine(detail::Http1Engine* x) noexcept {
  x->detach();
  EnginePool& pool = thread_pool();
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

Http1Session::Http1Session(const Handler& handler, const HttpOptions& options,
                               std::string remote_address)
    : handler_(&handler), options_(&options), remote_address_(std::move(remote_address)) {}

Http1Session::~Http1Session() {
  if (engine_ != nullptr) release_engine(engine_);
}

void Http1Session::serve(Stream& stream) {
  if (engine_ == nullptr) engine_ = acquire_engine();
  engine_->attach(stream, *handler_, *options_, remote_address_, false);
  engine_->serve();
  release_engine(engine_);
  engine_ = nullptr;
}

Http1Session::State Http1Session::serve_ready(Stream& stream) {
  if (engine_ == nullptr) engine_ = acquire_engine();
  engine_->attach(stream, *handler_, *options_, remote_address_, true);
  const State state = engine_->serve();
  got_input_ = engine_->got_input();
  release_engine(engine_);
  engine_ = nullptr;
  return state;
}

void serve_http1(Stream& stream, const Handler& handler, const HttpOptions& options,
                           std::string_view remote_address) {
  Http1Session(handler, options, std::string(remote_address)).serve(stream);
}

}  // namespace cogo::http
