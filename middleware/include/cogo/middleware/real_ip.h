// cogo/middleware/real_ip.h: the client's address behind trusted proxies
// (chi's RealIP, done the safe way).
//
//   cogo::middleware::RealIpOptions o;
//   o.trusted = {"10.0.0.0/8", "127.0.0.1"};        // the load balancers
//   server.use(cogo::middleware::request_id())
//         .use(cogo::middleware::real_ip(o))        // before the log and the limits
//         .use(cogo::middleware::access_log());
//
// What it does:
// - Only when the peer (the socket's address) is inside a trusted range,
//   it reads the one header its proxies write (X-Forwarded-For by default,
//   or Forwarded, RFC 7239: the "for=" of each element), all fields of it
//   in order as one list, and walks that list from the right: each hop that
//   is itself trusted is a proxy, so the walk goes on; the first hop that is
//   not trusted is the client. If every hop is trusted, the leftmost is.
//   An entry that is no address ("unknown", an obfuscated "_name",
//   garbage) stops the walk: the client is then the nearest trusted hop
//   to its right, the furthest address a proxy vouched for. Forwarded is
//   read to RFC 7239's grammar: a value is a token or a quoted-string
//   (quoted-pairs resolved), so a port or an IPv6 address comes quoted,
//   the IPv6 one in brackets ("[2001:db8::1]:4711"); a port is 1-5 digits
//   or obfuscated ("_x"); an element with a parameter twice, without
//   "for", or off the grammar is a hop with no address; empty elements
//   are skipped. X-Forwarded-For has no standard: an entry is an address
//   with an optional port, IPv6 bare or in brackets. Entries left
//   of the client are never read: a client can write anything there
//   (chi's RealIP trusted the leftmost entry and took three advisories).
// - The result replaces req.remote_address() (as an address without a
//   port, "203.0.113.7" or "2001:db8::1") for everything after it: the
//   access log, rate_limit, the handler. req.peer_address() stays the
//   socket's peer.
// - From an untrusted peer, or without the header, nothing changes.
// It writes no response field and answers nothing itself.
#pragma once

#include <string>
#include <vector>

#include "cogo/http/handler.h"

namespace cogo::middleware {

struct RealIpOptions {
  // The proxies' ranges: "10.0.0.0/8", "192.0.2.7" (one address),
  // "fd00::/8". Empty: no peer is trusted and real_ip changes nothing.
  std::vector<std::string> trusted;
  // The header the proxies write. Read only that one: a header the
  // proxies pass through untouched is the client's to forge.
  enum class Header { x_forwarded_for, forwarded } header = Header::x_forwarded_for;
};

// real_ip() throws std::invalid_argument naming a range that is not CIDR.
http::Middleware real_ip(RealIpOptions options);

}  // namespace cogo::middleware
