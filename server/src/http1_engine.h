// http1_engine.h: Http1Engine, the HTTP/1.1 engine of one connection at work.
//
// An Http1Engine holds everything a connection needs while it is being served:
// the llhttp parser, the read buffer, the response output buffer, and the
// Request and Response the handler sees. It is not the connection: an idle
// keep-alive connection (Http1Session) gives its Http1Engine back to a pool,
// so waiting costs no buffers. Engines are pooled per thread and reused, so
// their vectors and strings keep their capacity and a request allocates
// nothing in the steady state.
//
// The loop (serve()):
//   1. parse what is buffered; each complete head is dispatched: the handler
//      runs, its response is appended to the output buffer;
//   2. when the input is used up, write the output buffer in one write (so a
//      pipelined batch gets all its responses in one system call), then read:
//      at a request boundary with the idle timeout (or, readiness driven, a
//      non-blocking read that returns idle when nothing is there); inside a
//      head with the read-header deadline.
// Body bytes are pulled only when the handler reads them (Request::read), by
// running the parser over the next input; the head stays in place meanwhile.
//
// Threads and goroutines: an Http1Engine is used by one thread or goroutine at a
// time. Thread-local caches (the Http1Engine pool, the Date string, the scratch
// read buffer) are only touched in non-inlined functions that cannot park, so
// a goroutine that moves between threads never uses another thread's cache.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "cogo/cancel.h"
#include "cogo/detail/cancel.h"
#include "cogo/detail/sched.h"
#include "cogo/http/handler.h"
#include "cogo/http/http1_session.h"
#include "cogo/http/options.h"
#include "cogo/http/request.h"
#include "cogo/http/response.h"
#include "cogo/http/stream.h"
#include "cogo/http/upgrade.h"
#include "exchange.h"
#include "input_buffer.h"
#include "output_buffer.h"
#include "request_parser.h"
#include "upgrade_registry.h"

namespace cogo::http::detail {

// Http1Engine is the Exchange (exchange.h) of each request it serves, one
// after another; final, so its own calls of read_body/flush_response bind
// directly.
class Http1Engine final : public Exchange {
 public:
  Http1Engine() { request_context_ = &ctx_; }
  Http1Engine(const Http1Engine&) = delete;
  Http1Engine& operator=(const Http1Engine&) = delete;

  // attach() prepares for serving stream. readiness selects serve_ready()
  // behaviour: return idle at a request boundary with no input ready.
  void attach(Stream& stream, const Handler& handler, const HttpOptions& options,
              std::string_view remote_address, bool readiness);
  // detach() forgets the connection and trims buffers worth giving back.
  void detach() noexcept;

  // serve() runs the loop until the connection is done or, readiness
  // driven, idle.
  Http1Session::State serve();
  // got_input() tells whether the last serve() read any bytes.
  bool got_input() const noexcept { return got_input_; }

  // Exchange: Request::read(), Response::flush().
  std::size_t read_body(void* dst, std::size_t size) override;
  void flush_response() override;

  // upgrade() is Exchange::upgrade(): the response head goes out, the
  // request's watch and handler timeout end, and the engine reads and
  // writes nothing more of the connection. Now (later empty): the
  // connection is registered for the shutdown and counted upgraded until
  // the request ends. Deferred (later set): serve() returns State::upgraded
  // once the handler returned, and take_upgrade() hands later to the session.
  Upgrade upgrade(UpgradeHandler later) override;
  // take_upgrade() moves out a deferred upgrade's handler and the input
  // that came behind the request (after serve() returned upgraded).
  UpgradeHandler take_upgrade(std::string& buffered);

  const HttpOptions& options() const noexcept { return *options_; }

  // Exchange: what answered_status() (cogo/http/outcome.h) reads.
  bool body_timed_out() const noexcept override { return phase_ == RequestPhase::body_timed_out; }
  bool stream_broken() const noexcept override { return broken(); }

