// chunked_decoder.cpp: chunked_decoder.h's state machine, byte by byte for
// the framing and in runs for the chunk data.
#include "chunked_decoder.h"

#include <cstring>
#include <limits>

#include "text.h"

namespace cogo::http::detail {

namespace {

int hex_digit(unsigned char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
bool is_ws(unsigned char c) noexcept {
  return c == ' ' || c == '\t';
}
bool is_vchar_or_obs(unsigned char c) noexcept {
  return (c >= 0x21 && c <= 0x7e) || c >= 0x80;
}
// qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
bool is_qdtext(unsigned char c) noexcept {
  return c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5b) ||
         (c >= 0x5d && c <= 0x7e) || c >= 0x80;
}

}  // namespace

void ChunkedDecoder::reset() noexcept {
  state_ = State::size_first;
  size_ = 0;
  line_bytes_ = 0;
  trailer_bytes_ = 0;
}

ChunkedDecoder::Result ChunkedDecoder::decode(char* data, std::size_t size) noexcept {
  char* out = data;  // decoded bytes go here; never ahead of i
  std::size_t i = 0;
  auto fail = [&](const char* why) {
    state_ = State::failed;
    return Result{i, static_cast<std::size_t>(out - data), false, why};
  };
  if (state_ == State::failed) return fail("malformed chunked body");
  while (i < size && state_ != State::done) {
    if (state_ == State::data) {
      const std::size_t n = size_ < size - i ? static_cast<std::size_t>(size_) : size - i;
      if (out != data + i) std::memmove(out, data + i, n);
      out += n;
      i += n;
      size_ -= n;
      if (size_ == 0) state_ = State::data_cr;
      continue;
    }
    const auto c = static_cast<unsigned char>(data[i]);
    ++i;
    if (state_ <= State::line_lf && ++line_bytes_ > kMaxLineBytes) {
      return fail("chunk-size line too long");
    }
    if (state_ >= State::trailer_start && state_ <= State::final_lf &&
        ++trailer_bytes_ > kMaxTrailerBytes) {
      return fail("trailer section too large");
    }
    switch (state_) {
      case State::size_first:
      case State::size: {
        const int d = hex_digit(c);
        if (d >= 0) {
          if (size_ > (std::numeric_limits<std::uint64_t>::max() >> 4)) {
            return fail("chunk size too large");
          }
          size_ = size_ * 16 + static_cast<unsigned>(d);
          state_ = State::size;
        } else if (state_ == State::size_first) {
          return fail("invalid character in chunk size");
        } else if (c == ';') {
          state_ = State::ext_name_start;
        } else if (is_ws(c)) {
          state_ = State::ext_bws;
        } else if (c == '\r') {
          state_ = State::line_lf;
        } else {
          return fail("invalid character in chunk size");
        }
        break;
      }
      case State::ext_bws:
        if (c == ';') {
          state_ = State::ext_name_start;
        } else if (!is_ws(c)) {
          return fail("invalid character in chunk extension");
        }
        break;
      case State::ext_name_start:
        if (is_token_char(c)) {
          state_ = State::ext_name;
        } else if (!is_ws(c)) {
          return fail("invalid character in chunk extension name");
        }
        break;
      case State::ext_name:
        if (is_token_char(c)) break;
        if (c == '=') {
          state_ = State::ext_value_start;
        } else if (c == ';') {
          state_ = State::ext_name_start;
        } else if (is_ws(c)) {
          state_ = State::ext_after_name;
        } else if (c == '\r') {
          state_ = State::line_lf;
        } else {
          return fail("invalid character in chunk extension name");
        }
        break;
      case State::ext_after_name:
        if (c == '=') {
          state_ = State::ext_value_start;
        } else if (c == ';') {
          state_ = State::ext_name_start;
        } else if (!is_ws(c)) {
          return fail("invalid character in chunk extension");
        }
        break;
      case State::ext_value_start:
        if (c == '"') {
          state_ = State::ext_quoted;
        } else if (is_token_char(c)) {
          state_ = State::ext_token;
        } else if (!is_ws(c)) {
          return fail("invalid character in chunk extension value");
        }
        break;
      case State::ext_token:
        if (is_token_char(c)) break;
        if (c == ';') {
          state_ = State::ext_name_start;
        } else if (is_ws(c)) {
          state_ = State::ext_bws;
        } else if (c == '\r') {
          state_ = State::line_lf;
        } else {
          return fail("invalid character in chunk extension value");
        }
        break;
      case State::ext_quoted:
        if (c == '"') {
          state_ = State::ext_after_quoted;
        } else if (c == '\\') {
          state_ = State::ext_quoted_pair;
        } else if (!is_qdtext(c)) {
          return fail("invalid character in chunk extension value");
        }
        break;
      case State::ext_quoted_pair:
        if (!is_ws(c) && !is_vchar_or_obs(c)) return fail("invalid quoted-pair in chunk extension");
        state_ = State::ext_quoted;
        break;
      case State::ext_after_quoted:
        if (c == ';') {
          state_ = State::ext_name_start;
        } else if (is_ws(c)) {
          state_ = State::ext_bws;
        } else if (c == '\r') {
          state_ = State::line_lf;
        } else {
          return fail("invalid character after a chunk extension value");
        }
        break;
      case State::line_lf:
        if (c != '\n') return fail("chunk-size line without LF after CR");
        line_bytes_ = 0;
        state_ = size_ > 0 ? State::data : State::trailer_start;
        break;
      case State::data_cr:
        if (c != '\r') return fail("chunk data longer than its size");
        state_ = State::data_lf;
        break;
      case State::data_lf:
        if (c != '\n') return fail("chunk data without CRLF after it");
        state_ = State::size_first;
        break;
      case State::trailer_start:
        if (c == '\r') {
          state_ = State::final_lf;
        } else if (is_token_char(c)) {
          state_ = State::trailer_name;
        } else {
          return fail("invalid character in trailer field name");
        }
        break;
      case State::trailer_name:
        if (c == ':') {
          state_ = State::trailer_value;
        } else if (!is_token_char(c)) {
          return fail("invalid character in trailer field name");
        }
        break;
      case State::trailer_value:
        if (c == '\r') {
          state_ = State::trailer_lf;
        } else if (!is_ws(c) && !is_vchar_or_obs(c)) {
          return fail("invalid character in trailer field value");
        }
        break;
      case State::trailer_lf:
        if (c != '\n') return fail("trailer field without LF after CR");
        state_ = State::trailer_start;
        break;
      case State::final_lf:
        if (c != '\n') return fail("chunked body without LF after its final CR");
        state_ = State::done;
        break;
      case State::data:
      case State::done:
      case State::failed:
        break;
    }
  }
  return Result{i, static_cast<std::size_t>(out - data), state_ == State::done, nullptr};
}

}  // namespace cogo::http::detail
