// server.cpp: listeners, the two connection models and graceful shutdown.
//
// Goroutine model, one connection's life:
//   accept loop G --go--> conn G: serve_ready() answers every request that has
//   arrived; when the next read would block the engine drops its buffers and
//   the G hands the socket to the poller (await_readable, with the idle
//   timeout as read deadline) and exits. The next readable edge spawns a new G
//   that serves again: bytes -> answered; EOF or error -> close; no bytes ->
//   park again, or close once the idle timeout has passed.
//   So an idle keep-alive connection costs a few hundred bytes, no stack.
//
// Thread model: a blocking accept() thread per listener and one OS thread per
// connection running the engine's blocking loop (serve()) over FdStream.
//
// Shutdown: draining is set (the engine answers the request in progress with
// "Connection: close"), listeners close, idle connections are woken and
// closed, and serve() waits up to shutdown_grace for active connections.
#include "cogo/http/server.h"

#include "blocking_socket.h"
#include "coarse_clock.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_set>

#include "cogo/http/connection.h"
#include "cogo/http/conn_stream.h"
#include "cogo/http/fd_stream.h"
#include "cogo/http/request.h"
#include "cogo/http/response.h"
#include "cogo/http/tls.h"
#include "cogo/net.h"
#include "cogo/runtime.h"
#include "spdlog/spdlog.h"

namespace cogo::http {

const char* model_name(Model m) { return m == Model::goroutine ? "goroutine" : "thread"; }

// ---------------------------------------------------------------------------
// Signals: SIGTERM/SIGINT write a byte to a socketpair; a watcher thread
// calls the registered functions (never from the handler itself).
namespace {

int g_signal_fds[2] = {-1, -1};
std::mutex g_signal_mu;
std::vector<std::pair<uint64_t, std::function<void()>>> g_signal_fns;
uint64_t g_signal_next_id = 1;

void on_signal(int) {
  const int saved = errno;
  char b = 1;
  ssize_t w = ::write(g_signal_fds[1], &b, 1);
  (void)w;
  errno = saved;
}

void ensure_signal_watcher() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, g_signal_fds) != 0) {
      throw std::system_error(errno, std::generic_category(), "socketpair for signals");
    }
    fcntl(g_signal_fds[1], F_SETFL, O_NONBLOCK);
    std::thread([] {
      char buf[16];
      for (;;) {
        ssize_t n = ::read(g_signal_fds[0], buf, sizeof buf);
        if (n <= 0) {
          if (n < 0 && errno == EINTR) continue;
          return;
        }
        // Called under the lock, so that remove_signal_fn() returns only
        // once no call into its owner is under way (~Server relies on it).
        std::lock_guard<std::mutex> lk(g_signal_mu);
        for (auto& [id, fn] : g_signal_fns) fn();
      }
    }).detach();
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
  });
}

uint64_t add_signal_fn(std::function<void()> fn) {
  ensure_signal_watcher();
  std::lock_guard<std::mutex> lk(g_signal_mu);
  uint64_t id = g_signal_next_id++;
  g_signal_fns.emplace_back(id, std::move(fn));
  return id;
}

void remove_signal_fn(uint64_t id) {
  std::lock_guard<std::mutex> lk(g_signal_mu);
  std::erase_if(g_signal_fns, [id](const auto& e) { return e.first == id; });
}

}  // namespace

void on_shutdown_signal(std::function<void()> fn) { add_signal_fn(std::move(fn)); }

// ---------------------------------------------------------------------------
// Server

struct Server::Impl {
  ServerOptions opt;
  Router router;
  MiddlewareChain chain;
  Handler handler;
  std::shared_ptr<TlsContext> tls;

  // Goroutine model.
  std::vector<net::Listener> listeners;
  net::IdleSet idle_set;
  // Thread model.
  std::vector<int> thread_listen_fds;
  std::vector<std::thread> acceptors;
  std::mutex thread_conns_mu;
  std::unordered_set<int> thread_conns;

  std::vector<std::string> addrs;
  bool listening = false;
  uint64_t signal_id = 0;  // the SIGTERM/SIGINT hook: listen() adds it, ~Server removes it
  std::atomic<bool> draining{false};
  std::atomic<bool> shutdown_requested{false};
  std::atomic<uint64_t> accepted{0};
  std::atomic<int64_t> active{0};
  std::atomic<int64_t> idle_parked{0};
  std::atomic<uint64_t> tls_failures{0};