 private:
  enum class Fill : std::uint8_t { got, idle, eof };
  enum class Framing : std::uint8_t { length, chunked, until_close, none };

  // RequestPhase: where the engine is in the request it serves.
  //
  //   state                 who moves it, to what
  //   idle                  serve() returned idle: the parser is between
  //                         messages. attach() -> head (no parser reset).
  //   head                  attach() (from any other phase: parser reset) or
  //                         after a response: reading/parsing a head.
  //                         dispatch() -> body_complete (no body or all of it
  //                         buffered), body_expect_continue (Expect:
  //                         100-continue, body not sent yet), body.
  //                         serve() at a boundary with nothing ready -> idle.
  //   body_expect_continue  pull_body() sends "100 Continue" -> body;
  //                         finish_body_before_response(): never sent, so the
  //                         body is unknowable -> close (body_unread).
  //   body                  pull_body(): message complete -> body_complete;
  //                         read timeout -> body_timed_out; malformed, too
  //                         large, truncated -> body_failed.
  //   body_timed_out        run_handler() answers an uncaught TimeoutError
  //                         with 408. pull_body() may read on (-> body_complete,
  //                         body_failed).
  //   body_failed           terminal for the request: pull_body() repeats
  //                         body_failure_status_ on every later read.
  //   body_complete         terminal for the request.
  // The next dispatch() (from head) starts over.
  enum class RequestPhase : std::uint8_t {
    idle, head, body_expect_continue, body, body_timed_out, body_failed, body_complete
  };

  // ResponsePhase: what of the response is on the wire.
  //   buffered     nothing: finish_response() sends the head with
  //                Content-Length and the body. dispatch() sets it.
  //   chunked      flush_response() sent the head (HTTP/1.1): body chunks,
  //                finish_response() ends with the last chunk.
  //   until_close  flush_response() sent the head to an HTTP/1.0 client: raw
  //                body, then close (until_close).
  //   no_body      flush_response() sent the head of a status without a body.
  //   aborted      from chunked/until_close/no_body/upgraded: the handler
  //                threw after the head went out; nothing more is sent,
  //                close. send_error() goes back to buffered (it only runs
  //                before anything was sent).
  //   upgraded     from buffered, by upgrade(): the head (101, or 2xx for
  //                CONNECT) went out and the handler owns the connection;
  //                the engine sends nothing more, and closes after it.
  enum class ResponsePhase : std::uint8_t {
    buffered, chunked, until_close, no_body, aborted, upgraded
  };

  // CloseReason: why the connection ends after the current response (none:
  // it carries the next request). Set by the first reason found (raise());
  // broken overrides every other, since it also forbids writing more.
  // dispatch() starts each request at none or client_asked/draining.
  enum class CloseReason : std::uint8_t {
    none,
    client_asked,     // Connection: close, HTTP/1.0 without keep-alive, Upgrade
    draining,         // graceful shutdown
    handler_asked,    // Response::close()
    request_error,    // answered 4xx for the request itself (parse, limits, 408)
    body_unread,      // a body too large to drain, or one never asked for
    until_close,      // an HTTP/1.0 response streamed without a length
    handler_aborted,  // the handler failed after the head was sent
    upgraded,         // the handler took the connection over (set by upgrade(),
                      // over any earlier reason but broken)
    broken,           // the stream failed: close without writing more
  };

  // The request's context (Request::context()). One state per engine,
  // reused from request to request while nothing else holds it (a helper
  // goroutine, a child context): begin_request_context() rearms it with the
  // handler timeout and the first-wait hook that starts the hang-up watch;
  // end_request_context() stops both, and cancels a state still held
  // elsewhere (the request's helpers die with it) and lets it go.
  void begin_request_context();
  // end_request_context() counts and returns why the request ended
  // cancelled: ctx_'s reason, else escaped (a Cancelled out of the handler).
  cogo::CancelReason end_request_context(cogo::CancelReason escaped) noexcept;
  static void on_first_wait(cogo::detail::CancelState* s, void* self);
  // stop_request_watch() ends the hang-up watch and the handler timeout of
  // the request in progress (its context stays, not done).
  void stop_request_watch() noexcept;

