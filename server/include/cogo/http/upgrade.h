// cogo/http/upgrade.h: a handler takes its connection over from HTTP — the
// upgrade / hijack primitive under WebSocket (cogo/websocket.h), for any
// protocol that starts with an HTTP request: an Upgrade (101 Switching
// Protocols) or a CONNECT tunnel (2xx).
//
//   router.get("/raw", [](Request& req, Response& res) {
//     res.set_status(101);
//     res.set_header("Upgrade", "echo/1");
//     cogo::http::Upgraded conn = cogo::http::upgrade(req, res);  // the 101 is on the wire
//     char buf[4096];
//     while (std::size_t n = conn.read(buf, sizeof buf)) conn.write(buf, n);
//   });  // the connection closes when the handler returns
//
// What upgrade() does: it sends the response head as it stands (the status,
// the handler's fields, Date and Server, and for a 101 "Connection:
// Upgrade"; never a body or its framing), and from then on the HTTP engine
// neither reads nor writes the connection: the handler owns it until it
// returns, and then the server closes it. The connection stays one of the
// server's: it counts in connections_active and in connections_upgraded
// (no longer in requests_in_flight), and a graceful shutdown waits for it.
// At the start of a shutdown its request context is cancelled with
// CancelReason::shutdown (every wait of the handler throws cogo::Cancelled:
// a WebSocket answers with close 1001), and after the grace period the
// server stops waiting for it. The handler timeout and the hang-up watch of
// the request end at the upgrade (the protocol now decides when a peer is
// gone); a context the handler set up itself (middleware::timeout) stays.
//
// Preconditions, each a std::logic_error naming it: nothing of the response
// was sent yet, no body was written; status 101 for a request that asked
// for an upgrade (Connection: upgrade and Upgrade, HTTP/1.1), or 2xx for a
// CONNECT. A request body must have been read to its end (else HttpError
// 400). An HTTP/2 stream refuses (RFC 8441 is not supported).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string_view>

namespace cogo::http {

class Upgraded;
class Request;
class Response;
class Stream;
namespace detail {
struct UpgradedAccess;
}

// Upgraded: the byte stream of a connection a handler took over. Valid until
// the handler returns (the server then closes the connection). One reader
// and one writer may use it at once (two goroutines, say); reads among
// themselves and writes among themselves must be serialised by the caller.
// Errors: a passed deadline throws TimeoutError, a cancelled wait
// cogo::Cancelled, a failed socket std::system_error.
class Upgraded {
 public:
  using Deadline = std::chrono::steady_clock::time_point;

  Upgraded() = default;
  explicit operator bool() const noexcept { return stream_ != nullptr; }

  // read() returns up to size bytes: first those the client sent behind its
  // request (they arrived with it), then from the socket, waiting for some;
  // 0 at the end of input.
  std::size_t read(void* buf, std::size_t size);
  // write() sends all of data, waiting for room as needed.
  void write(const void* data, std::size_t size);
  void write(std::string_view data) { write(data.data(), data.size()); }
  // set_read_deadline() / set_write_deadline() bound the following reads /
  // writes (time_point::max(): none).
  void set_read_deadline(Deadline deadline);
  void set_write_deadline(Deadline deadline);
  // close_write() ends the output (a FIN; over TLS a close_notify first);
  // reading goes on.
  void close_write();
  // secure() tells whether the connection is TLS.
  bool secure() const noexcept;

 private:
  friend struct detail::UpgradedAccess;
  friend Upgraded upgrade(Request& req, Response& res);
  friend void upgrade(Request& req, Response& res, std::function<void(Upgraded&)> fn);
  Stream* stream_ = nullptr;
  std::string_view buffered_;  // bytes behind the request, not read yet
};

// upgrade() takes the connection of req over after sending res's head (see
// above). Call it from the handler serving req, at most once.
Upgraded upgrade(Request& req, Response& res);

// UpgradeHandler: what serves a connection taken over after its request.
using UpgradeHandler = std::function<void(Upgraded&)>;

// upgrade(req, res, fn) is the same hand-over, deferred until the request is
// over: the head goes out now, the handler returns, the HTTP request ends
// (its engine and buffers go back to the pool, req and res are gone), and
// then fn runs with the connection on the connection's own goroutine (or
// thread), at the bottom of its stack. The cheapest way to hold a
// long-lived connection: it costs the goroutine's stack page, fn's state
// and a few hundred bytes. fn runs under a context of its own (a child of
// the server's, cancelled at the start of a shutdown); it counts in
// connections_upgraded while it runs; the connection closes when it
// returns. If the handler throws after this call, fn never runs.
void upgrade(Request& req, Response& res, UpgradeHandler fn);

}  // namespace cogo::http
