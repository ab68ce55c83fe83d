// cogo/http/response.h: the response a handler builds.
//
// Writes are buffered. A handler that returns without flush() produces one
// response with Content-Length; flush() commits the status and headers and
// streams the body from then on (chunked for HTTP/1.1; for HTTP/1.0 raw bytes
// and a close). The server adds Date and Server, and owns the framing
// headers (Content-Length, Transfer-Encoding, Connection).
//
// Two hooks serve the middleware collection: a body may name ranges of an
// open file (write_file(): sent with sendfile(2) where the connection
// allows it), and a BodyFilter (cogo/http/body_filter.h) may transform the
// body on its way out (middleware::compress).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace cogo::http {

class Request;
class Upgraded;
namespace detail {
class Exchange;
class Http1Engine;
class Http2Stream;
// JsonSupport<void> is defined by cogo/http/json.h (nlohmann-json).
template <class Tag>
struct JsonSupport;
}  // namespace detail
class BodyFilter;

class Response {
 public:
  Response(const Response&) = delete;
  Response& operator=(const Response&) = delete;

  // set_status() sets the status code (100..999, default 200); throws
  // std::logic_error once the head was sent.
  void set_status(int status);
  int status() const noexcept { return status_; }

  // set_header() replaces every field called name (case-insensitive) with one
  // name: value; add_header() adds one more. Throws std::invalid_argument for
  // names or values that would break the head (CR, LF, an empty name) and for
  // framing fields: Content-Length and Transfer-Encoding come from the body,
  // and "Connection: close" is the only Connection a handler may ask for.
  // Throws std::logic_error once the head was sent.
  void set_header(std::string_view name, std::string_view value);
  void add_header(std::string_view name, std::string_view value);
  void remove_header(std::string_view name);
  // header() is the first value of header name set so far, empty if none;
  // headers() are all of them, in order.
  std::string_view header(std::string_view name) const noexcept;
  std::vector<std::string_view> headers(std::string_view name) const;

  // write() appends to the body. Bodies of HEAD requests and of 1xx, 204
  // and 304 responses are counted (HEAD gets the Content-Length a GET would
  // get) but never sent.
  void write(std::string_view data);
  void write(const void* data, std::size_t size) {
    write(std::string_view(static_cast<const char*>(data), size));
  }

  // flush() sends what is buffered now: the first call commits the head and
  // switches to streaming. Throws std::system_error / TimeoutError if the
  // connection fails.
  void flush();

  // write_file() appends length bytes of the open file fd, from offset, to
  // the body. The response owns fd from the first call on and closes it once
  // it is done with it (sent, replaced by text()/json(), or abandoned);
  // later calls, for more ranges of the same file (multipart/byteranges),
  // must pass the same fd, and write() may put text before, between and
  // after them. The bytes go out with sendfile(2) on a plain TCP connection
  // (parking on a full socket like any write) and are read and written
  // otherwise (TLS); a read that would wait for the disk runs in a blocking
  // section (cogo::blocking), never stalling the other goroutines. The file
  // must keep at least offset + length bytes until then: a shorter file
  // ends the connection mid-body. A response with a file body is sent
  // whole: flush() throws std::logic_error, before or after.
  void write_file(int fd, std::uint64_t offset, std::uint64_t length);
  // has_file_body() tells whether write_file() was called for this response.
  bool has_file_body() const noexcept { return file_fd_ >= 0; }

  // set_body_filter() makes filter see the body on its way out (see
  // cogo/http/body_filter.h); false if a filter is already set (a body is
  // transformed once) or the head was sent. finish_body_filter() runs it
  // over the rest of the body, marks the body's end, and forgets it: call it
  // before filter dies. clear_body_filter() forgets it without that (the
  // handler threw).
  bool set_body_filter(BodyFilter* filter) noexcept;
  void finish_body_filter();
  void clear_body_filter() noexcept { filter_ = nullptr; }

