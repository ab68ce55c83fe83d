// response_parser.cpp: response_parser.h over llhttp's response mode.
#include "loadtest/response_parser.h"

#include <cstring>

namespace cogo::load {

namespace {

ResponseParser* self(llhttp_t* p) { return static_cast<ResponseParser*>(p->data); }

}  // namespace

const llhttp_settings_t* ResponseParser::settings() {
  static const llhttp_settings_t s = [] {
    llhttp_settings_t v;
    llhttp_settings_init(&v);
    v.on_message_begin = &ResponseParser::on_message_begin;
    v.on_status = &ResponseParser::on_head_bytes;
    v.on_header_field = &ResponseParser::on_head_bytes;
    v.on_header_value = &ResponseParser::on_head_bytes;
    v.on_headers_complete = &ResponseParser::on_headers_complete;
    v.on_message_complete = &ResponseParser::on_message_complete;
    return v;
  }();
  return &s;
}

ResponseParser::ResponseParser(bool head) : head_(head) {
  llhttp_init(&parser_, HTTP_RESPONSE, settings());
  parser_.data = this;
}

// A copy carries the parser's state; its user data points at the copy.
ResponseParser::ResponseParser(const ResponseParser& other) { *this = other; }

ResponseParser& ResponseParser::operator=(const ResponseParser& other) {
  if (this == &other) return *this;
  parser_ = other.parser_;
  parser_.data = this;
  head_ = other.head_;
  failed_ = other.failed_;
  in_message_ = other.in_message_;
  head_bytes_ = other.head_bytes_;
  completed_ = 0;
  last_keep_alive_ = other.last_keep_alive_;
  last_status_ = other.last_status_;
  std::memcpy(by_class_, other.by_class_, sizeof by_class_);
  error_ = other.error_;
  return *this;
}

int ResponseParser::on_message_begin(llhttp_t* p) {
  ResponseParser* r = self(p);
  r->in_message_ = true;
  r->head_bytes_ = 0;
  return HPE_OK;
}

int ResponseParser::on_head_bytes(llhttp_t* p, const char* /*at*/, size_t n) {
  ResponseParser* r = self(p);
  r->head_bytes_ += n;
  if (r->head_bytes_ > kMaxHead) {
    llhttp_set_error_reason(p, "response head larger than 16 KiB");
    return HPE_USER;
  }
  return HPE_OK;
}

int ResponseParser::on_headers_complete(llhttp_t* p) {
  if (p->status_code < 100) {
    llhttp_set_error_reason(p, "status code is not three digits");
    return HPE_USER;
  }
  // 1 tells llhttp the message has no body, whatever its Content-Length
  // says: the answer to a HEAD, 1xx, 204 and 304 (RFC 9112 6.3).
  const int status = p->status_code;
  const bool no_body = self(p)->head_ || status < 200 || status == 204 || status == 304;
  return no_body ? 1 : HPE_OK;
}

int ResponseParser::on_message_complete(llhttp_t* p) {
  ResponseParser* r = self(p);
  r->in_message_ = false;
  const int status = p->status_code;
  if (status >= 100 && status < 200) return HPE_OK;  // interim: not an answer
  r->last_status_ = status;
  r->last_keep_alive_ = llhttp_should_keep_alive(p) != 0;
  const int cls = status / 100;
  r->by_class_[cls >= 1 && cls <= 5 ? cls : 0]++;
  r->completed_++;
  return HPE_OK;
}

int ResponseParser::fail(std::string why) {
  failed_ = true;
  error_ = std::move(why);
  return -1;
}

int ResponseParser::feed(const char* data, size_t n) {
  if (failed_) return -1;
  parser_.data = this;
  completed_ = 0;
  const llhttp_errno_t err = llhttp_execute(&parser_, data, n);
  if (err != HPE_OK) {
    const char* reason = llhttp_get_error_reason(&parser_);
    return fail(std::string(llhttp_errno_name(err)) + ": " + (reason ? reason : "malformed response"));
  }
  return completed_;
}

int ResponseParser::finish() {
  if (failed_) return -1;
  parser_.data = this;
  completed_ = 0;
  const llhttp_errno_t err = llhttp_finish(&parser_);
  if (err != HPE_OK || in_message_) {
    return fail("connection closed in the middle of a response");
  }
  return completed_;
}

}  // namespace cogo::load
