// hello.cpp: the smallest cogo HTTP server (the example in cogo/http.h).
#include <cogo/http.h>

int main() {
  return cogo::run([] {
    cogo::http::Server server({.listen = {{"0.0.0.0:8080"}}});
    server.router().get("/", [](cogo::http::Request&, cogo::http::Response& res) {
      res.text(200, "Hello, World!");
    });
    server.serve();  // until SIGTERM/SIGINT, then a graceful shutdown
  });
}
