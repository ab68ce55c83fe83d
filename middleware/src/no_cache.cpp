// no_cache.cpp: cogo/middleware/no_cache.h says what it does.
#include "cogo/middleware/no_cache.h"

#include "cogo/http/request.h"
#include "cogo/http/response.h"

namespace cogo::middleware {

http::Middleware no_cache() {
  return [](http::Request& req, http::Response& res, const http::Next& next) {
    res.set_header("Cache-Control", "no-store, no-cache, must-revalidate, private, max-age=0");
    res.set_header("Pragma", "no-cache");
    res.set_header("Expires", "0");
    next(req, res);
  };
}

}  // namespace cogo::middleware
