// ws_session.h: the client side of one WebSocket connection for cogo-load —
// the opening handshake (RFC 6455 4.1, with an optional permessage-deflate
// offer, RFC 7692), masked frames out, the server's frames in, and every
// answer checked: an echo must equal the message sent (after inflating it),
// a pong must carry the ping's payload.
//
// A round trip is one message (or one ping) written and its answer read:
// cogo-load's ws mode runs them back to back (closed loop), hold mode one
// per --interval. Messages are --size bytes of text (or binary), made once
// per connection; each frame gets a fresh mask (5.3).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "cogo/net.h"
#include "loadtest/options.h"

namespace cogo::load {

class WsSession {
 public:
  // WsSession() prepares a connection's messages; seed varies them.
  WsSession(const Options& o, uint64_t seed);
  ~WsSession();
  WsSession(const WsSession&) = delete;
  WsSession& operator=(const WsSession&) = delete;

  // handshake() upgrades c (deadline set by the caller); false with error.
  bool handshake(net::Conn& c, std::string& error);
  // round_trip() sends a message (or, with ping, a ping) and reads and
  // checks its answer; false with error. Pings and pongs the server sends
  // meanwhile are answered or skipped.
  bool round_trip(net::Conn& c, bool ping, std::string& error);
  // bytes_read() counts what came off the socket.
  int64_t bytes_read() const noexcept { return bytes_read_; }
  bool compressed() const noexcept { return codec_ != nullptr; }

 private:
  struct Frame {
    uint8_t opcode = 0;
    bool fin = false;
    bool rsv1 = false;
    std::string payload;
  };
  bool read_frame(net::Conn& c, Frame& f, std::string& error);
  bool fill(net::Conn& c, std::size_t want, std::string& error);
  bool send_frame(net::Conn& c, uint8_t opcode, bool rsv1, std::string_view payload,
                  std::string& error);
  uint32_t next_mask() noexcept;

  const Options& o_;
  std::string message_;  // what each round trip sends
  std::string key_;      // Sec-WebSocket-Key
  std::string in_;       // bytes read, not yet parsed
  std::string out_;      // a frame being built
  uint64_t rng_;
  uint64_t pings_ = 0;
  int64_t bytes_read_ = 0;
  struct Codec;  // zlib, when permessage-deflate was negotiated
  std::unique_ptr<Codec> codec_;
};

}  // namespace cogo::load
