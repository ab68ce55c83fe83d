// cogo/http/options.h: limits and timeouts of an HTTP/1.1 connection.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace cogo {
class Context;
}

namespace cogo::http {

namespace detail {
class UpgradeRegistry;
}

// RequestCounters: requests in flight and requests cancelled, by reason
// (indexed by cogo::CancelReason; none unused). Relaxed atomics.
struct RequestCounters {
  std::atomic<std::int64_t> in_flight{0};
  // Connections a handler took over (cogo/http/upgrade.h) and still holds;
  // their requests no longer count as in flight.
  std::atomic<std::int64_t> upgraded{0};
  std::atomic<std::uint64_t> cancelled[5] = {};
};

// HttpOptions: every limit is answered with a status and a close, every
// timeout ends the connection. A timeout of zero (or less) is disabled.
struct HttpOptions {
  // Request line plus header fields larger than this: 431, then close.
  std::size_t max_header_bytes = 8 * 1024;
  // A request body larger than this (declared or, chunked, as received):
  // 413, then close.
  std::size_t max_body_bytes = 8 * 1024 * 1024;
  // When a handler leaves part of a request body unread, the server reads and
  // discards up to this many bytes to keep the connection; more: close.
  std::size_t max_drain_bytes = 256 * 1024;
  // A response body buffered beyond this many bytes starts streaming
  // (chunked) as if the handler had called flush().
  std::size_t max_buffered_response_bytes = 1024 * 1024;
  // Read buffer of a connection served by the blocking loop (serve()); the
  // readiness-driven path sizes its buffer to what arrived instead.
  std::size_t read_buffer_bytes = 16 * 1024;

  // From the first wait for a request head's missing bytes until the head is
  // complete (slowloris): 408, then close.
  std::chrono::milliseconds read_header_timeout{10'000};
  // A keep-alive connection waiting for its next request: closed silently.
  std::chrono::milliseconds idle_timeout{60'000};
  // From the first wait for request body bytes until the body is complete:
  // Request::read() throws TimeoutError; uncaught, 408 and close.
  std::chrono::milliseconds body_read_timeout{60'000};
  // Each write of response bytes: close.
  std::chrono::milliseconds write_timeout{30'000};
  // After a response that ends the connection, how long unread input is
  // drained before the close (closing with unread input resets the
  // connection, which may destroy the response before the client reads it).
  std::chrono::milliseconds linger_timeout{1'000};

  // Each request runs under a context (cogo/cancel.h, Request::context()):
  // every wait of its handler throws cogo::Cancelled once it is done.
  // handler_timeout is its deadline from the moment the head was parsed:
  // a handler still waiting then is cancelled and the client gets 503 if no
  // byte of the response was sent, else the connection closes. 0: off.
  std::chrono::milliseconds handler_timeout{0};
  // A client that resets or hangs up while its handler waits cancels it
  // (client_gone, logged as 499). So does a FIN after its complete request
  // with nothing behind it, unless this is false (serve half-closed clients:
  // their handler runs to the end and the response is still written).
  bool cancel_on_half_close = true;

  // HTTP/2 (RFC 9113; goroutine model only: the thread model serves
  // HTTP/1.1). h2: a TLS listener offers "h2" in ALPN before "http/1.1".
  // h2c: a plain listener takes a connection that opens with the HTTP/2
  // client preface (prior knowledge) as HTTP/2; other connections stay
  // HTTP/1.1. Each stream's handler runs in a goroutine of its own.
  bool h2 = false;
  bool h2c = false;

  // When *draining becomes true (graceful shutdown), each connection finishes
  // the request in progress, answers it with "Connection: close" and closes.
  const std::atomic<bool>* draining = nullptr;
  // Set by the Server: request contexts are children of *root_context (the
  // shutdown cancels it once the grace is over), and the request counters.
  const cogo::Context* root_context = nullptr;
  RequestCounters* request_counters = nullptr;
  // Set by the Server: where upgraded connections are registered, so that
  // the shutdown cancels them at its start (cogo/http/upgrade.h).
  detail::UpgradeRegistry* upgrades = nullptr;
};

}  // namespace cogo::http
