// cogo/http/router.h: Router, method + path dispatch.
//
//   Router r;
//   r.get("/users/:id", [](Request& req, Response& res) { res.text(200, req.param("id")); });
//   r.get("/static/*path", serve_file);
//
// A pattern is a '/'-separated list of segments: literal text, ":name" (one
// whole segment) or, last only, "*name" (the rest of the path, maybe empty).
// Literal segments win over parameters, parameters over catch-alls. Paths
// are matched segment by segment on the raw target and parameters are
// percent-decoded, so "/users/a%2Fb" gives id "a/b". No match: 404; the
// path matches but not the method: 405 with Allow. HEAD uses the GET
// handler unless one was registered for HEAD.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cogo/http/field.h"
#include "cogo/http/handler.h"

namespace cogo::http {

class Router {
 public:
  Router();
  ~Router();
  Router(Router&&) noexcept;
  Router& operator=(Router&&) noexcept;

  // handle() registers h for method and pattern. Throws std::invalid_argument
  // for a malformed pattern, a duplicate, or a parameter whose name differs
  // from another route's parameter at the same place.
  Router& handle(std::string_view method, std::string_view pattern, Handler h);
  Router& get(std::string_view pattern, Handler h) { return handle("GET", pattern, std::move(h)); }
  Router& post(std::string_view pattern, Handler h) {
    return handle("POST", pattern, std::move(h));
  }
  Router& put(std::string_view pattern, Handler h) { return handle("PUT", pattern, std::move(h)); }
  Router& patch(std::string_view pattern, Handler h) {
    return handle("PATCH", pattern, std::move(h));
  }
  Router& del(std::string_view pattern, Handler h) {
    return handle("DELETE", pattern, std::move(h));
  }
  Router& options(std::string_view pattern, Handler h) {
    return handle("OPTIONS", pattern, std::move(h));
  }

  // not_found() replaces the default 404 handler.
  Router& not_found(Handler h);

  // serve() routes one request: sets its path parameters and runs the
  // matching handler, or answers 404 / 405.
  void serve(Request& req, Response& res) const;
  // handler() is serve() as a Handler; the Router must outlive it.
  Handler handler() const;

  // Match is the outcome of match(): a handler (status 200), or 404, or 405
  // with the allowed methods ("GET, HEAD, POST").
  struct Match {
    const Handler* handler = nullptr;
    int status = 404;
    std::string allow;
    std::string_view pattern;  // the route matched ("/users/:id"); empty on 404
  };
  // match() looks raw_path up for method. Parameter values go to params,
  // decoded into storage when they had escapes (storage is reserved up
  // front, so the views stay valid while storage is untouched).
  Match match(std::string_view method, std::string_view raw_path, std::vector<Field>& params,
              std::string& storage) const;

 private:
  struct Node;
  std::unique_ptr<Node> root_;
  Handler not_found_;
};

}  // namespace cogo::http
