#include "request_parser.h"

#include <cstring>

#include "authority.h"
#include "text.h"

namespace cogo::http::detail {

void RequestHead::clear() noexcept {
  start = end = nullptr;
  method = target = host = {};
  fields.clear();
  content_length = 0;
  http_major = http_minor = 1;
  has_content_length = chunked = keep_alive = expect_continue = upgrade = false;
}

void RequestHead::rebase(std::ptrdiff_t delta) noexcept {
  auto move = [delta](std::string_view& v) {
    if (v.data() != nullptr) v = std::string_view(v.data() + delta, v.size());
  };
  if (start != nullptr) start += delta;
  if (end != nullptr) end += delta;
  move(method);
  move(target);
  move(host);
  for (Field& f : fields) {
    move(f.name);
    move(f.value);
  }
}

namespace {

RequestParser* self(llhttp_t* p) {
  return static_cast<RequestParser*>(p->data);
}

// extend() grows span v by the piece [at, at + n). llhttp reports a span in
// pieces only when it crosses the end of one parse() input; the engine
// appends the next input right behind it, so pieces are contiguous.
// Returns false when they are not (obsolete line folding).
bool extend(std::string_view& v, const char* at, std::size_t n) {
  if (v.data() == nullptr) {
    v = std::string_view(at, n);
    return true;
  }
  if (v.data() + v.size() != at) return false;
  v = std::string_view(v.data(), v.size() + n);
  return true;
}

}  // namespace

const llhttp_settings_t RequestParser::settings_ = [] {
  llhttp_settings_t s;
  llhttp_settings_init(&s);
  s.on_message_begin = &RequestParser::on_message_begin;
  s.on_method = &RequestParser::on_method;
  s.on_url = &RequestParser::on_url;
  s.on_header_field = &RequestParser::on_header_field;
  s.on_header_value = &RequestParser::on_header_value;
  s.on_headers_complete = &RequestParser::on_headers_complete;
  s.on_body = &RequestParser::on_body;
  s.on_message_complete = &RequestParser::on_message_complete;
  return s;
}();

RequestParser::RequestParser() noexcept {
  reset();
}

void RequestParser::reset() noexcept {
  llhttp_init(&parser_, HTTP_REQUEST, &settings_);
  // The one lenient flag: llhttp takes any DIGIT.DIGIT version, and
  // check_head() applies RFC 9110 2.5 (1.x above 1.1 is served as 1.1, any
  // other major version gets 505). llhttp 8 uses the flag for nothing else.
  parser_.lenient_flags |= LENIENT_VERSION;
  parser_.data = this;
  head_.clear();
  body_out_ = nullptr;
  error_status_ = 0;
  error_reason_ = nullptr;
  last_span_ = Span::none;
  pause_ = Pause::none;
  in_message_ = head_done_ = chunked_body_ = false;
}

int RequestParser::fail(int status, const char* reason) noexcept {
  error_status_ = status;
  error_reason_ = reason;
  return HPE_USER;
}

int RequestParser::on_message_begin(llhttp_t* p) {
  RequestParser* s = self(p);
  s->head_.clear();
  s->last_span_ = Span::none;
  s->in_message_ = true;
  s->head_done_ = false;
  return 0;
}

int RequestParser::on_method(llhttp_t* p, const char* at, std::size_t n) {
  RequestParser* s = self(p);
  if (s->head_.start == nullptr) s->head_.start = at;
  extend(s->head_.method, at, n);
  s->last_span_ = Span::method;
  return 0;
}

int RequestParser::on_url(llhttp_t* p, const char* at, std::size_t n) {
  RequestParser* s = self(p);
  extend(s->head_.target, at, n);
  s->last_span_ = Span::url;
  return 0;
}

int RequestParser::on_header_field(llhttp_t* p, const char* at, std::size_t n) {
  RequestParser* s = self(p);
  if (!all_token_chars(std::string_view(at, n)))
    return s->fail(400, "invalid character in header name");
  if (s->head_done_) return 0;  // trailer fields: validated, not kept
  if (s->last_span_ != Span::field) {
    s->head_.fields.push_back(Field{std::string_view(at, n), std::string_view()});
  } else {
    extend(s->head_.fields.back().name, at, n);
  }
  s->last_span_ = Span::field;
  return 0;
}

int RequestParser::on_header_value(llhttp_t* p, const char* at, std::size_t n) {
  RequestParser* s = self(p);
  if (s->head_done_) return 0;
  Field& f = s->head_.fields.back();
  if (s->last_span_ == Span::value) {
    if (!extend(f.value, at, n)) return s->fail(400, "obsolete line folding in header field");
  } else {
    f.value = std::string_view(at, n);
  }
  s->last_span_ = Span::value;
  return 0;
}

int RequestParser::check_head() noexcept {
  RequestHead& h = head_;
  h.http_major = llhttp_get_http_major(&parser_);
  h.http_minor = llhttp_get_http_minor(&parser_);
  // RFC 9110 2.5: a higher minor version of a major version we implement
  // is processed as the highest we implement; another major version is not
  // supported (the version's syntax, DIGIT "." DIGIT, llhttp checked).
  if (h.http_major != 1) return fail(505, "HTTP version not supported");
  if (h.http_minor > 1) h.http_minor = 1;

  int hosts = 0;
  bool has_transfer_encoding = false;
  int chunked_codings = 0;
  for (Field& f : h.fields) {
    // llhttp 8.1.0 ends an empty field value at a CR followed by any byte,
    // which it then takes for the LF: "X:\t\rTTransfer-Encoding: chunked"
    // becomes a Transfer-Encoding field that a proxy in front never saw
    // (CVE-2023-30589; found by tests/fuzz/header_fuzz). So each field line
    // is checked here as RFC 9112 5 has it, name ":" OWS value OWS CRLF
    // (llhttp's value ends before the trailing OWS is cut below; an empty
    // one is reported elsewhere, so only the bytes count). The head is
    // whole and contiguous here: every byte read is there.
    if (f.name.empty() || f.name.data()[f.name.size()] != ':') {
      return fail(400, "malformed header field line");
    }
    const char* at = f.name.data() + f.name.size() + 1;
    while (*at == ' ' || *at == '\t') ++at;
    if (!f.value.empty()) {
      if (at != f.value.data()) return fail(400, "malformed header field line");
      at = f.value.data() + f.value.size();
    }
    if (at[0] != '\r' || at[1] != '\n') return fail(400, "bare CR in a header field");
    f.value = trim_trailing_whitespace(f.value);
    const std::string_view name = f.name;
    if (name.size() == 4 && iequals(name, "host")) {
      // RFC 9112 3.2: an invalid Host field value is answered 400.
      if (!host_is_valid(f.value)) return fail(400, "invalid Host header");
      if (++hosts == 1) h.host = f.value;
    } else if (name.size() == 17 && iequals(name, "transfer-encoding")) {
      has_transfer_encoding = true;
      // Codings are a comma-separated list; only "chunked" is implemented.
      std::string_view rest = f.value;
      while (!rest.empty()) {
        std::size_t comma = rest.find(',');
        std::string_view coding = trim_whitespace(rest.substr(0, comma));
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        if (coding.empty()) continue;
        if (!iequals(coding, "chunked")) return fail(501, "unsupported transfer coding");
        ++chunked_codings;
      }
    } else if (name.size() == 6 && iequals(name, "expect")) {
      // The only expectation is 100-continue; an HTTP/1.0 request's Expect
      // is ignored (RFC 9110, 10.1.1), an HTTP/1.1 one we cannot meet is 417.
      if (iequals(f.value, "100-continue")) {
        h.expect_continue = h.http_minor >= 1;
      } else if (h.http_minor >= 1) {
        return fail(417, "unsupported expectation");
      }
    }
  }
  if (hosts > 1) return fail(400, "more than one Host header");
  if (h.http_minor >= 1 && hosts == 0) return fail(400, "missing Host header");
  // RFC 9112 3.2.2: with an absolute-form target the received Host is
  // ignored and the target's authority used instead.
  // RFC 9112 3: method, target and version are separated by one SP each;
  // llhttp skips runs of them, which a second parser on the path may read
  // otherwise (a smuggling vector): refuse them.
  {
    const char* after_target = h.target.data() + h.target.size();
    if (h.target.data() != h.method.data() + h.method.size() + 1 || after_target[1] == ' ') {
      return fail(400, "request line: more than one space between its parts");
    }
  }
  // RFC 9112 3.2.4: the asterisk-form is only for a server-wide OPTIONS.
  if (h.target == "*" && h.method != "OPTIONS") return fail(400, "'*' target outside OPTIONS");
  if (h.target.empty() || h.target.front() != '/') {  // not origin-form
    const AuthorityOf abs = absolute_authority(h.target);
    if (!abs.ok) return fail(400, "invalid absolute-form request target");
    if (abs.absolute) h.host = abs.authority;
  }
  if (has_transfer_encoding) {
    if (h.http_minor == 0) return fail(400, "Transfer-Encoding in an HTTP/1.0 request");
    if (chunked_codings != 1) return fail(400, "chunked must be applied exactly once");
  }

  h.chunked = (parser_.flags & F_CHUNKED) != 0;
  h.has_content_length = (parser_.flags & F_CONTENT_LENGTH) != 0;
  h.content_length = h.has_content_length ? parser_.content_length : 0;
  h.keep_alive = llhttp_should_keep_alive(&parser_) != 0;
  h.upgrade = parser_.upgrade != 0;
  return 0;
}

bool RequestParser::host_is_valid(std::string_view value) noexcept {
  if (has_valid_host_ && value.size() == valid_host_size_ &&
      std::memcmp(value.data(), valid_host_, value.size()) == 0) {
    return true;
  }
  if (!valid_host(value)) return false;
  if (value.size() <= kHostCache) {
    std::memcpy(valid_host_, value.data(), value.size());
    valid_host_size_ = static_cast<std::uint8_t>(value.size());
    has_valid_host_ = true;
  }
  return true;
}

int RequestParser::on_headers_complete(llhttp_t* p) {
  RequestParser* s = self(p);
  if (int err = s->check_head(); err != 0) return err;
  s->head_done_ = true;
  s->last_span_ = Span::none;
  if (s->head_.has_body()) {
    // A chunked body is ChunkedDecoder's: llhttp skips it (and ends its
    // message right away, see parse()).
    if (s->head_.chunked) p->flags |= F_SKIPBODY;
    s->pause_ = Pause::head;
    return HPE_PAUSED;
  }
  return 0;
}

int RequestParser::on_body(llhttp_t* p, const char* at, std::size_t n) {
  RequestParser* s = self(p);
  if (s->body_out_ != at) std::memmove(s->body_out_, at, n);
  s->body_out_ += n;
  return 0;
}

int RequestParser::on_message_complete(llhttp_t* p) {
  RequestParser* s = self(p);
  if (s->chunked_body_) return 0;  // llhttp's end of a skipped body: ours comes later
  s->in_message_ = false;
  s->pause_ = Pause::message;
  return HPE_PAUSED;
}

RequestParser::Result RequestParser::parse_chunked(char* data, std::size_t size) noexcept {
  const ChunkedDecoder::Result d = chunked_.decode(data, size);
  Result r{Event::need_more, d.consumed, d.body_bytes};
  if (d.error != nullptr) {
    r.event = Event::error;
    fail(400, d.error);
  } else if (d.done) {
    chunked_body_ = false;
    in_message_ = false;
    r.event = Event::message_complete;
  }
  return r;
}

RequestParser::Result RequestParser::parse(char* data, std::size_t size) noexcept {
  if (chunked_body_) return parse_chunked(data, size);
  body_out_ = data;
  pause_ = Pause::none;
  const llhttp_errno_t err = llhttp_execute(&parser_, data, size);
  Result r{Event::need_more, size, static_cast<std::size_t>(body_out_ - data)};
  if (err == HPE_OK) return r;

  const char* pos = llhttp_get_error_pos(&parser_);
  r.consumed = pos != nullptr ? static_cast<std::size_t>(pos - data) : size;
  if (err == HPE_PAUSED) {
    llhttp_resume(&parser_);
    if (pause_ == Pause::head || head_.end == nullptr) {
      // The head ends here. llhttp 8.1.0 also ends it at a CR followed by
      // any byte (CVE-2023-30589): only CRLF CRLF ends a head (RFC 9112 2.1).
      head_.end = pos;
      if (pos - head_.start < 4 || std::memcmp(pos - 4, "\r\n\r\n", 4) != 0) {
        in_message_ = true;  // the message did not end: it is malformed
        r.event = Event::error;
        fail(400, "bare CR at the end of the request head");
        return r;
      }
    }
    r.event = pause_ == Pause::head ? Event::head_complete : Event::message_complete;
    if (pause_ == Pause::head && head_.chunked) {
      // llhttp skips the body (F_SKIPBODY): let it end its message now,
      // with no input, so that it reads the next message's first byte next.
      chunked_body_ = true;
      chunked_.reset();
      if (llhttp_execute(&parser_, pos, 0) == HPE_PAUSED) llhttp_resume(&parser_);
    }
    return r;
  }
  // Anything else is malformed input (including a second message after an
  // upgrade, which the engine never parses: it closes after such requests).
  r.event = Event::error;
  if (error_status_ == 0) {
    error_status_ = 400;
    error_reason_ = llhttp_get_error_reason(&parser_);
    if (error_reason_ == nullptr) error_reason_ = llhttp_errno_name(err);
  }
  return r;
}

}  // namespace cogo::http::detail
