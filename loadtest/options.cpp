// options.cpp: flag parsing, the process split and the source-address plan.
#include "loadtest/options.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <fstream>

namespace cogo::load {

using namespace std::chrono_literals;

// ---------------------------------------------------------------------------
// Target

std::string Target::dial_address() const {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

std::string Target::host_header() const {
  return dial_address();
}

std::string Target::url() const {
  return (websocket ? "ws://" : "http://") + dial_address() + path;
}

Target parse_url(const std::string& text) {
  std::string rest = text;
  auto bad = [&](const std::string& why) {
    return FlagError("URL \"" + text + "\": " + why +
                     " (expected http://HOST:PORT/PATH or ws://HOST:PORT/PATH, e.g. http://127.0.0.1:8080/)");
  };
  if (rest.starts_with("https://") || rest.starts_with("wss://")) throw bad("TLS is not supported");
  Target t;
  if (rest.starts_with("http://")) {
    rest = rest.substr(7);
  } else if (rest.starts_with("ws://")) {
    rest = rest.substr(5);
    t.websocket = true;
  }
  if (rest.find("://") != std::string::npos) throw bad("only http:// and ws:// URLs");
  const size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  if (slash != std::string::npos) t.path = rest.substr(slash);
  if (authority.empty()) throw bad("no host");
  std::string port_text;
  if (authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string::npos) throw bad("unclosed '['");
    t.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') throw bad("junk after ']'");
      port_text = authority.substr(close + 2);
    }
  } else {
    const size_t colon = authority.rfind(':');
    t.host = authority.substr(0, colon);
    if (colon != std::string::npos) port_text = authority.substr(colon + 1);
  }
  if (t.host.empty()) throw bad("no host");
  if (!port_text.empty() || authority.back() == ':') {
    unsigned v = 0;
    auto r = std::from_chars(port_text.data(), port_text.data() + port_text.size(), v);
    if (r.ec != std::errc() || r.ptr != port_text.data() + port_text.size() || v == 0 ||
        v > 65535) {
      throw bad("port \"" + port_text + "\" is not a number from 1 to 65535");
    }
    t.port = static_cast<uint16_t>(v);
  }
  return t;
}

// ---------------------------------------------------------------------------
// Values

