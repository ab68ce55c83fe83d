// router_fuzz: the Router, and the target's path and query decoding.
//
// The payload is a request-target. The Router (a fixed route table with
// literals, parameters and catch-alls) matches its path directly, any
// bytes; the target also goes through the engine in a GET request (its
// bytes outside what a request line carries escaped first), where
// Request::path() and query_params() decode it.
//
// Control (fuzz_input.h): byte 0 picks the method.
//
// Properties:
//  - a match names its pattern, its parameters are the pattern's in order,
//    and each value is its raw segment (the rest, for a catch-all)
//    percent-decoded;
//  - decoding is stable: the path canonicalised (each segment decoded and
//    re-encoded) is a fixed point, and matches the same route with the same
//    parameters; each matched route, its parameters encoded back into its
//    pattern, matches again with the same values;
//  - 405 lists the methods of the path (HEAD with GET), HEAD falls back to GET;
//  - query_params() are the '&'-separated pieces, decoded ('+' a space);
//    encoded back as a form and sent again they decode to the same list;
//  - path() is raw_path() decoded, and a path with a bad escape is a 400.
#include <spdlog/spdlog.h>

#include <cstdint>
#include <string>
#include <vector>

#include "cogo/http/http1_session.h"
#include "cogo/http/memory_stream.h"
#include "cogo/http/request.h"
#include "cogo/http/response.h"
#include "cogo/http/router.h"
#include "fuzz_input.h"
#include "http_reference.h"
#include "text.h"

namespace {

using namespace cogo::http;
using cogo_fuzz::printable;

struct Route {
  const char* method;
  const char* pattern;
};
constexpr Route kRoutes[] = {
    {"GET", "/"},
    {"GET", "/users/:id"},
    {"PUT", "/users/:id"},
    {"GET", "/users/me"},
    {"GET", "/users/:id/posts/:post"},
    {"DELETE", "/users/:id/posts/:post"},
    {"GET", "/static/*path"},
    {"GET", "/a/b/c"},
    {"POST", "/a/:x/c"},
    {"GET", "/files/:name/raw"},
    {"GET", "/x/:p/*rest"},
    {"HEAD", "/x/:p/head"},
    {"GET", "/caf\xc3\xa9/:q"},
    {"GET", "/sp ace/%"},
};
constexpr const char* kMethods[] = {"GET",    "HEAD",  "POST",    "PUT",
                                    "DELETE", "PATCH", "OPTIONS", "G"};

const Router& router() {
  static const Router r = [] {
    Router router;
    for (const Route& route : kRoutes) {
      router.handle(route.method, route.pattern,
                    [](Request&, Response& res) { res.text(200, "ok"); });
    }
    return router;
  }();
  return r;
}

// pattern_segments() splits a pattern (or path, after its first '/').
std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t pos = 1;
  for (;;) {
    const std::size_t slash = path.find('/', pos);
    out.push_back(path.substr(pos, slash == std::string_view::npos ? slash : slash - pos));
    if (slash == std::string_view::npos) return out;
    pos = slash + 1;
  }
}

std::string decode(std::string_view raw) {
  std::string out;
  cogo::http::detail::percent_decode(raw, out, false, true);
  return out;
}

// encode() escapes everything but RFC 3986 unreserved characters; keep_slash
// leaves '/' as it is (a catch-all's value spans segments).
std::string encode(std::string_view text, bool keep_slash) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved || (keep_slash && c == '/')) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

// canonical() is path with each segment decoded and re-encoded.
std::string canonical(std::string_view path) {
  std::string out;
  for (std::string_view s : segments(path)) out.append("/").append(encode(decode(s), false));
  return out;
}

struct MatchResult {
  Router::Match m;
  std::vector<std::pair<std::string, std::string>> params;
};

MatchResult match(std::string_view method, std::string_view path) {
  std::vector<Field> params;
  std::string storage;
  MatchResult r;
  r.m = router().match(method, path, params, storage);
  for (const Field& f : params) r.params.emplace_back(f.name, f.value);
  return r;
}

// segment_count_fits() tells whether a path of these segments can match a
// pattern of these: as many, or at least as many with a catch-all last.
bool segment_count_fits(const std::vector<std::string_view>& pattern,
                        const std::vector<std::string_view>& path) {
  const bool catch_all = !pattern.back().empty() && pattern.back().front() == '*';
  return catch_all ? path.size() >= pattern.size() : path.size() == pattern.size();
}

