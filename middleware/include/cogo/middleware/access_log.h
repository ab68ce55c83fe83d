// cogo/middleware/access_log.h: one log line per request through spdlog.
//
//   server.use(cogo::middleware::access_log());
//   -> 127.0.0.1:51234 "GET /users/7 HTTP/1.1" 200 57 0.212ms
#pragma once

#include <memory>

#include "cogo/http/handler.h"

namespace spdlog {
class logger;
}

namespace cogo::middleware {

// access_log() logs method, target, version, status, body bytes and the time
// the handler took, at info level, to `logger` (spdlog's default logger when
// null). A handler that throws is logged with status 500 and rethrown.
http::Middleware access_log(std::shared_ptr<spdlog::logger> logger = nullptr);

}  // namespace cogo::middleware
