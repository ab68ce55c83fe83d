// exchange.h: Exchange, the seam between a Request/Response pair and the
// protocol engine that carries it.
//
// Request and Response are protocol-neutral: what they cannot do alone
// (pull body bytes off the wire, put response bytes on it) they ask of the
// Exchange they were handed. One Exchange carries one request at a time:
//   - HTTP/1.1: the connection's Http1Engine (http1_engine.h) is the
//     Exchange of every request it serves, one after another;
//   - HTTP/2: each stream is an Exchange of its own, run by its own
//     goroutine, which hands its frames to the connection's owner.
//
// Cost: a handler that neither reads a body nor flushes makes no call
// through it. The HTTP/1.1 engine is final, so its own calls bind directly.
//
// Adding a hook (a body filter, send_file, an upgrade, trailers):
//   1. declare it here as a pure virtual (or a virtual with the default that
//      is right for every protocol), with a comment saying what it does and
//      which Request/Response call reaches it;
//   2. implement it in every engine: Http1Engine and the HTTP/2 stream
//      (http2 streams refuse what cannot exist there, e.g. an upgrade, with
//      an exception that names the reason);
//   3. call it from Request/Response through exchange_.
// Keep this interface to what a Request/Response needs; connection-level
// concerns (framing, idle, shutdown) stay inside each engine.
//
// An engine also fills Request's and reads Response's private fields: it is
// a friend of both (request.h, response.h list them). Two of those fields
// are hooks every engine honours when it sends a response, so that they
// need no call through here:
//   - Response::unusual_ & kFileBody: the body has pieces of an open file
//     (Response::write_file, files_: text before each piece is body_'s
//     prefix up to text_end). Http1Engine sends them after the head
//     (send_file_body: small ones read into its output, large ones through
//     Stream::send_file, sendfile(2) on a plain socket); an HTTP/2 stream
//     reads them with file_io.h's read_file_at() into DATA frames. Either
//     way a read that would wait for the disk runs in cogo::blocking().
//   - Response::unusual_ & kLengthUnknown: a HEAD response whose length a
//     body filter made unknowable: no Content-Length (RFC 9110 8.6).
// A BodyFilter (cogo/http/body_filter.h) runs inside Response itself,
// before flush_response() and before the engine reads the body: engines
// never see it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cogo/http/upgrade.h"

#include "cogo/http/request.h"

namespace cogo {
class Context;
}

namespace cogo::http::detail {

class Exchange {
 public:
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  // read_body() is Request::read(): up to size body bytes into dst, blocking
  // until some arrive; 0 at the end of the body. Throws HttpError (413 over
  // body_limit(), 400 malformed or truncated), TimeoutError, Cancelled.
  virtual std::size_t read_body(void* dst, std::size_t size) = 0;

  // flush_response() is Response::flush(): the first call commits the head;
  // the buffered body goes out now. Throws as a Stream write does.
  virtual void flush_response() = 0;

  // Upgrade: what upgrade() hands the handler that takes the connection over.
  struct Upgrade {
    Stream* stream;
    std::string_view buffered;  // input behind the request, in the engine's buffer
  };
  // upgrade() is cogo::http::upgrade() (cogo/http/upgrade.h, which states
  // the preconditions): the response head goes out and the handler owns
  // the connection's stream from then on — now (later empty), or once the
  // handler has returned and the request is over (later runs then, on the
  // connection's goroutine or thread).
  virtual Upgrade upgrade(UpgradeHandler later) = 0;

  // body_limit() is the current request's body limit: max_body_bytes, or
  // less after limit_body() (Request::limit_body, middleware::body_limit).
  // The engine sets body_limit_ when a request starts.
  std::uint64_t body_limit() const noexcept { return body_limit_; }
  void limit_body(std::uint64_t n) noexcept {
    if (n < body_limit_) body_limit_ = n;
  }

  // What answered_status() (cogo/http/outcome.h) reads while a handler chain
  // unwinds, to say what the client gets:
  //   request_context()  the request's own context, not a narrower one a
  //                      middleware made current (null: Request::context());
  //   body_timed_out()   an uncaught TimeoutError is the body read's (408);
  //   stream_broken()    the stream failed under the handler: nothing more
  //                      is written.
  // of() is the Exchange carrying req (null before an engine filled it).
  const cogo::Context* request_context() const noexcept { return request_context_; }
  virtual bool body_timed_out() const noexcept { return false; }
  virtual bool stream_broken() const noexcept { return false; }
  static const Exchange* of(const Request& req) noexcept { return req.exchange_; }

 protected:
  Exchange() = default;
  ~Exchange() = default;  // never deleted through this interface

  std::uint64_t body_limit_ = 0;
  const cogo::Context* request_context_ = nullptr;  // set once by the engine
};

}  // namespace cogo::http::detail