void check_router(std::string_view method, std::string_view path) {
  const MatchResult r = match(method, path);
  if (path.empty() || path.front() != '/') {
    FUZZ_CHECK(r.m.status == 404 && r.m.pattern.empty(), "a path not starting with '/' matched");
    return;
  }
  if (r.m.status == 404) {
    FUZZ_CHECK(r.m.handler == nullptr && r.m.pattern.empty(), "404 with a route");
  } else {
    FUZZ_CHECK(!r.m.pattern.empty(), "a match without a pattern");
    // The parameters are the pattern's, in order, each its segment decoded.
    const std::vector<std::string_view> pat = segments(r.m.pattern);
    const std::vector<std::string_view> raw = segments(path);
    std::size_t p = 0;
    for (std::size_t i = 0; i < pat.size(); ++i) {
      const std::string_view s = pat[i];
      if (s.empty() || (s.front() != ':' && s.front() != '*')) {
        FUZZ_CHECK(i < raw.size() && decode(raw[i]) == s, "literal %s matched %s",
                   printable(s).c_str(), printable(path).c_str());
        continue;
      }
      FUZZ_CHECK(p < r.params.size() && r.params[p].first == s.substr(1), "parameter %s missing",
                 printable(s).c_str());
      if (s.front() == ':') {
        FUZZ_CHECK(i < raw.size() && !raw[i].empty() && r.params[p].second == decode(raw[i]),
                   "parameter %s: %s", printable(s).c_str(), printable(r.params[p].second).c_str());
      } else {
        // The rest of the path from this segment on (empty when absent).
        std::size_t at = 0;
        for (std::size_t k = 0; k <= i; ++k) at = path.find('/', at) + 1;
        const std::string_view rest = i < raw.size() ? path.substr(at) : std::string_view();
        FUZZ_CHECK(r.params[p].second == decode(rest), "catch-all %s: %s", printable(s).c_str(),
                   printable(r.params[p].second).c_str());
      }
      ++p;
    }
    FUZZ_CHECK(p == r.params.size(), "extra parameters");
    FUZZ_CHECK(segment_count_fits(pat, raw), "segment count mismatch");

    // The route, with its parameters encoded back in, matches again alike.
    std::string rebuilt;
    p = 0;
    for (std::string_view s : pat) {
      rebuilt.push_back('/');
      if (!s.empty() && s.front() == ':') {
        rebuilt.append(encode(r.params[p++].second, false));
      } else if (!s.empty() && s.front() == '*') {
        // Its value decoded: '/' separates segments again, escape the rest.
        std::string value = r.params[p++].second;
        std::string enc;
        std::size_t from = 0;
        for (;;) {
          const std::size_t slash = value.find('/', from);
          enc.append(encode(std::string_view(value).substr(
                                from, slash == std::string::npos ? slash : slash - from),
                            false));
          if (slash == std::string::npos) break;
          enc.push_back('/');
          from = slash + 1;
        }
        rebuilt.append(enc);
      } else {
        rebuilt.append(encode(s, false));
      }
    }
    // A catch-all's decoded value may contain what was an escaped '/':
    // rebuilt then has more segments, and must still match the same route.
    const MatchResult again = match(method, rebuilt);
    FUZZ_CHECK(again.m.status == r.m.status && again.m.pattern == r.m.pattern,
               "%s rebuilt as %s matches %s, not %s", printable(path).c_str(),
               printable(rebuilt).c_str(), printable(again.m.pattern).c_str(),
               printable(r.m.pattern).c_str());
    FUZZ_CHECK(again.params == r.params, "%s rebuilt as %s: other parameters",
               printable(path).c_str(), printable(rebuilt).c_str());
  }
  if (r.m.status == 405) {
    FUZZ_CHECK(!r.m.allow.empty(), "405 without Allow");
    FUZZ_CHECK(
        r.m.allow.find("GET") == std::string::npos || r.m.allow.find("HEAD") != std::string::npos,
        "Allow %s lists GET without HEAD", r.m.allow.c_str());
  }
  if (method == "HEAD") {
    const MatchResult get = match("GET", path);
    if (get.m.status == 200) FUZZ_CHECK(r.m.status == 200, "HEAD does not fall back to GET");
  }

  // Canonicalisation is stable and changes nothing about the match.
  const std::string canon = canonical(path);
  FUZZ_CHECK(canonical(canon) == canon, "canonical(%s) = %s is not a fixed point",
             printable(path).c_str(), printable(canon).c_str());
  const MatchResult c = match(method, canon);
  FUZZ_CHECK(c.m.status == r.m.status && c.m.pattern == r.m.pattern && c.params == r.params,
             "%s and its canonical form %s match differently", printable(path).c_str(),
             printable(canon).c_str());
}

// ------------------------------------------------------ through the engine

struct Seen {
  bool handled = false;
  std::string raw_path, path, raw_query;
  std::vector<std::pair<std::string, std::string>> query;
  int status = 0;
};

