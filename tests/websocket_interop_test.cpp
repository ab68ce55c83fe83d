// websocket_interop_test: cogo-server's WebSocket routes against an
// independent client, Python's websockets (python3-websockets), which
// checks every frame it gets against RFC 6455 and RFC 7692: echo over ws://
// and wss:// (the TLS listener), with and without permessage-deflate,
// fragments, pings both ways (the server's keep-alive included), close
// codes, and the chat room's broadcast — in both connection models.
// The checks are tests/websocket/interop.py.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "support/server_process.h"

namespace {

using cogo_test::run_command;
using cogo_test::ServerProcess;

// cert_dir() holds a throwaway self-signed certificate for the TLS listener.
const std::string& cert_dir() {
  static const std::string dir = [] {
    const std::string d = "/tmp/cogo_ws_interop_" + std::to_string(getpid());
    run_command(
        "mkdir -p " + d +
        " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
        "-subj /CN=localhost -keyout " +
        d + "/key.pem -out " + d + "/cert.pem 2>/dev/null");
    return d;
  }();
  return dir;
}

class Interop : public ::testing::TestWithParam<const char*> {};
INSTANTIATE_TEST_SUITE_P(Models, Interop, ::testing::Values("goroutine", "thread"));

// The server also answers plain HTTP and HTTPS requests (keep-alive, a body)
// before the WebSockets, and then shuts down on SIGTERM: exit status 0. In the
// ASan build (scripts/test.sh) LeakSanitizer checks cogo-server at that exit,
// and a leak makes the status 23 with a "LeakSanitizer" report in its output:
// a server that served HTTP, TLS and WebSocket traffic and shut down leaks
// nothing.
TEST_P(Interop, PythonWebsocketsAgainstEchoAndChat) {
  ServerProcess srv({"--listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:0", "--tls-cert",
                     cert_dir() + "/cert.pem", "--tls-key", cert_dir() + "/key.pem", "--model",
                     GetParam(), "--ws-deflate", "--ws-ping-interval", "300ms"});
  const int port = srv.port(0);
  const int tls_port = srv.port(1);
  ASSERT_GT(port, 0);
  ASSERT_GT(tls_port, 0);
  for (const std::string base : {"http://127.0.0.1:" + std::to_string(port),
                                 "https://127.0.0.1:" + std::to_string(tls_port)}) {
    // Two requests on one connection, the second with a body.
    EXPECT_EQ(run_command("curl -sk " + base + "/ --next -sk --data-binary posted " + base +
                          "/echo"),
              "Hello, World!posted");
  }
  int status = 0;
  const std::string out =
      run_command("timeout 120 /usr/bin/python3 " + std::string(COGO_SOURCE_DIR) +
                      "/tests/websocket/interop.py " + std::to_string(port) + " " +
                      std::to_string(tls_port) + " 2>&1",
                  &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("all ok"), std::string::npos) << out;
  EXPECT_EQ(srv.stop(), 0) << srv.output();
  EXPECT_EQ(srv.output().find("LeakSanitizer"), std::string::npos) << srv.output();
}

}  // namespace
