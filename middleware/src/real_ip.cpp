// real_ip.cpp: cogo/middleware/real_ip.h says what it does. The hops are
// read left to right into a fixed window (the last kMaxHops of them) and
// walked right to left; nothing is allocated unless the address changes
// (or a Forwarded node is a quoted string).
#include "cogo/middleware/real_ip.h"

#include <array>
#include <cstring>
#include <list>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "cogo/http/field.h"
#include "cogo/http/request.h"
#include "ip.h"

namespace cogo::middleware {
namespace {

using detail::Ip;

constexpr std::size_t kMaxHops = 32;

// Hops: the last kMaxHops entries of the list, in order.
struct Hops {
  std::array<std::string_view, kMaxHops> ring;
  std::size_t count = 0;  // entries seen (the ring keeps the last kMaxHops)
  void push(std::string_view hop) { ring[count++ % kMaxHops] = hop; }
  std::size_t size() const { return count < kMaxHops ? count : kMaxHops; }
  // from_right(i) is the i-th entry from the right (0: the last).
  std::string_view from_right(std::size_t i) const { return ring[(count - 1 - i) % kMaxHops]; }
};

bool ows(char c) {
  return c == ' ' || c == '\t';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && ows(s.back())) s.remove_suffix(1);
  return s;
}

// x_forwarded_for() adds each comma-separated entry of value.
void x_forwarded_for(std::string_view value, Hops& hops) {
  while (true) {
    const std::size_t comma = value.find(',');
    const std::string_view entry = trim(value.substr(0, comma));
    if (!entry.empty()) hops.push(entry);
    if (comma == std::string_view::npos) return;
    value.remove_prefix(comma + 1);
  }
}

bool tchar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c != '\0' && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr);
}

// token_at() advances i past 1*tchar; false when there is none.
bool token_at(std::string_view s, std::size_t& i) {
  const std::size_t start = i;
  while (i < s.size() && tchar(s[i])) ++i;
  return i > start;
}

// quoted_at() reads the RFC 9110 5.6.4 quoted-string at s[i] ('"') into
// out, quoted-pairs resolved; false when it is malformed or unterminated.
bool quoted_at(std::string_view s, std::size_t& i, std::string& out) {
  auto qdtext = [](unsigned char c) {
    return c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5b) ||
           (c >= 0x5d && c <= 0x7e) || c >= 0x80;
  };
  out.clear();
  for (++i; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"') {
      ++i;
      return true;
    }
    if (c == '\\') {
      if (++i == s.size()) return false;
      const unsigned char e = static_cast<unsigned char>(s[i]);
      if (!(e == '\t' || e == ' ' || (e >= 0x21 && e <= 0x7e) || e >= 0x80)) return false;
      out.push_back(static_cast<char>(e));
    } else if (qdtext(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      return false;
    }
  }
  return false;
}

// node_address() is the address of an RFC 7239 6 node, "192.0.2.43",
// "192.0.2.43:47011", "[2001:db8:cafe::17]:4711": an IPv6 address only in
// brackets, a port of 1 to 5 digits or an obfuscated one ("_x", 6.3).
// "unknown" (6.2), an obfuscated node ("_hidden", 6.3) and anything off
// the grammar have none.
std::optional<Ip> node_address(std::string_view node) {
  std::string_view name = node;
  std::string_view port;
  bool bracketed = false;
  if (!node.empty() && node.front() == '[') {
    const std::size_t close = node.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    bracketed = true;
    name = node.substr(1, close - 1);
    const std::string_view rest = node.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':' || rest.size() == 1) return std::nullopt;
      port = rest.substr(1);
    }
  } else if (const std::size_t colon = node.find(':'); colon != std::string_view::npos) {
    name = node.substr(0, colon);
    port = node.substr(colon + 1);
    if (port.empty()) return std::nullopt;
  }
  if (!port.empty()) {
    const bool obfport = port.front() == '_' && port.size() > 1;
    bool ok = obfport || port.size() <= 5;
    for (char c : obfport ? port.substr(1) : port) {
      const bool digit = c >= '0' && c <= '9';
      const bool alnum = digit || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
      ok = ok && (obfport ? alnum || c == '.' || c == '_' || c == '-' : digit);
    }
    if (!ok) return std::nullopt;
  }
  const std::optional<Ip> ip = detail::parse_ip(name);
  // IPv4address outside brackets, IPv6address only inside them.
  if (!ip || (bracketed == (name.find(':') == std::string_view::npos))) return std::nullopt;
  return ip;
}

