// server.cpp: Server — options, listeners and the order of a graceful
// shutdown; the connections live elsewhere:
//   goroutine model: goroutine_model.* (listeners, accept loops) and
//     goroutine_conn.* (one connection's life and the idle keep-alive park);
//   thread model: thread_model.* (blocking listeners, accept threads, a
//     thread per connection) running the engine's blocking loop here;
//   shutdown.h: the draining flag and the count of open connections.
//
// Shutdown: draining is set (the engine answers the request in progress with
// "Connection: close"), listeners close, the accept loops end, idle
// connections are woken and closed, and serve() waits up to shutdown_grace
// for the active ones.
#include "cogo/http/server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <optional>

#include "blocking_socket.h"
#include "cogo/http/http1_session.h"
#include "cogo/http/fd_stream.h"
#include "cogo/http/tls.h"
#include "cogo/runtime.h"
#include "cogo/signal.h"
#include "goroutine_conn.h"
#include "goroutine_model.h"
#include "shutdown.h"
#include "spdlog/spdlog.h"
#include "thread_model.h"
#include "upgrade_registry.h"

namespace cogo {

const char* model_name(Model m) { return m == Model::goroutine ? "goroutine" : "thread"; }

}  // namespace cogo

namespace cogo::http {

using server_detail::GoroutineConns;
using server_detail::GoroutineModel;
using server_detail::Shutdown;
using server_detail::ThreadModel;

// After the grace, how long cancelled handlers get to unwind.
constexpr auto kUnwindGrace = std::chrono::seconds(1);

struct Server::Impl {
  ServerOptions opt;
  Router router;
  MiddlewareChain chain;
  Handler handler;                  // built by serve() before the first connection
  std::shared_ptr<TlsContext> tls;  // null: no TLS listener

  Shutdown shutdown;
  GoroutineModel goroutines;  // goroutine model
  GoroutineConns conns;       // goroutine model: what its connections share
  ThreadModel threads;        // thread model

  std::vector<std::string> addrs;
  bool listening = false;  // owned by the thread calling listen()/serve()
  // The SIGTERM/SIGINT hook: listen() installs it, ~Server removes it
  // (waiting for a call in progress) before anything else goes.
  std::optional<StopSignalHook> signal_hook;
  std::atomic<uint64_t> accepted{0};  // relaxed counter
  // Every request context is a child of root; the shutdown cancels it when
  // the grace is over, so handlers still waiting unwind (503, close).
  cogo::Context root = cogo::Context::with_cancel(cogo::Context());
  RequestCounters requests;
  detail::UpgradeRegistry upgrades;  // connections handlers took over

  explicit Impl(ServerOptions o) : opt(std::move(o)) {
    opt.http.draining = shutdown.draining_flag();
    opt.http.root_context = &root;
    opt.http.request_counters = &requests;
    opt.http.upgrades = &upgrades;
  }

  // serve_thread_conn() runs on a connection's own thread; fd belongs to
  // the thread model, which closes it after erasing it from its live set.
  void serve_thread_conn(int fd, std::size_t listener) {
    accepted.fetch_add(1, std::memory_order_relaxed);
    std::string remote = peer_address_of(fd);
    if (opt.listen[listener].tls) {
      try {
        TlsStream s(*tls, fd, TlsStream::FdOwnership::borrow);
        s.handshake(std::chrono::steady_clock::now() + opt.tls.handshake_timeout);
        Http1Session session(handler, opt.http, remote);
        session.serve(s);
        if (session.upgraded()) session.run_upgrade(s);
      } catch (...) {
        conns.tls_failures.fetch_add(1, std::memory_order_relaxed);
        throw;
      }
    } else {
      FdStream s(fd);
      struct Release {
        FdStream& s;
        ~Release() { s.release(); }  // the thread model closes fd
      } release{s};
      Http1Session session(handler, opt.http, remote);
      session.serve(s);
      if (session.upgraded()) session.run_upgrade(s);
    }
  }
};

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
  bool any_tls = false;
  for (const auto& l : impl_->opt.listen) any_tls = any_tls || l.tls;
  if (any_tls) {
    if (impl_->opt.tls.cert_file.empty() || impl_->opt.tls.key_file.empty()) {
      throw std::invalid_argument("a TLS listener needs a certificate and a key (--tls-cert, --tls-key)");
    }
    impl_->tls = std::make_shared<TlsContext>(
        impl_->opt.tls, impl_->opt.http.h2 && impl_->opt.model == Model::goroutine);
  }
  Impl& s = *impl_;
  s.conns.handler = &s.handler;
  s.conns.http = &s.opt.http;
  s.conns.tls = s.tls.get();
  s.conns.tls_handshake_timeout = s.opt.tls.handshake_timeout;
  s.conns.shutdown = &s.shutdown;
}

Server::~Server() { impl_->signal_hook.reset(); }

Router& Server::router() { return impl_->router; }

Server& Server::use(Middleware middleware) {
  impl_->chain.use(std::move(middleware));
  return *this;
}

const ServerOptions& Server::options() const { return impl_->opt; }

void Server::listen() {
  Impl& s = *impl_;
  if (s.listening) return;
  if (s.opt.listen.empty()) throw std::invalid_argument("no listen address (use --listen HOST:PORT)");
  for (const auto& spec : s.opt.listen) {
    s.addrs.push_back(s.opt.model == Model::goroutine
                          ? s.goroutines.listen(spec.address, s.opt.reuse_port)
                          : s.threads.listen(spec.address, s.opt.reuse_port));
  }
  s.listening = true;
  // The shutdown hook goes in with the sockets, not in serve(): a caller
  // announces the addresses between the two, and a SIGTERM sent as soon as
  // they are known must start a graceful shutdown, not kill the process.
  if (s.opt.handle_signals) s.signal_hook.emplace([this] { shutdown(); });
}