  explicit Impl(ServerOptions o) : opt(std::move(o)) { opt.http.draining = &draining; }

  // One goroutine-model connection; owned by whichever goroutine serves it
  // or by the poller's callback while it is idle.
  struct GConn {
    Impl* srv;
    net::Conn conn;
    ConnStream plain;
    std::unique_ptr<TlsStream> tls;
    HttpConnection http;
    bool handshaken = false;
    Deadline idle_deadline = no_deadline;  // set by park_idle()
    GConn(Impl* s, net::Conn c, std::string remote)
        : srv(s), conn(std::move(c)), plain(conn), http(s->handler, s->opt.http, std::move(remote)) {}
    Stream& stream() { return tls ? static_cast<Stream&>(*tls) : plain; }
  };

  void finish(GConn* c) {
    c->conn.close();
    delete c;
    active.fetch_sub(1);
  }

  // serve_gconn() runs on a goroutine: serve what is ready, then park the
  // connection in the poller (or close it).
  void serve_gconn(GConn* c) {
    if (c->tls && !c->handshaken) {
      try {
        c->tls->handshake(std::chrono::steady_clock::now() + opt.tls_handshake_timeout);
        c->handshaken = true;
      } catch (const std::exception& e) {
        tls_failures.fetch_add(1);
        spdlog::debug("tls handshake with {} failed: {}", c->conn.remote_address().to_string(),
                      e.what());
        finish(c);
        return;
      }
    }
    HttpConnection::State st = HttpConnection::State::closed;
    try {
      st = c->http.serve_ready(c->stream());
    } catch (const std::exception& e) {
      spdlog::debug("connection error: {}", e.what());
      st = HttpConnection::State::closed;
    }
    if (st == HttpConnection::State::closed || draining.load()) {
      finish(c);
      return;
    }
    park_idle(c, c->http.got_input());
  }

  // park_idle() hands an idle connection to the poller with the idle
  // timeout as its read deadline. The deadline moves only when the client
  // sent something; and the poller's timer is re-armed only when it would
  // fire more than an eighth of the idle timeout (at most 5 s) early; then
  // resume_gconn() sees the deadline not yet passed and parks again. A busy
  // keep-alive connection re-arms its timer every few seconds, not per
  // request (nginx's lazy timers do the same): in a heap of 10,000 idle
  // connections every re-arm is a dozen cache misses.
  static constexpr std::chrono::milliseconds kMaxLazyRearm{5000};

  void park_idle(GConn* c, bool got_input) {
    const auto idle = opt.http.idle_timeout;
    const auto lazy = std::min<std::chrono::milliseconds>(idle / 8, kMaxLazyRearm);
    const auto now = detail::coarse_now();
    if (got_input || c->idle_deadline == no_deadline) {
      c->idle_deadline = idle.count() > 0 ? now + idle : no_deadline;
    }
    if (c->tls) {
      c->conn.set_read_deadline(c->idle_deadline == no_deadline ? net::kNoDeadline
                                                                : c->idle_deadline);
    } else {
      const Deadline armed = c->plain.applied_read_deadline();
      const bool close_enough = c->idle_deadline != no_deadline && armed <= c->idle_deadline &&
                                c->idle_deadline - armed < lazy &&
                                armed > now + lazy + detail::kCoarseLag;
      if (!close_enough) c->plain.apply_read_deadline(c->idle_deadline);
    }
    idle_parked.fetch_add(1);
    c->conn.await_readable([this, c] { resume_gconn(c); }, &idle_set);
  }

  // resume_gconn() runs on a fresh goroutine when an idle connection became
  // readable, hung up, or its read deadline passed. The engine's first read
  // tells bytes from end of input; a timer wake-up is told by the clock.
  void resume_gconn(GConn* c) {
    idle_parked.fetch_sub(1);
    if (draining.load()) {
      finish(c);
      return;
    }
    if (c->idle_deadline != no_deadline &&
        detail::coarse_now() + detail::kCoarseLag >= c->idle_deadline &&
        net::Clock::now() >= c->idle_deadline) {
      finish(c);  // idle for idle_timeout: close
      return;
    }
    c->plain.note_readable();
    serve_gconn(c);
  }

