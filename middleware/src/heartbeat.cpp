// heartbeat.cpp: cogo/middleware/heartbeat.h says what it does.
#include "cogo/middleware/heartbeat.h"

#include <stdexcept>

#include "cogo/http/request.h"
#include "cogo/http/response.h"

namespace cogo::middleware {

http::Middleware heartbeat(std::string path) {
  if (path.empty() || path.front() != '/') {
    throw std::invalid_argument("heartbeat: path \"" + path + "\" does not start with '/'");
  }
  return [path = std::move(path)](http::Request& req, http::Response& res,
                                  const http::Next& next) {
    if ((req.method() == "GET" || req.method() == "HEAD") && req.path() == path) {
      res.set_header("Cache-Control", "no-store");
      res.text(200, ".");
      return;
    }
    next(req, res);
  };
}

}  // namespace cogo::middleware