// Forwarded: RFC 7239 4's grammar, read one element at a time.
//   Forwarded         = 1#forwarded-element
//   forwarded-element = [ forwarded-pair ] *( ";" [ forwarded-pair ] )
//   forwarded-pair    = token "=" value
//   value             = token / quoted-string
// Each element gives one hop: its "for" node. An element without "for",
// with a parameter twice (4: "MUST NOT occur more than once per
// forwarded-element") or off the grammar gives a hop with no address (it
// stops the walk); empty list elements are skipped (RFC 9110 5.6.1).
// States: before_pair -> name -> (after '=') value -> after_value ->
// ';' before_pair | ',' element end; any other byte: the element is bad,
// skip to the next ',' outside a quoted string.
void forwarded(std::string_view value, Hops& hops, std::list<std::string>& storage) {
  std::size_t i = 0;
  std::string quoted;
  auto skip_ows = [&] {
    while (i < value.size() && ows(value[i])) ++i;
  };
  while (i <= value.size()) {
    skip_ows();
    if (i < value.size() && value[i] == ',') {  // an empty list element
      ++i;
      continue;
    }
    if (i == value.size()) return;
    bool ok = true;
    bool empty = true;  // no pair yet
    std::string_view names[8];
    std::size_t name_count = 0;
    std::optional<std::string_view> node;
    while (ok) {
      skip_ows();
      if (i < value.size() && value[i] != ';' && value[i] != ',') {
        const std::size_t name_start = i;
        if (!token_at(value, i) || i == value.size() || value[i] != '=') {
          ok = false;
          break;
        }
        const std::string_view name = value.substr(name_start, i - name_start);
        ++i;  // '='
        std::string_view v;
        if (i < value.size() && value[i] == '"') {
          if (!quoted_at(value, i, quoted)) {
            ok = false;
            break;
          }
          // Kept only for "for" (a list: earlier ones stay where they are, and an empty one
          // allocates nothing).
          if (http::iequals(name, "for")) v = storage.emplace_back(quoted);
        } else {
          const std::size_t start = i;
          if (!token_at(value, i)) {
            ok = false;
            break;
          }
          v = value.substr(start, i - start);
        }
        for (std::size_t k = 0; k < name_count; ++k) ok = ok && !http::iequals(names[k], name);
        if (name_count < std::size(names)) names[name_count++] = name;
        if (http::iequals(name, "for")) node = v;
        empty = false;
        skip_ows();
      }
      if (i < value.size() && value[i] == ';') {
        ++i;
        continue;
      }
      if (i < value.size() && value[i] != ',') ok = false;
      break;
    }
    if (!ok) {
      // Skip the rest of the bad element.
      bool in_quotes = false;
      for (; i < value.size() && (in_quotes || value[i] != ','); ++i) {
        if (value[i] == '\\' && in_quotes) {
          ++i;
        } else if (value[i] == '"') {
          in_quotes = !in_quotes;
        }
      }
    }
    if (ok && empty) {
      // Only ';'s: an element without pairs, as empty as an empty one.
    } else {
      hops.push(ok && node ? *node : std::string_view());
    }
    if (i >= value.size()) return;
    ++i;  // past ','
  }
}

}  // namespace

http::Middleware real_ip(RealIpOptions options) {
  std::vector<detail::Cidr> trusted;
  for (const std::string& t : options.trusted) {
    try {
      trusted.push_back(detail::parse_cidr(t));
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(std::string("real_ip: trusted ") + e.what());
    }
  }
  const bool rfc7239 = options.header == RealIpOptions::Header::forwarded;
  // Forwarded's nodes are read by node_address(), X-Forwarded-For's
  // entries (no standard: what proxies write) by parse_host_port().
  return [trusted = std::move(trusted), rfc7239](http::Request& req, http::Response& res,
                                                 const http::Next& next) {
    const auto peer = detail::parse_host_port(req.peer_address());
    if (!peer || !detail::contains_any(trusted, *peer)) return next(req, res);
    Hops hops;
    std::list<std::string> unquoted;  // Forwarded's quoted nodes, unescaped
    const std::string_view name = rfc7239 ? "Forwarded" : "X-Forwarded-For";
    for (const http::Field& f : req.header_fields()) {
      if (!http::iequals(f.name, name)) continue;
      if (rfc7239) {
        forwarded(f.value, hops, unquoted);
      } else {
        x_forwarded_for(f.value, hops);
      }
    }
    if (hops.size() == 0) return next(req, res);
    Ip client = *peer;
    for (std::size_t i = 0; i < hops.size(); ++i) {
      const std::string_view text = hops.from_right(i);
      const auto hop = rfc7239 ? node_address(text) : detail::parse_host_port(text);
      if (!hop) break;  // no address: the nearest trusted hop stays the client
      client = *hop;
      if (!detail::contains_any(trusted, client)) break;
    }
    req.set_remote_address(detail::format_ip(client));
    next(req, res);
  };
}

}  // namespace cogo::middleware
