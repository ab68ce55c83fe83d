// admin.cpp: /debug/vars and /debug/goroutines (cogo/http/admin.h). The
// figures are read when asked for, from cogo::stats() and Server::counters():
// nothing here counts on the request path.
#include "cogo/http/admin.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "cogo/cancel.h"
#include "cogo/http/request.h"
#include "cogo/http/response.h"
#include "cogo/introspect.h"
#include "cogo/metrics.h"

namespace cogo::http {

namespace {

// TcpExt: the kernel's listen-queue counters for this network namespace
// (/proc/net/netstat, every listener in it, not only this server's):
// ListenOverflows counts connections dropped because an accept queue was
// full, ListenDrops every connection dropped at a listener (overflows
// included).
struct TcpExt {
  bool ok = false;
  uint64_t listen_overflows = 0;
  uint64_t listen_drops = 0;
};

TcpExt read_tcp_ext() {
  TcpExt t;
  std::ifstream f("/proc/net/netstat");
  std::string names, values;
  while (std::getline(f, names) && std::getline(f, values)) {
    if (names.rfind("TcpExt:", 0) != 0) continue;
    std::istringstream n(names), v(values);
    std::string name, value;
    while (n >> name && v >> value) {
      if (name == "ListenOverflows") t.listen_overflows = std::stoull(value), t.ok = true;
      if (name == "ListenDrops") t.listen_drops = std::stoull(value);
    }
    break;
  }
  return t;
}

}  // namespace

std::string debug_vars(const Server& server) {
  const RuntimeStats rt = cogo::stats();
  const ServerCounters sc = server.counters();
  nlohmann::json procs = nlohmann::json::array();
  nlohmann::json run_queues = nlohmann::json::array();
  for (const ProcessorStats& p : rt.procs) {
    procs.push_back({{"id", p.id},
                     {"run_queue", p.run_queue},
                     {"runnext", p.has_runnext},
                     {"schedules", p.schedules},
                     {"steals", p.steals},
                     {"timers", p.timers}});
    run_queues.push_back(p.run_queue + (p.has_runnext ? 1 : 0));
  }
  nlohmann::json listeners = nlohmann::json::array();
  for (const ListenerStats& l : server.listener_stats()) {
    listeners.push_back({{"address", l.address}, {"queued", l.queued}, {"backlog", l.backlog}});
  }
  const TcpExt tcp = read_tcp_ext();
  nlohmann::json cancelled = nlohmann::json::object();
  for (int r = 1; r < 5; ++r) {
    cancelled[std::string(to_string(static_cast<CancelReason>(r)))] = sc.requests_cancelled[r];
  }
  const nlohmann::json vars = {
      // The runtime.
      {"goroutines", rt.goroutines},
      {"gomaxprocs", rt.gomaxprocs},
      {"threads", rt.threads},
      {"idle_threads", rt.idle_threads},
      {"spawned", rt.spawned},
      {"switches", rt.context_switches},
      {"parks", rt.parks},
      {"steals", rt.steals},
      {"retakes", rt.retakes},
      {"global_run_queue", rt.global_run_queue},
      {"run_queues", run_queues},
      {"procs", procs},
      {"stacks",
       {{"in_use", rt.stacks_in_use}, {"cached", rt.stacks_cached}, {"size_bytes", rt.stack_size}}},
      // The server.
      {"model", model_name(server.options().model)},
      {"accepted", sc.accepted},
      {"connections_active", sc.active},
      {"connections_idle", sc.idle_parked},
      {"connections_upgraded", sc.upgraded},
      {"tls_handshake_failures", sc.tls_handshake_failures},
      {"requests_in_flight", sc.requests_in_flight},
      {"requests_cancelled", cancelled},
      {"listeners", listeners},
      {"listen_overflows", tcp.listen_overflows},
      {"listen_drops", tcp.listen_drops},
  };
  return vars.dump(2) + "\n";
}

void add_admin_routes(Router& router, const Server& server) {
  router.get("/debug/vars", [&server](Request&, Response& res) {
    res.set_header("Cache-Control", "no-store");
    res.json(200, debug_vars(server));
  });
  router.get("/metrics", [&server](Request&, Response& res) {
    std::string text = cogo::metrics::default_registry().expose();
    cogo::metrics::Writer w(text);
    const ServerCounters sc = server.counters();
    w.gauge("cogo_connections_active", "Connections open now, idle keep-alive ones included.",
            static_cast<double>(sc.active));
    w.gauge("cogo_connections_idle", "Keep-alive connections waiting in the poller between requests.",
            static_cast<double>(sc.idle_parked));
    w.gauge("cogo_connections_upgraded",
            "Connections a handler took over (WebSocket) and still holds.",
            static_cast<double>(sc.upgraded));
    w.counter("cogo_connections_accepted_total", "Connections accepted.",
              static_cast<double>(sc.accepted));
    w.counter("cogo_tls_handshake_failures_total", "TLS handshakes that failed.",
              static_cast<double>(sc.tls_handshake_failures));
    const std::vector<ListenerStats> listeners = server.listener_stats();
    for (const ListenerStats& l : listeners) {
      w.gauge("cogo_listen_queue_length",
              "Connections the kernel completed that the server has not accepted yet.",
              static_cast<double>(l.queued), {{"listener", l.address}});
    }
    for (const ListenerStats& l : listeners) {
      w.gauge("cogo_listen_queue_limit", "The listener's accept queue limit (its backlog).",
              static_cast<double>(l.backlog), {{"listener", l.address}});
    }
    if (const TcpExt tcp = read_tcp_ext(); tcp.ok) {
      w.counter("cogo_tcp_listen_overflows_total",
                "Connections the kernel dropped because an accept queue was full (TcpExt "
                "ListenOverflows: every listener of the network namespace).",
                static_cast<double>(tcp.listen_overflows));
      w.counter("cogo_tcp_listen_drops_total",
                "Connections the kernel dropped at a listener, overflows included (TcpExt "
                "ListenDrops: every listener of the network namespace).",
                static_cast<double>(tcp.listen_drops));
    }
    w.gauge("cogo_http_requests_in_flight", "Requests whose handler is running now.",
            static_cast<double>(sc.requests_in_flight));
    for (int r = 1; r < 5; ++r) {
      w.counter("cogo_http_requests_cancelled_total",
                "Requests whose context was cancelled, by reason (client_gone: the client left; "
                "deadline: the handler timeout; shutdown: the grace ran out).",
                static_cast<double>(sc.requests_cancelled[r]),
                {{"reason", std::string(to_string(static_cast<CancelReason>(r)))}});
    }
    res.set_header("Cache-Control", "no-store");
    res.set_header("Content-Type", cogo::metrics::kContentType);
    res.write(text);
  });
  router.get("/debug/goroutines", [](Request&, Response& res) {
    res.set_header("Cache-Control", "no-store");
    res.text(200, cogo::goroutine_dump());
  });
}

AdminServer::AdminServer(std::string address, const Server& reported) {
  for (const ListenSpec& l : reported.options().listen) {
    if (l.address == address && !address.ends_with(":0")) {
      throw std::invalid_argument("admin listen " + address +
                                  ": the same address as a public listener — give the admin "
                                  "endpoints a port of their own (e.g. 127.0.0.1:9090)");
    }
  }
  ServerOptions o;
  o.listen = {{std::move(address), false}};
  o.model = Model::goroutine;
  o.handle_signals = false;
  o.shutdown_grace = std::chrono::milliseconds(1000);
  server_ = std::make_unique<Server>(std::move(o));
  add_admin_routes(server_->router(), reported);
}

AdminServer::~AdminServer() = default;

AdminServer& AdminServer::use(Middleware middleware) {
  server_->use(std::move(middleware));
  return *this;
}

void AdminServer::listen() { server_->listen(); }
std::vector<std::string> AdminServer::addresses() const { return server_->addresses(); }
void AdminServer::serve() { server_->serve(); }
void AdminServer::shutdown() { server_->shutdown(); }

}  // namespace cogo::http