  void accept_loop(net::Listener* ln, bool is_tls) {
    for (;;) {
      std::error_code ec;
      net::Conn conn = ln->accept(ec);
      if (ec) {
        if (net::is_closed(ec) || shutdown_requested.load()) return;
        spdlog::warn("accept on {}: {}", ln->address().to_string(), ec.message());
        continue;
      }
      accepted.fetch_add(1);
      active.fetch_add(1);
      std::string remote = conn.remote_address().to_string();
      auto* c = new GConn(this, std::move(conn), std::move(remote));
      if (is_tls) c->tls = std::make_unique<TlsStream>(*tls, c->conn);
      cogo::go([this, c] { serve_gconn(c); });
    }
  }

  // Thread model: one OS thread per connection.
  void thread_conn(int fd, bool is_tls) {
    {
      std::lock_guard<std::mutex> lk(thread_conns_mu);
      thread_conns.insert(fd);
    }
    std::string remote = peer_address_of(fd);
    try {
      if (is_tls) {
        TlsStream s(*tls, fd);  // owns fd
        s.handshake(std::chrono::steady_clock::now() + opt.tls_handshake_timeout);
        HttpConnection(handler, opt.http, remote).serve(s);
      } else {
        FdStream s(fd);  // owns fd
        HttpConnection(handler, opt.http, remote).serve(s);
        std::lock_guard<std::mutex> lk(thread_conns_mu);
        thread_conns.erase(fd);  // before FdStream closes it: the number may be reused
      }
    } catch (const std::exception& e) {
      if (is_tls) tls_failures.fetch_add(1);
      spdlog::debug("connection error: {}", e.what());
    }
    {
      std::lock_guard<std::mutex> lk(thread_conns_mu);
      thread_conns.erase(fd);
    }
    active.fetch_sub(1);
  }
};

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
  bool any_tls = false;
  for (const auto& l : impl_->opt.listen) any_tls = any_tls || l.tls;
  if (any_tls) {
    if (impl_->opt.tls_cert_file.empty() || impl_->opt.tls_key_file.empty()) {
      throw std::invalid_argument("a TLS listener needs a certificate and a key (--tls-cert, --tls-key)");
    }
    TlsConfig tc;
    tc.cert_file = impl_->opt.tls_cert_file;
    tc.key_file = impl_->opt.tls_key_file;
    tc.handshake_timeout = impl_->opt.tls_handshake_timeout;
    impl_->tls = std::make_shared<TlsContext>(tc);
  }
}

Server::~Server() {
  if (impl_->signal_id) remove_signal_fn(impl_->signal_id);
  for (int fd : impl_->thread_listen_fds) ::close(fd);
}

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
    if (s.opt.model == Model::goroutine) {
      net::ListenOptions lo;
      lo.reuse_port = s.opt.reuse_port;
      s.listeners.push_back(net::listen(spec.address, lo));
      s.addrs.push_back(s.listeners.back().address().to_string());
    } else {
      int fd = blocking_listen(spec.address, s.opt.reuse_port);
      s.thread_listen_fds.push_back(fd);
      s.addrs.push_back(local_address_of(fd));
    }
  }
  s.listening = true;
  // The shutdown hook goes in with the sockets, not in serve(): a caller
  // announces the addresses between the two, and a SIGTERM sent as soon as
  // they are known must start a graceful shutdown, not kill the process.
  if (s.opt.handle_signals) s.signal_id = add_signal_fn([this] { shutdown(); });
}

std::vector<std::string> Server::addresses() const { return impl_->addrs; }

void Server::shutdown() {
  Impl& s = *impl_;
  if (s.shutdown_requested.exchange(true)) return;
  s.draining.store(true);
  for (auto& ln : s.listeners) ln.close();
  for (int fd : s.thread_listen_fds) ::shutdown(fd, SHUT_RDWR);
}

ServerCounters Server::counters() const {
  ServerCounters c;
  c.accepted = impl_->accepted.load();
  c.active = static_cast<uint64_t>(std::max<int64_t>(0, impl_->active.load()));
  c.idle_parked = static_cast<uint64_t>(std::max<int64_t>(0, impl_->idle_parked.load()));
  c.tls_handshake_failures = impl_->tls_failures.load();
  return c;
}

