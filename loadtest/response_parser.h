// response_parser.h: an incremental HTTP/1.x response parser that finds
// where each response ends, so that cogo-load counts answers exactly even
// when they are pipelined or split across reads at any byte.
//
// It reads the status line and the headers it needs for framing
// (Content-Length, Transfer-Encoding, Connection), then skips the body by
// length, by chunks (extensions and trailers allowed), or up to the end of
// the stream when neither is given. Interim 1xx responses are skipped and not
// counted; responses to HEAD and 204/304 have no body. Body bytes are never
// copied.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace cogo::load {

class ResponseParser {
 public:
  // head: the requests on this connection are HEAD (responses carry no body).
  explicit ResponseParser(bool head = false) : head_(head) {}

  // feed() consumes n bytes and returns how many responses they completed.
  // Returns -1 on malformed input (error() says what); the parser is then
  // unusable. Never keeps more than one partial line (kMaxLine) in memory.
  int feed(const char* data, size_t n);
  // finish() tells the parser the stream ended: it completes a response
  // whose body runs to the end of the stream and returns 1 in that case;
  // 0 when the parser was between responses; -1 when a response was cut off.
  int finish();

  // Between responses: every byte fed so far belonged to complete responses.
  bool idle() const { return state_ == State::status_line && line_.empty(); }
  // The last complete response lets the connection stay open.
  bool keep_alive() const { return last_keep_alive_; }
  // The status of the last complete response (0 before the first).
  int last_status() const { return last_status_; }
  // Complete responses by status class: [1] 1xx (never: skipped) .. [5] 5xx,
  // [0] anything else.
  const uint64_t* by_class() const { return by_class_; }
  const std::string& error() const { return error_; }

  static constexpr size_t kMaxLine = 16 * 1024;

 private:
  enum class State {
    status_line,   // reading "HTTP/1.1 200 OK"
    header_line,   // reading header lines up to the empty one
    body_length,   // skipping remaining_ body bytes
    body_to_eof,   // the body ends with the stream
    chunk_size,    // reading "1a;ext=x"
    chunk_data,    // skipping remaining_ chunk bytes
    chunk_crlf,    // reading the empty line after a chunk
    trailer_line,  // reading trailer lines up to the empty one
    failed,
  };

  bool on_line(std::string_view line, int& completed);
  bool status_line(std::string_view line);
  bool header_line(std::string_view line, int& completed);
  void headers_done(int& completed);
  void complete(int& completed);
  bool fail(std::string why);

  bool head_;
  State state_ = State::status_line;
  std::string line_;  // a line split across feeds
  uint64_t remaining_ = 0;
  // The response being parsed.
  int status_ = 0;
  int minor_version_ = 1;
  bool has_length_ = false;
  bool chunked_ = false;
  bool close_ = false;
  bool keep_alive_header_ = false;
  // Results.
  bool last_keep_alive_ = true;
  int last_status_ = 0;
  uint64_t by_class_[6] = {};
  std::string error_;
};

}  // namespace cogo::load
