// response_parser.h: an incremental HTTP/1.x response parser that finds
// where each response ends, so that cogo-load counts answers exactly even
// when they are pipelined or split across reads at any byte.
//
// The grammar is llhttp's (the parser the server uses, in its response
// mode); this class only keeps the counts: responses by status class,
// the last status, whether the connection may be reused. Interim 1xx
// responses are skipped and not counted; responses to HEAD and 204/304 have
// no body. Body bytes are never copied, and no more than kMaxHead bytes of a
// response head are accepted.
#pragma once

#include <llhttp.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace cogo::load {

class ResponseParser {
 public:
  // head: the requests on this connection are HEAD (responses carry no body).
  explicit ResponseParser(bool head = false);
  ResponseParser(const ResponseParser& other);
  ResponseParser& operator=(const ResponseParser& other);

  // feed() consumes n bytes and returns how many responses they completed.
  // Returns -1 on malformed input (error() says what); the parser is then
  // unusable.
  int feed(const char* data, size_t n);
  // finish() tells the parser the stream ended: it completes a response
  // whose body runs to the end of the stream and returns 1 in that case;
  // 0 when the parser was between responses; -1 when a response was cut off.
  int finish();

  // Between responses: every byte fed so far belonged to complete responses.
  bool idle() const { return !in_message_ && !failed_; }
  // The last complete response lets the connection stay open.
  bool keep_alive() const { return last_keep_alive_; }
  // The status of the last complete response (0 before the first).
  int last_status() const { return last_status_; }
  // Complete responses by status class: [1] 1xx (never: skipped) .. [5] 5xx,
  // [0] anything else.
  const uint64_t* by_class() const { return by_class_; }
  const std::string& error() const { return error_; }

  // The largest response head (status line and fields) accepted.
  static constexpr size_t kMaxHead = 16 * 1024;

 private:
  static const llhttp_settings_t* settings();
  static int on_message_begin(llhttp_t* p);
  static int on_head_bytes(llhttp_t* p, const char* at, size_t n);
  static int on_headers_complete(llhttp_t* p);
  static int on_message_complete(llhttp_t* p);
  int fail(std::string why);

  llhttp_t parser_;
  bool head_;
  bool failed_ = false;
  bool in_message_ = false;
  size_t head_bytes_ = 0;   // of the head being parsed
  int completed_ = 0;       // responses completed by the current feed()
  // Results.
  bool last_keep_alive_ = true;
  int last_status_ = 0;
  uint64_t by_class_[6] = {};
  std::string error_;
};

}  // namespace cogo::load
