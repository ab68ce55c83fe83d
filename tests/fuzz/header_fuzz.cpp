// header_fuzz: header field validation in both directions — what the
// engine accepts from a client (llhttp strict plus the engine's own checks)
// and what Response::set_header()/add_header() let a handler send — against
// RFC 9110 5.5's grammar, written here:
//
//   field-name    = token
//   field-value   = *field-content
//   field-content = field-vchar [ 1*( SP / HTAB / field-vchar ) field-vchar ]
//   field-vchar   = VCHAR / obs-text
//
// The payload is "name:value" (split at the first ':'; no ':' makes it all
// the value of X-Fuzz). Control byte 0: bit 0 add_header rather than
// set_header.
//
// Properties:
//  - a request carrying "name: value" on one line (no CR or LF in it) is
//    served exactly when the name is a token and the value, without its
//    surrounding whitespace, is a field-value; the handler then sees that
//    value; and every field a handler ever sees obeys the grammar;
//  - a response field a handler sets is either refused (std::invalid_argument)
//    or sent so that a client reads exactly that name and value; it is
//    refused whenever the result would not obey the grammar or would touch
//    the framing (Content-Length, Transfer-Encoding, Connection other than
//    close); the response around it stays intact.
#include <spdlog/spdlog.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "cogo/http/http1_session.h"
#include "cogo/http/memory_stream.h"
#include "cogo/http/request.h"
#include "cogo/http/response.h"
#include "fuzz_input.h"
#include "http_reference.h"

namespace {

using namespace cogo::http;
using cogo_fuzz::printable;

bool is_tchar(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  return c != 0 &&
         std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}
bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_tchar(static_cast<unsigned char>(c))) return false;
  }
  return true;
}
bool is_ws(char c) {
  return c == ' ' || c == '\t';
}
bool is_field_vchar(unsigned char c) {
  return (c >= 0x21 && c <= 0x7e) || c >= 0x80;
}

