// cogo-server: the HTTP/1.1 and TCP echo server binary. See --help.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "builtin_routes.h"
#include "websocket_routes.h"
#include "cogo/echo.h"
#include "cogo/flag_set.h"
#include "cogo/http/admin.h"
#include "cogo/http/server.h"
#include "cogo/middleware/access_log.h"
#include "cogo/middleware/basic_auth.h"
#include "cogo/middleware/compress.h"
#include "cogo/middleware/concurrency_limit.h"
#include "cogo/middleware/cors.h"
#include "cogo/middleware/heartbeat.h"
#include "cogo/middleware/metrics.h"
#include "cogo/middleware/rate_limit.h"
#include "cogo/middleware/real_ip.h"
#include "cogo/middleware/recover.h"
#include "cogo/middleware/request_id.h"
#include "cogo/middleware/secure_headers.h"
#include "cogo/middleware/static_files.h"
#include "cogo/runtime.h"
#include "cogo/signal.h"
#include "cogo/wait_group.h"
#include "flags.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

#ifndef COGO_VERSION
#define COGO_VERSION "0.0.0"
#endif

namespace {

using cogo::cli::Config;

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// admin_address() is process index's admin address: PORT + index (port 0
// stays 0, a free port each).
std::string admin_address(const std::string& address, int index) {
  const auto colon = address.rfind(':');
  const int port = std::stoi(address.substr(colon + 1));
  return address.substr(0, colon + 1) + std::to_string(port == 0 ? 0 : port + index);
}

// process_file() is process index's access log file: the file itself with
// one process, else "NAME-i.EXT" (each process rotates its own).
std::string process_file(const std::string& file, int index, int procs) {
  if (procs <= 1) return file;
  const auto slash = file.rfind('/');
  const auto dot = file.rfind('.');
  const bool ext = dot != std::string::npos && (slash == std::string::npos || dot > slash + 1);
  return ext ? file.substr(0, dot) + "-" + std::to_string(index) + file.substr(dot)
             : file + "-" + std::to_string(index);
}

// use_middlewares() puts the collection's middlewares the flags ask for
// on server, in the order middleware/README.md gives: the heartbeat, the
// metrics (their duration covers the rest), the request id and the client
// address first, the log around everything it
// logs, recover inside the log, compress around the answers, the limits
// last.
void use_middlewares(const Config& cfg, int index, cogo::http::Server& server) {
  namespace mw = cogo::middleware;
  if (!cfg.heartbeat.empty()) server.use(mw::heartbeat(cfg.heartbeat));
  if (cfg.metrics()) server.use(mw::metrics());
  if (cfg.request_id) server.use(mw::request_id());
  if (!cfg.real_ip_trusted.empty()) {
    mw::RealIpOptions o;
    o.trusted = cfg.real_ip_trusted;
    o.header = cfg.real_ip_header == "forwarded" ? mw::RealIpOptions::Header::forwarded
                                                 : mw::RealIpOptions::Header::x_forwarded_for;
    server.use(mw::real_ip(o));
  }
  if (!cfg.access_log_format.empty()) {
    mw::AccessLogOptions o;
    o.format = mw::parse_access_log_format(cfg.access_log_format);
    if (!cfg.access_log_file.empty()) o.file = process_file(cfg.access_log_file, index, cfg.procs);
    server.use(mw::access_log(o));
  } else if (cfg.access_log) {
    server.use(mw::access_log());
  }
  if (cfg.recover) server.use(mw::recover());
  if (cfg.secure_headers) server.use(mw::secure_headers());
  if (!cfg.cors_origins.empty()) {
    mw::CorsOptions cors;
    cors.allowed_origins = cfg.cors_origins;
    server.use(mw::cors(std::move(cors)));
  }
  if (!cfg.compress.empty()) {
    mw::CompressOptions compress;
    compress.encodings = cfg.compress;
    server.use(mw::compress(std::move(compress)));
  }
  if (cfg.rate_limit > 0) {
    mw::RateLimitOptions o;
    o.rate = cfg.rate_limit;
    o.burst = cfg.rate_burst > 0 ? cfg.rate_burst : std::max(1.0, std::ceil(cfg.rate_limit));
    server.use(mw::rate_limit(o));
  }
  if (cfg.max_in_flight > 0) {
    mw::ConcurrencyLimitOptions o;
    o.max_in_flight = cfg.max_in_flight;
    o.backlog =
        cfg.max_in_flight_backlog == SIZE_MAX ? cfg.max_in_flight : cfg.max_in_flight_backlog;
    o.backlog_timeout = cfg.max_in_flight_wait;
    server.use(mw::concurrency_limit(o));
  }
}

// serve_one() runs one server process: a runtime, the HTTP (or echo) server
// and, in http mode, an optional echo server beside it.
int serve_one(const Config& cfg, int index) {
  return cogo::run([&]() -> int {
    try {
      if (cfg.mode == Config::Mode::echo) {
        std::vector<std::string> addrs;
        for (const auto& l : cfg.server.listen) addrs.push_back(l.address);
        cogo::echo::EchoServer echo(addrs, cfg.server.model, cfg.server.reuse_port);
        echo.listen();
        cogo::StopSignalHook hook([&echo] { echo.shutdown(); });
        spdlog::info("cogo-server {} echo model={} process={}/{} Ps={} listening on {}",
                     COGO_VERSION, cogo::http::model_name(cfg.server.model), index + 1, cfg.procs,
                     cogo::gomaxprocs(), join(echo.addresses()));
        echo.serve();
        spdlog::info("echo server stopped");
        return 0;
      }
      cogo::http::Server server(cfg.server);
      cogo::cli::add_builtin_routes(server.router());
      if (!cfg.static_dir.empty()) {
        cogo::middleware::StaticOptions o;
        o.cache_control = cfg.static_cache_control;
        server.router().get("/static/*path",
                            cogo::middleware::serve_dir(cfg.static_dir, std::move(o)));
      }
      cogo::cli::add_websocket_routes(server.router(), cfg.ws);
      if (cfg.crash_routes) cogo::cli::add_crash_routes(server.router());
      use_middlewares(cfg, index, server);
      server.listen();
      std::unique_ptr<cogo::http::AdminServer> admin;
      cogo::WaitGroup admin_done;
      if (!cfg.admin_listen.empty()) {
        admin = std::make_unique<cogo::http::AdminServer>(admin_address(cfg.admin_listen, index),
                                                          server);
        if (!cfg.auth_file.empty()) {
          cogo::middleware::BasicAuthOptions auth;
          auth.realm = "cogo admin";
          auth.users_file = cfg.auth_file;
          admin->use(cogo::middleware::basic_auth(auth));
        }
        admin->listen();
        admin_done.add(1);
        cogo::go([&] {
          admin->serve();
          admin_done.done();
        });
      }
      std::unique_ptr<cogo::echo::EchoServer> echo;
      cogo::WaitGroup echo_done;
      if (!cfg.echo_listen.empty()) {
        echo = std::make_unique<cogo::echo::EchoServer>(cfg.echo_listen, cfg.server.model,
                                                         cfg.server.reuse_port);
        echo->listen();
        echo_done.add(1);
        cogo::go([&] {
          echo->serve();
          echo_done.done();
        });
      }
      std::string where;
      const auto addrs = server.addresses();
      for (size_t i = 0; i < addrs.size(); i++) {
        where += (where.empty() ? "" : ", ") + addrs[i] +
                 (cfg.server.listen[i].tls ? " (https)" : " (http)");
      }
      if (echo) where += ", " + join(echo->addresses()) + " (echo)";
      if (admin) where += ", " + join(admin->addresses()) + " (admin)";
      spdlog::info("cogo-server {} http model={} process={}/{} Ps={} listening on {}", COGO_VERSION,
                   cogo::http::model_name(cfg.server.model), index + 1, cfg.procs,
                   cogo::gomaxprocs(), where);
      server.serve();
      if (echo) {
        echo->shutdown();
        echo_done.wait();
      }
      if (admin) {
        admin->shutdown();
        admin_done.wait();
      }
      return 0;
    } catch (const std::exception& e) {
      spdlog::critical("{}", e.what());
      return 1;
    }
  });
}

// The --procs parent's children, by process index: written only with
// SIGTERM/SIGINT blocked, read by forward_signal().
constexpr int kMaxProcs = 256;
pid_t g_children[kMaxProcs] = {};
int g_procs = 0;
volatile sig_atomic_t g_forwarded = 0;  // the stop signal passed to the children

void forward_signal(int sig) {
  g_forwarded = sig;
  for (int i = 0; i < g_procs; i++) {
    if (g_children[i] > 0) kill(g_children[i], sig);
  }
}

// start_child() forks process `index` of cfg.procs; its pid, or -1.
// Called with SIGTERM/SIGINT blocked (old: the mask to give the child back).
pid_t start_child(const Config& cfg, int index, const sigset_t& old, pid_t parent) {
  const pid_t pid = fork();
  if (pid == 0) {
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    sigprocmask(SIG_SETMASK, &old, nullptr);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) std::_Exit(1);  // the parent died before PDEATHSIG was set
    std::_Exit(serve_one(cfg, index));
  }
  return pid;
}

