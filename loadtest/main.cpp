// cogo-load: a load generator on cogo's own runtime, one goroutine per
// client connection. See --help, and engine.h / workers.h for how it works.
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <string>
#include <vector>

#include "cogo/net.h"
#include "cogo/runtime.h"
#include "loadtest/engine.h"
#include "loadtest/options.h"
#include "loadtest/report.h"
#include "loadtest/server_metrics.h"
#include "loadtest/workers.h"

namespace {

using namespace cogo::load;

// probe() connects once to the target: a clear message now, instead of N
// identical connect errors later; and the numeric address, so that N dials
// do not resolve the name N times. Works off a goroutine (before any
// runtime): the netpoller's calls then block the thread.
bool probe(const Options& o, std::string& numeric, std::string& why) {
  try {
    cogo::net::Conn c = cogo::net::dial(o.target.dial_address(), o.timeout);
    numeric = c.remote_address().to_string();
    return true;
  } catch (const cogo::net::Error& e) {
    why = e.what();
    return false;
  }
}

std::string now_iso8601() {
  char buf[64];
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

int worker_main(const Options& o) {
  return cogo::run([&]() -> int {
    WorkerControl control(o.control_fd);
    std::string numeric, why;
    if (!probe(o, numeric, why)) {
      control.fail("cannot connect to " + o.target.dial_address() + ": " + why);
      return 1;
    }
    try {
      const SourcePlan plan = plan_sources(o, o.total, read_port_range());
      control.report(run_engine(o, numeric, plan, control));
    } catch (const std::exception& e) {
      control.fail(e.what());
      return 1;
    }
    return 0;
  });
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  try {
    o = parse_options(argc, argv);
  } catch (const FlagError& e) {
    std::fprintf(stderr, "cogo-load: %s\n", e.what());
    return 2;
  }
  if (o.help) {
    std::fputs(usage().c_str(), stdout);
    return 0;
  }
  if (o.worker) return worker_main(o);

  cogo::net::raise_fd_limit();
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  const int64_t per_process = connections_per_process(o, rl.rlim_cur);
  const PortRange ports = read_port_range();
  SourcePlan plan;
  try {
    plan = plan_sources(o, o.total, ports);
  } catch (const FlagError& e) {
    std::fprintf(stderr, "cogo-load: %s\n", e.what());
    return 2;
  }

  std::string numeric, why;
  if (!probe(o, numeric, why)) {
    std::fprintf(stderr, "cogo-load: cannot connect to %s (%s): %s\n",
                 o.target.dial_address().c_str(), o.target.url().c_str(), why.c_str());
    return 1;
  }

  // --server-metrics: the first scrape, just before the run.
  std::vector<Samples> before;
  try {
    for (const Target& t : o.server_metrics) before.push_back(fetch_metrics(t, o.timeout));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cogo-load: %s\n", e.what());
    return 1;
  }

  const bool show =
      o.progress == Progress::on || (o.progress == Progress::automatic && isatty(STDOUT_FILENO));
  Report report;
  const std::vector<Slice> slices = split(o.connections, per_process);
  if (slices.size() <= 1) {
    cogo::run([&] {
      LocalControl control(show);
      report = run_engine(o, numeric, plan, control);
      control.finish();
    });
  } else {
    if (show) {
      std::printf("cogo-load: %lld connections, at most %lld per process: %zu worker processes\n",
                  static_cast<long long>(o.connections), static_cast<long long>(per_process),
                  slices.size());
    }
    report = run_workers(o, slices, std::vector<std::string>(argv + 1, argv + argc), show);
  }

  std::fputs(report.table().c_str(), stdout);
  bool server_ok = true;
  ServerDelta server;
  if (!o.server_metrics.empty()) {
    try {
      for (std::size_t i = 0; i < o.server_metrics.size(); i++) {
        server.add(delta(before[i], fetch_metrics(o.server_metrics[i], o.timeout)));
      }
      std::fputs(server.table(static_cast<double>(report.answered)).c_str(), stdout);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "cogo-load: %s\n", e.what());
      server_ok = false;
    }
  }
  std::fflush(stdout);

  if (!o.json_path.empty()) {
    Json obj = report.to_json(false);
    Json cmd = Json::array();
    for (int i = 0; i < argc; i++) cmd.push_back(argv[i]);
    Json sources = Json::array();
    for (const auto& s : plan.addresses) sources.push_back(s);
    obj["command"] = std::move(cmd);
    obj["date"] = now_iso8601();
    obj["config"] =
        Json{{"connections", o.connections},
                        {"duration_seconds", std::chrono::duration<double>(o.duration).count()},
                        {"interval_seconds", std::chrono::duration<double>(o.interval).count()},
                        {"pipeline", o.pipeline},
                        {"timeout_seconds", std::chrono::duration<double>(o.timeout).count()},
                        {"dial_concurrency", o.dial_concurrency},
                        {"method", o.method},
                        {"fd_limit", static_cast<int64_t>(rl.rlim_cur)},
                        {"connections_per_process", per_process},
                        {"ip_local_port_range", Json::array({ports.low, ports.high})},
                        {"connections_per_source_address", plan.per_source_budget},
                        {"source_addresses", std::move(sources)},
                        {"target_address", numeric}};
    if (!o.server_metrics.empty() && server_ok) obj["server_metrics"] = server.to_json();
    std::ofstream f(o.json_path);
    f << obj.dump(2) << "\n";
    if (!f) {
      std::fprintf(stderr, "cogo-load: --json %s: cannot write the file\n", o.json_path.c_str());
      return 1;
    }
  }
  return report.clean() && server_ok ? 0 : 1;
}
