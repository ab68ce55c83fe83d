// authority.cpp: authority.h, character class by character class.
#include "authority.h"

#include <arpa/inet.h>

#include <string>

#include "text.h"

namespace cogo::http::detail {

namespace {

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool is_unreserved(char c) {
  return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}
bool is_sub_delim(char c) {
  switch (c) {
    case '!': case '$': case '&': case '\'': case '(': case ')':
    case '*': case '+': case ',': case ';': case '=':
      return true;
    default:
      return false;
  }
}

bool valid_reg_name(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); i++) {
    const char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return false;
      if (!is_hex(s[i + 1]) || !is_hex(s[i + 2])) return false;
      i += 2;
    } else if (!is_unreserved(c) && !is_sub_delim(c)) {
      return false;
    }
  }
  return true;
}

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
  std::string_view host = value;
  std::string_view port;
  if (!host.empty() && host.front() == '[') {
    const std::size_t close = host.find(']');
    if (close == std::string_view::npos) return false;
    if (!valid_ip_literal(host.substr(1, close - 1))) return false;
    const std::string_view rest = host.substr(close + 1);
    if (rest.empty()) return true;
    if (rest.front() != ':') return false;
    port = rest.substr(1);
  } else {
    const std::size_t colon = host.rfind(':');
    if (colon != std::string_view::npos) {
      port = host.substr(colon + 1);
      host = host.substr(0, colon);
    }
    if (!valid_reg_name(host)) return false;  // ':' cannot be in a reg-name
  }
  for (char c : port) {
    if (!is_digit(c)) return false;
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
