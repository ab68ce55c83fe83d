// http_reference.h: the independent readings the HTTP targets check the
// engine against.
//
//  - parse_requests(): llhttp (strict, the engine's one lenient flag) over
//    the whole client input in one piece, chunked bodies decoded by
//    chunked_grammar.h (the server's are not llhttp's either): what each
//    request says, with nothing of the engine's buffering, splitting or
//    rebasing.
//  - parse_responses(): llhttp in response mode over everything the server
//    wrote: each response's framing, status, fields and body; a response
//    to HEAD is read without a body, as a client that sent HEAD reads it.
//  - serialize_request(): a request written back as canonical HTTP/1.1
//    text, for the round trip "a re-serialised request parses to the same
//    request".
//
// FUZZ_CHECK(cond, ...) is the targets' assertion: it prints what broke
// and aborts, which libFuzzer reports as a crash with the input saved.
#pragma once

#include <llhttp.h>

#include "chunked_grammar.h"

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#define FUZZ_CHECK(cond, ...)                                                                   \
  do {                                                                                          \
    if (!(cond)) {                                                                              \
      std::fprintf(stderr, "fuzz property failed at %s:%d: %s\n  ", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                                        \
      std::fprintf(stderr, "\n");                                                               \
      std::abort();                                                                             \
    }                                                                                           \
  } while (0)

namespace cogo_fuzz {

using FieldList = std::vector<std::pair<std::string, std::string>>;

inline bool ascii_iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// ascii_lower() is v with A-Z lowered (field names and codings are
// case-insensitive ASCII; the locale plays no part).
inline std::string ascii_lower(std::string_view v) {
  std::string out(v);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

inline std::string trim_ows(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return std::string(v);
}

// printable() renders bytes for a failure message.
inline std::string printable(std::string_view v, std::size_t max = 200) {
  std::string out;
  for (std::size_t i = 0; i < v.size() && i < max; ++i) {
    const unsigned char c = static_cast<unsigned char>(v[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    }
  }
  if (v.size() > max) out += "...";
  return out;
}

// ---------------------------------------------------------------- requests

struct RefRequest {
  std::string method;
  bool method_ended = false;  // an SP followed the method in the input
  std::string target;
  int major = 0;
  int minor = 0;
  FieldList fields;  // values with surrounding whitespace removed
  std::string body;
  bool head_complete = false;
  bool complete = false;
};

struct RefRequests {
  std::vector<RefRequest> messages;  // every request begun
  bool error = false;                // llhttp stopped at malformed input
};

namespace detail {

struct RequestCollector {
  RefRequests out;
  int span = 0;           // 0 none, 1 field, 2 value
  bool skipping = false;  // llhttp ends a chunked message whose body it skipped
  const char* input_end = nullptr;
  RefRequest& cur() { return out.messages.back(); }
};

inline RequestCollector& collector(llhttp_t* p) {
  return *static_cast<RequestCollector*>(p->data);
}

}  // namespace detail

// parse_requests() reads input as a sequence of requests.
inline RefRequests parse_requests(std::string_view input) {
  using detail::collector;
  llhttp_settings_t s;
  llhttp_settings_init(&s);
  s.on_message_begin = [](llhttp_t* p) {
    collector(p).out.messages.emplace_back();
    collector(p).span = 0;
    return 0;
  };
  s.on_method = [](llhttp_t* p, const char* at, std::size_t n) {
    auto& c = collector(p);
    c.cur().method.append(at, n);
    c.cur().method_ended = at + n < c.input_end && at[n] == ' ';
    return 0;
  };
  s.on_url = [](llhttp_t* p, const char* at, std::size_t n) {
    collector(p).cur().target.append(at, n);
    return 0;
  };
  s.on_header_field = [](llhttp_t* p, const char* at, std::size_t n) {
    auto& c = collector(p);
    if (c.cur().head_complete) return 0;  // trailers
    if (c.span != 1) c.cur().fields.emplace_back();
    c.cur().fields.back().first.append(at, n);
    c.span = 1;
    return 0;
  };
  s.on_header_value = [](llhttp_t* p, const char* at, std::size_t n) {
    auto& c = collector(p);
    if (c.cur().head_complete) return 0;
    c.cur().fields.back().second.append(at, n);
    c.span = 2;
    return 0;
  };
  s.on_headers_complete = [](llhttp_t* p) -> int {
    auto& m = collector(p).cur();
    m.head_complete = true;
    m.major = llhttp_get_http_major(p);
    m.minor = llhttp_get_http_minor(p);
    for (auto& f : m.fields) f.second = trim_ows(f.second);
    if ((p->flags & F_CHUNKED) == 0) return 0;
    p->flags |= F_SKIPBODY;  // the body is decode_chunked()'s
    return HPE_PAUSED;
  };
  s.on_body = [](llhttp_t* p, const char* at, std::size_t n) {
    collector(p).cur().body.append(at, n);
    return 0;
  };
  s.on_message_complete = [](llhttp_t* p) {
    if (!collector(p).skipping) collector(p).cur().complete = true;
    return 0;
  };
  detail::RequestCollector c;
  c.input_end = input.data() + input.size();
  llhttp_t parser;
  llhttp_init(&parser, HTTP_REQUEST, &s);
  parser.lenient_flags |= LENIENT_VERSION;  // as the engine: it checks 1.x itself
  parser.data = &c;
  const char* at = input.data();
  const char* const end = input.data() + input.size();
  for (;;) {
    const llhttp_errno_t err = llhttp_execute(&parser, at, static_cast<std::size_t>(end - at));
    if (err != HPE_PAUSED) {
      c.out.error = err != HPE_OK && err != HPE_PAUSED_UPGRADE;
      break;
    }
    // A chunked head: llhttp ends the message (no input), the grammar
    // reads the body, llhttp goes on after it.
    const char* body = llhttp_get_error_pos(&parser);
    llhttp_resume(&parser);
    c.skipping = true;
    const llhttp_errno_t ended = llhttp_execute(&parser, body, 0);
    c.skipping = false;
    const Decoded d = decode_chunked(std::string_view(body, static_cast<std::size_t>(end - body)));
    if (d.state == Decoded::malformed) c.out.error = true;
    if (d.state != Decoded::complete) break;
    c.cur().body = d.body;
    c.cur().complete = true;
    if (ended == HPE_PAUSED_UPGRADE) break;
    at = body + d.consumed;
  }
  return std::move(c.out);
}

// serialize_request() writes a request head and body back as HTTP text:
// one SP between the request line's parts, "name: value" fields, the body
// with a Content-Length (framing fields of the original left out).
inline std::string serialize_request(std::string_view method, std::string_view target, int minor,
                                     const FieldList& fields, std::string_view body) {
  std::string out;
  out.append(method).append(" ").append(target).append(" HTTP/1.");
  out.push_back(static_cast<char>('0' + minor));
  out.append("\r\n");
  for (const auto& [name, value] : fields) {
    if (ascii_iequals(name, "content-length") || ascii_iequals(name, "transfer-encoding")) continue;
    out.append(name).append(": ").append(value).append("\r\n");
  }
  if (!body.empty())
    out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  out.append("\r\n");
  out.append(body);
  return out;
}

// without_framing() is fields minus Content-Length and Transfer-Encoding.
inline FieldList without_framing(const FieldList& fields) {
  FieldList out;
  for (const auto& f : fields) {
    if (ascii_iequals(f.first, "content-length") || ascii_iequals(f.first, "transfer-encoding")) {
      continue;
    }
    out.push_back(f);
  }
  return out;
}

// --------------------------------------------------------------- responses

struct RefResponse {
  int status = 0;
  FieldList fields;
  std::string body;
  bool complete = false;
  bool head = false;  // read as the answer to a HEAD request

  std::string field(std::string_view name) const {
    for (const auto& [n, v] : fields) {
      if (ascii_iequals(n, name)) return v;
    }
    return {};
  }
  bool has_field(std::string_view name) const {
    for (const auto& [n, v] : fields) {
      if (ascii_iequals(n, name)) return true;
    }
    return false;
  }
  bool interim() const { return status >= 100 && status < 200; }
};

struct RefResponses {
  std::vector<RefResponse> messages;  // interim (1xx) ones included
  bool error = false;                 // the output is not a sequence of responses
  std::string error_reason;
  bool truncated = false;  // the output ends inside a response
};

namespace detail {

struct ResponseCollector {
  RefResponses out;
  std::function<bool(std::size_t)> is_head;  // by final response index
  std::size_t finals = 0;
  int span = 0;
  RefResponse& cur() { return out.messages.back(); }
};

inline ResponseCollector& rcollector(llhttp_t* p) {
  return *static_cast<ResponseCollector*>(p->data);
}

}  // namespace detail

// answers_head() tells whether the k-th response to a client that sent
// the requests ref read is one to HEAD: "HEAD" and the SP after it ("HEADX"
// is another method, "HEAD" at the end of the input not a method yet),
// whatever follows — an error response to a malformed HEAD request too has
// no content (RFC 9110 9.3.2), as the client that sent it reads it.
inline bool answers_head(const RefRequests& ref, std::size_t k) {
  return k < ref.messages.size() && ref.messages[k].method == "HEAD" &&
         ref.messages[k].method_ended;
}

// parse_responses() reads output as a sequence of responses. is_head(i)
// tells whether the i-th final response answers a HEAD request.
inline RefResponses parse_responses(std::string_view output,
                                    std::function<bool(std::size_t)> is_head) {
  using detail::rcollector;
  llhttp_settings_t s;
  llhttp_settings_init(&s);
  s.on_message_begin = [](llhttp_t* p) {
    rcollector(p).out.messages.emplace_back();
    rcollector(p).span = 0;
    return 0;
  };
  s.on_header_field = [](llhttp_t* p, const char* at, std::size_t n) {
    auto& c = rcollector(p);
    if (c.span != 1) c.cur().fields.emplace_back();
    c.cur().fields.back().first.append(at, n);
    c.span = 1;
    return 0;
  };
  s.on_header_value = [](llhttp_t* p, const char* at, std::size_t n) {
    auto& c = rcollector(p);
    c.cur().fields.back().second.append(at, n);
    c.span = 2;
    return 0;
  };
  s.on_headers_complete = [](llhttp_t* p) {
    auto& c = rcollector(p);
    RefResponse& r = c.cur();
    r.status = llhttp_get_status_code(p);
    for (auto& f : r.fields) f.second = trim_ows(f.second);
    if (r.interim()) return 0;
    r.head = c.is_head(c.finals);
    return r.head ? 1 : 0;  // 1: this message has no body
  };
  s.on_body = [](llhttp_t* p, const char* at, std::size_t n) {
    rcollector(p).cur().body.append(at, n);
    return 0;
  };
  s.on_message_complete = [](llhttp_t* p) -> int {
    auto& c = rcollector(p);
    c.cur().complete = true;
    if (!c.cur().interim()) ++c.finals;
    return HPE_PAUSED;  // parse_responses() notes where it ended
  };
  detail::ResponseCollector c;
  c.is_head = std::move(is_head);
  llhttp_t parser;
  llhttp_init(&parser, HTTP_RESPONSE, &s);
  parser.data = &c;
  const char* at = output.data();
  const char* const end = output.data() + output.size();
  for (;;) {
    const llhttp_errno_t err = llhttp_execute(&parser, at, static_cast<std::size_t>(end - at));
    if (err == HPE_PAUSED) {
      at = llhttp_get_error_pos(&parser);
      llhttp_resume(&parser);
      // A response that closes the connection is the last thing on it
      // (llhttp itself would drop what follows).
      const RefResponse& r = c.out.messages.back();
      if (at != end && !r.interim() && ascii_iequals(r.field("Connection"), "close")) {
        c.out.error = true;
        c.out.error_reason = "bytes after a response with Connection: close";
        return std::move(c.out);
      }
      if (at == end) break;
      continue;
    }
    if (err != HPE_OK) {
      c.out.error = true;
      c.out.error_reason = llhttp_errno_name(err);
      if (const char* r = llhttp_get_error_reason(&parser))
        c.out.error_reason += std::string(": ") + r;
      return std::move(c.out);
    }
    break;
  }
  // The end of the connection ends a body delimited by the close; inside
  // any other message it leaves that message truncated.
  if (!c.out.messages.empty() && !c.out.messages.back().complete) llhttp_finish(&parser);
  c.out.truncated = !c.out.messages.empty() && !c.out.messages.back().complete;
  return std::move(c.out);
}

}  // namespace cogo_fuzz