std::string format_duration(std::chrono::nanoseconds d) {
  char buf[32];
  const double ns = static_cast<double>(d.count());
  if (ns >= 1e9) {
    std::snprintf(buf, sizeof buf, "%.2fs", ns / 1e9);
  } else if (ns >= 1e6) {
    std::snprintf(buf, sizeof buf, "%.2fms", ns / 1e6);
  } else if (ns >= 1e3) {
    std::snprintf(buf, sizeof buf, "%.2fus", ns / 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.0fns", ns);
  }
  return buf;
}

// ---------------------------------------------------------------------------
// Flags

std::string usage() {
  return R"(usage: cogo-load hold|load|ws [flags] URL

  hold   open N connections (-c), send one request on each every --interval,
         keep them all open for --duration; report connections established,
         held, failed, and requests sent and answered. With a ws:// URL the
         connections are WebSockets and each sends a ping (or, with --ws-send
         message, a message) every interval; every answer is checked
  load   closed loop (like wrk): C connections (-c) each sending its next
         request (or --pipeline batch) as soon as the last is answered, for
         --duration; report requests/s and latency percentiles
  ws     the same closed loop over WebSockets: each connection sends a
         message of --size bytes as soon as the echo of its last one came
         back (and matched); report messages/s and round-trip percentiles

  URL    http://HOST:PORT/PATH (e.g. http://127.0.0.1:8080/), or for
         WebSockets ws://HOST:PORT/PATH (e.g. ws://127.0.0.1:8080/ws/echo)

flags:
  -c, --connections N     connections (hold default 1000, load default 50; 100k = 100000)
  -d, --duration D        hold time / measuring time (default 10s; 30s, 500ms, 2m)
  --interval D            hold: time between requests on a connection (default 5s)
  --pipeline N            load: requests written per batch (default 1)
  --timeout D             limit on each connect and each response (default 10s)
  --method M              request method (default GET)
  --body TEXT             request body (sent with Content-Length)
  -H, --header "K: V"     extra request header (repeatable)
  --size N                ws: bytes per message (default 32; 4K, 1M)
  --binary                ws: binary messages (default text)
  --deflate               ws: offer permessage-deflate (RFC 7692)
  --ws-send ping|message  hold with ws://: what each interval sends (default ping)
  --dial-concurrency N    connects in flight per process (default 256)
  --source ADDR           local source address to bind, e.g. 127.0.0.2 (repeatable,
                          used round-robin; default: automatic, see below)
  --per-process N         connections per process (default: RLIMIT_NOFILE - 100)
  --json FILE             write every figure as JSON to FILE
  --server-metrics URL    the server's Prometheus /metrics (cogo-server --admin-listen:
                          http://127.0.0.1:9090/metrics), read before and after the run:
                          prints what the server counted (requests by status, its own
                          p50/p90/p99 from the duration histogram, CPU per request,
                          accepted, cancelled, listen overflows); repeatable, one per
                          --procs process, summed
  --progress / --no-progress
                          a progress line every second (default: when stdout is a terminal)
  -h, --help              this help

More connections than one process may open are split over worker
processes (cogo-load runs itself again), whose reports are summed; each
worker gets COGO_MAXPROCS = CPUs / workers (at least 1) unless it is set. More
connections than one source address has ports for (ip_local_port_range) are
spread over the source addresses 127.0.0.2, 127.0.0.3, ... when the target is
on 127.0.0.0/8.

Exit status: 0 when every connection was established (and, in hold mode,
held) and every request answered without error; 1 otherwise, or when the
server cannot be reached; 2 for bad flags.
)";
}

