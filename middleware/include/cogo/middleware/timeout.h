// cogo/middleware/timeout.h: a deadline for the requests it wraps.
//
//   server.use(cogo::middleware::timeout(std::chrono::seconds(5)));      // every route
//   router.with(cogo::middleware::timeout(std::chrono::milliseconds(200)))
//       .get("/report", report);                                       // one route
//
// The request's context (Request::context(), cogo/cancel.h) is narrowed to
// end d after the middleware runs: a handler still waiting then throws
// cogo::Cancelled(deadline) from its wait, and the server answers 503
// "handler timed out" if no byte of the response was sent, else closes the
// connection (never a complete-looking body), and counts it in
// requests_cancelled{reason="deadline"}. The earlier of this deadline and
// the server's --handler-timeout applies. Goroutines the handler spawns
// inherit the narrowed context.
#pragma once

#include <chrono>

#include "cogo/http/handler.h"

namespace cogo::middleware {

// timeout() throws std::invalid_argument for d <= 0.
http::Middleware timeout(std::chrono::milliseconds d);

}  // namespace cogo::middleware
