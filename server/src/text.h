// text.h: small ASCII helpers of the HTTP engine (token characters,
// whitespace trimming, percent-decoding).
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

#include "cogo/http/field.h"

namespace cogo::http::detail {

// token_table[c]: c is an RFC 9110 tchar (a character of a header name or
// method).
extern const std::array<bool, 256> token_table;
inline bool is_token_char(unsigned char c) noexcept {
  return token_table[c];
}

// all_token_chars() tells whether every character of v is a token character.
inline bool all_token_chars(std::string_view v) noexcept {
  bool ok = true;
  for (char c : v) ok &= token_table[static_cast<unsigned char>(c)];
  return ok;
}

// is_token() tells whether v is a non-empty run of token characters.
inline bool is_token(std::string_view v) noexcept {
  return !v.empty() && all_token_chars(v);
}

inline bool is_space_or_tab(char c) noexcept {
  return c == ' ' || c == '\t';
}

inline std::string_view trim_trailing_whitespace(std::string_view v) noexcept {
  while (!v.empty() && is_space_or_tab(v.back())) v.remove_suffix(1);
  return v;
}

inline std::string_view trim_whitespace(std::string_view v) noexcept {
  while (!v.empty() && is_space_or_tab(v.front())) v.remove_prefix(1);
  return trim_trailing_whitespace(v);
}

// percent_decode() appends the decoding of in to out: "%XX" becomes the byte
// XX and, when plus_is_space, '+' becomes ' '. Returns false at a malformed
// escape ('%' not followed by two hex digits); with lenient it copies such an
// escape through instead (query strings, as browsers produce them).
bool percent_decode(std::string_view in, std::string& out, bool plus_is_space, bool lenient);

// needs_decoding() tells whether in contains anything percent_decode() changes.
inline bool needs_decoding(std::string_view in, bool plus_is_space) noexcept {
  for (char c : in) {
    if (c == '%' || (plus_is_space && c == '+')) return true;
  }
  return false;
}

}  // namespace cogo::http::detail