Options parse_options(int argc, const char* const* argv) {
  Options o;
  bool have_mode = false, have_url = false, have_connections = false;
  std::vector<std::string> args(argv + 1, argv + argc);
  for (size_t i = 0; i < args.size(); i++) {
    std::string arg = args[i];
    std::string value;
    bool has_inline = false;
    if (arg.starts_with("--")) {
      const size_t eq = arg.find('=');
      if (eq != std::string::npos) {
        value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
        has_inline = true;
      }
    }
    auto next = [&]() -> std::string {
      if (has_inline) return value;
      if (i + 1 >= args.size()) throw FlagError(arg + ": missing value (see --help)");
      return args[++i];
    };
    auto positive = [&](int64_t v, const std::string& what) {
      if (v <= 0) throw FlagError(arg + ": must be at least 1 " + what);
      return v;
    };
    if (arg == "-h" || arg == "--help") {
      o.help = true;
    } else if (arg == "-c" || arg == "--connections") {
      o.connections = positive(parse_count(arg, next()), "connection");
      have_connections = true;
    } else if (arg == "-d" || arg == "--duration") {
      o.duration = parse_duration(arg, next());
    } else if (arg == "--interval") {
      o.interval = parse_duration(arg, next());
      if (o.interval <= 0ns) throw FlagError("--interval: must be more than 0");
    } else if (arg == "--pipeline") {
      const int64_t v = positive(parse_count(arg, next()), "request");
      if (v > 1024) throw FlagError("--pipeline: at most 1024");
      o.pipeline = static_cast<int>(v);
    } else if (arg == "--timeout") {
      o.timeout = parse_duration(arg, next());
      if (o.timeout <= 0ns) throw FlagError("--timeout: must be more than 0");
    } else if (arg == "--method") {
      o.method = next();
      if (o.method.empty() ||
          o.method.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") != std::string::npos) {
        throw FlagError("--method: \"" + o.method + "\" is not a method (GET, POST, HEAD, ...)");
      }
    } else if (arg == "--body") {
      o.body = next();
    } else if (arg == "-H" || arg == "--header") {
      std::string h = next();
      const size_t colon = h.find(':');
      if (colon == std::string::npos || colon == 0 ||
          h.find_first_of("\r\n") != std::string::npos) {
        throw FlagError(arg + ": \"" + h + "\" is not a header (expected \"Name: value\")");
      }
      o.headers.push_back(h);
    } else if (arg == "--size") {
      const uint64_t v = cogo::parse_size(arg, next());
      if (v == 0 || v > (64u << 20)) throw FlagError("--size: from 1 byte to 64M");
      o.message_size = static_cast<std::size_t>(v);
    } else if (arg == "--binary") {
      o.binary = true;
    } else if (arg == "--deflate") {
      o.deflate = true;
    } else if (arg == "--ws-send") {
      const std::string v = next();
      if (v != "ping" && v != "message") throw FlagError("--ws-send: \"" + v + "\" is not ping or message");
      o.ws_ping = v == "ping";
    } else if (arg == "--dial-concurrency") {
      o.dial_concurrency = static_cast<int>(
          std::min<int64_t>(positive(parse_count(arg, next()), "connect"), 1 << 20));
    } else if (arg == "--source") {
      std::string s = next();
      if (s.find(':') != std::string::npos && s.front() != '[') {
        throw FlagError("--source: \"" + s + "\" must be an address without a port (127.0.0.2)");
      }
      o.sources.push_back(s);
    } else if (arg == "--per-process") {
      o.per_process = positive(parse_count(arg, next()), "connection");
    } else if (arg == "--json") {
      o.json_path = next();
      if (o.json_path.empty()) throw FlagError("--json: needs a file name");
    } else if (arg == "--server-metrics") {
      const std::string v = next();
      Target t;
      try {
        t = parse_url(v);
      } catch (const FlagError& e) {
        throw FlagError(std::string("--server-metrics: ") + e.what());
      }
      if (t.websocket) {
        throw FlagError("--server-metrics: URL \"" + v +
                        "\": /metrics is served over http://, not ws://");
      }
      o.server_metrics.push_back(t);
    } else if (arg == "--progress") {
      o.progress = Progress::on;
    } else if (arg == "--no-progress") {
      o.progress = Progress::off;
    } else if (arg == "--worker") {
      // --worker FIRST,COUNT,TOTAL,FD: set by a parent cogo-load.
      const std::string v = next();
      long long a = 0, b = 0, c = 0;
      int fd = -1;
      if (std::sscanf(v.c_str(), "%lld,%lld,%lld,%d", &a, &b, &c, &fd) != 4 || a < 0 || b <= 0 ||
          c < a + b || fd < 0) {
        throw FlagError("--worker: \"" + v + "\" is not FIRST,COUNT,TOTAL,FD (internal flag)");
      }
      o.worker = true;
      o.first = a;
      o.connections = b;
      o.total = c;
      o.control_fd = fd;
      have_connections = true;
    } else if (arg == "hold" || arg == "load" || arg == "ws") {
      if (have_mode) throw FlagError("mode given twice: \"" + arg + "\"");
      o.mode = arg == "hold" ? Mode::hold : arg == "load" ? Mode::load : Mode::ws;
      have_mode = true;
    } else if (arg.starts_with("-")) {
      throw FlagError("unknown flag " + arg + " (see --help)");
    } else {
      if (!have_mode) {
        throw FlagError("the first argument must be the mode, hold, load or ws, not \"" + arg + "\"");
      }
      if (have_url) throw FlagError("more than one URL: \"" + arg + "\"");
      o.target = parse_url(arg);
      have_url = true;
    }
  }
  if (o.help) return o;
  if (!have_mode) throw FlagError("missing the mode: hold, load or ws (see --help)");
  if (!have_url) throw FlagError("missing the URL to load, e.g. http://127.0.0.1:8080/");
  if (!have_connections) o.connections = o.mode == Mode::hold ? 1000 : 50;
  if (!o.worker) o.total = o.connections;
  if (o.mode == Mode::hold && o.pipeline != 1) {
    throw FlagError("--pipeline: only for load mode");
  }
  if (o.mode == Mode::ws && !o.target.websocket) {
    throw FlagError("ws mode needs a ws:// URL, e.g. ws://127.0.0.1:8080/ws/echo");
  }
  if (o.mode == Mode::load && o.target.websocket) {
    throw FlagError("load mode is HTTP; for a ws:// URL use ws mode");
  }
  if (o.target.websocket && o.pipeline != 1) throw FlagError("--pipeline: not for WebSockets");
  if (o.duration <= 0ns) throw FlagError("--duration: must be more than 0");
  return o;
}

