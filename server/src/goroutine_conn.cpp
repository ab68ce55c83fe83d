// goroutine_conn.cpp: the goroutine model's connection (see goroutine_conn.h).
#include "goroutine_conn.h"

#include <memory>
#include <string>

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "coarse_clock.h"
#include "http2_engine.h"
#include "cogo/http/conn_stream.h"
#include "cogo/http/http1_session.h"
#include "cogo/http/tls.h"
#include "cogo/runtime.h"
#include "shutdown.h"
#include "spdlog/spdlog.h"

namespace cogo::server_detail {
namespace {

using http::Deadline;
using http::no_deadline;

// GoroutineConn: owned by whichever goroutine serves it, or by the poller's
// callback while it is idle; never by two at once.
struct GoroutineConn {
  GoroutineConns* shared;
  net::Conn conn;
  http::ConnStream plain;
  std::unique_ptr<http::TlsStream> tls;
  http::Http1Session http;
  bool handshaken = false;
  bool protocol_known = false;  // h2c: the first bytes said HTTP/1.1 or HTTP/2
  Deadline idle_deadline = no_deadline;  // set by park_idle()

  GoroutineConn(GoroutineConns* s, net::Conn c, std::string remote)
      : shared(s), conn(std::move(c)), plain(conn), http(*s->handler, *s->http, std::move(remote)) {}
  http::Stream& stream() { return tls ? static_cast<http::Stream&>(*tls) : plain; }
};

void serve(GoroutineConn* c);

void finish(GoroutineConn* c) {
  Shutdown* shutdown = c->shared->shutdown;
  c->conn.close();
  delete c;
  shutdown->connection_closed();
}

// kMaxLazyRearm bounds how early the idle timer may fire (see park_idle).
constexpr std::chrono::milliseconds kMaxLazyRearm{5000};

void resume(GoroutineConn* c);

// park_idle() hands an idle connection to the poller with the idle timeout
// as its read deadline. The deadline moves only when the client sent
// something; and the poller's timer is re-armed only when it would fire more
// than an eighth of the idle timeout (at most 5 s) early; then resume() sees
// the deadline not yet passed and parks again. A busy keep-alive connection
// re-arms its timer every few seconds, not per request (nginx's lazy timers
// do the same): in a heap of 10,000 idle connections every re-arm is a dozen
// cache misses.
void park_idle(GoroutineConn* c, bool got_input) {
  const auto idle = c->shared->http->idle_timeout;
  const auto lazy = std::min<std::chrono::milliseconds>(idle / 8, kMaxLazyRearm);
  const auto now = http::detail::coarse_now();
  if (got_input || c->idle_deadline == no_deadline) {
    c->idle_deadline = idle.count() > 0 ? now + idle : no_deadline;
  }
  if (c->tls) {
    c->conn.set_read_deadline(c->idle_deadline);
  } else {
    const Deadline armed = c->plain.applied_read_deadline();
    const bool close_enough = c->idle_deadline != no_deadline && armed <= c->idle_deadline &&
                              c->idle_deadline - armed < lazy &&
                              armed > now + lazy + http::detail::kCoarseLag;
    if (!close_enough) c->plain.apply_read_deadline(c->idle_deadline);
  }
  c->shared->idle_parked.fetch_add(1, std::memory_order_relaxed);
  c->conn.await_readable([c] { resume(c); }, &c->shared->idle_set);
}

// resume() runs on a fresh goroutine when an idle connection became
// readable, hung up, or its read deadline passed. The engine's first read
// tells bytes from end of input; a timer wake-up is told by the clock.
void resume(GoroutineConn* c) {
  c->shared->idle_parked.fetch_sub(1, std::memory_order_relaxed);
  if (c->shared->shutdown->draining()) {
    finish(c);
    return;
  }
  if (c->idle_deadline != no_deadline &&
      http::detail::coarse_now() + http::detail::kCoarseLag >= c->idle_deadline &&
      net::Clock::now() >= c->idle_deadline) {
    finish(c);  // idle for idle_timeout: close
    return;
  }
  c->plain.note_readable();
  serve(c);
}

// Protocol: what the first bytes of a plain connection say (h2c).
enum class Protocol { http1, http2, unknown, partial };

// sniff() peeks at a plain connection's first bytes without taking them:
// the HTTP/2 client preface (RFC 9113 3.4) is prior knowledge of HTTP/2; any
// other byte, HTTP/1.1; nothing yet, unknown; fewer than 4 bytes that begin
// the preface, partial ("P" may still be "POST"; no method starts "PRI ").
Protocol sniff(int fd) {
  const std::string_view preface = http::detail::kHttp2Preface;
  char buf[24];
  ssize_t n;
  do {
    n = ::recv(fd, buf, preface.size(), MSG_PEEK | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return n == 0 ? Protocol::http1 : Protocol::unknown;  // EOF: HTTP/1.1's engine ends it
  if (preface.substr(0, static_cast<std::size_t>(n)) != std::string_view(buf, static_cast<std::size_t>(n)))
    return Protocol::http1;
  return n >= 4 ? Protocol::http2 : Protocol::partial;
}

// serve_h2() serves the connection as HTTP/2 on this goroutine until it
// ends, then closes it: an HTTP/2 connection keeps its goroutines (the owner
// and its reader) while it is open, idle or not.
void serve_h2(GoroutineConn* c) {
  const std::string remote = c->conn.remote_address().to_string();
  try {
    http::detail::serve_http2(c->stream(), *c->shared->handler, *c->shared->http, remote);
  } catch (const std::exception& e) {
    spdlog::debug("http2 connection error: {}", e.what());
  }
  finish(c);
}

// serve() runs on a goroutine: serve what is ready, then park the connection
// in the poller (or close it).
void serve(GoroutineConn* c) {
  if (c->tls && !c->handshaken) {
    try {
      c->tls->handshake(std::chrono::steady_clock::now() + c->shared->tls_handshake_timeout);
      c->handshaken = true;
    } catch (const std::exception& e) {
      c->shared->tls_failures.fetch_add(1, std::memory_order_relaxed);
      spdlog::debug("tls handshake with {} failed: {}", c->conn.remote_address().to_string(), e.what());
      finish(c);
      return;
    }
  }
  if (!c->protocol_known) {
    if (c->tls) {
      c->protocol_known = true;
      if (c->tls->alpn() == "h2") {
        serve_h2(c);
        return;
      }
    } else if (c->shared->http->h2c) {
      switch (sniff(c->conn.native_handle())) {
        case Protocol::http2:
          c->protocol_known = true;
          serve_h2(c);
          return;
        case Protocol::http1:
          c->protocol_known = true;
          break;
        case Protocol::unknown:
          // Nothing yet: wait for the first bytes in the poller.
          park_idle(c, false);
          return;
        case Protocol::partial: {
          // Fewer than 4 bytes, all the preface's so far: park in the poller
          // for more, within the read-header timeout. A peek takes nothing,
          // but the poller is edge-triggered: a wait returns once for the
          // bytes already there (the edge nobody waited for), then only when
          // new ones arrive. A timeout, or a hang-up, leaves the connection
          // to the HTTP/1.1 engine, which ends it.
          Protocol p = Protocol::partial;
          c->plain.set_read_deadline(std::chrono::steady_clock::now() +
                                     c->shared->http->read_header_timeout);
          try {
            while (p == Protocol::partial) {
              c->plain.wait_readable();
              p = sniff(c->conn.native_handle());
            }
          } catch (const std::exception& e) {
            spdlog::debug("h2c preface from {}: {}", c->conn.remote_address().to_string(), e.what());
          }
          c->plain.set_read_deadline(no_deadline);
          c->protocol_known = true;
          if (p == Protocol::http2) {
            serve_h2(c);
            return;
          }
          break;
        }
      }
    } else {
      c->protocol_known = true;
    }
  }
  http::Http1Session::State st = http::Http1Session::State::closed;
  try {
    st = c->http.serve_ready(c->stream());
  } catch (const std::exception& e) {
    spdlog::debug("connection error: {}", e.what());
    st = http::Http1Session::State::closed;
  }
  if (st == http::Http1Session::State::upgraded) {
    // The connection is the upgrade handler's now, on this goroutine, with
    // the engine back in its pool; it closes when the handler returns.
    c->http.run_upgrade(c->stream());
    finish(c);
    return;
  }
  if (st == http::Http1Session::State::closed || c->shared->shutdown->draining()) {
    finish(c);
    return;
  }
  park_idle(c, c->http.got_input());
}

}  // namespace

void serve_goroutine_conn(GoroutineConns& shared, net::Conn conn, bool tls) {
  std::string remote = conn.remote_address().to_string();
  auto* c = new GoroutineConn(&shared, std::move(conn), std::move(remote));
  if (tls) c->tls = std::make_unique<http::TlsStream>(*shared.tls, c->conn);
  cogo::go([c] { serve(c); });
}

}  // namespace cogo::server_detail
