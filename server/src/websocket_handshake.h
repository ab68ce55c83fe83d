// websocket_handshake.h: the server's side of the WebSocket opening
// handshake (RFC 6455 4.2), as a pure function of the request's method,
// version and header fields, so it can be tested and fuzzed alone.
//
// What check_handshake() requires, in order, and what it answers otherwise
// (RFC 6455 4.2.1, 4.2.2, 4.4):
//   GET (4.1 item 2)                                          400
//   HTTP/1.1 or later (4.1 item 1)                            400
//   Upgrade listing "websocket", any case (4.2.1 item 3)      400
//   Connection listing "Upgrade", any case (4.2.1 item 4)     400
//   exactly one Sec-WebSocket-Key, the base64 of 16 bytes (item 5)  400
//   exactly one Sec-WebSocket-Version (item 6)                400
//   ... and it is 13 (4.4)                                    426 + Sec-WebSocket-Version: 13
//   the Origin, when the server restricts origins (4.2.2 item 4)    403
//   Sec-WebSocket-Extensions in RFC 6455 9.1 syntax           400
// Then: Sec-WebSocket-Accept is base64(SHA-1(key + the GUID)) (4.2.2 item
// 5.4); the subprotocol is the first of the server's the client offered
// (item 5.3, none if no match); permessage-deflate is negotiated (RFC 7692,
// websocket_deflate.h).
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "cogo/http/field.h"
#include "cogo/websocket.h"
#include "websocket_deflate.h"

namespace cogo::websocket::detail {

struct Handshake {
  int status = 400;         // 101: accepted; else the status to answer
  std::string error;        // why not (the body of the error response)
  std::string accept;       // Sec-WebSocket-Accept
  std::string subprotocol;  // Sec-WebSocket-Protocol ("" for none)
  std::string extensions;   // Sec-WebSocket-Extensions ("" for none)
  DeflateParams deflate;
};

// check_handshake() checks a request against options; allow_deflate false
// declines permessage-deflate whatever options say (the connection cap).
Handshake check_handshake(std::string_view method, int version_major, int version_minor,
                          std::span<const http::Field> fields, const Options& options,
                          bool allow_deflate = true);

// accept_key() is Sec-WebSocket-Accept for a Sec-WebSocket-Key.
std::string accept_key(std::string_view key);

// valid_key() tells whether key is the base64 of 16 bytes (24 characters,
// the last two "==").
bool valid_key(std::string_view key) noexcept;

}  // namespace cogo::websocket::detail