// ---------------------------------------------------------------------------
// Process split

int64_t connections_per_process(const Options& o, uint64_t fd_hard_limit) {
  if (o.per_process > 0) return o.per_process;
  const int64_t limit = static_cast<int64_t>(std::min<uint64_t>(fd_hard_limit, INT64_MAX / 2));
  return std::max<int64_t>(1, limit - kFdMargin);
}

std::vector<Slice> split(int64_t n, int64_t per_process) {
  std::vector<Slice> out;
  if (n <= 0 || per_process <= 0) return out;
  const int64_t procs = (n + per_process - 1) / per_process;
  int64_t first = 0;
  for (int64_t p = 0; p < procs; p++) {
    const int64_t count = n / procs + (p < n % procs ? 1 : 0);
    out.push_back({first, count});
    first += count;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Source addresses

PortRange read_port_range() {
  PortRange r;
  std::ifstream f("/proc/sys/net/ipv4/ip_local_port_range");
  int lo = 0, hi = 0;
  if (f >> lo >> hi && lo > 0 && hi >= lo && hi <= 65535) {
    r.low = lo;
    r.high = hi;
  }
  return r;
}

std::string SourcePlan::source_for(int64_t index) const {
  if (addresses.empty()) return {};
  return addresses[static_cast<size_t>(index % static_cast<int64_t>(addresses.size()))];
}

namespace {

bool is_ipv4_loopback(const std::string& host) {
  return host == "localhost" || host.starts_with("127.");
}

std::string with_port0(const std::string& a) {
  return a.find(':') != std::string::npos ? (a.front() == '[' ? a : "[" + a + "]") + ":0"
                                          : a + ":0";
}

}  // namespace

SourcePlan plan_sources(const Options& o, int64_t total, const PortRange& ports) {
  SourcePlan plan;
  // connect() searches the ports of one parity first (Linux's
  // __inet_hash_connect: even offsets, then odd ones). Once that half is
  // taken for this (source, destination) pair, every further connect() probes
  // all of it first: 16,000 connections from one source cost 2.5 s of system
  // time against 1.2 s from two (measured here). So a source carries at most
  // 90% of half the range.
  plan.per_source_budget = std::max<int64_t>(1, int64_t{ports.size()} / 2 * 9 / 10);
  if (!o.sources.empty()) {
    for (const auto& s : o.sources) plan.addresses.push_back(with_port0(s));
    return plan;
  }
  const int64_t needed = (total + plan.per_source_budget - 1) / plan.per_source_budget;
  if (needed <= 1) return plan;
  if (!is_ipv4_loopback(o.target.host)) {
    throw FlagError(std::to_string(total) + " connections to " + o.target.dial_address() +
                    " need " + std::to_string(needed) + " source addresses (about " +
                    std::to_string(plan.per_source_budget) + " each with ip_local_port_range " +
                    std::to_string(ports.low) + "-" + std::to_string(ports.high) +
                    "): pass them with --source");
  }
  if (needed > 250) throw FlagError("too many connections for the 127.0.0.x source addresses");
  for (int64_t k = 0; k < needed; k++) {
    plan.addresses.push_back("127.0.0." + std::to_string(2 + k) + ":0");
  }
  return plan;
}

}  // namespace cogo::load
