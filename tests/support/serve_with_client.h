// serve_with_client.h: a real cogo::http::Server and a client beside it,
// for the tests that drive a Server in-process (http_cancel_test,
// mw_metrics_test, the WebSocket tests' ServerTest):
//   serve_with_client(procs, options, [](Server& s) { routes }, [](int port, Server& s) { client });
// runs the server on a runtime of `procs` Ps (COGO_MAXPROCS), the client on
// a plain thread while it serves, then shuts the server down and returns
// once both are done.
#pragma once

#include <cstdlib>
#include <string>
#include <thread>

#include "cogo/http/server.h"
#include "cogo/runtime.h"

namespace cogo_test {

template <class Setup, class Client>
void serve_with_client(int procs, cogo::http::ServerOptions o, Setup setup, Client client) {
  ::setenv("COGO_MAXPROCS", std::to_string(procs).c_str(), 1);
  cogo::run([&] {
    cogo::http::Server server(o);
    setup(server);
    server.listen();
    const std::string addr = server.addresses().at(0);
    const int port = std::stoi(addr.substr(addr.rfind(':') + 1));
    std::thread t([&] {
      client(port, server);
      server.shutdown();
    });
    server.serve();
    cogo::blocking([&] { t.join(); });
  });
  ::unsetenv("COGO_MAXPROCS");
}

}  // namespace cogo_test
