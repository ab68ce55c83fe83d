// server.cpp: the README's "Writing a server" example.
#include <cogo/http.h>
#include <cogo/http/json.h>
#include <cogo/middleware/access_log.h>

int main() {
  return cogo::run([] {
    using cogo::http::Request, cogo::http::Response, cogo::http::Router;
    cogo::http::Server server({.listen = {{"0.0.0.0:8080"}}});
    server.use(cogo::middleware::access_log());
    server.router().get("/users/:id", [](Request& req, Response& res) {
      cogo::sleep_for(std::chrono::milliseconds(5));  // blocking style: parks, costs no thread
      res.json(200, {{"id", req.param("id")}});       // serialised: valid JSON for any id
    });
    server.router().group("/api", [](Router& api) {  // a sub-router at /api
      api.post("/echo", [](Request& req, Response& res) {
        nlohmann::json in = req.json();  // 415 / 400 for a body that is not JSON
        res.json(200, {{"you_sent", in}, {"route", req.route()}});  // route: "/api/echo"
      });
    });
    server.serve();  // until SIGTERM/SIGINT, then a graceful shutdown
  });
}
