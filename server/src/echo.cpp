// echo.cpp: a raw TCP echo server — the smallest blocking-style program on
// the runtime: one goroutine (or thread) per connection, read then write.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "cogo/http/server.h"

#include "blocking_socket.h"
#include "cogo/net.h"
#include "cogo/runtime.h"
#include "spdlog/spdlog.h"

namespace cogo::http {

struct EchoServer::Impl {
  std::vector<std::string> specs;
  Model model;
  bool reuse_port;
  std::vector<net::Listener> listeners;     // goroutine model
  std::vector<int> thread_listen_fds;       // thread model
  std::vector<std::string> addrs;
  std::atomic<bool> stopping{false};
  std::mutex mu;
  std::unordered_set<net::Conn*> conns;        // goroutine model: open connections
  std::unordered_set<int> thread_fds;          // thread model
  std::atomic<int64_t> active{0};
};

EchoServer::EchoServer(std::vector<std::string> listen, Model model, bool reuse_port)
    : impl_(std::make_unique<Impl>()) {
  impl_->specs = std::move(listen);
  impl_->model = model;
  impl_->reuse_port = reuse_port;
}

EchoServer::~EchoServer() {
  for (int fd : impl_->thread_listen_fds) ::close(fd);
}

void EchoServer::listen() {
  Impl& s = *impl_;
  if (!s.addrs.empty()) return;
  for (const auto& a : s.specs) {
    if (s.model == Model::goroutine) {
      net::ListenOptions lo;
      lo.reuse_port = s.reuse_port;
      s.listeners.push_back(net::listen(a, lo));
      s.addrs.push_back(s.listeners.back().address().to_string());
    } else {
      s.thread_listen_fds.push_back(blocking_listen(a, s.reuse_port));
      s.addrs.push_back(local_address_of(s.thread_listen_fds.back()));
    }
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

}  // namespace

std::vector<std::string> EchoServer::addresses() const { return impl_->addrs; }

void EchoServer::shutdown() {
  Impl& s = *impl_;
  if (s.stopping.exchange(true)) return;
  for (auto& ln : s.listeners) ln.close();
  for (int fd : s.thread_listen_fds) ::shutdown(fd, SHUT_RDWR);
  std::lock_guard<std::mutex> lk(s.mu);
  for (net::Conn* c : s.conns) c->close();
  for (int fd : s.thread_fds) ::shutdown(fd, SHUT_RDWR);
}

void EchoServer::serve() {
  Impl& s = *impl_;
  listen();
  std::atomic<int> loops{0};
  std::vector<std::thread> acceptors;
  for (auto& ln : s.listeners) {
    loops.fetch_add(1);
    cogo::go([&s, &ln, &loops] {
      for (;;) {
        std::error_code ec;
        net::Conn conn = ln.accept(ec);
        if (ec) {
          if (net::is_closed(ec) || s.stopping.load()) break;
          continue;
        }
        s.active.fetch_add(1);
        cogo::go([&s, c = std::move(conn)]() mutable {
          {
            std::lock_guard<std::mutex> lk(s.mu);
            s.conns.insert(&c);
          }
          char buf[4096];
          for (;;) {
            std::error_code rec;
            std::size_t n = c.read(buf, sizeof buf, rec);
            if (rec) break;
            c.write_all(buf, n, rec);
            if (rec) break;
          }
          {
            std::lock_guard<std::mutex> lk(s.mu);
            s.conns.erase(&c);
          }
          c.close();
          s.active.fetch_sub(1);
        });
      }
      loops.fetch_sub(1);
    });
  }
  for (int lfd : s.thread_listen_fds) {
    acceptors.emplace_back([&s, lfd] {
      thread_accept_loop(lfd, s.stopping, [&s](int fd) {
        s.active.fetch_add(1);
        {
          std::lock_guard<std::mutex> lk(s.mu);
          s.thread_fds.insert(fd);
        }
        std::thread([&s, fd] {
          echo_blocking(fd);
          {
            std::lock_guard<std::mutex> lk(s.mu);
            s.thread_fds.erase(fd);
          }
          ::close(fd);
          s.active.fetch_sub(1);
        }).detach();
      });
    });
  }
  while (!s.stopping.load()) cogo::sleep_for(std::chrono::milliseconds(20));
  for (auto& t : acceptors) cogo::blocking([&t] { t.join(); });
  while (loops.load() > 0 || s.active.load() > 0) cogo::sleep_for(std::chrono::milliseconds(5));
}

}  // namespace cogo::http
