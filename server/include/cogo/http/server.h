// cogo/http/server.h: an HTTP/1.1 server — listeners, a router, middleware,
// and one of two connection models running the same handlers:
//   goroutine - a goroutine per connection on the netpoller; a keep-alive
//               connection waiting for its next request holds no goroutine
//               and no buffer (it waits in the poller).
//   thread    - an OS thread and a blocking socket per connection (the
//               baseline cogo is measured against).
//
//   cogo::run([] {
//     cogo::http::Server server({.listen = {{"0.0.0.0:8080"}}});
//     server.router().get("/", [](cogo::http::Request&, cogo::http::Response& res) {
//       res.text(200, "Hello, World!");
//     });
//     server.serve();  // until SIGTERM/SIGINT, then a graceful shutdown
//   });
// (examples/hello.cpp; <cogo/http.h> includes everything it needs.)
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cogo/http/handler.h"
#include "cogo/http/options.h"
#include "cogo/http/router.h"
#include "cogo/http/tls_config.h"
#include "cogo/model.h"

namespace cogo::http {

using cogo::Model;
using cogo::model_name;

struct ListenSpec {
  std::string address;  // "0.0.0.0:8080", "[::]:8443", "127.0.0.1:0", "unix:/run/x.sock"
  bool tls = false;     // serve HTTPS on this listener (needs tls.cert_file/tls.key_file)
};

struct ServerOptions {
  std::vector<ListenSpec> listen;
  Model model = Model::goroutine;
  HttpOptions http{};
  // The certificate, key and handshake timeout of every TLS listener.
  TlsConfig tls{};
  // Graceful shutdown: how long in-flight requests may take to finish.
  std::chrono::milliseconds shutdown_grace{10'000};
  // SO_REUSEPORT on every listener (several processes share a port).
  bool reuse_port = false;
  // From listen() on, SIGTERM or SIGINT requests a graceful shutdown; serve()
  // returns once it is done.
  bool handle_signals = true;
  // Thread model: stack reserved per connection thread (the goroutine
  // model's default stack is the same size, so the comparison is fair).
  std::size_t thread_stack_bytes = 256 * 1024;
};

struct ServerCounters {
  uint64_t accepted = 0;       // connections accepted
  uint64_t active = 0;         // connections open now (idle ones included)
  uint64_t idle_parked = 0;    // goroutine model: connections waiting in the poller
  uint64_t tls_handshake_failures = 0;
  uint64_t requests_in_flight = 0;  // handlers running now (upgraded ones excluded)
  uint64_t upgraded = 0;  // connections a handler took over (WebSocket) and still holds
  // requests whose context was cancelled, by cogo::CancelReason (index 0,
  // none, unused): cancelled, deadline (handler_timeout), client_gone, shutdown
  uint64_t requests_cancelled[5] = {};
};

// ListenerStats: one TCP listener's accept queue, read from the kernel
// (TCP_INFO on the listening socket) when asked: connections the kernel has
// completed and the server not yet accepted, and the most it holds (the
// listen backlog). Past that the kernel drops new connections and counts
// them in TcpExt ListenOverflows (cogo_tcp_listen_overflows_total).
struct ListenerStats {
  std::string address;
  uint32_t queued = 0;
  uint32_t backlog = 0;
};

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // router() is where routes go; set them up before serve().
  Router& router();
  // use() adds a middleware around the router; the first added is outermost.
  Server& use(Middleware middleware);

  // listen() opens every listener now (serve() does it if needed), so that
  // addresses() is known — port 0 picks a free port. Throws a clear error
  // naming the address ("listen 0.0.0.0:80: permission denied — ...").
  void listen();
  // addresses() is where the listeners listen, in ListenSpec order.
  std::vector<std::string> addresses() const;

  // serve() accepts and serves until shutdown() (or SIGTERM/SIGINT), then
  // shuts down gracefully: stop accepting, finish in-flight requests (up to
  // shutdown_grace), close idle keep-alive connections, return. Must run on a
  // goroutine (inside cogo::run) in either model.
  void serve();
  // shutdown() asks serve() to shut down. Callable from any thread.
  void shutdown();

  ServerCounters counters() const;
  // listener_stats() is each TCP listener's accept queue (Unix-domain ones
  // are left out); empty once the shutdown began.
  std::vector<ListenerStats> listener_stats() const;
  const ServerOptions& options() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace cogo::http
