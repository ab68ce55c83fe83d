// options.cpp: cogo-load's flags as one cogo::FlagSet table (cogo/flag_set.h,
// shared with cogo-server), the process split and the source-address plan.
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

namespace {

// at_least_1() is parse_count() for a flag that counts `what`s.
int64_t at_least_1(const std::string& flag, const std::string& text, const char* what) {
  const int64_t v = parse_count(flag, text);
  if (v <= 0) throw FlagError(flag + ": must be at least 1 " + what);
  return v;
}

// positive() is parse_duration() for a flag that cannot be 0.
std::chrono::nanoseconds positive(const std::string& flag, const std::string& text) {
  const auto d = parse_duration(flag, text);
  if (d <= 0ns) throw FlagError(flag + ": must be more than 0");
  return d;
}

// flags() is cogo-load's table: each flag's setter writes into o;
// have_connections records that -c (or --worker) gave the count.
std::vector<Flag> flags(Options& o, bool& have_connections) {
  return {
      {"connections", "N",
       [&](auto& f, auto& v) {
         o.connections = at_least_1(f, v, "connection");
         have_connections = true;
       },
       "connections (hold default 1000, load default 50; 100k = 100000)", Flag::one_value, 'c'},
      {"duration", "D", [&](auto& f, auto& v) { o.duration = parse_duration(f, v); },
       "hold time / measuring time (default 10s; 30s, 500ms, 2m)", Flag::one_value, 'd'},
      {"interval", "D", [&](auto& f, auto& v) { o.interval = positive(f, v); },
       "hold: time between requests on a connection (default 5s)"},
      {"pipeline", "N",
       [&](auto& f, auto& v) {
         const int64_t n = at_least_1(f, v, "request");
         if (n > 1024) throw FlagError(f + ": at most 1024");
         o.pipeline = static_cast<int>(n);
       },
       "load: requests written per batch (default 1)"},
      {"timeout", "D", [&](auto& f, auto& v) { o.timeout = positive(f, v); },
       "limit on each connect and each response (default 10s)"},
      {"method", "M",
       [&](auto& f, auto& v) {
         if (v.empty() || v.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") != std::string::npos) {
           throw FlagError(f + ": \"" + v + "\" is not a method (GET, POST, HEAD, ...)");
         }
         o.method = v;
       },
       "request method (default GET)"},
      {"body", "TEXT", [&](auto&, auto& v) { o.body = v; },
       "request body (sent with Content-Length)"},
      {"header", "\"K: V\"",
       [&](auto& f, auto& v) {
         const size_t colon = v.find(':');
         if (colon == std::string::npos || colon == 0 ||
             v.find_first_of("\r\n") != std::string::npos) {
           throw FlagError(f + ": \"" + v + "\" is not a header (expected \"Name: value\")");
         }
         o.headers.push_back(v);
       },
       "extra request header (repeatable)", Flag::one_value, 'H'},
      {"size", "N",
       [&](auto& f, auto& v) {
         const uint64_t n = cogo::parse_size(f, v);
         if (n > (64u << 20)) throw FlagError(f + ": from 1 byte to 64M");
         o.message_size = static_cast<std::size_t>(n);
       },
       "ws: bytes per message (default 32; 4K, 1M)"},
      {"binary", "", [&](auto&, auto&) { o.binary = true; }, "ws: binary messages (default text)"},
      {"deflate", "", [&](auto&, auto&) { o.deflate = true; },
       "ws: offer permessage-deflate (RFC 7692)"},
      {"ws-send", "ping|message",
       [&](auto& f, auto& v) {
         if (v != "ping" && v != "message") {
           throw FlagError(f + ": \"" + v + "\" is not ping or message");
         }
         o.ws_ping = v == "ping";
       },
       "hold with ws://: what each interval sends (default ping)"},
      {"dial-concurrency", "N",
       [&](auto& f, auto& v) {
         o.dial_concurrency =
             static_cast<int>(std::min<int64_t>(at_least_1(f, v, "connect"), 1 << 20));
       },
       "connects in flight per process (default 256)"},
      {"source", "ADDR",
       [&](auto& f, auto& v) {
         if (v.find(':') != std::string::npos && v.front() != '[') {
           throw FlagError(f + ": \"" + v + "\" must be an address without a port (127.0.0.2)");
         }
         o.sources.push_back(v);
       },
       "local source address to bind, e.g. 127.0.0.2 (repeatable,\n"
       "used round-robin; default: automatic, see below)"},
      {"per-process", "N",
       [&](auto& f, auto& v) { o.per_process = at_least_1(f, v, "connection"); },
       "connections per process (default: RLIMIT_NOFILE - 100)"},
      {"json", "FILE",
       [&](auto& f, auto& v) {
         if (v.empty()) throw FlagError(f + ": needs a file name");
         o.json_path = v;
       },
       "write every figure as JSON to FILE"},
      {"server-metrics", "URL",
       [&](auto& f, auto& v) {
         Target t;
         try {
           t = parse_url(v);
         } catch (const FlagError& e) {
           throw FlagError(f + ": " + e.what());
         }
         if (t.websocket) {
           throw FlagError(f + ": URL \"" + v + "\": /metrics is served over http://, not ws://");
         }
         o.server_metrics.push_back(t);
       },
       "the server's Prometheus /metrics (cogo-server --admin-listen:\n"
       "http://127.0.0.1:9090/metrics), read before and after the run:\n"
       "prints what the server counted (requests by status, its own\n"
       "p50/p90/p99 from the duration histogram, CPU per request,\n"
       "accepted, cancelled, listen overflows); repeatable, one per\n"
       "--procs process, summed"},
      {"progress", "", [&](auto&, auto&) { o.progress = Progress::on; },
       "a progress line every second (default: when stdout is a terminal)"},
      {"no-progress", "", [&](auto&, auto&) { o.progress = Progress::off; }, "no progress line"},
      {"help", "", [&](auto&, auto&) { o.help = true; }, "this help", Flag::one_value, 'h'},
      // --worker FIRST,COUNT,TOTAL,FD: set by a parent cogo-load (no help:
      // not for users).
      {"worker", "FIRST,COUNT,TOTAL,FD",
       [&](auto& f, auto& v) {
         long long a = 0, b = 0, c = 0;
         int fd = -1;
         if (std::sscanf(v.c_str(), "%lld,%lld,%lld,%d", &a, &b, &c, &fd) != 4 || a < 0 || b <= 0 ||
             c < a + b || fd < 0) {
           throw FlagError(f + ": \"" + v + "\" is not FIRST,COUNT,TOTAL,FD (internal flag)");
         }
         o.worker = true;
         o.first = a;
         o.connections = b;
         o.total = c;
         o.control_fd = fd;
         have_connections = true;
       }},
  };
}

}  // namespace

std::string usage() {
  Options scratch;
  bool have_connections = false;
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
)" + FlagSet(flags(scratch, have_connections)).help(26) +
         R"(
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
  const auto positional = [&](const std::string& arg) {
    if (arg == "hold" || arg == "load" || arg == "ws") {
      if (have_mode) throw FlagError("mode given twice: \"" + arg + "\"");
      o.mode = arg == "hold" ? Mode::hold : arg == "load" ? Mode::load : Mode::ws;
      have_mode = true;
      return;
    }
    if (!have_mode) {
      throw FlagError("the first argument must be the mode, hold, load or ws, not \"" + arg + "\"");
    }
    if (have_url) throw FlagError("more than one URL: \"" + arg + "\"");
    o.target = parse_url(arg);
    have_url = true;
  };
  FlagSet(flags(o, have_connections))
      .parse({argv + 1, static_cast<std::size_t>(argc > 0 ? argc - 1 : 0)}, {}, positional);
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
