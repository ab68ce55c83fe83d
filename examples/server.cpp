// server.cpp: the README's "Writing a server" example.
#include <cogo/http.h>
#include <cogo/middleware/access_log.h>

int main() {
  return cogo::run([] {
    cogo::http::Server server({.listen = {{"0.0.0.0:8080"}}});
    server.use(cogo::middleware::access_log());
    server.router().get("/users/:id", [](cogo::http::Request& req, cogo::http::Response& res) {
      cogo::sleep_for(std::chrono::milliseconds(5));     // blocking style: parks, costs no thread
      res.json(200, "{\"id\": \"" + std::string(req.param("id")) + "\"}");
    });
    server.serve();  // until SIGTERM/SIGINT, then a graceful shutdown
  });
}
