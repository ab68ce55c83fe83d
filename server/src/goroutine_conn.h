// goroutine_conn.h: one HTTP connection of the goroutine model, from accept
// to close, and the whole idle keep-alive protocol.
//
//   accepted --go--> [handshake (TLS)] --> serving --(next read would block)--> idle
//      idle --(readable / hang-up / idle timer)--> resumed --(bytes)--> serving
//      resumed --(idle_timeout passed, or draining)--> closed
//      serving --(engine says closed, error, or draining)--> closed
//      serving --(a handler upgraded for later)--> upgraded --(its handler returns)--> closed
//
// serving: a goroutine runs the engine (Http1Session::serve_ready) over a
//   ConnStream (or TlsStream over the same net::Conn) until every request that
//   has arrived is answered and the next read would block; the engine then
//   gives its buffers back (http1_session.h) and the goroutine exits.
// idle: no goroutine and no buffer: the connection waits in the poller
//   (net::Conn::await_readable, in the server's IdleSet so that a shutdown
//   finds it) with the idle deadline as its read deadline. The timer is
//   re-armed lazily (park_idle in goroutine_conn.cpp).
// resumed: the poller spawned a fresh goroutine; a timer wake-up is told from
//   bytes by the clock, bytes from end of input by the engine's first read.
// upgraded: the goroutine that served the request runs the upgrade's handler
//   (Http1Session::run_upgrade, cogo/http/upgrade.h) with the engine given
//   back; the connection stays counted open until it returns.
//
// An idle keep-alive connection costs a few hundred bytes.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "cogo/http/handler.h"
#include "cogo/http/options.h"
#include "cogo/net.h"

namespace cogo::http {
class TlsContext;
}

namespace cogo::server_detail {

class Shutdown;

// GoroutineConns: what every goroutine-model connection of one server
// shares. Set up before the first connection; the pointers must outlive the
// last one (Shutdown::wait_connections()).
struct GoroutineConns {
  const http::Handler* handler = nullptr;
  const http::HttpOptions* http = nullptr;
  const http::TlsContext* tls = nullptr;  // null: no TLS listener
  std::chrono::milliseconds tls_handshake_timeout{10'000};
  Shutdown* shutdown = nullptr;
  net::IdleSet idle_set;                    // thread-safe (net.h)
  std::atomic<int64_t> idle_parked{0};      // relaxed counter (ServerCounters)
  std::atomic<uint64_t> tls_failures{0};    // relaxed counter (ServerCounters)
};

// serve_goroutine_conn() starts serving conn (accepted, counted by
// shutdown->connection_opened()) on a new goroutine; with tls, after a TLS
// handshake. The connection calls connection_closed() when it closes.
void serve_goroutine_conn(GoroutineConns& shared, net::Conn conn, bool tls);

}  // namespace cogo::server_detail