void Server::serve() {
  Impl& s = *impl_;
  if (!cogo::in_goroutine()) {
    throw std::logic_error("cogo::http::Server::serve must run on a goroutine (inside cogo::run)");
  }
  listen();
  s.handler = s.chain.empty() ? s.router.handler() : s.chain.then(s.router.handler());

  std::atomic<int> accept_loops{0};
  if (s.opt.model == Model::goroutine) {
    for (size_t i = 0; i < s.listeners.size(); i++) {
      accept_loops.fetch_add(1);
      net::Listener* ln = &s.listeners[i];
      const bool is_tls = s.opt.listen[i].tls;
      cogo::go([&s, ln, is_tls, &accept_loops] {
        s.accept_loop(ln, is_tls);
        accept_loops.fetch_sub(1);
      });
    }
  } else {
    for (size_t i = 0; i < s.thread_listen_fds.size(); i++) {
      const int lfd = s.thread_listen_fds[i];
      const bool is_tls = s.opt.listen[i].tls;
      s.acceptors.emplace_back([&s, lfd, is_tls] {
        thread_accept_loop(lfd, s.shutdown_requested, [&s, is_tls](int fd) {
          s.accepted.fetch_add(1);
          s.active.fetch_add(1);
          if (!spawn_thread(s.opt.thread_stack_bytes, [&s, fd, is_tls] { s.thread_conn(fd, is_tls); })) {
            spdlog::error("cannot start a connection thread: {}", std::strerror(errno));
            ::close(fd);
            s.active.fetch_sub(1);
          }
        });
      });
    }
  }

  // Wait for the shutdown request.
  while (!s.shutdown_requested.load()) cogo::sleep_for(std::chrono::milliseconds(20));
  spdlog::info("shutting down: draining {} connections (grace {} ms)", s.active.load(),
               s.opt.shutdown_grace.count());
  const auto deadline = std::chrono::steady_clock::now() + s.opt.shutdown_grace;
  if (s.opt.model == Model::goroutine) {
    while (accept_loops.load() > 0) cogo::sleep_for(std::chrono::milliseconds(1));
    s.idle_set.close();
  } else {
    for (auto& t : s.acceptors) cogo::blocking([&t] { t.join(); });
    s.acceptors.clear();
    // Threads blocked waiting for a next request learn about the shutdown
    // from an end of input (in-flight requests finish: writes still work).
    cogo::sleep_for(std::chrono::milliseconds(50));
    std::lock_guard<std::mutex> lk(s.thread_conns_mu);
    for (int fd : s.thread_conns) ::shutdown(fd, SHUT_RD);
  }
  while (s.active.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    if (s.opt.model == Model::goroutine) s.idle_set.wake_all();
    cogo::sleep_for(std::chrono::milliseconds(10));
  }
  if (s.active.load() > 0) {
    spdlog::warn("shutdown grace period over: {} connections dropped", s.active.load());
  } else {
    spdlog::info("shutdown complete");
  }
}

// ---------------------------------------------------------------------------
// Built-in demo routes.

void add_builtin_routes(Router& router) {
  router.get("/", [](Request&, Response& res) {
    res.set_header("Content-Type", "text/plain");
    res.write("Hello, World!");
  });
  router.post("/echo", [](Request& req, Response& res) {
    const std::string_view type = req.header("Content-Type");
    res.set_header("Content-Type", type.empty() ? "application/octet-stream" : type);
    char buf[16 * 1024];
    for (;;) {
      std::size_t n = req.read(buf, sizeof buf);
      if (n == 0) break;
      res.write(buf, n);
    }
  });
  router.get("/sleep", [](Request& req, Response& res) {
    const std::string_view ms_text = req.query("ms");
    long ms = 0;
    const auto* end = ms_text.data() + ms_text.size();
    auto [p, ec] = std::from_chars(ms_text.data(), end, ms);
    if (ms_text.empty() || ec != std::errc() || p != end || ms < 0 || ms > 600'000) {
      res.text(400, "sleep: ms must be a number of milliseconds from 0 to 600000\n");
      return;
    }
    cogo::sleep_for(std::chrono::milliseconds(ms));
    res.text(200, "slept " + std::to_string(ms) + " ms\n");
  });
  router.get("/healthz", [](Request&, Response& res) { res.text(200, "ok\n"); });
}

}  // namespace cogo::http
