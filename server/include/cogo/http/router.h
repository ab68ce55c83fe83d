// cogo/http/router.h: Router, method + path dispatch, with groups,
// per-route middleware and mounted sub-handlers (chi's Route/Group/With/
// Mount).
//
//   Router r;
//   r.use(request_id());                          // around everything r serves, 404s included
//   r.get("/users/:id", get_user);
//   r.with(body_limit(64 * 1024)).post("/comments", add_comment);   // this route only
//   r.group("/api", [](Router& api) {             // a sub-router mounted at /api
//     api.use(basic_auth(users));                 // around everything under /api
//     api.get("/orders/:id", get_order);          // req.route() == "/api/orders/:id"
//   });
//   r.mount("/static", serve_dir("public"));      // a handler for /static and below
//
// A pattern is a '/'-separated list of segments: literal text, ":name" (one
// whole segment) or, last only, "*name" (the rest of the path, maybe empty).
// Literal segments win over parameters, parameters over catch-alls. Paths
// are matched segment by segment on the raw target and parameters are
// percent-decoded, so "/users/a%2Fb" gives id "a/b". No match: 404; the
// path matches but not the method: 405 with Allow. HEAD uses the GET
// handler unless one was registered for HEAD.
//
// Mounts. mount(prefix, h) hands every request for prefix or below to h,
// whatever its method, with the prefix taken off the path as Go's
// http.StripPrefix does: while h runs, req.raw_path() and req.path() are the
// rest ("/static/css/a.css" under "/static" is "/css/a.css"; "/static/" is
// "/"; "/static" itself is "", which a file server answers with a redirect
// to "<prefix>/"), and req.mount_prefix() is the raw prefix taken off
// ("/static"), so mount_prefix() + raw_path() is always the raw path that
// came in. After h returns they are restored (a middleware outside sees the
// whole path again). A mounted prefix owns everything below it: a route
// under it, or a mount over existing routes, throws. The prefix may hold
// parameters ("/users/:id" + a sub-router reading req.param("id")).
//
// req.route() through groups and mounts is the whole pattern: a sub-router
// mounted at "/api" with the route "/orders/:id" reports "/api/orders/:id";
// a plain handler mounted at "/static" reports "/static/*"; a 404 inside a
// sub-router reports "".
#pragma once

#include <functional>
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
  // for a malformed pattern, a duplicate, a parameter whose name differs
  // from another route's parameter at the same place, or a pattern under a
  // mounted prefix.
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

  // use() adds a middleware, the first added outermost. On a router (one
  // made by Router() or by group(prefix, ...)) it wraps every request the
  // router serves: its routes, mounts, 404s and 405s (a CORS preflight to
  // a path with only GET still passes through it). On an inline view (from
  // with() or group(fn)) it wraps the routes added through that view after
  // it; adding one after such a route throws std::logic_error (the route's
  // chain is fixed when it is added).
  Router& use(Middleware middleware);

  // with() is an inline view of this router whose routes (and mounts) run
  // inside middleware, on top of this view's own: chi's With.
  //   r.with(timeout(2s)).with(no_cache()).get("/report", report);
  Router with(Middleware middleware);
  // group(fn) calls fn with an inline view of this router: routes fn adds
  // get the middlewares fn use()s, other routes do not (chi's Group).
  Router& group(const std::function<void(Router&)>& fn);
  // group(prefix, fn) calls fn with a new sub-router and mounts it at
  // prefix (chi's Route): its use() wraps everything under prefix, 404s
  // and 405s included; its 404s are this router's not_found() unless it
  // sets its own.
  Router& group(std::string_view prefix, const std::function<void(Router&)>& fn);

  // mount() hands prefix and every path below it to h, any method, with
  // the prefix stripped (see the top of this file). Throws
  // std::invalid_argument when routes already live at or under prefix.
  Router& mount(std::string_view prefix, Handler h);
  // mount(prefix, sub) mounts a sub-router, which this router then owns:
  // its 404s fall back to this router's not_found() as in group().
  Router& mount(std::string_view prefix, Router sub);

  // not_found() replaces the default 404 handler.
  Router& not_found(Handler h);

  // serve() routes one request: runs the use()d middlewares around the
  // dispatch, which sets the path parameters and runs the matching
  // handler, or answers 404 / 405.
  void serve(Request& req, Response& res) const;
  // handler() is serve() as a Handler; it shares the routes (this Router
  // may be moved or destroyed after).
  Handler handler() const;

  // Match is the outcome of match(): a handler (status 200), or 404, or 405
  // with the allowed methods ("GET, HEAD, POST"). For a mount, mounted is
  // true and prefix_length is how many characters of the raw path the
  // prefix took.
  struct Match {
    const Handler* handler = nullptr;
    int status = 404;
    std::string allow;
    std::string_view pattern;  // the route matched ("/users/:id", "/static/*"); empty on 404
    bool mounted = false;
    std::size_t prefix_length = 0;
  };
  // match() looks raw_path up for method. Parameter values go to params,
  // decoded into storage when they had escapes (storage is reserved up
  // front, so the views stay valid while storage is untouched).
  Match match(std::string_view method, std::string_view raw_path, std::vector<Field>& params,
              std::string& storage) const;

  struct Tree;

 private:
  class MountScope;
  Router(std::shared_ptr<Tree> tree, std::vector<Middleware> chain);
  static void dispatch(const Tree& tree, Request& req, Response& res);
  static void serve_tree(const Tree& tree, Request& req, Response& res);
  Handler wrap(Handler h);

  std::shared_ptr<Tree> tree_;
  // An inline view's middlewares (with(), group(fn)), applied to each route
  // it adds; empty for the router itself.
  std::vector<Middleware> chain_;
  bool view_ = false;
  bool added_ = false;  // a view added a route (use() is closed)
};

}  // namespace cogo::http
