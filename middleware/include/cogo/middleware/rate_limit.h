// cogo/middleware/rate_limit.h: a token bucket per client (httprate,
// nginx's limit_req).
//
//   cogo::middleware::RateLimitOptions o;
//   o.rate = 10;     // requests per second, sustained, per client
//   o.burst = 20;    // and up to 20 at once
//   server.use(cogo::middleware::real_ip(ip))           // first: the key is the client
//         .use(cogo::middleware::rate_limit(o));
//
// What it does:
// - Each key (the client address — req.remote_address() without its port,
//   so after real_ip — or the value of key_header, e.g. an API key) has a
//   bucket of `burst` tokens, refilled at `rate` tokens per second. A
//   request takes one token and goes on; with less than one token left it
//   is answered here:
//     429 Too Many Requests (RFC 6585 4), "Retry-After: <seconds until a
//     token>" (at least 1), "Cache-Control: no-store" (6585 4: a 429 must
//     not be stored by a cache), body "rate limit exceeded\n".
// - Every answer that passes through (the 429 too, unless headers = false
//   for the others) carries the fields of draft-ietf-httpapi-ratelimit-
//   headers (the three-field form):
//     RateLimit-Limit: <burst>
//     RateLimit-Remaining: <whole tokens left after this request>
//     RateLimit-Reset: <seconds until the bucket is full again>
// - Memory is bounded: at most max_keys buckets, in `shards` shards each
//   with its own lock and its share of max_keys; a shard that is full
//   forgets its least recently seen key (which then starts again with a
//   full bucket). Ps take different locks for different keys.
#pragma once

#include <cstddef>
#include <string>

#include "cogo/http/handler.h"

namespace cogo::middleware {

struct RateLimitOptions {
  double rate = 10;   // tokens per second (> 0)
  double burst = 20;  // bucket size (>= 1)
  // Key by this request field instead of the client address (a missing
  // field falls back to the address).
  std::string key_header;
  std::size_t max_keys = 100'000;
  std::size_t shards = 64;  // rounded up to a power of two, at most max_keys
  bool headers = true;      // RateLimit-* on answers that pass (the 429 always has them)
};

// rate_limit() throws std::invalid_argument naming an option out of range.
http::Middleware rate_limit(RateLimitOptions options);

// parse_rate() reads a rate as cogo-server's --rate-limit takes it:
// "100/s", "6000/m", "50000/h", or a bare number per second ("2.5");
// returns requests per second. Throws std::invalid_argument naming text.
double parse_rate(const std::string& text);

}  // namespace cogo::middleware