Seen serve_target(std::string_view method, std::string_view target, std::string* output) {
  Seen seen;
  Handler handler = [&seen](Request& req, Response& res) {
    seen.handled = true;
    seen.raw_path = req.raw_path();
    seen.path = req.path();
    seen.raw_query = req.raw_query();
    for (const Field& f : req.query_params()) seen.query.emplace_back(f.name, f.value);
    res.text(200, "ok");
  };
  HttpOptions options;
  MemoryStream stream;
  std::string text(method);
  text.append(" ").append(target).append(" HTTP/1.1\r\nHost: fuzz\r\n\r\n");
  stream.add(text);
  Http1Session(handler, options).serve(stream);
  *output = stream.output();
  return seen;
}

// request_safe() escapes the bytes RFC 3986 keeps out of a path and query
// (everything but unreserved, sub-delims, ':', '@', '/', '?' and '%').
std::string request_safe(std::string_view target) {
  std::string out;
  static const char* hex = "0123456789ABCDEF";
  for (char ch : target) {
    const auto c = static_cast<unsigned char>(ch);
    const bool allowed =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
        std::string_view("-._~!$&'()*+,;=:@/?%").find(ch) != std::string_view::npos;
    if (!allowed) {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

// form_encode() writes a name or value of a query: escapes what the query
// syntax uses ('&', '=', '+', '%', '#') and what a request line cannot
// carry; a space becomes '+'.
std::string form_encode(std::string_view text) {
  std::string out;
  static const char* hex = "0123456789ABCDEF";
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == ' ') {
      out.push_back('+');
    } else if (c < 0x20 || c >= 0x7f ||
               std::string_view("&=+%#\"<>\\^`{|}").find(ch) != std::string_view::npos) {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

void check_engine(std::string_view method, std::string_view payload) {
  std::string target = request_safe(payload);
  if (target.empty() || target.front() != '/') target.insert(target.begin(), '/');
  std::string output;
  const Seen seen = serve_target(method, target, &output);
  const cogo_fuzz::RefResponses out =
      cogo_fuzz::parse_responses(output, [&](std::size_t) { return method == "HEAD"; });
  FUZZ_CHECK(!out.error && out.messages.size() == 1 && out.messages[0].complete,
             "one response expected: %s", printable(output).c_str());
  if (!seen.handled) {
    // Refused: only for an escape in the path that does not decode.
    std::string ignored;
    const std::string_view path = std::string_view(target).substr(0, target.find('?'));
    FUZZ_CHECK(out.messages[0].status == 400, "target %s refused with %d",
               printable(target).c_str(), out.messages[0].status);
    FUZZ_CHECK(!cogo::http::detail::percent_decode(path, ignored, false, false),
               "target %s refused", printable(target).c_str());
    return;
  }
  std::string decoded;
  FUZZ_CHECK(cogo::http::detail::percent_decode(seen.raw_path, decoded, false, false) &&
                 decoded == seen.path,
             "path() %s is not raw_path() %s decoded", printable(seen.path).c_str(),
             printable(seen.raw_path).c_str());

  // query_params(): the non-empty '&' pieces, in order.
  std::size_t pieces = 0;
  std::string_view rest = seen.raw_query;
  while (!rest.empty()) {
    const std::size_t amp = rest.find('&');
    if (amp != 0) ++pieces;
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  FUZZ_CHECK(seen.query.size() == pieces, "%zu query parameters from %zu pieces of %s",
             seen.query.size(), pieces, printable(seen.raw_query).c_str());

  // Encoded back as a form, the query decodes to the same list.
  std::string query;
  for (const auto& [name, value] : seen.query) {
    if (!query.empty()) query.push_back('&');
    query.append(form_encode(name)).append("=").append(form_encode(value));
  }
  std::string output2;
  const Seen again = serve_target("GET", "/q?" + query, &output2);
  FUZZ_CHECK(again.handled, "the re-encoded query was refused: %s", printable(query).c_str());
  // A parameter without '=' comes back with an empty value, as it was.
  FUZZ_CHECK(again.query == seen.query, "query %s re-encoded as %s decodes differently",
             printable(seen.raw_query).c_str(), printable(query).c_str());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  (void)router();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cogo_fuzz::FuzzInput in(data, size);
  const std::string_view method = kMethods[in.next() & 7];
  const std::string_view payload = in.payload();
  const std::string_view path = payload.substr(0, payload.find_first_of("?#"));
  check_router(method, path);
  // (The engine only serves methods llhttp knows: "G" is for the router.)
  if (payload.size() <= 2000) check_engine(method == "G" ? "GET" : method, payload);
  return 0;
}
