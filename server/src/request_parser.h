// request_parser.h: RequestParser, llhttp in strict mode wrapped for the
// connection engine.
//
// The parser works in place on the connection's read buffer: the request
// line and header fields are string_views into it (no copies), and body bytes
// are decoded in place (chunk framing squeezed out), so a body needs no
// second buffer. It pauses at two points so the engine can act between them:
//  - after the head of a request that has a body (the handler runs before the
//    body is read: 100-continue, streaming, limits);
//  - after each complete message (the next pipelined request stays unparsed
//    until the current one is answered).
//
// A chunked body is not llhttp's: llhttp is told to skip it and
// ChunkedDecoder (chunked_decoder.h) decodes it, strictly.
//
// On top of llhttp's strict mode it rejects what llhttp lets through: header
// names with characters outside RFC 9110's token set ("Bad Header"), obsolete
// line folding, transfer codings other than chunked (501), HTTP versions
// other than 1.x (505), Transfer-Encoding in HTTP/1.0, and HTTP/1.1 requests
// without exactly one Host. llhttp itself rejects Content-Length together
// with Transfer-Encoding and duplicate Content-Lengths (request smuggling).
#pragma once

#include <llhttp.h>

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "chunked_decoder.h"
#include "cogo/http/field.h"

namespace cogo::http::detail {

// RequestHead is the parsed request line and header fields. Views point into
// the buffer the parser ran over; rebase() follows the buffer when it moves.
struct RequestHead {
  const char* start = nullptr;  // first byte of the request line
  const char* end = nullptr;    // one past the head's final CRLF, once complete
  std::string_view method;
  std::string_view target;
  // host: whom the request is for — an absolute-form target's authority,
  // else the Host field's value (RFC 9112 3.2.2, 7.1).
  std::string_view host;
  std::vector<Field> fields;
  std::uint64_t content_length = 0;
  std::uint8_t http_major = 1;
  std::uint8_t http_minor = 1;
  bool has_content_length = false;
  bool chunked = false;
  bool keep_alive = false;
  bool expect_continue = false;
  bool upgrade = false;  // CONNECT or Upgrade: the connection ends after it

  bool has_body() const noexcept { return chunked || content_length > 0; }
  void clear() noexcept;
  void rebase(std::ptrdiff_t delta) noexcept;
};

class RequestParser {
 public:
  enum class Event : std::uint8_t {
    need_more,         // all input consumed; the message is not complete yet
    head_complete,     // the head is complete and a body follows
    message_complete,  // the message ended (a body-less head is complete too)
    error,             // malformed: error_status() is the response to send
  };
  struct Result {
    Event event;
    std::size_t consumed;    // input bytes used; the rest belongs to later messages
    std::size_t body_bytes;  // decoded body bytes now at the start of the input
  };

  RequestParser() noexcept;
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // reset() forgets any message in progress (a fresh connection).
  void reset() noexcept;

  // parse() runs over data[0, size). Body bytes found are moved to the front
  // of data (data[0, body_bytes)): the input is consumed front to back and
  // decoded bytes never outrun it, so this is safe in place.
  Result parse(char* data, std::size_t size) noexcept;

  RequestHead& head() noexcept { return head_; }
  const RequestHead& head() const noexcept { return head_; }
  // in_message(): a request has begun and has not ended.
  bool in_message() const noexcept { return in_message_; }
  // in_head(): a request has begun and its head is not complete.
  bool in_head() const noexcept { return in_message_ && !head_done_; }
  int error_status() const noexcept { return error_status_; }
  const char* error_reason() const noexcept { return error_reason_; }

 private:
  enum class Span : std::uint8_t { none, method, url, field, value };
  enum class Pause : std::uint8_t { none, head, message };

  static int on_message_begin(llhttp_t* p);
  static int on_method(llhttp_t* p, const char* at, std::size_t n);
  static int on_url(llhttp_t* p, const char* at, std::size_t n);
  static int on_header_field(llhttp_t* p, const char* at, std::size_t n);
  static int on_header_value(llhttp_t* p, const char* at, std::size_t n);
  static int on_headers_complete(llhttp_t* p);
  static int on_body(llhttp_t* p, const char* at, std::size_t n);
  static int on_message_complete(llhttp_t* p);
  static const llhttp_settings_t settings_;

  int fail(int status, const char* reason) noexcept;
  Result parse_chunked(char* data, std::size_t size) noexcept;
  int check_head() noexcept;
  bool host_is_valid(std::string_view value) noexcept;

  llhttp_t parser_;
  RequestHead head_;
  char* body_out_ = nullptr;  // where the next decoded body byte goes
  int error_status_ = 0;
  const char* error_reason_ = nullptr;
  Span last_span_ = Span::none;
  Pause pause_ = Pause::none;
  bool in_message_ = false;
  bool head_done_ = false;
  bool chunked_body_ = false;  // ChunkedDecoder has the body, llhttp skipped it
  ChunkedDecoder chunked_;
  // The last Host value found valid: a keep-alive client sends the same one
  // on every request, and a compare is cheaper than the grammar. Survives
  // reset() (validity depends on the text alone).
  static constexpr std::size_t kHostCache = 64;
  char valid_host_[kHostCache];
  std::uint8_t valid_host_size_ = 0;
  bool has_valid_host_ = false;
};

}  // namespace cogo::http::detail
