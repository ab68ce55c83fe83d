// websocket_frame.cpp: frame headers and masking (see websocket_frame.h).
#include "websocket_frame.h"

#include <cstring>

namespace cogo::websocket::detail {

HeaderStatus parse_frame_header(const unsigned char* p, std::size_t n, FrameHeader& h) noexcept {
  if (n < 2) {
    h.size = 2;
    return HeaderStatus::need_more;
  }
  const unsigned char b0 = p[0];
  const unsigned char b1 = p[1];
  h.fin = (b0 & 0x80) != 0;
  h.rsv1 = (b0 & 0x40) != 0;
  h.rsv2 = (b0 & 0x20) != 0;
  h.rsv3 = (b0 & 0x10) != 0;
  h.opcode = b0 & 0x0F;
  h.masked = (b1 & 0x80) != 0;
  const unsigned len7 = b1 & 0x7F;
  const std::size_t ext = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
  h.size = 2 + ext + (h.masked ? 4 : 0);
  if (n < h.size) return HeaderStatus::need_more;
  if (len7 < 126) {
    h.length = len7;
  } else if (len7 == 126) {
    h.length = (std::uint64_t{p[2]} << 8) | p[3];
    if (h.length < 126) return HeaderStatus::length_not_minimal;
  } else {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | p[2 + i];
    if ((v >> 63) != 0) return HeaderStatus::length_top_bit;
    if (v <= 0xFFFF) return HeaderStatus::length_not_minimal;
    h.length = v;
  }
  if (h.masked) std::memcpy(h.mask, p + 2 + ext, 4);
  return HeaderStatus::ok;
}

std::size_t write_frame_header(unsigned char* out, std::uint8_t opcode, bool fin, bool rsv1,
                               std::uint64_t length) noexcept {
  out[0] = static_cast<unsigned char>((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | (opcode & 0x0F));
  if (length < 126) {
    out[1] = static_cast<unsigned char>(length);
    return 2;
  }
  if (length <= 0xFFFF) {
    out[1] = 126;
    out[2] = static_cast<unsigned char>(length >> 8);
    out[3] = static_cast<unsigned char>(length);
    return 4;
  }
  out[1] = 127;
  for (int i = 0; i < 8; ++i) out[2 + i] = static_cast<unsigned char>(length >> (56 - 8 * i));
  return 10;
}

void unmask(unsigned char* dst, const unsigned char* src, std::size_t n,
            const unsigned char mask[4], std::uint64_t offset) noexcept {
  unsigned char m[8];
  for (int i = 0; i < 8; ++i) m[i] = mask[(offset + static_cast<unsigned>(i)) & 3];
  std::uint64_t m64;
  std::memcpy(&m64, m, 8);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, src + i, 8);
    w ^= m64;
    std::memcpy(dst + i, &w, 8);
  }
  for (; i < n; ++i) dst[i] = src[i] ^ m[i & 7];
}

}  // namespace cogo::websocket::detail
