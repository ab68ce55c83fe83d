// cogo/middleware/access_log.h: one log line per request through spdlog.
//
//   server.use(cogo::middleware::access_log());
//   -> 127.0.0.1:51234 "GET /users/7 HTTP/1.1" 200 57 0.212ms
#pragma once

#include <string>

#include "cogo/http/handler.h"

namespace cogo::middleware {

// access_log() logs method, target, version, status, body bytes and the time
// the handler took, at info level, to the spdlog logger registered under
// logger_name (spdlog's default logger when empty, looked up per request so
// that a later set_default_logger() applies). A handler that throws is
// logged with status 500 and rethrown; a cancelled request (cogo/cancel.h)
// as the server answers it: 499 when the client left, 503 otherwise. Throws std::invalid_argument naming
// logger_name when no such logger is registered.
http::Middleware access_log(const std::string& logger_name = {});

}  // namespace cogo::middleware
