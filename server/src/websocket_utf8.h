// websocket_utf8.h: Utf8Validator, UTF-8 checked incrementally (RFC 6455
// 5.6, 8.1: a text message must be valid UTF-8, and an endpoint fails the
// connection as soon as it sees that it is not).
//
// The state carries across calls, so a code point split between two frames,
// or two reads, is checked as one; feed() says no at the first byte that
// cannot continue a valid sequence, without waiting for the message's end.
// Well-formed means the Unicode Standard's table 3-7: no overlong forms, no
// surrogates (U+D800..U+DFFF), nothing above U+10FFFF.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace cogo::websocket::detail {

class Utf8Validator {
 public:
  // feed() checks the next n bytes; false at the first invalid one (and on
  // every call after it).
  bool feed(const unsigned char* p, std::size_t n) noexcept {
    if (failed_) return false;
    std::size_t i = 0;
    while (i < n) {
      if (need_ == 0) {
        // ASCII runs, eight bytes at a time.
        while (i + 8 <= n) {
          std::uint64_t w;
          std::memcpy(&w, p + i, 8);
          if ((w & 0x8080808080808080ull) != 0) break;
          i += 8;
        }
        if (i == n) break;
        const unsigned char b = p[i++];
        if (b < 0x80) continue;
        if (b < 0xC2) return fail();  // a continuation byte, or an overlong 2-byte lead
        if (b < 0xE0) {
          start(1, 0x80, 0xBF);
        } else if (b < 0xF0) {
          start(2, b == 0xE0 ? 0xA0 : 0x80, b == 0xED ? 0x9F : 0xBF);  // overlong; surrogates
        } else if (b < 0xF5) {
          start(3, b == 0xF0 ? 0x90 : 0x80, b == 0xF4 ? 0x8F : 0xBF);  // overlong; > U+10FFFF
        } else {
          return fail();
        }
      } else {
        const unsigned char b = p[i++];
        if (b < lo_ || b > hi_) return fail();
        --need_;
        lo_ = 0x80;
        hi_ = 0xBF;
      }
    }
    return true;
  }
  bool feed(const char* p, std::size_t n) noexcept {
    return feed(reinterpret_cast<const unsigned char*>(p), n);
  }
  // complete() tells whether what was fed ends on a code point boundary.
  bool complete() const noexcept { return !failed_ && need_ == 0; }
  void reset() noexcept {
    need_ = 0;
    lo_ = 0x80;
    hi_ = 0xBF;
    failed_ = false;
  }

 private:
  void start(std::uint8_t need, unsigned char lo, unsigned char hi) noexcept {
    need_ = need;
    lo_ = lo;
    hi_ = hi;
  }
  bool fail() noexcept {
    failed_ = true;
    return false;
  }

  std::uint8_t need_ = 0;    // continuation bytes still expected
  unsigned char lo_ = 0x80;  // the range the next continuation byte must be in
  unsigned char hi_ = 0xBF;
  bool failed_ = false;
};

// valid_utf8() checks a whole string.
inline bool valid_utf8(const char* p, std::size_t n) noexcept {
  Utf8Validator v;
  return v.feed(p, n) && v.complete();
}

}  // namespace cogo::websocket::detail
