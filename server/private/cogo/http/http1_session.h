// cogo/http/http1_session.h: Http1Session, the HTTP/1.1 state of one
// connection that survives between requests (handler, options, the peer's
// address). It is not the connection (the socket and its lifecycle are the
// connection model's: goroutine_conn.h, thread_model.h) nor the engine: while
// it serves it borrows an Http1Engine (src/http1_engine.h) from a per-thread
// pool, and gives it back when idle.
//
// Two ways to drive the same engine:
//  - serve(): the blocking loop. Reads wait (idle timeout between requests)
//    and the connection keeps its buffers until it closes. The thread-per-
//    connection model runs this, and so can a goroutine that stays with its
//    connection.
//  - serve_ready(): readiness driven. Serves every request the stream has
//    ready, and when the input is used up and the next read would block it
//    releases its buffers and returns idle. The caller lets the connection
//    wait without a goroutine or buffer and calls serve_ready() again when
//    the socket becomes readable (or closes it after idle_timeout). An idle
//    Http1Session is a few dozen bytes.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "cogo/http/handler.h"
#include "cogo/http/options.h"
#include "cogo/http/stream.h"

namespace cogo::http {

namespace detail {
class Http1Engine;
}

class Http1Session {
 public:
  // Http1Session() serves with handler and options, which must outlive it;
  // remote_address is what Request::remote_address() reports.
  Http1Session(const Handler& handler, const HttpOptions& options,
                 std::string remote_address = {});
  ~Http1Session();
  Http1Session(const Http1Session&) = delete;
  Http1Session& operator=(const Http1Session&) = delete;

  enum class State {
    idle,      // waiting for the client's next request; holds no buffers
    closed,    // done: the caller closes the stream
    upgraded,  // a handler took the connection over for later (cogo/http/upgrade.h):
               // the caller calls run_upgrade(), then closes the stream
  };

  // serve() serves requests until the connection ends (client close, error,
  // timeout, Connection: close) or is upgraded (then upgraded() is true).
  // I/O errors end it quietly.
  void serve(Stream& stream);

  // serve_ready() serves the requests stream has ready; see above. A request
  // whose bytes are still arriving is waited for (read-header and body
  // timeouts apply), so only request boundaries return idle.
  State serve_ready(Stream& stream);

  // holds_buffers() tells whether the connection holds its working state
  // (false while idle between serve_ready() calls).
  bool holds_buffers() const noexcept { return engine_ != nullptr; }

  // upgraded() tells whether serve() or serve_ready() ended in an upgrade;
  // run_upgrade() then runs its handler over stream, with the engine given
  // back already: under a context of its own (a child of the server's root,
  // registered so that the shutdown cancels it at its start), counted in
  // RequestCounters::upgraded while it runs. An exception out of it is
  // logged. Returns when the handler does; the caller closes the stream.
  bool upgraded() const noexcept { return upgrade_ != nullptr; }
  void run_upgrade(Stream& stream);

  // got_input() tells whether the last serve_ready() read any bytes. A
  // caller woken by its idle timer closes a connection that had none; one
  // woken by a readiness edge whose bytes an earlier read took waits again.
  bool got_input() const noexcept { return got_input_; }

 private:
  const Handler* handler_;
  const HttpOptions* options_;
  std::string remote_address_;
  detail::Http1Engine* engine_ = nullptr;
  struct PendingUpgrade;
  std::unique_ptr<PendingUpgrade> upgrade_;  // set when serving ended in an upgrade
  bool got_input_ = false;
};

// serve_http1() is Http1Session(handler, options, remote).serve(stream).
void serve_http1(Stream& stream, const Handler& handler, const HttpOptions& options = {},
                           std::string_view remote_address = {});

}  // namespace cogo::http
