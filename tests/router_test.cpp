// Router: matching (literal, :param, *catch-all, precedence, decoding),
// registration errors, and 404 / 405 + Allow / HEAD through a real
// connection.
#include "cogo/http/router.h"

#include <gtest/gtest.h>

#include "http_test_util.h"

namespace cogo::http {
namespace {

using testing::ServedPair;

Handler tag(std::string name, std::string* out) {
  return [name, out](Request&, Response&) { *out = name; };
}

struct Found {
  int status;
  const Handler* handler;
  std::vector<std::pair<std::string, std::string>> params;
  std::string allow;
};

Found find(const Router& r, std::string_view method, std::string_view path) {
  std::vector<Field> params;
  std::string storage;
  Router::Match m = r.match(method, path, params, storage);
  Found f{m.status, m.handler, {}, m.allow};
  for (const Field& p : params) f.params.emplace_back(p.name, p.value);
  return f;
}

// RouterOverModels: the engine tests run in every EngineModel (a thread over FdStream,
// goroutines over the netpoller with 1 and with 2 Ps).
class RouterOverModels : public testing::EngineTest {};
INSTANTIATE_TEST_SUITE_P(Models, RouterOverModels, testing::kEngineModels, testing::engine_model_name);

TEST(Router, LiteralParamAndCatchAll) {
  std::string hit;
  Router r;
  r.get("/", tag("root", &hit));
  r.get("/users", tag("users", &hit));
  r.get("/users/:id", tag("user", &hit));
  r.get("/users/:id/posts/:post", tag("post", &hit));
  r.get("/users/me", tag("me", &hit));
  r.get("/static/*path", tag("static", &hit));

  auto f = find(r, "GET", "/");
  ASSERT_EQ(f.status, 200);
  f = find(r, "GET", "/users/42");
  ASSERT_EQ(f.status, 200);
  ASSERT_EQ(f.params.size(), 1u);
  EXPECT_EQ(f.params[0], (std::pair<std::string, std::string>("id", "42")));

  // A literal segment wins over a parameter.
  f = find(r, "GET", "/users/me");
  ASSERT_EQ(f.status, 200);
  EXPECT_TRUE(f.params.empty());

  f = find(r, "GET", "/users/7/posts/99");
  ASSERT_EQ(f.status, 200);
  ASSERT_EQ(f.params.size(), 2u);
  EXPECT_EQ(f.params[0].second, "7");
  EXPECT_EQ(f.params[1].second, "99");

  f = find(r, "GET", "/static/css/site.css");
  ASSERT_EQ(f.status, 200);
  EXPECT_EQ(f.params[0], (std::pair<std::string, std::string>("path", "css/site.css")));
  f = find(r, "GET", "/static/");
  ASSERT_EQ(f.status, 200);
  EXPECT_EQ(f.params[0].second, "");

  EXPECT_EQ(find(r, "GET", "/static").status, 404);
  EXPECT_EQ(find(r, "GET", "/users/").status, 404);  // an empty segment is no :id
  EXPECT_EQ(find(r, "GET", "/users/1/posts").status, 404);
  EXPECT_EQ(find(r, "GET", "/nope").status, 404);
  EXPECT_EQ(find(r, "GET", "").status, 404);
}

TEST(Router, BacktracksFromALiteralDeadEnd) {
  std::string hit;
  Router r;
  r.get("/a/b/c", tag("abc", &hit));
  r.get("/a/:x/d", tag("axd", &hit));
  auto f = find(r, "GET", "/a/b/d");
  ASSERT_EQ(f.status, 200);
  ASSERT_EQ(f.params.size(), 1u);
  EXPECT_EQ(f.params[0].second, "b");
}

TEST(Router, ParametersArePercentDecodedPerSegment) {
  std::string hit;
  Router r;
  r.get("/files/:name", tag("file", &hit));
  r.get("/caf\xC3\xA9", tag("cafe", &hit));
  auto f = find(r, "GET", "/files/a%2Fb%20c");
  ASSERT_EQ(f.status, 200);
  EXPECT_EQ(f.params[0].second, "a/b c");  // an escaped '/' stays in the segment
  EXPECT_EQ(find(r, "GET", "/caf%C3%A9").status, 200);
}

TEST(Router, MethodNotAllowedListsAllow) {
  std::string hit;
  Router r;
  r.get("/thing", tag("get", &hit));
  r.post("/thing", tag("post", &hit));
  r.del("/only-delete", tag("del", &hit));
  auto f = find(r, "PUT", "/thing");
  EXPECT_EQ(f.status, 405);
  EXPECT_EQ(f.allow, "GET, POST, HEAD");
  f = find(r, "GET", "/only-delete");
  EXPECT_EQ(f.status, 405);
  EXPECT_EQ(f.allow, "DELETE");
}

TEST(Router, HeadFallsBackToGetUnlessRegistered) {
  std::string hit;
  Router r;
  r.get("/a", tag("get-a", &hit));
  r.get("/b", tag("get-b", &hit));
  r.handle("HEAD", "/b", tag("head-b", &hit));
  auto f = find(r, "HEAD", "/a");
  ASSERT_EQ(f.status, 200);
  f = find(r, "HEAD", "/b");
  ASSERT_EQ(f.status, 200);
  EXPECT_NE(f.handler, find(r, "GET", "/b").handler);
  EXPECT_EQ(find(r, "HEAD", "/a").handler, find(r, "GET", "/a").handler);
}

TEST(Router, RegistrationErrors) {
  Router r;
  Handler h = [](Request&, Response&) {};
  r.get("/users/:id", h);
  EXPECT_THROW(r.get("/users/:id", h), std::invalid_argument);     // duplicate
  EXPECT_THROW(r.post("/users/:name", h), std::invalid_argument);  // param name conflict
  EXPECT_THROW(r.get("no-slash", h), std::invalid_argument);
  EXPECT_THROW(r.get("/a/:", h), std::invalid_argument);
  EXPECT_THROW(r.get("/a/*rest/more", h), std::invalid_argument);  // catch-all not last
  EXPECT_THROW(r.get("/a/*", h), std::invalid_argument);
  EXPECT_THROW(r.handle("BAD METHOD", "/x", h), std::invalid_argument);
  EXPECT_THROW(r.get("/x", Handler()), std::invalid_argument);
  EXPECT_NO_THROW(r.post("/users/:id", h));  // same param name, other method
}

// Through a connection: 404, 405 + Allow, HEAD without a body, params.
TEST_P(RouterOverModels, ServesThroughAConnection) {
  Router r;
  r.get("/users/:id",
        [](Request& req, Response& res) { res.text(200, "user " + std::string(req.param("id"))); });
  r.post("/users/:id", [](Request&, Response& res) { res.text(201, "created"); });
  ServedPair pair(r.handler());
  auto& c = pair.client();

  c.send("GET /users/a%20b HTTP/1.1\r\nHost: h\r\n\r\n");
  auto res = c.read_response();
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, "user a b");

