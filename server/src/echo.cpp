// echo.cpp: EchoServer (cogo/echo.h) on the same listeners, accept loops and
// shutdown protocol as the HTTP server (goroutine_model.h, thread_model.h,
// shutdown.h); only the per-connection loop is its own.
#include "cogo/echo.h"

#include <sys/socket.h>

#include <cerrno>
#include <mutex>
#include <unordered_set>

#include "cogo/net.h"
#include "cogo/runtime.h"
#include "goroutine_model.h"
#include "shutdown.h"
#include "thread_model.h"

namespace cogo::echo {

struct EchoServer::Impl {
  std::vector<std::string> specs;
  Model model;
  bool reuse_port;
  std::vector<std::string> addrs;  // owned by the thread calling listen()/serve()
  server_detail::Shutdown shutdown;
  server_detail::GoroutineModel goroutines;
  server_detail::ThreadModel threads;
  std::mutex mu;
  std::unordered_set<net::Conn*> conns;  // goroutine model: open connections; guarded by mu
};

EchoServer::EchoServer(std::vector<std::string> listen, Model model, bool reuse_port)
    : impl_(std::make_unique<Impl>()) {
  impl_->specs = std::move(listen);
  impl_->model = model;
  impl_->reuse_port = reuse_port;
}

EchoServer::~EchoServer() = default;

void EchoServer::listen() {
  Impl& s = *impl_;
  if (!s.addrs.empty()) return;
  for (const auto& a : s.specs) {
    s.addrs.push_back(s.model == Model::goroutine ? s.goroutines.listen(a, s.reuse_port)
                                                  : s.threads.listen(a, s.reuse_port));
  }
}

namespace {

void echo_blocking(int fd) {
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      return;
    }
    ssize_t off = 0;
    while (off < n) {
      ssize_t w = ::send(fd, buf + off, static_cast<size_t>(n - off), MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return;
      off += w;
    }
  }
}

void echo_conn(net::Conn& c) {
  char buf[4096];
  for (;;) {
    std::error_code ec;
    std::size_t n = c.read(buf, sizeof buf, ec);
    if (ec) return;
    c.write_all(buf, n, ec);
    if (ec) return;
  }
}

}  // namespace

std::vector<std::string> EchoServer::addresses() const { return impl_->addrs; }

void EchoServer::shutdown() {
  Impl& s = *impl_;
  // The listeners stop inside request(), before it wakes serve(): once
  // woken, serve() may return and the EchoServer be destroyed while this call
  // would still be stopping them (a ThreadModel's accept back-off cancelled
  // after its server was gone crashed mw_static_test's thread runs).
  s.shutdown.request([&s] {
    if (s.model == Model::goroutine) {
      s.goroutines.stop_accepting();
    } else {
      s.threads.stop_accepting();
    }
  });
}

void EchoServer::serve() {
  Impl& s = *impl_;
  listen();
  if (s.model == Model::goroutine) {
    s.goroutines.start(
        [&s](net::Conn conn, std::size_t) {
          cogo::go([&s, c = std::move(conn)]() mutable {
            bool open;
            {
              std::lock_guard<std::mutex> lk(s.mu);
              // A connection accepted just before the shutdown closed the
              // others is not served.
              open = !s.shutdown.draining();
              if (open) s.conns.insert(&c);
            }
            if (open) {
              echo_conn(c);
              std::lock_guard<std::mutex> lk(s.mu);
              s.conns.erase(&c);
            }
            c.close();
            s.shutdown.connection_closed();
          });
        },
        s.shutdown);
  } else {
    s.threads.start([](int fd, std::size_t) { echo_blocking(fd); }, s.shutdown, 256 * 1024);
  }
  s.shutdown.wait_requested();
  if (s.model == Model::goroutine) {
    s.goroutines.join_acceptors();
    std::lock_guard<std::mutex> lk(s.mu);
    for (net::Conn* c : s.conns) c->close();
  } else {
    s.threads.join_acceptors();
    s.threads.shutdown_live(SHUT_RDWR);
  }
  s.shutdown.wait_connections();
}

}  // namespace cogo::echo
