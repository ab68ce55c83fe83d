// authority.cpp: authority.h, character class by character class.
#include "authority.h"

#include <arpa/inet.h>

#include <array>
#include <cstdint>
#include <string>

#include "text.h"

namespace cogo::http::detail {

namespace {

constexpr bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }
constexpr bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
constexpr bool is_unreserved(char c) {
  return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}
constexpr bool is_sub_delim(char c) {
  switch (c) {
    case '!': case '$': case '&': case '\'': case '(': case ')':
    case '*': case '+': case ',': case ';': case '=':
      return true;
    default:
      return false;
  }
}

// kReg marks reg-name characters (unreserved and sub-delims), kDigit digits,
// kHex hex digits: one table load per character on the per-request path.
constexpr std::uint8_t kReg = 1, kDigit = 2, kHex = 4;
constexpr std::array<std::uint8_t, 256> kClass = [] {
  std::array<std::uint8_t, 256> t{};
  for (int c = 0; c < 256; c++) {
    const char ch = static_cast<char>(c);
    if (is_unreserved(ch) || is_sub_delim(ch)) t[c] |= kReg;
    if (is_digit(ch)) t[c] |= kDigit;
    if (is_hex(ch)) t[c] |= kHex;
  }
  return t;
}();
inline std::uint8_t class_of(char c) { return kClass[static_cast<unsigned char>(c)]; }

bool valid_ip_literal(std::string_view inside) {
  if (inside.empty()) return false;
  if (inside[0] == 'v' || inside[0] == 'V') {  // IPvFuture
    std::size_t i = 1;
    while (i < inside.size() && is_hex(inside[i])) i++;
    if (i == 1 || i >= inside.size() || inside[i] != '.') return false;
    if (++i == inside.size()) return false;
    for (; i < inside.size(); i++) {
      const char c = inside[i];
      if (!is_unreserved(c) && !is_sub_delim(c) && c != ':') return false;
    }
    return true;
  }
  if (inside.size() > 45) return false;  // the longest IPv6 text form
  for (char c : inside) {
    if (!is_hex(c) && c != ':' && c != '.') return false;
  }
  const std::string text(inside);
  in6_addr addr;
  return inet_pton(AF_INET6, text.c_str(), &addr) == 1;
}

}  // namespace

bool valid_host(std::string_view value) noexcept {
  const std::size_t n = value.size();
  std::size_t i = 0;
  if (n > 0 && value[0] == '[') {
    const std::size_t close = value.find(']');
    if (close == std::string_view::npos || !valid_ip_literal(value.substr(1, close - 1))) {
      return false;
    }
    i = close + 1;
  } else {
    // reg-name (IPv4address is one too): unreserved, sub-delims, pct-encoded.
    for (; i < n; i++) {
      const char c = value[i];
      if (class_of(c) & kReg) continue;
      if (c != '%') break;
      if (i + 2 >= n || !(class_of(value[i + 1]) & kHex) || !(class_of(value[i + 2]) & kHex)) {
        return false;
      }
      i += 2;
    }
  }
  if (i == n) return true;
  if (value[i] != ':') return false;
  for (i++; i < n; i++) {
    if (!(class_of(value[i]) & kDigit)) return false;
  }
  return true;
}

AuthorityOf absolute_authority(std::string_view target) noexcept {
  AuthorityOf a;
  if (target.empty() || target.front() == '/' || target == "*") return a;
  const std::size_t sep = target.find("://");
  if (sep == std::string_view::npos) return a;  // authority-form (CONNECT): checked elsewhere
  a.absolute = true;
  const std::string_view scheme = target.substr(0, sep);
  if (!iequals(scheme, "http") && !iequals(scheme, "https")) {
    a.ok = false;
    return a;
  }
  const std::string_view rest = target.substr(sep + 3);
  a.authority = rest.substr(0, rest.find_first_of("/?#"));
  // RFC 9110 4.2.1: an http(s) URI with an empty host is invalid.
  a.ok = !a.authority.empty() && a.authority.front() != ':' && valid_host(a.authority);
  return a;
}

}  // namespace cogo::http::detail
