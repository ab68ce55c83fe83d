// flags.h: cogo-server's command line and COGO_* environment, parsed into a
// Config by cogo::FlagSet (cogo/flag_set.h), the parser cogo-load shares.
// Every flag --foo-bar can also be set as COGO_FOO_BAR (the flag wins); list
// flags take comma-separated values from the environment.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstddef>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "cogo/flag_value.h"
#include "cogo/http/server.h"
#include "cogo/websocket.h"

namespace cogo::cli {

struct Config {
  enum class Mode { http, echo } mode = Mode::http;
  http::ServerOptions server;
  std::vector<std::string> echo_listen;  // http mode: also a TCP echo port
  std::string admin_listen;              // http mode: the admin endpoints' HOST:PORT; empty: off
  int procs = 1;                         // processes sharing the ports (SO_REUSEPORT)
  int maxprocs = 0;                      // Ps per process; 0 = runtime default
  std::string log_level = "info";
  bool access_log = false;
  // The middleware collection (cogo/middleware/*.h), off unless asked for.
  std::string heartbeat;                  // path answered 200 "." before anything else
  std::vector<std::string> cors_origins;  // cors() allowed origins
  bool secure_headers = false;
  std::vector<std::string> compress;      // compress() encodings, in preference order; empty: off
  std::string static_dir;                 // serve_dir() root, at /static/; empty: off
  std::string static_cache_control;       // its Cache-Control
  // The WebSocket routes' options (/ws/echo, /ws/chat).
  websocket::Options ws;
  // The metrics middleware: on whenever the admin listener is (its /metrics
  // is where they are read), unless --no-metrics.
  bool no_metrics = false;
  bool crash_routes = false;  // GET /crash (fault tests of --procs restarts)
  bool metrics() const { return !admin_listen.empty() && !no_metrics; }
  bool request_id = false;                    // request_id(): X-Request-Id
  bool recover = false;                       // recover(): an exception is a 500 and a line
  std::vector<std::string> real_ip_trusted;   // real_ip(): the proxies' ranges
  std::string real_ip_header = "x-forwarded-for";  // or "forwarded"
  std::string access_log_format;  // text|common|combined|json: the writer (stdout or a file)
  std::string access_log_file;    // empty: stdout
  double rate_limit = 0;          // requests/s per client; 0: off
  double rate_burst = 0;          // 0: the rate, at least 1
  std::size_t max_in_flight = 0;  // 0: off
  std::size_t max_in_flight_backlog = SIZE_MAX;  // SIZE_MAX: as many as max_in_flight
  std::chrono::milliseconds max_in_flight_wait{1000};
  std::string auth_file;  // basic auth on the admin listener
  bool help = false;
  bool version = false;
};

// FlagError: a bad flag or value; what() names it and says what is expected.
// Values follow cogo/flag_value.h (durations, sizes), shared with cogo-load.
using FlagError = cogo::FlagError;

// parse_config() reads argv (argv[0] skipped) over the environment `env`
// (name -> value, e.g. cogo::FlagSet::environment("COGO_")). Throws FlagError.
Config parse_config(int argc, const char* const* argv,
                    const std::map<std::string, std::string>& env);
std::string usage();

}  // namespace cogo::cli
