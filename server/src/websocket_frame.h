// websocket_frame.h: the WebSocket frame header (RFC 6455 5.2) read and
// written, and masking (5.3). Pure functions over bytes, no state: the
// receiver (websocket_receiver.h) applies the protocol's rules on top.
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-------+-+-------------+-------------------------------+
//   |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//   |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//   |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//   | |1|2|3|       |K|             |                               |
//   +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//   |     Extended payload length continued, if payload len == 127  |
//   + - - - - - - - - - - - - - - - +-------------------------------+
//   |                               |Masking-key, if MASK set to 1  |
//   +-------------------------------+-------------------------------+
#pragma once

#include <cstddef>
#include <cstdint>

namespace cogo::websocket::detail {

// Opcodes (5.2); 3-7 and 11-15 are reserved.
enum class Opcode : std::uint8_t {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xA,
};
inline bool is_control(std::uint8_t opcode) noexcept {
  return (opcode & 0x8) != 0;
}
inline bool is_known_opcode(std::uint8_t opcode) noexcept {
  return opcode <= 0x2 || (opcode >= 0x8 && opcode <= 0xA);
}

inline constexpr std::size_t kMaxHeaderBytes = 14;  // 2 + 8 + 4
inline constexpr std::size_t kMaxControlPayload = 125;

struct FrameHeader {
  bool fin = false;
  bool rsv1 = false;
  bool rsv2 = false;
  bool rsv3 = false;
  std::uint8_t opcode = 0;
  bool masked = false;
  unsigned char mask[4] = {};
  std::uint64_t length = 0;  // payload bytes
  std::size_t size = 0;      // header bytes (parse: how many are needed)
};

// HeaderStatus: what parse_frame_header() found.
enum class HeaderStatus : std::uint8_t {
  need_more,           // fewer than h.size bytes: read more
  ok,                  // h is complete; the payload starts at p + h.size
  length_top_bit,      // a 64-bit length with the most significant bit set (5.2)
  length_not_minimal,  // a length not in its shortest form (5.2: MUST be minimal)
};

// parse_frame_header() reads the header at p[0, n). With need_more, h.size
// is the number of bytes the header needs (at most kMaxHeaderBytes).
HeaderStatus parse_frame_header(const unsigned char* p, std::size_t n, FrameHeader& h) noexcept;

// write_frame_header() writes an unmasked header (a server's, 5.1) into out
// (room for kMaxHeaderBytes) and returns its size.
std::size_t write_frame_header(unsigned char* out, std::uint8_t opcode, bool fin, bool rsv1,
                               std::uint64_t length) noexcept;

// unmask() XORs n bytes of src with mask into dst (dst may be src), the
// first byte being the payload's byte number offset (5.3: byte i is XORed
// with mask[i % 4]).
void unmask(unsigned char* dst, const unsigned char* src, std::size_t n,
            const unsigned char mask[4], std::uint64_t offset) noexcept;

}  // namespace cogo::websocket::detail
