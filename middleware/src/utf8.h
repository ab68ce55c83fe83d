// utf8.h: UTF-8 validation (RFC 3629) for the middlewares that take text
// from the wire: basic_auth's credentials, the access log's JSON strings.
// Private to cogo_middleware.
#pragma once

#include <cstddef>
#include <string_view>

namespace cogo::middleware::detail {

// utf8_length() is the length of the valid UTF-8 sequence of two to four
// bytes at s[i] (no overlong forms, no surrogates, nothing past
// U+10FFFF), or 0 (an ASCII byte, or not UTF-8).
inline std::size_t utf8_length(std::string_view s, std::size_t i) noexcept {
  const auto at = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = at(i);
  auto cont = [&](std::size_t k, unsigned char lo = 0x80, unsigned char hi = 0xbf) {
    return k < s.size() && at(k) >= lo && at(k) <= hi;
  };
  if (c >= 0xc2 && c <= 0xdf) return cont(i + 1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    const unsigned char lo = c == 0xe0 ? 0xa0 : 0x80;  // no overlong forms
    const unsigned char hi = c == 0xed ? 0x9f : 0xbf;  // no surrogates
    return cont(i + 1, lo, hi) && cont(i + 2) ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    const unsigned char lo = c == 0xf0 ? 0x90 : 0x80;
    const unsigned char hi = c == 0xf4 ? 0x8f : 0xbf;  // up to U+10FFFF
    return cont(i + 1, lo, hi) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  }
  return 0;
}

// valid_utf8() tells whether all of s is UTF-8.
inline bool valid_utf8(std::string_view s) noexcept {
  for (std::size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
    } else if (const std::size_t n = utf8_length(s, i); n > 0) {
      i += n;
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace cogo::middleware::detail
