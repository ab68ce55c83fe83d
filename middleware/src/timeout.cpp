// timeout.cpp: the timeout middleware.
#include "cogo/middleware/timeout.h"

#include <stdexcept>
#include <string>

#include "cogo/cancel.h"
#include "cogo/http/request.h"

namespace cogo::middleware {

http::Middleware timeout(std::chrono::milliseconds d) {
  if (d.count() <= 0) {
    throw std::invalid_argument("middleware::timeout: the duration must be positive (got " +
                                std::to_string(d.count()) + " ms)");
  }
  return [d](http::Request& req, http::Response& res, const http::Next& next) {
    const cogo::Context narrowed = cogo::Context::with_timeout(d, req.context());
    req.with_context(narrowed, [&] { next(req, res); });
  };
}

}  // namespace cogo::middleware
