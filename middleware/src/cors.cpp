// cors.cpp: the CORS middleware (cogo/middleware/cors.h says what it does).
#include "cogo/middleware/cors.h"

#include <memory>
#include <stdexcept>
#include <string>

#include "cogo/http/request.h"
#include "cogo/http/response.h"

namespace cogo::middleware {
namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// is_token() is RFC 9110's token (method and field names).
bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) !=
                        std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Origin: one allowed_origins entry, lowercased; a pattern is split at its '*'.
struct Origin {
  std::string exact;  // no '*'
  std::string prefix, suffix;
  bool pattern = false;
  bool matches(std::string_view origin) const {
    if (!pattern) return iequals(origin, exact);
    return origin.size() > prefix.size() + suffix.size() &&
           iequals(origin.substr(0, prefix.size()), prefix) &&
           iequals(origin.substr(origin.size() - suffix.size()), suffix);
  }
};

Origin parse_origin(const std::string& entry) {
  auto bad = [&](const char* why) {
    return std::invalid_argument("cors: allowed origin \"" + entry + "\" " + why +
                                 " (want \"scheme://host[:port]\", \"null\" or \"*\")");
  };
  Origin o;
  if (entry == "null") {
    o.exact = entry;
    return o;
  }
  const std::size_t sep = entry.find("://");
  if (sep == std::string::npos || sep == 0) throw bad("has no scheme");
  for (std::size_t i = 0; i < sep; ++i) {
    const char c = entry[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (i > 0 && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'));
    if (!ok) throw bad("has a malformed scheme");
  }
  const std::string_view rest = std::string_view(entry).substr(sep + 3);
  if (rest.empty()) throw bad("has no host");
  if (rest.back() == '/') throw bad("ends in '/': an origin has no path");
  for (unsigned char c : rest) {
    if (c == '/' || c == '?' || c == '#') throw bad("has a path, query or fragment");
    if (c <= 0x20 || c >= 0x7f) throw bad("has a space, control or non-ASCII byte");
  }
  const std::size_t star = entry.find('*');
  if (star == std::string::npos) {
    o.exact = lowered(entry);
    return o;
  }
  if (entry.find('*', star + 1) != std::string::npos) throw bad("has more than one '*'");
  if (star < sep + 3) throw bad("has a '*' in its scheme");
  o.pattern = true;
  o.prefix = lowered(std::string_view(entry).substr(0, star));
  o.suffix = lowered(std::string_view(entry).substr(star + 1));
  return o;
}

struct Config {
  std::vector<Origin> origins;
  bool any_origin = false;
  std::function<bool(std::string_view)> allow_origin;
  std::vector<std::string> methods;
  std::vector<std::string> headers;  // lowercased
  bool any_header = false;
  std::string expose;  // joined
  std::string max_age;
  bool credentials = false;
  bool passthrough = false;

  bool origin_allowed(std::string_view origin) const {
    if (any_origin) return true;
    for (const Origin& o : origins) {
      if (o.matches(origin)) return true;
    }
    return allow_origin && allow_origin(origin);
  }
  bool method_allowed(std::string_view m) const {
    for (const std::string& a : methods) {
      if (a == m) return true;
    }
    return false;
  }
  // headers_allowed() checks Access-Control-Request-Headers, a list of field
  // names (browsers send them lowercased, sorted, without spaces, but any
  // list is read).
  bool headers_allowed(std::string_view list) const {
    while (!list.empty()) {
      const std::size_t comma = list.find(',');
      const std::string_view name = trim(list.substr(0, comma));
      list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
      if (name.empty()) continue;
      if (!is_token(name)) return false;
      if (any_header) continue;
      bool found = false;
      for (const std::string& h : headers) {
        if (iequals(h, name)) {
          found = true;
          break;
        }
      }
      if (!found) return false;
    }
    return true;
  }
  // vary_on_origin: whether the answer depends on the Origin.
  bool vary_on_origin() const { return !any_origin || credentials; }
  std::string_view allow_origin_value(std::string_view origin) const {
    return any_origin && !credentials ? std::string_view("*") : origin;
  }
};

}  // namespace

http::Middleware cors(CorsOptions options) {
  auto c = std::make_shared<Config>();
  for (const std::string& o : options.allowed_origins) {
    if (o == "*") {
      c->any_origin = true;
    } else {
      c->origins.push_back(parse_origin(o));
    }
  }
  if (options.allow_credentials && c->any_origin) {
    throw std::invalid_argument(
        "cors: allow_credentials with allowed origin \"*\": the Fetch standard forbids a "
        "wildcard with credentials; list the origins");
  }
  for (const std::string& m : options.allowed_methods) {
    if (!is_token(m)) throw std::invalid_argument("cors: allowed method \"" + m + "\" is not a token");
    c->methods.push_back(m);
  }
  for (const std::string& h : options.allowed_headers) {
    if (h == "*") {
      c->any_header = true;
      continue;
    }
    if (!is_token(h)) throw std::invalid_argument("cors: allowed header \"" + h + "\" is not a token");
    c->headers.push_back(lowered(h));
  }
  for (const std::string& h : options.exposed_headers) {
    if (!is_token(h)) throw std::invalid_argument("cors: exposed header \"" + h + "\" is not a token");
    if (!c->expose.empty()) c->expose += ", ";
    c->expose += h;
  }
  if (options.max_age < 0) throw std::invalid_argument("cors: max_age is negative");
  if (options.max_age > 0) c->max_age = std::to_string(options.max_age);
  c->allow_origin = std::move(options.allow_origin);
  c->credentials = options.allow_credentials;
  c->passthrough = options.options_passthrough;

  return [c](http::Request& req, http::Response& res, const http::Next& next) {
    if (c->vary_on_origin()) res.add_header("Vary", "Origin");
    if (!req.has_header("Origin")) {
      next(req, res);
      return;
    }
    const std::string_view origin = req.header("Origin");
    const bool preflight = req.method() == "OPTIONS" && req.has_header("Access-Control-Request-Method");
    if (preflight) {
      res.add_header("Vary", "Access-Control-Request-Method, Access-Control-Request-Headers");
      const std::string_view method = req.header("Access-Control-Request-Method");
      // Several Access-Control-Request-Headers fields are one list (RFC 9110 5.3).
      std::string asked;
      for (std::string_view v : req.headers("Access-Control-Request-Headers")) {
        if (!trim(v).empty()) {
          if (!asked.empty()) asked += ", ";
          asked += trim(v);
        }
      }
      if (c->origin_allowed(origin) && c->method_allowed(method) && c->headers_allowed(asked)) {
        res.set_header("Access-Control-Allow-Origin", c->allow_origin_value(origin));
        res.set_header("Access-Control-Allow-Methods", method);
        if (!asked.empty()) res.set_header("Access-Control-Allow-Headers", asked);
        if (c->credentials) res.set_header("Access-Control-Allow-Credentials", "true");
        if (!c->max_age.empty()) res.set_header("Access-Control-Max-Age", c->max_age);
      }
      if (c->passthrough) {
        next(req, res);
      } else {
        res.set_status(204);
      }
      return;
    }
    if (c->origin_allowed(origin)) {
      res.set_header("Access-Control-Allow-Origin", c->allow_origin_value(origin));
      if (c->credentials) res.set_header("Access-Control-Allow-Credentials", "true");
      if (!c->expose.empty()) res.set_header("Access-Control-Expose-Headers", c->expose);
    }
    next(req, res);
  };
}

}  // namespace cogo::middleware
