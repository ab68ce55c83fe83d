// field_text.h: the pieces of RFC 9110 field syntax (5.6) the middleware's
// parsers share: optional whitespace and tokens.
#pragma once

#include <string_view>

namespace cogo::middleware::detail {

// trim_ows() drops OWS (spaces and tabs) at both ends.
inline std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// is_tchar() is 5.6.2's tchar.
inline bool is_tchar(char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// is_token() is 5.6.2's token: one or more tchars.
inline bool is_token(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_tchar(c)) return false;
  }
  return true;
}

}  // namespace cogo::middleware::detail
