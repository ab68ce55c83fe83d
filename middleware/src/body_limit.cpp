// body_limit.cpp: cogo/middleware/body_limit.h says what it does.
#include "cogo/middleware/body_limit.h"

#include "cogo/http/request.h"
#include "cogo/http/response.h"

namespace cogo::middleware {

http::Middleware body_limit(std::uint64_t n) {
  return [n](http::Request& req, http::Response& res, const http::Next& next) {
    if (const auto length = req.content_length(); length && *length > n) {
      res.set_header("Connection", "close");
      res.text(413, "request body too large\n");
      return;
    }
    req.limit_body(n);
    next(req, res);
  };
}

}  // namespace cogo::middleware
