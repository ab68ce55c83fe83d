// cogo/middleware/heartbeat.h: a liveness endpoint in front of everything
// (chi's Heartbeat), so a load balancer's probe passes no auth, rate limit or
// logging behind it.
//
//   server.use(cogo::middleware::heartbeat("/ping"));   // use() it first
//
// A GET or HEAD whose path is exactly path is answered here: 200, text/plain,
// body ".", Cache-Control: no-store. Anything else (another path, another
// method on that path) goes on to the next handler untouched.
#pragma once

#include <string>

#include "cogo/http/handler.h"

namespace cogo::middleware {

// heartbeat() throws std::invalid_argument when path does not start with '/'.
http::Middleware heartbeat(std::string path);

}  // namespace cogo::middleware
