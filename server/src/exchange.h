// exchange.h: Exchange, the HTTP/1.1 engine of one connection at work.
//
// An Exchange holds everything a connection needs while it is being served:
// the llhttp parser, the read buffer, the response output buffer, and the
// Request and Response the handler sees. It is not the connection: an idle
// keep-alive connection (HttpConnection) gives its Exchange back to a pool,
// so waiting costs no buffers. Exchanges are pooled per thread and reused, so
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
// Threads and goroutines: an Exchange is used by one thread or goroutine at a
// time. Thread-local caches (the Exchange pool, the Date string, the scratch
// read buffer) are only touched in non-inlined functions that cannot park, so
// a goroutine that moves between threads never uses another thread's cache.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "cogo/http/connection.h"
#include "cogo/http/handler.h"
#include "cogo/http/options.h"
#include "cogo/http/request.h"
#include "cogo/http/response.h"
#include "cogo/http/stream.h"
#include "input_buffer.h"
#include "output_buffer.h"
#include "request_parser.h"

namespace cogo::http::detail {

class Exchange {
 public:
  Exchange() = default;
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  // attach() prepares for serving stream. readiness selects serve_ready()
  // behaviour: return idle at a request boundary with no input ready.
  void attach(Stream& stream, const Handler& handler, const HttpOptions& options,
              std::string_view remote_address, bool readiness);
  // detach() forgets the connection and trims buffers worth giving back.
  void detach() noexcept;

  // serve() runs the loop until the connection is done or, readiness
  // driven, idle.
  HttpConnection::State serve();
  // got_input() tells whether the last serve() read any bytes.
  bool got_input() const noexcept { return got_input_; }

  // read_body() is Request::read().
  std::size_t read_body(void* dst, std::size_t size);
  // flush_response() is Response::flush().
  void flush_response();

  const HttpOptions& options() const noexcept { return *options_; }

 private:
  enum class Fill : std::uint8_t { got, idle, eof };
  enum class Framing : std::uint8_t { length, chunked, until_close, none };

  bool process_input();
  bool dispatch(RequestParser::Event event);
  bool prepare_request();
  void run_handler();
  bool pull_body();
  void finish_body_before_response();
  void finish_body_after_response();
  void finish_response();
  void send_error(int status, std::string_view detail);
  void append_head(Framing framing, std::uint64_t content_length);

  Fill fill_at_boundary();
  bool read_more_head();
  void flush_output();
  void write_out(const ConstBuffer* extra, int count);
  void close_connection(bool linger) noexcept;
  bool draining() const noexcept;

  Stream* stream_ = nullptr;
  const Handler* handler_ = nullptr;
  const HttpOptions* options_ = nullptr;
  std::string_view remote_address_;
  bool readiness_ = false;
  bool got_input_ = false;  // serve() read something (readiness mode)
  bool parser_dirty_ = true;  // the parser may be inside a message or failed

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
  int body_error_ = 0;  // status of a body failure, repeated on later reads
  Framing framing_ = Framing::length;
  bool body_done_ = true;       // no body, or all of it parsed
  bool continue_sent_ = false;  // "100 Continue" went out
  bool body_timed_out_ = false;
  bool aborted_ = false;  // the handler failed after the head was sent

  // The connection.
  bool close_after_ = false;  // close once the current response is out
  bool broken_ = false;       // the stream failed: close without writing more
};

}  // namespace cogo::http::detail