  bool process_input();
  bool dispatch(RequestParser::Event event);
  bool prepare_request();
  void run_handler();
  bool pull_body();
  void finish_body_before_response();
  void finish_body_after_response();
  void finish_response();
  void finish_unusual_response(bool send_body);
  void send_file_body(std::size_t head_start);
  // send_error() answers status for the request being read, a HEAD request
  // (head_request) without content; the connection closes after it.
  void send_error(int status, std::string_view detail, bool head_request);
  // in_head_request() tells whether the request being read (its head
  // maybe incomplete) is a HEAD request, as far as its method was read.
  bool in_head_request() const noexcept;
  void append_head(Framing framing, std::uint64_t content_length);

  Fill fill_at_boundary();
  bool read_more_head();
  void flush_output();
  void write_out(const ConstBuffer* extra, int count);
  void close_connection(bool linger) noexcept;
  bool draining() const noexcept;
  bool closing() const noexcept { return close_ != CloseReason::none; }
  bool broken() const noexcept { return close_ == CloseReason::broken; }
  void raise(CloseReason reason) noexcept {
    if (close_ == CloseReason::none || reason == CloseReason::broken) close_ = reason;
  }

  Stream* stream_ = nullptr;
  const Handler* handler_ = nullptr;
  const HttpOptions* options_ = nullptr;
  std::string_view remote_address_;
  bool readiness_ = false;
  bool got_input_ = false;  // serve() read something (readiness mode)
  RequestPhase phase_ = RequestPhase::head;  // see RequestPhase

  RequestParser parser_;
  InputBuffer in_;
  OutputBuffer out_;  // responses not written yet
  Request request_;
  Response response_;

  // The request being served.
  Deadline head_deadline_ = no_deadline;
  Deadline body_deadline_ = no_deadline;
  std::size_t head_end_ = 0;       // offset in in_ of the end of the head
  std::size_t pending_begin_ = 0;  // decoded body bytes not yet handed out:
  std::size_t pending_end_ = 0;    //   [pending_begin_, pending_end_) in in_
  std::uint64_t body_received_ = 0;
  int body_failure_status_ = 0;  // body_failed: the status repeated on later reads
  ResponsePhase response_phase_ = ResponsePhase::buffered;  // see ResponsePhase

  // The request's context (see begin_request_context).
  cogo::Context ctx_;
  cogo::detail::CancelState* ctx_parent_ = nullptr;  // the state ctx_ is a child of
  // Written by on_first_wait (under the state's lock, maybe on another
  // thread), read by end_request_context after taking that lock or after
  // seeing the state unshared.
  std::uint64_t hangup_watch_ = 0;  // hangup_watch.h id, 0: none
  bool first_wait_armed_ = false;   // the first-wait hook is installed and unused
  bool deadline_armed_ = false;     // the state's timer runs (handler_timeout)
  int watch_fd_ = -1;               // fixed by begin for on_first_wait
  bool watch_half_close_ = false;

  // UpgradeMode: whether and how the request took the connection over.
  //   none   dispatch() starts every request here.
  //   now    upgrade() with no handler: the handler owns the connection until
  //          it returns (registered and counted meanwhile); then it closes.
  //   later  upgrade(handler): when the handler returns normally, serve()
  //          returns State::upgraded and the session runs the handler;
  //          if it throws, the connection closes (none of it runs).
  enum class UpgradeMode : std::uint8_t { none, now, later };
  UpgradeMode upgrade_ = UpgradeMode::none;
  UpgradeRegistry::Entry upgrade_entry_;  // now: linked in options_->upgrades meanwhile
  UpgradeHandler upgrade_later_;          // later: the handler, until take_upgrade()

  // The connection.
  CloseReason close_ = CloseReason::none;  // see CloseReason
};

}  // namespace cogo::http::detail