// describe_exit() is "exit status N" or "signal N (name)".
std::string describe_exit(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    return "signal " + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
  }
  return "status " + std::to_string(status);
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  try {
    cfg = cogo::cli::parse_config(argc, argv, cogo::FlagSet::environment("COGO_"));
  } catch (const cogo::cli::FlagError& e) {
    std::fprintf(stderr, "cogo-server: %s\n", e.what());
    return 2;
  }
  if (cfg.help) {
    std::fputs(cogo::cli::usage().c_str(), stdout);
    return 0;
  }
  if (cfg.version) {
    std::printf("cogo-server %s\n", COGO_VERSION);
    return 0;
  }
  if (cfg.maxprocs > 0) setenv("COGO_MAXPROCS", std::to_string(cfg.maxprocs).c_str(), 1);

  auto logger = spdlog::stdout_logger_mt("cogo");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%P] %v");
  spdlog::set_level(spdlog::level::from_str(cfg.log_level));
  spdlog::flush_on(spdlog::level::info);

  if (cfg.procs <= 1) return serve_one(cfg, 0);

  // Several processes share each port with SO_REUSEPORT, each with its own
  // runtime; the parent forwards SIGTERM/SIGINT, and starts a new process
  // in the place of one that dies while it is not stopping (a crash, a
  // kill): the others keep serving meanwhile (nginx's master and workers).
  // More than kMaxRestarts restarts within kRestartWindow is a crash loop:
  // the parent stops the others and exits 1.
  // SIGTERM/SIGINT stay blocked in the parent while it changes the set of
  // children (one that arrives meanwhile is forwarded to all of them when
  // unblocked), and each child starts with the default action and its own
  // mask back: its server installs its own hook in listen().
  constexpr int kMaxRestarts = 5;
  constexpr auto kRestartWindow = std::chrono::seconds(10);
  signal(SIGTERM, forward_signal);
  signal(SIGINT, forward_signal);
  sigset_t term, old;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigaddset(&term, SIGINT);
  sigprocmask(SIG_BLOCK, &term, &old);
  const pid_t parent = getpid();
  g_procs = cfg.procs;
  for (int i = 0; i < cfg.procs; i++) {
    const pid_t pid = start_child(cfg, i, old, parent);
    if (pid < 0) {
      std::perror("cogo-server: fork");
      forward_signal(SIGTERM);
      sigprocmask(SIG_SETMASK, &old, nullptr);
      return 1;
    }
    g_children[i] = pid;
  }
  sigprocmask(SIG_SETMASK, &old, nullptr);
  int code = 0;
  std::vector<std::chrono::steady_clock::time_point> restarts;
  for (int left = cfg.procs; left > 0;) {
    // Which child ended, without reaping it: until it is reaped its pid is
    // no other process's, and it leaves g_children first, with the stop
    // signals blocked, so forward_signal() never sends one to a process
    // that reused the number (the thread model's fds likewise: out of the
    // live set, then closed).
    siginfo_t ended{};
    if (waitid(P_ALL, 0, &ended, WEXITED | WNOWAIT) != 0) {
      if (errno == EINTR) continue;
      break;
    }
    const pid_t p = ended.si_pid;
    sigprocmask(SIG_BLOCK, &term, nullptr);
    int index = -1;
    for (int i = 0; i < g_procs; i++) {
      if (g_children[i] == p) index = i;
    }
    if (index >= 0) g_children[index] = 0;
    int status = 0;
    while (waitpid(p, &status, 0) < 0 && errno == EINTR) {
    }
    if (index < 0) {  // not one of ours
      sigprocmask(SIG_SETMASK, &old, nullptr);
      continue;
    }
    const bool stopping = g_forwarded != 0;
    const bool failed = !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    if (!stopping && failed) {
      // Died while serving: start another in its place, unless it keeps dying.
      const auto now = std::chrono::steady_clock::now();
      std::erase_if(restarts, [&](auto t) { return now - t > kRestartWindow; });
      if (static_cast<int>(restarts.size()) < kMaxRestarts) {
        restarts.push_back(now);
        const pid_t pid = start_child(cfg, index, old, parent);
        if (pid > 0) {
          g_children[index] = pid;
          spdlog::error("process {} (pid {}) died ({}); started pid {} in its place", index + 1, p,
                        describe_exit(status), pid);
          sigprocmask(SIG_SETMASK, &old, nullptr);
          continue;
        }
        spdlog::critical("process {} (pid {}) died ({}) and fork failed: {}", index + 1, p,
                         describe_exit(status), std::strerror(errno));
      } else {
        spdlog::critical("process {} (pid {}) died ({}): {} restarts within {} s, a crash loop; "
                         "stopping",
                         index + 1, p, describe_exit(status), kMaxRestarts,
                         std::chrono::duration_cast<std::chrono::seconds>(kRestartWindow).count());
      }
      code = 1;
      forward_signal(SIGTERM);
      sigprocmask(SIG_SETMASK, &old, nullptr);
      left--;
      continue;
    }
    sigprocmask(SIG_SETMASK, &old, nullptr);
    left--;
    // A child killed by the stop signal the parent passed on had not
    // installed its hook yet: it was still starting and served nothing.
    const bool stopped_while_starting =
        WIFSIGNALED(status) && stopping && WTERMSIG(status) == g_forwarded;
    if (stopped_while_starting) continue;
    if (failed) {
      std::fprintf(stderr, "cogo-server: process %d (pid %d) ended with %s\n", index + 1, p,
                   describe_exit(status).c_str());
      code = 1;
    }
  }
  return code;
}
