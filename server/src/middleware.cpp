#include "cogo/http/handler.h"

namespace cogo::http {

MiddlewareChain& MiddlewareChain::use(Middleware middleware) {
  middlewares_.push_back(std::move(middleware));
  return *this;
}

Handler MiddlewareChain::then(Handler last) const {
  // Wrap from the innermost out, so the first use()d runs first.
  Handler next = std::move(last);
  for (auto it = middlewares_.rbegin(); it != middlewares_.rend(); ++it) {
    next = [middleware = *it, next = std::move(next)](Request& req, Response& res) {
      middleware(req, res, next);
    };
  }
  return next;
}

}  // namespace cogo::http
