#include "cogo/http/http1_session.h"

#include <memory>
#include <vector>

#include "cogo/detail/opaque.h"
#include "http1_engine.h"
#include "spdlog/spdlog.h"
#include "upgrade_registry.h"
#include "upgraded_access.h"

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

// Opaque (opaque.h): callers take it after a park, never before one.
COGO_OPAQUE EnginePool& thread_pool() {
  thread_local EnginePool pool;
  return *cogo::detail::opaque(&pool);
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

// PendingUpgrade: a deferred upgrade's handler and the bytes that came
// behind its request, between serving and run_upgrade().
struct Http1Session::PendingUpgrade {
  UpgradeHandler handler;
  std::string buffered;
};

Http1Session::Http1Session(const Handler& handler, const HttpOptions& options,
                               std::string remote_address)
    : handler_(&handler), options_(&options), remote_address_(std::move(remote_address)) {}

Http1Session::~Http1Session() {
  if (engine_ != nullptr) release_engine(engine_);
}

void Http1Session::serve(Stream& stream) {
  if (engine_ == nullptr) engine_ = acquire_engine();
  engine_->attach(stream, *handler_, *options_, remote_address_, false);
  if (engine_->serve() == State::upgraded) {
    upgrade_ = std::make_unique<PendingUpgrade>();
    upgrade_->handler = engine_->take_upgrade(upgrade_->buffered);
  }
  release_engine(engine_);
  engine_ = nullptr;
}

Http1Session::State Http1Session::serve_ready(Stream& stream) {
  if (engine_ == nullptr) engine_ = acquire_engine();
  engine_->attach(stream, *handler_, *options_, remote_address_, true);
  const State state = engine_->serve();
  got_input_ = engine_->got_input();
  if (state == State::upgraded) {
    upgrade_ = std::make_unique<PendingUpgrade>();
    upgrade_->handler = engine_->take_upgrade(upgrade_->buffered);
  }
  release_engine(engine_);
  engine_ = nullptr;
  return state;
}

void Http1Session::run_upgrade(Stream& stream) {
  if (!upgrade_ || !upgrade_->handler) {
    upgrade_.reset();
    return;
  }
  // The handler and the bytes behind the request move onto this goroutine's
  // stack, and their heap record goes before the handler runs: an upgraded
  // connection lives as long as its peer (10,000 idle WebSockets kept 10,000
  // of these 80-byte chunks), and the page its parked stack touches has room.
  UpgradeHandler handler = std::move(upgrade_->handler);
  std::string buffered = std::move(upgrade_->buffered);
  upgrade_.reset();
  const cogo::Context* root = options_->root_context;
  cogo::Context ctx = cogo::Context::with_cancel(root != nullptr ? *root : cogo::Context());
  detail::UpgradeRegistry::Entry entry;
  entry.context = ctx;
  entry.fd = stream.native_fd();
  if (options_->upgrades != nullptr) options_->upgrades->add(entry);
  RequestCounters* counters = options_->request_counters;
  if (counters != nullptr) counters->upgraded.fetch_add(1, std::memory_order_relaxed);
  {
    Upgraded up = detail::UpgradedAccess::make(&stream, buffered);
    cogo::ContextScope scope(ctx);
    try {
      handler(up);
    } catch (const cogo::Cancelled&) {
      // Its context was cancelled (the shutdown): it unwound, as it should.
    } catch (const std::exception& e) {
      spdlog::error("http: upgraded connection from {} failed: {}", remote_address_, e.what());
    } catch (...) {
      spdlog::error("http: upgraded connection from {} failed", remote_address_);
    }
  }
  ctx.cancel();  // goroutines it started under its context stop with it
  if (options_->upgrades != nullptr) options_->upgrades->remove(entry);
  if (counters != nullptr) counters->upgraded.fetch_sub(1, std::memory_order_relaxed);
}

void serve_http1(Stream& stream, const Handler& handler, const HttpOptions& options,
                           std::string_view remote_address) {
  Http1Session(handler, options, std::string(remote_address)).serve(stream);
}

}  // namespace cogo::http