std::vector<std::string> Server::addresses() const { return impl_->addrs; }

void Server::shutdown() {
  Impl& s = *impl_;
  // The listeners stop inside request(), before it wakes serve(): once
  // woken, serve() may return and the Server be destroyed while this call
  // would still be stopping them (a ThreadModel's accept back-off cancelled
  // after its server was gone crashed mw_static_test's thread runs).
  s.shutdown.request([&s] {
    if (s.opt.model == Model::goroutine) {
      s.goroutines.stop_accepting();
    } else {
      s.threads.stop_accepting();
    }
  });
}

ServerCounters Server::counters() const {
  ServerCounters c;
  c.accepted = impl_->accepted.load(std::memory_order_relaxed);
  c.active = static_cast<uint64_t>(std::max<int64_t>(0, impl_->shutdown.open_connections()));
  c.idle_parked = static_cast<uint64_t>(
      std::max<int64_t>(0, impl_->conns.idle_parked.load(std::memory_order_relaxed)));
  c.tls_handshake_failures = impl_->conns.tls_failures.load(std::memory_order_relaxed);
  c.requests_in_flight = static_cast<uint64_t>(
      std::max<int64_t>(0, impl_->requests.in_flight.load(std::memory_order_relaxed)));
  c.upgraded = static_cast<uint64_t>(
      std::max<int64_t>(0, impl_->requests.upgraded.load(std::memory_order_relaxed)));
  for (int r = 0; r < 5; ++r) {
    c.requests_cancelled[r] = impl_->requests.cancelled[r].load(std::memory_order_relaxed);
  }
  return c;
}

std::vector<ListenerStats> Server::listener_stats() const {
  const Impl& s = *impl_;
  std::vector<ListenerStats> out;
  if (!s.listening || s.shutdown.draining()) return out;  // closing: the fds may be gone
  const std::vector<int> fds =
      s.opt.model == Model::goroutine ? s.goroutines.listen_fds() : s.threads.listen_fds();
  for (std::size_t i = 0; i < fds.size() && i < s.addrs.size(); i++) {
    tcp_info ti{};
    socklen_t len = sizeof ti;
    // A listening socket's TCP_INFO: tcpi_unacked is the accept queue's
    // length, tcpi_sacked its limit (Linux's tcp_get_info).
    if (fds[i] < 0 || ::getsockopt(fds[i], IPPROTO_TCP, TCP_INFO, &ti, &len) != 0) continue;
    if (ti.tcpi_state != TCP_LISTEN) continue;
    out.push_back({s.addrs[i], ti.tcpi_unacked, ti.tcpi_sacked});
  }
  return out;
}

void Server::serve() {
  Impl& s = *impl_;
  if (!cogo::in_goroutine()) {
    throw std::logic_error("cogo::http::Server::serve must run on a goroutine (inside cogo::run)");
  }
  listen();
  s.handler = s.chain.empty() ? s.router.handler() : s.chain.then(s.router.handler());

  if (s.opt.model == Model::goroutine) {
    s.goroutines.start(
        [&s](net::Conn conn, std::size_t listener) {
          s.accepted.fetch_add(1, std::memory_order_relaxed);
          server_detail::serve_goroutine_conn(s.conns, std::move(conn), s.opt.listen[listener].tls);
        },
        s.shutdown);
  } else {
    s.threads.start([&s](int fd, std::size_t listener) { s.serve_thread_conn(fd, listener); },
                    s.shutdown, s.opt.thread_stack_bytes);
  }

  s.shutdown.wait_requested();
  spdlog::info("shutting down: draining {} connections (grace {} ms)", s.shutdown.open_connections(),
               s.opt.shutdown_grace.count());
  const auto deadline = std::chrono::steady_clock::now() + s.opt.shutdown_grace;
  // Upgraded connections (WebSockets) have no request boundary to stop at:
  // their handlers are cancelled now (a WebSocket says 1001 and closes),
  // and any upgrade from here on is cancelled as it happens.
  s.upgrades.drain();
  if (s.opt.model == Model::goroutine) {
    s.goroutines.join_acceptors();
    // Every idle connection is woken and sees draining; one that parks
    // later (its serve_ready() was under way) is called back at once.
    s.conns.idle_set.close();
  } else {
    s.threads.join_acceptors();
    // Every accepted connection is in the live set now (the accept thread
    // adds it before starting its thread). Threads blocked waiting for a
    // next request learn about the shutdown from an end of input; one in
    // the middle of a request still writes its response, with "close".
    // Not the upgraded ones: their close handshake still reads.
    std::vector<int> upgraded = s.upgrades.fds();
    std::sort(upgraded.begin(), upgraded.end());
    s.threads.shutdown_live(SHUT_RD, upgraded);
  }
  if (s.shutdown.wait_connections(deadline)) {
    spdlog::info("shutdown complete");
    return;
  }
  // The grace is over: cancel the handlers still waiting (each answers 503
  // and closes, or closes mid-response) and give them a moment to unwind.
  spdlog::warn("shutdown grace period over: cancelling {} requests on {} connections",
               s.requests.in_flight.load(std::memory_order_relaxed), s.shutdown.open_connections());
  s.root.cancel(cogo::CancelReason::shutdown);
  if (!s.shutdown.wait_connections(std::chrono::steady_clock::now() + kUnwindGrace)) {
    spdlog::warn("shutdown: {} connections dropped", s.shutdown.open_connections());
  } else {
    spdlog::info("shutdown complete");
  }
}

}  // namespace cogo::http
