// websocket_deflate.h: permessage-deflate (RFC 7692) — the negotiation of
// its four parameters in the opening handshake, and the compressor and
// decompressor (zlib, raw deflate) of one connection.
//
// Negotiation (RFC 7692 5, 7.1): the client lists offers in
// Sec-WebSocket-Extensions, preferred first; the server accepts the first
// it can honour and declines an offer with an unknown or duplicate
// parameter or an invalid value (5.1). What it answers, per parameter:
//   server_no_context_takeover  sent when the client asked for it (7.1.1.1,
//                               then it MUST be honoured) or the server wants it
//   client_no_context_takeover  sent when the server wants it or the client
//                               hinted it (7.1.1.2: the client then MUST NOT
//                               keep context)
//   server_max_window_bits=N    sent only when offered (7.1.2.1), N no more
//                               than offered; when not offered the server
//                               still uses its own (smaller is always safe)
//   client_max_window_bits=N    sent only when offered (7.1.2.2 forbids it
//                               otherwise), whenever the server inflates
//                               with less than 15: the offer's own value is
//                               only a hint, binding once answered
// zlib cannot produce raw deflate with an 8-bit window, so an offer that
// holds the server to 8 is declined.
//
// Messages (7.2): each is compressed on its own with a sync flush whose
// trailing 00 00 ff ff is removed; the receiver appends it back before
// inflating the message's last bytes. Without context takeover the
// compressor (or decompressor) is reset after each message, which lets it
// be borrowed per message from a per-thread cache instead of held per
// connection.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cogo/websocket.h"

namespace cogo::websocket::detail {

// DeflateParams: what was agreed for one connection. Every connection keeps
// one (in its Receiver), compressed or not, so the fields are bytes: 7 bytes
// where ints made 24. The values are clamped to zlib's ranges when they are
// negotiated (windows 8..15, level and memLevel 1..9).
struct DeflateParams {
  bool enabled = false;
  bool server_no_context_takeover = false;
  bool client_no_context_takeover = false;
  std::int8_t server_window_bits = 15;  // the server compresses with this window
  std::int8_t client_window_bits = 15;  // the client compresses with at most this window
  std::int8_t level = 6;
  std::int8_t mem_level = 8;
};

struct DeflateNegotiation {
  bool malformed = false;  // Sec-WebSocket-Extensions is not RFC 6455 9.1 syntax
  DeflateParams params;    // params.enabled: an offer was accepted
  std::string response;    // the Sec-WebSocket-Extensions value to answer with
};

// negotiate_deflate() reads the client's Sec-WebSocket-Extensions values
// (every field line) and picks an offer under opts. Other extensions are
// ignored (declined).
DeflateNegotiation negotiate_deflate(const std::vector<std::string_view>& values,
                                     const Deflate& opts);

// Deflater: the server's compressor.
class Deflater {
 public:
  explicit Deflater(const DeflateParams& p);
  ~Deflater();
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;
  // compress() appends n bytes compressed to out; last ends the message
  // (sync flush, tail removed, reset without context takeover).
  void compress(const char* data, std::size_t n, std::string& out, bool last);
  bool matches(const DeflateParams& p) const noexcept;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// Inflater: the decompressor of the client's messages.
class Inflater {
 public:
  explicit Inflater(const DeflateParams& p);
  ~Inflater();
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  enum class Status : std::uint8_t { ok, error };
  struct Result {
    Status status;
    std::size_t consumed;
    std::size_t produced;
  };
  // inflate() inflates from in[0, n) into out[0, room).
  Result inflate(const unsigned char* in, std::size_t n, unsigned char* out,
                 std::size_t room) noexcept;
  // end_message() forgets the context (no context takeover, or a final
  // deflate block the client sent).
  void reset() noexcept;
  bool matches(const DeflateParams& p) const noexcept;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// compressing_connections() counts the connections that negotiated
// compression and are open (Deflate::max_connections); Connection keeps it.
std::atomic<std::size_t>& compressing_connections() noexcept;

// Per-thread caches for the no-context-takeover cases: take() a matching
// instance (or a new one), give() it back when the message is done.
std::unique_ptr<Deflater> take_deflater(const DeflateParams& p);
void give_deflater(std::unique_ptr<Deflater> d) noexcept;
std::unique_ptr<Inflater> take_inflater(const DeflateParams& p);
void give_inflater(std::unique_ptr<Inflater> i) noexcept;

}  // namespace cogo::websocket::detail