  // text() and json() set the status and Content-Type and replace the
  // buffered (unsent) body with body. json(status, body) sends a string as
  // it is: body must already be JSON.
  void text(int status, std::string_view body);
  void json(int status, std::string_view body);
  // json(status, value) serialises value (a nlohmann::json, or anything it
  // converts from: res.json(200, {{"id", id}})) as the body, with
  // application/json. Needs #include <cogo/http/json.h>. Strings that are
  // not UTF-8 are sent with U+FFFD in place of their bad bytes.
  template <class Tag = void>
  void json(int status, const typename detail::JsonSupport<Tag>::value_type& value) {
    detail::JsonSupport<Tag>::write(*this, status, value);
  }

  // Mark: a point reset_to() can return to (recover takes one before the
  // handler runs).
  struct Mark {
    std::size_t fields_size;
    std::uint32_t removals;
  };
  Mark mark() const noexcept { return {fields_.size(), removals_}; }
  // reset_to() discards what was set since m: the status goes back to
  // 200, the unsent body is dropped (a write_file() one too: its file is
  // closed), and so are the header fields added since m — all fields,
  // when one was removed or replaced since m (the fields from before m are
  // then no longer known). A body filter stays (its middleware clears it
  // when the handler throws). Throws std::logic_error once the head was
  // sent.
  void reset_to(const Mark& m);

  // headers_sent() tells whether the head went out (after flush()).
  bool headers_sent() const noexcept { return committed_; }
  // body_bytes() is how many body bytes were written so far.
  std::uint64_t body_bytes() const noexcept { return body_bytes_; }

 private:
  // The engines read a Response (server/src/exchange.h).
  friend class detail::Http1Engine;
  friend class detail::Http2Stream;
  friend Upgraded upgrade(Request& req, Response& res);
  friend void upgrade(Request& req, Response& res, std::function<void(Upgraded&)> fn);
  Response() = default;
  void reset(detail::Exchange* exchange, bool discard_body, std::size_t max_buffered);
  void check_field(std::string_view name, std::string_view value);
  bool connection_field(std::string_view name, std::string_view value);
  void append_field(std::string_view name, std::string_view value);
  void set_content_type(std::string_view value);
  void replace_body(std::string_view body);
  void run_filter(int mode, bool whole_body);
  void filter_file_body();
  void close_file() noexcept;

  // FilePiece: after the first text_end bytes of body_ come length bytes of
  // the file from offset (write_file()).
  struct FilePiece {
    std::size_t text_end;
    std::uint64_t offset;
    std::uint64_t length;
  };

  detail::Exchange* exchange_ = nullptr;  // what carries it
  BodyFilter* filter_ = nullptr;
  std::string fields_;  // "Name: value\r\n" for each field set by the handler
  std::string body_;    // written and not yet sent (text; file pieces in files_)
  std::vector<FilePiece> files_;
  std::uint64_t body_bytes_ = 0;
  int file_fd_ = -1;
  std::size_t max_buffered_ = 0;
  std::uint32_t removals_ = 0;  // fields removed (or replaced) so far
  int status_ = 200;
  bool committed_ = false;
  bool discard_body_ = false;  // HEAD: count the body, never send it
  bool close_ = false;         // the handler asked for "Connection: close"
  bool has_server_ = false;
  bool has_date_ = false;
  bool filter_begun_ = false;
  // unusual_: what makes the engine leave its common path when it sends
  // the response (kFileBody: write_file() pieces; kLengthUnknown: a HEAD
  // whose body a filter transforms, so no Content-Length: RFC 9110 8.6,
  // 9.3.2). One byte, so the common path tests one thing.
  static constexpr std::uint8_t kFileBody = 1;
  static constexpr std::uint8_t kLengthUnknown = 2;
  std::uint8_t unusual_ = 0;
};

// reason_phrase() is the standard phrase of status ("Not Found"), or
// "Unknown" for codes without one.
std::string_view reason_phrase(int status) noexcept;

}  // namespace cogo::http