// is_field_value() is field-value's grammar: no surrounding whitespace.
bool is_field_value(std::string_view v) {
  if (!v.empty() && (is_ws(v.front()) || is_ws(v.back()))) return false;
  for (char c : v) {
    if (!is_ws(c) && !is_field_vchar(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

std::string_view trim(std::string_view v) {
  while (!v.empty() && is_ws(v.front())) v.remove_prefix(1);
  while (!v.empty() && is_ws(v.back())) v.remove_suffix(1);
  return v;
}

struct Served {
  bool handled = false;
  std::string value;  // the request field's value as the handler saw it
  bool response_refused = false;
  std::string input;  // what the client sent
  std::string output;
};

Served serve(std::string_view name, std::string_view value, bool add) {
  Served s;
  const std::string request_field_name = name.empty() ? std::string("X-Fuzz") : std::string(name);
  Handler handler = [&](Request& req, Response& res) {
    s.handled = true;
    for (const Field& f : req.header_fields()) {
      FUZZ_CHECK(is_token(f.name) && is_field_value(f.value), "the handler saw %s: %s",
                 printable(f.name).c_str(), printable(f.value).c_str());
    }
    s.value = req.header(request_field_name);
    res.text(200, "ok");
    try {
      if (add) {
        res.add_header(name, value);
      } else {
        res.set_header(name, value);
      }
    } catch (const std::invalid_argument&) {
      s.response_refused = true;
    }
  };
  MemoryStream stream;
  std::string text = "GET / HTTP/1.1\r\nHost: fuzz\r\n";
  text.append(request_field_name).append(": ").append(value).append("\r\n\r\n");
  stream.add(text);
  HttpOptions options;
  Http1Session(handler, options).serve(stream);
  s.input = std::move(text);
  s.output = stream.output();
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cogo_fuzz::FuzzInput in(data, size);
  const bool add = (in.next() & 1) != 0;
  const std::string_view payload = in.payload();
  if (payload.size() > 4000) return 0;  // the head limit is 8K
  const std::size_t colon = payload.find(':');
  const std::string_view name = colon == std::string_view::npos ? "" : payload.substr(0, colon);
  const std::string_view value =
      colon == std::string_view::npos ? payload : payload.substr(colon + 1);

  const Served s = serve(name, value, add);
  const bool one_line = value.find_first_of("\r\n") == std::string_view::npos &&
                        name.find_first_of("\r\n") == std::string_view::npos;
  const std::string_view request_name = name.empty() ? std::string_view("X-Fuzz") : name;
  // Fields the engine reads for itself have rules of their own.
  bool special = false;
  for (const char* f : {"host", "content-length", "transfer-encoding", "expect", "connection",
                        "upgrade", "proxy-connection"}) {
    special = special || cogo_fuzz::ascii_iequals(request_name, f);
  }
  if (one_line && !special) {
    // The field the client sent: "name: value" on its own line.
    const bool valid = is_token(request_name) && is_field_value(trim(value));
    FUZZ_CHECK(s.handled == valid, "request field %s: %s %s (RFC 9110: %s)",
               printable(request_name).c_str(), printable(value).c_str(),
               s.handled ? "served" : "refused", valid ? "valid" : "invalid");
    if (s.handled) {
      FUZZ_CHECK(s.value == trim(value), "the handler saw %s for %s", printable(s.value).c_str(),
                 printable(value).c_str());
    }
  }
  if (!s.handled) return 0;

  // The response field.
  const std::string_view n = name.empty() ? std::string_view() : name;
  const bool framing = cogo_fuzz::ascii_iequals(n, "content-length") ||
                       cogo_fuzz::ascii_iequals(n, "transfer-encoding");
  const bool connection = cogo_fuzz::ascii_iequals(n, "connection");
  const bool sendable = is_token(n) && is_field_value(trim(value)) && !framing &&
                        (!connection || cogo_fuzz::ascii_iequals(trim(value), "close"));
  // (A CR or LF in the payload may have made a second request of its rest,
  // and a malformed "HEAD " one gets a 400 without content: a finding.)
  const cogo_fuzz::RefRequests sent = cogo_fuzz::parse_requests(s.input);
  const cogo_fuzz::RefResponses out = cogo_fuzz::parse_responses(
      s.output, [&sent](std::size_t k) { return cogo_fuzz::answers_head(sent, k); });
  FUZZ_CHECK(!out.error && !out.truncated && !out.messages.empty(), "bad output: %s",
             printable(s.output, 2000).c_str());
  const cogo_fuzz::RefResponse& r = out.messages[0];
  FUZZ_CHECK(r.status == 200 && r.body == "ok", "the response around the field broke: %s",
             printable(s.output, 2000).c_str());
  if (s.response_refused) {
    FUZZ_CHECK(!sendable, "set_header(%s, %s) refused a valid field", printable(n).c_str(),
               printable(value).c_str());
    return 0;
  }
  FUZZ_CHECK(sendable, "set_header(%s, %s) accepted a field RFC 9110 does not allow",
             printable(n).c_str(), printable(value).c_str());
  if (connection) {
    FUZZ_CHECK(cogo_fuzz::ascii_iequals(r.field("Connection"), "close"), "Connection: close lost");
    return 0;
  }
  std::size_t found = 0;
  for (const auto& [fname, fvalue] : r.fields) {
    if (fname == n) {
      ++found;
      FUZZ_CHECK(fvalue == trim(value), "sent %s: %s, a client reads %s", printable(n).c_str(),
                 printable(value).c_str(), printable(fvalue).c_str());
    }
  }
  // set_header() replaces the field (Content-Type, Date, Server included);
  // add_header() adds one beside those the server writes.
  FUZZ_CHECK(found >= 1, "the field %s is missing", printable(n).c_str());
  FUZZ_CHECK(add || found == 1, "set_header(%s) left %zu fields", printable(n).c_str(), found);
  return 0;
}
