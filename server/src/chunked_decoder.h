// chunked_decoder.h: ChunkedDecoder, the chunked transfer coding of a
// request body (RFC 9112 7.1), decoded in place and incrementally: input
// may end anywhere, decoded bytes are moved to the front of the input.
//
//   chunked-body    = *chunk last-chunk trailer-section CRLF
//   chunk           = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
//   chunk-size      = 1*HEXDIG
//   last-chunk      = 1*("0") [ chunk-ext ] CRLF
//   chunk-ext       = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
//   chunk-ext-name  = token
//   chunk-ext-val   = token / quoted-string
//   trailer-section = *( field-line CRLF )
//
// Why not llhttp's: llhttp 8.1.0 (Debian's) ends the trailer section at a
// CR followed by any byte (CVE-2023-30589's class: a proxy and cogo would
// disagree where the message ends), and refuses valid extensions (BWS
// around ';' and '=', a quoted-pair, a second extension after a token
// value). Found by tests/fuzz/chunked_fuzz, which checks this decoder
// against the grammar above written a second time. RequestParser lets
// llhttp skip the body and hands it to this decoder.
//
// Extensions are checked and dropped; trailer fields are checked and
// dropped (nothing asks for them). Limits: a chunk-size line (size and
// extensions) of at most kMaxLineBytes, a trailer section of at most
// kMaxTrailerBytes — a client cannot make the server parse unbounded
// framing for a few bytes of body.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cogo::http::detail {

class ChunkedDecoder {
 public:
  static constexpr std::size_t kMaxLineBytes = 4096;
  static constexpr std::size_t kMaxTrailerBytes = 8192;

  struct Result {
    std::size_t consumed;    // input bytes used (all of them unless done or error)
    std::size_t body_bytes;  // decoded bytes now at the front of the input
    bool done;               // the body ended (after its final CRLF)
    const char* error;       // malformed: why (then done is false)
  };

  // reset() starts a new body.
  void reset() noexcept;

  // decode() reads data[0, size), moving the chunk data it finds to
  // data[0, body_bytes).
  Result decode(char* data, std::size_t size) noexcept;

 private:
  // State: where in the grammar the next byte falls. Each moves on one
  // byte (data moves on a run of bytes) to the state written beside it.
  enum class State : std::uint8_t {
    size_first,        // HEXDIG -> size
    size,              // HEXDIG; ';' -> ext_name_start; SP/HTAB -> ext_bws; CR -> line_lf
    ext_bws,           // SP/HTAB; ';' -> ext_name_start  (BWS before ';')
    ext_name_start,    // SP/HTAB; tchar -> ext_name
    ext_name,          // tchar; '=' -> ext_value_start; ';' -> ext_name_start;
                       // SP/HTAB -> ext_after_name; CR -> line_lf
    ext_after_name,    // SP/HTAB; '=' -> ext_value_start; ';' -> ext_name_start
    ext_value_start,   // SP/HTAB; '"' -> ext_quoted; tchar -> ext_token
    ext_token,         // tchar; ';' -> ext_name_start; SP/HTAB -> ext_bws; CR -> line_lf
    ext_quoted,        // qdtext; '\' -> ext_quoted_pair; '"' -> ext_after_quoted
    ext_quoted_pair,   // HTAB/SP/VCHAR/obs-text -> ext_quoted
    ext_after_quoted,  // ';' -> ext_name_start; SP/HTAB -> ext_bws; CR -> line_lf
    line_lf,           // LF -> data (size > 0) or trailer_start (last chunk)
    data,              // size bytes -> data_cr
    data_cr,           // CR -> data_lf
    data_lf,           // LF -> size_first
    trailer_start,     // CR -> final_lf; tchar -> trailer_name
    trailer_name,      // tchar; ':' -> trailer_value
    trailer_value,     // SP/HTAB/VCHAR/obs-text; CR -> trailer_lf
    trailer_lf,        // LF -> trailer_start
    final_lf,          // LF -> done
    done,
    failed,
  };

  State state_ = State::size_first;
  std::uint64_t size_ = 0;      // the chunk's size; while in data, what is left of it
  std::size_t line_bytes_ = 0;  // bytes of the current chunk-size line
  std::size_t trailer_bytes_ = 0;
};

}  // namespace cogo::http::detail
