// flags.cpp: cogo-server's flags as one cogo::FlagSet table (cogo/flag_set.h),
// and the checks that span several of them.
#include "flags.h"

#include "cogo/flag_set.h"

#include "cogo/middleware/access_log.h"
#include "cogo/middleware/basic_auth.h"
#include "cogo/middleware/compress.h"
#include "cogo/middleware/cors.h"
#include "cogo/middleware/rate_limit.h"
#include "cogo/middleware/real_ip.h"
#include "cogo/middleware/static_files.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <span>

namespace cogo::cli {
namespace {

// ms_duration() is parse_duration() for the options kept in milliseconds:
// a non-zero value under 1 ms would silently become 0 (disabled), so it is
// refused.
std::chrono::milliseconds ms_duration(const std::string& flag, const std::string& text) {
  const auto d = cogo::parse_duration(flag, text);
  if (d.count() > 0 && d < std::chrono::milliseconds(1)) {
    throw FlagError(flag + ": '" + text + "' is shorter than 1ms, the finest these take");
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(d);
}

// checked() runs check(), which builds a middleware from the values so far,
// and turns its std::invalid_argument into a FlagError naming flag.
void checked(const std::string& flag, const std::function<void()>& check) {
  try {
    check();
  } catch (const std::invalid_argument& e) {
    throw FlagError(flag + ": " + e.what());
  }
}

// flags() is cogo-server's table: each flag's setter writes into c.
std::vector<cogo::Flag> flags(Config& c) {
  using cogo::Flag;
  return {
      {"listen", "V",
       [&c](auto&, auto& v) {
         c.server.listen.push_back({v, false});
       },
       "HOST:PORT to serve on (repeatable; default 0.0.0.0:8080, echo 0.0.0.0:9000)",
       Flag::comma_list},
      {"tls-listen", "V",
       [&c](auto&, auto& v) {
         c.server.listen.push_back({v, true});
       },
       "HOST:PORT to serve HTTPS on (repeatable; needs --tls-cert and --tls-key)",
       Flag::comma_list},
      {"h2", "", [&c](auto&, auto&) { c.server.http.h2 = true; },
       "offer HTTP/2 on the TLS listeners (ALPN h2, then http/1.1): on by default; "
       "goroutine model only: the thread model serves HTTP/1.1"},
      {"no-h2", "", [&c](auto&, auto&) { c.server.http.h2 = false; },
       "TLS listeners offer http/1.1 only (no HTTP/2)"},
      {"h2c", "", [&c](auto&, auto&) { c.server.http.h2c = true; },
       "plain listeners also take HTTP/2 with prior knowledge (a connection that opens with the "
       "HTTP/2 preface; others stay HTTP/1.1); goroutine model only"},
      {"tls-cert", "V", [&c](auto&, auto& v) { c.server.tls.cert_file = v; },
       "PEM certificate chain for --tls-listen"},
      {"tls-key", "V", [&c](auto&, auto& v) { c.server.tls.key_file = v; },
       "PEM private key for --tls-listen"},
      {"echo-listen", "V", [&c](auto&, auto& v) { c.echo_listen.push_back(v); },
       "http mode: also run a raw TCP echo server on HOST:PORT (repeatable)", Flag::comma_list},
      {"admin-listen", "V",
       [&c](auto&, auto& v) {
         const auto colon = v.rfind(':');
         if (colon == std::string::npos || colon + 1 == v.size()) {
           throw FlagError("--admin-listen: '" + v + "' is not HOST:PORT (e.g. 127.0.0.1:9090)");
         }
         cogo::parse_int("--admin-listen port", v.substr(colon + 1), 0, 65535);
         c.admin_listen = v;
       },
       "HOST:PORT for /metrics, /debug/vars and /debug/goroutines (off by default; keep it "
       "private, e.g. 127.0.0.1:9090; with --procs N, process i uses PORT+i); turns on the "
       "request metrics"},
      {"no-metrics", "", [&c](auto&, auto&) { c.no_metrics = true; },
       "with --admin-listen: leave out the request metrics (cogo_http_requests_total, "
       "durations, sizes); the runtime's and the server's counters stay"},
      {"model", "V",
       [&c](auto&, auto& v) {
         if (v == "goroutine") {
           c.server.model = http::Model::goroutine;
         } else if (v == "thread") {
           c.server.model = http::Model::thread;
         } else {
           throw FlagError("--model: '" + v + "' is not a model; use goroutine or thread");
         }
       },
       "goroutine (default) or thread: a goroutine or an OS thread per connection"},
      {"procs", "V",
       [&c](auto& f, auto& v) { c.procs = static_cast<int>(cogo::parse_int(f, v, 1, 256)); },
       "processes sharing the ports with SO_REUSEPORT, each with its own runtime (default 1)"},
      {"maxprocs", "V",
       [&c](auto& f, auto& v) { c.maxprocs = static_cast<int>(cogo::parse_int(f, v, 1, 1024)); },
       "Ps (GOMAXPROCS) per process (default: COGO_MAXPROCS, GOMAXPROCS, else the CPUs allowed)"},
      {"log-level", "V",
       [&c](auto&, auto& v) {
         static const char* levels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
         for (const char* l : levels) {
           if (v == l) {
             c.log_level = v;
             return;
           }
         }
         throw FlagError("--log-level: '" + v +
                         "' is not a level; use trace, debug, info, warn, error, critical or off");
       },
       "trace|debug|info|warn|error|critical|off (default info)"},
      {"access-log", "", [&c](auto&, auto&) { c.access_log = true; }, "log one line per request"},
      {"heartbeat", "V",
       [&c](auto&, auto& v) {
         if (v.empty() || v.front() != '/')
           throw FlagError("--heartbeat: '" + v + "' is not a path (e.g. /ping)");
         c.heartbeat = v;
       },
       "answer GET/HEAD PATH with 200 \".\" before any other middleware (a load balancer's probe)"},
      {"cors-origin", "V",
       [&c](auto&, auto& v) {
         // cors() checks the origins so far; its message names the bad one.
         c.cors_origins.push_back(v);
         checked("--cors-origin", [&c] {
           middleware::CorsOptions cors;
           cors.allowed_origins = c.cors_origins;
           (void)middleware::cors(std::move(cors));
         });
       },
       "CORS: an allowed origin (repeatable; https://app.example.com, https://*.example.com, *)",
       Flag::comma_list},
      {"compress", "V",
       [&c](auto&, auto& v) {
         for (auto& coding : cogo::parse_list(v)) c.compress.push_back(coding);
         // compress() checks the codings so far (unknown, listed twice).
         checked("--compress", [&c] {
           middleware::CompressOptions compress;
           compress.encodings = c.compress;
           (void)middleware::compress(std::move(compress));
         });
       },
       "compress responses with these codings, in order of preference (e.g. br,zstd,gzip; "
       "also deflate): text, JSON, JS, SVG... of 1 KiB or more, by Accept-Encoding",
       Flag::comma_list},
      {"static", "V",
       [&c](auto&, auto& v) {
         // serve_dir() opens the directory and the media type table; its
         // message names what is wrong.
         checked("--static", [&v] {
           middleware::StaticOptions o;
           (void)middleware::serve_dir(v, std::move(o));
         });
         c.static_dir = v;
       },
       "serve the files under DIR at /static/ (ETag, ranges, conditional requests, "
       "precompressed x.br/x.zst/x.gz siblings, sendfile)"},
      {"static-cache-control", "V", [&c](auto&, auto& v) { c.static_cache_control = v; },
       "the Cache-Control of --static files (e.g. \"public, max-age=3600\")"},
      {"secure-headers", "", [&c](auto&, auto&) { c.secure_headers = true; },
       "HSTS (TLS listeners only), nosniff, X-Frame-Options DENY, Referrer-Policy"},
      {"ws-deflate", "", [&c](auto&, auto&) { c.ws.deflate.enabled = true; },
       "WebSocket routes: accept permessage-deflate (RFC 7692) when the client offers it"},
      {"ws-no-context-takeover", "",
       [&c](auto&, auto&) {
         c.ws.deflate.server_no_context_takeover = true;
         c.ws.deflate.client_no_context_takeover = true;
       },
       "WebSocket routes: compress each message on its own, both ways (less memory per "
       "connection)"},
      {"ws-max-message", "V",
       [&c](auto& f, auto& v) { c.ws.max_message_bytes = cogo::parse_size(f, v); },
       "WebSocket routes: the largest message accepted, after decompression, else close 1009 "
       "(default 16M)"},
      {"ws-ping-interval", "V", [&c](auto& f, auto& v) { c.ws.ping_interval = ms_duration(f, v); },
       "WebSocket routes: ping a connection silent this long, close it without a pong (default 0: "
       "off)"},
      {"request-id", "", [&c](auto&, auto&) { c.request_id = true; },
       "an X-Request-Id on every request and response (a sane incoming one is kept); logged"},
      {"recover", "", [&c](auto&, auto&) { c.recover = true; },
       "a handler's exception becomes a 500 and one error line with the request id"},
      {"real-ip-trusted", "V",
       [&c](auto&, auto& v) {
         for (const std::string& range : cogo::parse_list(v)) {
           try {
             middleware::RealIpOptions o;
             o.trusted = {range};
             (void)middleware::real_ip(o);
           } catch (const std::invalid_argument& e) {
             const std::string what = e.what();
             throw FlagError("--real-ip-trusted: " + what.substr(what.find('\'')));
           }
           c.real_ip_trusted.push_back(range);
         }
       },
       "proxies' addresses or CIDR ranges (comma-separated, repeatable): behind them the client "
       "comes from X-Forwarded-For, read right to left past trusted hops",
       Flag::comma_list},
      {"real-ip-header", "V",
       [&c](auto&, auto& v) {
         if (v != "x-forwarded-for" && v != "forwarded")
           throw FlagError("--real-ip-header: '" + v +
                           "' is not one; use x-forwarded-for or forwarded (RFC 7239)");
         c.real_ip_header = v;
       },
       "the header the trusted proxies write: x-forwarded-for (default) or forwarded"},
      {"access-log-format", "V",
       [&c](auto&, auto& v) {
         checked("--access-log-format", [&v] { (void)middleware::parse_access_log_format(v); });
         c.access_log_format = v;
       },
       "text|common|combined|json: one line per request, written by a thread of its own (to "
       "stdout, or --access-log-file)"},
      {"access-log-file", "V",
       [&c](auto&, auto& v) {
         if (v.empty()) throw FlagError("--access-log-file: empty file name");
         // Refused now rather than when the first process opens it.
         const auto slash = v.rfind('/');
         const std::string dir = slash == std::string::npos ? "."
                                 : slash == 0                ? "/"
                                                             : v.substr(0, slash);
         if (::access(dir.c_str(), W_OK) != 0 ||
             (::access(v.c_str(), F_OK) == 0 && ::access(v.c_str(), W_OK) != 0)) {
           throw FlagError("--access-log-file: cannot write " + v + " (" + std::strerror(errno) +
                           "); give a file in a directory this user may write");
         }
         c.access_log_file = v;
       },
       "append the access log to this file (rotated at 100 MiB, 5 kept; with --procs N, "
       "process i writes NAME-i.EXT)"},
      {"rate-limit", "V",
       [&c](auto&, auto& v) {
         checked("--rate-limit", [&c, &v] { c.rate_limit = middleware::parse_rate(v); });
       },
       "requests per client (after --real-ip-trusted): 100/s, 6000/m, 50000/h; over it 429 with "
       "Retry-After and RateLimit-* fields"},
      {"rate-burst", "V",
       [&c](auto& f, auto& v) {
         c.rate_burst = static_cast<double>(cogo::parse_int(f, v, 1, 1'000'000'000));
       },
       "requests a client may send at once before --rate-limit applies (default: the rate per "
       "second, at least 1)"},
      {"max-in-flight", "V",
       [&c](auto& f, auto& v) {
         c.max_in_flight = static_cast<std::size_t>(cogo::parse_int(f, v, 1, 1'000'000));
       },
       "at most N requests in their handlers; more wait (--max-in-flight-backlog, "
       "--max-in-flight-wait), then 503 with Retry-After"},
      {"max-in-flight-backlog", "V",
       [&c](auto& f, auto& v) {
         c.max_in_flight_backlog = static_cast<std::size_t>(cogo::parse_int(f, v, 0, 1'000'000));
       },
       "requests that may wait for --max-in-flight (default: as many as it allows)"},
      {"max-in-flight-wait", "V",
       [&c](auto& f, auto& v) { c.max_in_flight_wait = ms_duration(f, v); },
       "how long one may wait (default 1s)"},
      {"auth-file", "V", [&c](auto&, auto& v) { c.auth_file = v; },
       "basic auth on the admin listener (/debug/*, /metrics): users as name:hash lines, the "
       "hash crypt(3)'s (mkpasswd -m yescrypt, htpasswd -nB) or {SSHA256}base64(sha256(password"
       "+salt)+salt), salt >= 8 bytes (middleware/README.md)"},
      {"crash-routes", "", [&c](auto&, auto&) { c.crash_routes = true; },
       "for fault tests only: GET /crash?how=exception|overflow kills the serving process (with "
       "--procs N the parent starts a new one)"},
      {"max-header-bytes", "V",
       [&c](auto& f, auto& v) { c.server.http.max_header_bytes = cogo::parse_size(f, v); },
       "limit on request line + headers, else 431 (default 8K)"},
      {"max-body-bytes", "V",
       [&c](auto& f, auto& v) { c.server.http.max_body_bytes = cogo::parse_size(f, v); },
       "limit on a request body, else 413 (default 8M)"},
      {"read-header-timeout", "V",
       [&c](auto& f, auto& v) { c.server.http.read_header_timeout = ms_duration(f, v); },
       "time to receive a request's head, else 408 (default 10s)"},
      {"idle-timeout", "V",
       [&c](auto& f, auto& v) { c.server.http.idle_timeout = ms_duration(f, v); },
       "keep-alive connection idle time before closing (default 60s)"},
      {"body-timeout", "V",
       [&c](auto& f, auto& v) { c.server.http.body_read_timeout = ms_duration(f, v); },
       "time to receive a request body, else 408 (default 60s)"},
      {"write-timeout", "V",
       [&c](auto& f, auto& v) { c.server.http.write_timeout = ms_duration(f, v); },
       "time for each response write before closing (default 30s)"},
      {"handler-timeout", "V",
       [&c](auto& f, auto& v) { c.server.http.handler_timeout = ms_duration(f, v); },
       "cancel a handler still waiting this long after its request's head: 503, or a close "
       "mid-response (default 0: off)"},
      {"keep-half-closed", "", [&c](auto&, auto&) { c.server.http.cancel_on_half_close = false; },
       "serve a client that half-closes (FIN after its request) to the end instead of "
       "cancelling its handler as gone"},
      {"tls-handshake-timeout", "V",
       [&c](auto& f, auto& v) { c.server.tls.handshake_timeout = ms_duration(f, v); },
       "time for a TLS handshake (default 10s)"},
      {"shutdown-grace", "V",
       [&c](auto& f, auto& v) { c.server.shutdown_grace = ms_duration(f, v); },
       "on SIGTERM/SIGINT, time in-flight requests get to finish (default 10s)"},
      {"help", "", [&c](auto&, auto&) { c.help = true; }, "this help", Flag::no_variable},
      {"version", "", [&c](auto&, auto&) { c.version = true; }, "print the version",
       Flag::no_variable},
  };
}

}  // namespace

Config parse_config(int argc, const char* const* argv,
                    const std::map<std::string, std::string>& env) {
  Config cfg;
  // cogo-server offers h2 on its TLS listeners unless --no-h2 (the library's
  // HttpOptions::h2 stays off: a program that embeds the server asks for it).
  cfg.server.http.h2 = true;
  std::span<const char* const> args(argv + 1, static_cast<std::size_t>(argc > 0 ? argc - 1 : 0));
  if (!args.empty() && args.front()[0] != '-') {
    const std::string mode = args.front();
    if (mode == "http") {
      cfg.mode = Config::Mode::http;
    } else if (mode == "echo") {
      cfg.mode = Config::Mode::echo;
    } else {
      throw FlagError("unknown command '" + mode + "'; use http or echo (see --help)");
    }
    args = args.subspan(1);
  }
  cogo::FlagSet(flags(cfg), "COGO_").parse(args, env);
  if (cfg.help || cfg.version) return cfg;
  if (cfg.server.listen.empty() && cfg.mode == Config::Mode::http) cfg.server.listen.push_back({"0.0.0.0:8080", false});
  if (cfg.server.listen.empty() && cfg.mode == Config::Mode::echo) cfg.server.listen.push_back({"0.0.0.0:9000", false});
  bool any_tls = false;
  for (const auto& l : cfg.server.listen) any_tls = any_tls || l.tls;
  if (any_tls && (cfg.server.tls.cert_file.empty() || cfg.server.tls.key_file.empty())) {
    throw FlagError("--tls-listen needs --tls-cert FILE and --tls-key FILE");
  }
  if (cfg.mode == Config::Mode::echo && any_tls) throw FlagError("--tls-listen: echo mode has no TLS");
  if (cfg.mode == Config::Mode::echo && !cfg.admin_listen.empty()) {
    throw FlagError("--admin-listen: only in http mode");
  }
  if (!cfg.admin_listen.empty()) {
    const std::string port = cfg.admin_listen.substr(cfg.admin_listen.rfind(':') + 1);
    const int64_t p = cogo::parse_int("--admin-listen port", port, 0, 65535);
    if (p != 0 && p + cfg.procs - 1 > 65535) {
      throw FlagError("--admin-listen: port " + port + " + --procs " + std::to_string(cfg.procs) +
                      " runs past 65535");
    }
    for (const auto& l : cfg.server.listen) {
      if (p != 0 && l.address == cfg.admin_listen) {
        throw FlagError("--admin-listen: " + cfg.admin_listen + " is also a public --listen address; "
                        "give the admin endpoints a port of their own");
      }
    }
  }
  if (!any_tls && (!cfg.server.tls.cert_file.empty() || !cfg.server.tls.key_file.empty())) {
    throw FlagError("--tls-cert/--tls-key given without --tls-listen HOST:PORT");
  }
  if (!cfg.static_cache_control.empty() && cfg.static_dir.empty()) {
    throw FlagError("--static-cache-control: given without --static DIR");
  }
  if (cfg.rate_burst > 0 && cfg.rate_limit == 0) throw FlagError("--rate-burst needs --rate-limit");
  if (cfg.max_in_flight == 0 && cfg.max_in_flight_backlog != SIZE_MAX)
    throw FlagError("--max-in-flight-backlog needs --max-in-flight");
  if (!cfg.auth_file.empty()) {
    if (cfg.admin_listen.empty())
      throw FlagError(
          "--auth-file: it guards the admin listener; give --admin-listen HOST:PORT too");
    checked("--auth-file", [&cfg] {
      middleware::BasicAuthOptions o;
      o.users_file = cfg.auth_file;
      (void)middleware::basic_auth(o);
    });
  }
  if (!cfg.access_log_file.empty() && cfg.access_log_format.empty()) cfg.access_log_format = "text";
  if (cfg.procs > 1) cfg.server.reuse_port = true;
  return cfg;
}

std::string usage() {
  std::string u =
      "usage: cogo-server [http|echo] [flags]\n"
      "\n"
      "  http   HTTP/1.1 server (default): GET / (Hello, World!), POST /echo,\n"
      "         GET /sleep?ms=N (a handler blocking in sleep_for), GET /healthz\n"
      "  echo   raw TCP echo server\n"
      "\n"
      "flags (each also settable as COGO_<FLAG>, e.g. --idle-timeout as COGO_IDLE_TIMEOUT;\n"
      "list flags take comma-separated values there; a flag beats the environment):\n";
  Config scratch;
  u += cogo::FlagSet(flags(scratch)).help(31);
  u += "\nSIGTERM or SIGINT: stop accepting, finish in-flight requests (--shutdown-grace), exit 0.\n"
       "SIGQUIT: print a goroutine dump to stderr and keep running.\n";
  return u;
}

}  // namespace cogo::cli
