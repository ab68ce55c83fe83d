// cogo/http/admin.h: the operator's endpoints, served on a listener of their
// own (never the public one), all read from the same counters:
//   GET /debug/vars        JSON: the runtime's stats and the server's counters
//                          (schema in the README, "Operations")
//   GET /debug/goroutines  the goroutine dump as text (what SIGQUIT prints)
//   GET /metrics           Prometheus text format 0.0.4: cogo::metrics'
//                          default registry (runtime, process, the user's
//                          own) and the server's connection counters
//
//   cogo::http::Server api(options);
//   cogo::http::AdminServer admin("127.0.0.1:9090", api);
//   admin.listen();
//   cogo::go([&] { admin.serve(); });
//   api.serve();
//   admin.shutdown();
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cogo/http/router.h"
#include "cogo/http/server.h"

namespace cogo::http {

// debug_vars() is the /debug/vars document for server (pretty JSON).
std::string debug_vars(const Server& server);

// add_admin_routes() adds the endpoints above to router, reporting server,
// which must outlive the router.
void add_admin_routes(Router& router, const Server& server);

// AdminServer: a small goroutine-model HTTP server on its own address that
// serves only the admin routes for `reported`. It installs no signal hook:
// the caller shuts it down after the server it reports on.
class AdminServer {
 public:
  // AdminServer() throws std::invalid_argument when address is also one of
  // reported's own listen addresses (the admin port must not be public).
  AdminServer(std::string address, const Server& reported);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // use() adds a middleware around the admin routes (basic auth, a log);
  // before serve().
  AdminServer& use(Middleware middleware);
  void listen();
  std::vector<std::string> addresses() const;
  // serve() serves until shutdown(). Must run on a goroutine.
  void serve();
  // shutdown() asks serve() to return. Callable from any thread.
  void shutdown();

 private:
  std::unique_ptr<Server> server_;
};

}  // namespace cogo::http
