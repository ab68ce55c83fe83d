// cogo/http/handler.h: handlers and the middlewares that wrap them.
//
//   MiddlewareChain chain;
//   chain.use(access_log).use(recover);     // access_log runs outermost
//   Handler h = chain.then(router.handler());
#pragma once

#include <functional>
#include <vector>

namespace cogo::http {

class Request;
class Response;

// Handler serves one request in blocking style: it may read a streamed body,
// sleep, call other services. An exception escaping it becomes a 500 (or the
// HttpError's status) and a log line; the connection goes on.
using Handler = std::function<void(Request&, Response&)>;

// Next is the rest of the chain, as seen from a middleware.
using Next = Handler;

// Middleware wraps the rest of the chain: it may act before and after
// calling next(req, res), or answer itself without calling it.
using Middleware = std::function<void(Request&, Response&, const Next&)>;

// MiddlewareChain applies middlewares in the order they were added: the first
// use()d is the outermost.
class MiddlewareChain {
 public:
  MiddlewareChain& use(Middleware middleware);
  // then() is a handler running the middlewares around last.
  Handler then(Handler last) const;
  bool empty() const noexcept { return middlewares_.empty(); }

 private:
  std::vector<Middleware> middlewares_;
};

}  // namespace cogo::http
