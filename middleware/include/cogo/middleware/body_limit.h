// cogo/middleware/body_limit.h: a smaller request-body limit for the routes
// it wraps than the server's HttpOptions::max_body_bytes (which stays the
// ceiling: a larger declared body was already answered 413 before routing).
//
//   router.with(cogo::middleware::body_limit(64 * 1024)).post("/comments", add_comment);
//
// What it does:
// - A request whose Content-Length is above n is answered here, before the
//   handler runs and before a byte of the body is read: 413 Content Too
//   Large, "Connection: close" (RFC 9110 15.5.14: the unread body is not
//   drained), and no "100 Continue" is ever sent for it.
// - Any other request runs with its limit lowered to n: a chunked body
//   that passes n makes the handler's read() / body() throw HttpError 413,
//   which the server answers (if no byte of the response went out) and then
//   closes the connection.
#pragma once

#include <cstdint>

#include "cogo/http/handler.h"

namespace cogo::middleware {

http::Middleware body_limit(std::uint64_t n);

}  // namespace cogo::middleware
