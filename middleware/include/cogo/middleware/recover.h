// cogo/middleware/recover.h: an exception escaping the handler becomes an
// answer and one log line (chi's Recoverer).
//
//   server.use(cogo::middleware::request_id())
//         .use(cogo::middleware::access_log())
//         .use(cogo::middleware::recover());        // inside the log: it logs the 500
//
// What it does with an exception out of the rest of the chain:
// - A bug (any exception but the three below): one error-level line,
//     recovered: request_id=<id> GET /target: std::out_of_range: vector::at
//   (the request id, method, target, the exception's type and message;
//   never a header, so no credentials), then, if the response head was
//   not sent, 500 "Internal Server Error" in place of whatever the handler
//   had set (the status, the body and the header fields it added; fields
//   set before recover ran stay, unless the handler replaced one); if the
//   head was sent, the connection is closed (the only honest end of a
//   response cut short).
// - cogo::http::HttpError: the server answers its status with its message
//   (and closes after 408 and 413, as without recover); a 5xx one is
//   logged as above, a 4xx one (the client's fault) only at debug level.
// - cogo::http::TimeoutError: passed on (the server answers 408 when the
//   body timed out, else 500).
// - cogo::Cancelled: not an error: passed on to the server's cancellation
//   path (499 when the client left, 503 otherwise), logged at debug level.
#pragma once

#include <string>

#include "cogo/http/handler.h"

namespace cogo::middleware {

// recover() logs through the spdlog logger named logger_name (the default
// logger when empty); throws std::invalid_argument when there is no such
// logger.
http::Middleware recover(const std::string& logger_name = {});

}  // namespace cogo::middleware
