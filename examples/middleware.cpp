// middleware.cpp: middleware/README.md's example stack (it keeps compiling).
#include <cogo/http.h>
#include <cogo/middleware/access_log.h>
#include <cogo/middleware/basic_auth.h>
#include <cogo/middleware/concurrency_limit.h>
#include <cogo/middleware/cors.h>
#include <cogo/middleware/heartbeat.h>
#include <cogo/middleware/rate_limit.h>
#include <cogo/middleware/real_ip.h>
#include <cogo/middleware/recover.h>
#include <cogo/middleware/request_id.h>

int main() {
  return cogo::run([] {
    namespace mw = cogo::middleware;
    mw::RealIpOptions ip;
    ip.trusted = {"10.0.0.0/8"};  // the load balancers
    mw::AccessLogOptions log;
    log.format = mw::AccessLogFormat::json;
    log.file = "access.log";
    mw::CorsOptions cors;
    cors.allowed_origins = {"https://app.example.com"};
    mw::RateLimitOptions rate;
    rate.rate = 50;
    rate.burst = 100;
    mw::ConcurrencyLimitOptions limit;
    limit.max_in_flight = 200;
    limit.backlog = 400;
    limit.backlog_timeout = std::chrono::seconds(2);
    cogo::http::ServerOptions options;
    options.listen = {{"0.0.0.0:8080", false}};
    cogo::http::Server server(options);
    server
        .use(mw::heartbeat("/ping"))  // first: probes skip the rest
        .use(mw::request_id())        // an id for everything after
        .use(mw::real_ip(ip))         // the client behind the balancer
        .use(mw::access_log(log))
        .use(mw::recover())  // inside the log: it logs the 500
        .use(mw::cors(cors))
        .use(mw::rate_limit(rate))  // per client, after real_ip
        .use(mw::concurrency_limit(limit));
    server.router().get("/users/:id", [](cogo::http::Request& req, cogo::http::Response& res) {
      res.text(200, std::string(req.param("id")) + " " + std::string(mw::request_id_of(req)));
    });
    server.router().group("/admin", [](cogo::http::Router& admin) {
      mw::BasicAuthOptions auth;
      auth.realm = "admin";
      auth.users_file = "users";
      admin.use(mw::basic_auth(auth));
      admin.get("/", [](cogo::http::Request& req, cogo::http::Response& res) {
        res.text(200, "hello " + std::string(req.value<mw::AuthenticatedUser>()->name));
      });
    });
    server.serve();
  });
}