  c.send("DELETE /users/1 HTTP/1.1\r\nHost: h\r\n\r\n");
  res = c.read_response();
  EXPECT_EQ(res.status, 405);
  EXPECT_EQ(res.header("Allow"), "GET, POST, HEAD");

  c.send("GET /nothing/here HTTP/1.1\r\nHost: h\r\n\r\n");
  res = c.read_response();
  EXPECT_EQ(res.status, 404);
  EXPECT_EQ(res.body, "Not Found\n");

  c.send("HEAD /users/12345 HTTP/1.1\r\nHost: h\r\n\r\n");
  res = c.read_response(/*head_request=*/true);
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.header("Content-Length"), std::to_string(std::string("user 12345").size()));

  // The connection is still in sync after the HEAD: the next response is
  // the next request's.
  c.send("GET /users/z HTTP/1.1\r\nHost: h\r\n\r\n");
  res = c.read_response();
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, "user z");
}

// req.route() is the matched pattern, seen by a middleware after next():
// the handler's route, the route of a 405, nothing for a 404.
TEST_P(RouterOverModels, RouteIsTheMatchedPattern) {
  Router r;
  r.get("/users/:id", [](Request& req, Response& res) { res.text(200, std::string(req.route())); });
  r.get("/files/*path", [](Request&, Response& res) { res.text(200, "file"); });
  std::vector<std::string> seen;
  MiddlewareChain chain;
  chain.use([&](Request& req, Response& res, const Next& next) {
    seen.emplace_back(req.route());  // before: not routed yet
    next(req, res);
    seen.emplace_back(req.route());
  });
  ServedPair pair(chain.then(r.handler()));
  auto& c = pair.client();
  c.send("GET /users/7 HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(c.read_response().body, "/users/:id");
  c.send("GET /files/a/b.txt HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(c.read_response().status, 200);
  c.send("DELETE /users/7 HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(c.read_response().status, 405);
  c.send("GET /nope HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(c.read_response().status, 404);
  const std::vector<std::string> want = {"", "/users/:id", "", "/files/*path",
                                         "", "/users/:id", "", ""};
  EXPECT_EQ(seen, want);
}

TEST_P(RouterOverModels, CustomNotFound) {
  Router r;
  r.not_found([](Request& req, Response& res) { res.text(404, "no " + std::string(req.path())); });
  ServedPair pair(r.handler());
  pair.client().send("GET /x HTTP/1.1\r\nHost: h\r\n\r\n");
  auto res = pair.client().read_response();
  EXPECT_EQ(res.status, 404);
  EXPECT_EQ(res.body, "no /x");
}

TEST_P(RouterOverModels, AppliesInOrderFirstOutermost) {
  std::string trace;
  MiddlewareChain chain;
  chain.use([&](Request& req, Response& res, const Next& next) {
    trace += "a(";
    next(req, res);
    trace += ")a";
  });
  chain.use([&](Request& req, Response& res, const Next& next) {
    trace += "b(";
    res.set_header("X-B", "1");
    next(req, res);
    trace += ")b";
  });
  chain.use([&](Request& req, Response& res, const Next& next) {
    if (req.path() == "/blocked") {
      res.text(403, "blocked");
      return;  // answers without calling the rest
    }
    next(req, res);
  });
  Handler h = chain.then([&](Request&, Response& res) {
    trace += "h";
    res.text(200, "ok");
  });
  ServedPair pair(h);
  pair.client().send("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  auto res = pair.client().read_response();
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.header("X-B"), "1");
  EXPECT_EQ(trace, "a(b(h)b)a");
  pair.client().send("GET /blocked HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(pair.client().read_response().status, 403);
}

// Groups, with() and mounts (chi's Route/Group/With/Mount).

// trace_mw() appends name to *trace before and after the rest of the chain.
Middleware trace_mw(std::string name, std::string* trace) {
  return [name, trace](Request& req, Response& res, const Next& next) {
    *trace += name + "(";
    next(req, res);
    *trace += ")";
  };
}

TEST_P(RouterOverModels, WithWrapsOnlyItsRoutes) {
  std::string trace;
  Router r;
  r.get("/plain", [&](Request&, Response& res) { res.text(200, "plain"); });
  r.with(trace_mw("a", &trace)).with(trace_mw("b", &trace)).get("/wrapped", [&](Request&, Response& res) {
    trace += "h";
    res.text(200, "wrapped");
  });
  ServedPair pair(r.handler());
  auto& c = pair.client();
  c.send("GET /plain HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(c.read_response().body, "plain");
  EXPECT_EQ(trace, "");
  c.send("GET /wrapped HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(c.read_response().body, "wrapped");
  EXPECT_EQ(trace, "a(b(h))");
}

TEST_P(RouterOverModels, InlineGroupUseAppliesToItsRoutesOnly) {
  std::string trace;
  Router r;
  r.group([&](Router& g) {
    g.use(trace_mw("auth", &trace));
    g.get("/admin/stats", [&](Request& req, Response& res) { res.text(200, std::string(req.route())); });
    EXPECT_THROW(g.use(trace_mw("late", &trace)), std::logic_error);
  });
  r.get("/public", [](Request&, Response& res) { res.text(200, "public"); });
  ServedPair pair(r.handler());
  auto& c = pair.client();
  c.send("GET /admin/stats HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(c.read_response().body, "/admin/stats");
  EXPECT_EQ(trace, "auth()");
  c.send("GET /public HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(c.read_response().body, "public");
  EXPECT_EQ(trace, "auth()");
}

// group(prefix): a sub-router; its use() wraps its 404s and 405s too, and
// req.route() is the whole pattern.
TEST_P(RouterOverModels, PrefixGroupIsAMountedSubRouter) {
  std::string trace;
  Router r;
  r.use(trace_mw("root", &trace));
  r.group("/api", [&](Router& api) {
    api.use(trace_mw("api", &trace));
    api.get("/orders/:id", [](Request& req, Response& res) {
      res.text(200, std::string(req.route()) + " " + std::string(req.param("id")) + " " +
                        std::string(req.path()) + " " + std::string(req.mount_prefix()));
    });
    api.get("/", [](Request& req, Response& res) { res.text(200, "index " + std::string(req.route())); });
  });
  std::vector<std::string> routes;
  MiddlewareChain outer;
  outer.use([&](Request& req, Response& res, const Next& next) {
    next(req, res);
    routes.emplace_back(req.route());
    routes.emplace_back(req.path());  // restored after the mount
  });
  ServedPair pair(outer.then(r.handler()));
  auto& c = pair.client();
  c.send("GET /api/orders/a%20b HTTP/1.1\r\nHost: h\r\n\r\n");
  auto res = c.read_response();
  EXPECT_EQ(res.body, "/api/orders/:id a b /orders/a b /api");
  EXPECT_EQ(trace, "root(api())");
  c.send("GET /api/ HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(c.read_response().body, "index /api/");
  c.send("GET /api HTTP/1.1\r\nHost: h\r\n\r\n");  // the prefix itself is the sub-router's "/"
  EXPECT_EQ(c.read_response().body, "index /api/");
  trace.clear();
  c.send("OPTIONS /api/orders/1 HTTP/1.1\r\nHost: h\r\n\r\n");
  res = c.read_response();
  EXPECT_EQ(res.status, 405);
  EXPECT_EQ(res.header("Allow"), "GET, HEAD");
  EXPECT_EQ(trace, "root(api())");  // the group's middleware saw the 405
  trace.clear();
  c.send("GET /api/nothing HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(c.read_response().status, 404);
  EXPECT_EQ(trace, "root(api())");
  c.send("GET /apix HTTP/1.1\r\nHost: h\r\n\r\n");  // a prefix matches whole segments
  EXPECT_EQ(c.read_response().status, 404);
  const std::vector<std::string> want = {"/api/orders/:id", "/api/orders/a b", "/api/", "/api/",
                                         "/api/", "/api", "/api/orders/:id", "/api/orders/1",
                                         "", "/api/nothing", "", "/apix"};
  EXPECT_EQ(routes, want);
}

TEST_P(RouterOverModels, SubRouterFallsBackToTheParentNotFound) {
  Router r;
  r.not_found([](Request& req, Response& res) {
    res.text(404, "parent 404 for " + std::string(req.mount_prefix()) + "|" + std::string(req.path()));
  });
  r.group("/a", [](Router& a) { a.get("/x", [](Request&, Response& res) { res.text(200, "x"); }); });
  r.group("/b", [](Router& b) {
    b.not_found([](Request&, Response& res) { res.text(404, "b's own"); });
  });
  ServedPair pair(r.handler());
  auto& c = pair.client();
  c.send("GET /a/y HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(c.read_response().body, "parent 404 for /a|/y");
  c.send("GET /b/y HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(c.read_response().body, "b's own");
}

// A mounted handler sees the path without the prefix (Go's StripPrefix),
// whatever the method; nested mounts compose prefix and route.
TEST_P(RouterOverModels, MountStripsThePrefixForAnyHandler) {
  auto show = [](Request& req, Response& res) {
    res.text(200, std::string(req.method()) + " [" + std::string(req.mount_prefix()) + "][" +
                      std::string(req.raw_path()) + "][" + std::string(req.path()) + "] " +
                      std::string(req.route()));
  };
  Router r;
  r.mount("/static/", show);  // a trailing '/' is the same prefix
  Router users;
  users.get("/", show);
  Router files;
  files.mount("/raw", show);
  users.mount("/files", std::move(files));
  r.mount("/users/:uid", std::move(users));
  ServedPair pair(r.handler());
  auto& c = pair.client();
  auto get = [&](const std::string& line) {
    c.send(line + " HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
    return c.read_response().body;
  };
  EXPECT_EQ(get("GET /static/css/a%20b.css"), "GET [/static][/css/a%20b.css][/css/a b.css] /static/*");
  EXPECT_EQ(get("DELETE /static/x"), "DELETE [/static][/x][/x] /static/*");
  EXPECT_EQ(get("GET /static/"), "GET [/static][/][/] /static/*");
  EXPECT_EQ(get("GET /static"), "GET [/static][][] /static/*");
  EXPECT_EQ(get("GET /st%61tic/q"), "GET [/st%61tic][/q][/q] /static/*");
  EXPECT_EQ(get("GET /users/7/"), "GET [/users/7][/][/] /users/:uid/");
  EXPECT_EQ(get("GET /users/7/files/raw/a/%41"),
            "GET [/users/7/files/raw][/a/%41][/a/A] /users/:uid/files/raw/*");
}

TEST(Router, MountOwnsItsSubtree) {
  Handler h = [](Request&, Response&) {};
  Router r;
  r.get("/api/health", h);
  EXPECT_THROW(r.mount("/api", h), std::invalid_argument);  // routes live under it
  r.mount("/static", h);
  EXPECT_THROW(r.get("/static/x", h), std::invalid_argument);
  EXPECT_THROW(r.get("/static", h), std::invalid_argument);
  EXPECT_THROW(r.mount("/static", h), std::invalid_argument);
  EXPECT_THROW(r.mount("static", h), std::invalid_argument);
  EXPECT_THROW(r.mount("/a/*rest", h), std::invalid_argument);
  EXPECT_NO_THROW(r.get("/staticx", h));
  auto f = find(r, "PATCH", "/static/deep/er");
  EXPECT_EQ(f.status, 200);
}

TEST_P(RouterOverModels, RootUseWrapsNotFound) {
  std::string trace;
  Router r;
  r.use(trace_mw("root", &trace));
  r.get("/x", [](Request&, Response& res) { res.text(200, "x"); });
  ServedPair pair(r.handler());
  pair.client().send("GET /missing HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(pair.client().read_response().status, 404);
  EXPECT_EQ(trace, "root()");
}

}  // namespace
}  // namespace cogo::http
