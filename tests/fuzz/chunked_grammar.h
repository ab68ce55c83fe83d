// chunked_grammar.h: RFC 9112 7.1's chunked-body grammar, written for the
// fuzz targets as a second, independent reading (recursive descent over
// the whole input; the server's ChunkedDecoder is an incremental state
// machine): decode_chunked() says whether bytes are a complete, malformed
// or incomplete chunked body, and what it decodes to. The server's framing
// limits (4 KiB per chunk-size line, 8 KiB of trailer section, each with its
// CRLFs) count as the grammar here: past them a body is malformed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace cogo_fuzz {

inline constexpr std::size_t kMaxLineBytes = 4096;
inline constexpr std::size_t kMaxTrailerBytes = 8192;

inline bool is_tchar(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}
inline bool is_hex(unsigned char c) {
  return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}
inline int hex_value(unsigned char c) {
  return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}
inline bool is_ws(unsigned char c) {
  return c == ' ' || c == '\t';
}
inline bool is_vchar_or_obs(unsigned char c) {
  return (c >= 0x21 && c <= 0x7e) || c >= 0x80;
}

struct Decoded {
  enum State { complete, malformed, incomplete } state = incomplete;
  std::string body;
  std::size_t consumed = 0;
};

// Decoder reads RFC 9112 7.1's chunked-body from the start of s:
//   chunked-body   = *chunk last-chunk trailer-section CRLF
//   chunk          = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
//   chunk-size     = 1*HEXDIG
//   last-chunk     = 1*("0") [ chunk-ext ] CRLF
//   chunk-ext      = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
//   chunk-ext-name = token
//   chunk-ext-val  = token / quoted-string
//   trailer-section = *( field-line CRLF )
//   field-line     = field-name ":" OWS field-value OWS
class Decoder {
 public:
  explicit Decoder(std::string_view s) : s_(s) {}

  Decoded run() {
    Decoded d;
    d.state = decode(d.body);
    d.consumed = i_;
    return d;
  }

 private:
  // Each step returns complete (done, go on), malformed or incomplete.
  using S = Decoded::State;

  bool at_end() const { return i_ >= s_.size(); }
  unsigned char peek() const { return static_cast<unsigned char>(s_[i_]); }

  S crlf() {
    if (at_end()) return S::incomplete;
    if (peek() != '\r') return S::malformed;
    ++i_;
    if (at_end()) return S::incomplete;
    if (peek() != '\n') return S::malformed;
    ++i_;
    return S::complete;
  }
  void skip_bws() {
    while (!at_end() && is_ws(peek())) ++i_;
  }
  S token() {
    const std::size_t from = i_;
    while (!at_end() && is_tchar(peek())) ++i_;
    if (at_end()) return S::incomplete;
    return i_ > from ? S::complete : S::malformed;
  }
  S quoted_string() {
    ++i_;  // DQUOTE
    for (;;) {
      if (at_end()) return S::incomplete;
      const unsigned char c = peek();
      ++i_;
      if (c == '"') return S::complete;
      if (c == '\\') {
        if (at_end()) return S::incomplete;
        const unsigned char q = peek();
        ++i_;
        if (!(q == '\t' || q == ' ' || is_vchar_or_obs(q))) return S::malformed;
      } else if (!(c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5b) ||
                   (c >= 0x5d && c <= 0x7e) || c >= 0x80)) {
        return S::malformed;
      }
    }
  }
  S extensions() {
    for (;;) {
      // BWS belongs to an extension only with the ';' after it.
      const std::size_t start = i_;
      skip_bws();
      if (at_end()) return S::incomplete;
      if (peek() != ';') {
        i_ = start;  // a CRLF must follow (checked by the caller)
        return S::complete;
      }
      ++i_;
      skip_bws();
      if (S r = token(); r != S::complete) return r;
      const std::size_t before = i_;
      skip_bws();
      if (at_end()) return S::incomplete;
      if (peek() != '=') {
        i_ = before;  // BWS belongs to the next ';' (or is an error before CRLF)
        continue;
      }
      ++i_;
      skip_bws();
      if (at_end()) return S::incomplete;
      if (S r = peek() == '"' ? quoted_string() : token(); r != S::complete) return r;
    }
  }
  S trailer_section() {
    const std::size_t from = i_;
    for (;;) {
      if (at_end()) return S::incomplete;
      if (peek() == '\r') {
        const S r = crlf();
        if (r == S::complete && i_ - from > kMaxTrailerBytes) return S::malformed;  // the limit
        return r;
      }
      if (S r = token(); r != S::complete) return r;
      if (peek() != ':') return S::malformed;
      ++i_;
      // field-value: field-vchars with SP/HTAB between them; OWS around.
      while (!at_end() && (is_ws(peek()) || is_vchar_or_obs(peek()))) ++i_;
      if (S r = crlf(); r != S::complete) return r;
    }
  }
  S decode(std::string& body) {
    for (;;) {
      const std::size_t from = i_;
      std::uint64_t size = 0;
      while (!at_end() && is_hex(peek())) {
        if (size > (std::numeric_limits<std::uint64_t>::max() >> 4)) return S::malformed;
        size = size * 16 + static_cast<std::uint64_t>(hex_value(peek()));
        ++i_;
      }
      if (at_end()) return S::incomplete;
      if (i_ == from) return S::malformed;
      if (S r = extensions(); r != S::complete) return r;
      if (S r = crlf(); r != S::complete) return r;
      if (i_ - from > kMaxLineBytes) return S::malformed;  // the server's limit
      if (size == 0) return trailer_section();
      if (s_.size() - i_ < size) return S::incomplete;
      body.append(s_.substr(i_, size));
      i_ += size;
      if (S r = crlf(); r != S::complete) return r;
    }
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

// decode_chunked() reads s as a chunked body.
inline Decoded decode_chunked(std::string_view s) {
  return Decoder(s).run();
}

}  // namespace cogo_fuzz
