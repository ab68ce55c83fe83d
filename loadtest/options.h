// options.h: cogo-load's command line, and the arithmetic that follows from
// it — how many worker processes, which source address each connection
// binds.
#pragma once

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "cogo/flag_set.h"
#include "cogo/flag_value.h"

namespace cogo::load {

// FlagError: a bad flag or value; what() names the flag and what it expects.
// The command line is a cogo::FlagSet and its values follow
// cogo/flag_value.h, both shared with cogo-server.
using cogo::Flag;
using cogo::FlagError;
using cogo::FlagSet;
using cogo::parse_count;
using cogo::parse_duration;

// Target: where requests go, from a URL "http://host:port/path?query" (or
// "ws://...": a WebSocket endpoint).
struct Target {
  std::string host;  // "127.0.0.1", "localhost", "::1" (no brackets)
  uint16_t port = 80;
  std::string path = "/";            // with the query
  bool websocket = false;            // ws://
  std::string dial_address() const;  // "127.0.0.1:8080", "[::1]:8080"
  std::string host_header() const;   // "127.0.0.1:8080"
  std::string url() const;
};
// parse_url() reads "http://host[:port][/path]", "ws://host[:port][/path]"
// or "host:port[/path]".
Target parse_url(const std::string& text);

enum class Mode { hold, load, ws };
enum class Progress { automatic, on, off };

struct Options {
  Mode mode = Mode::hold;
  Target target;
  int64_t connections = 0;  // hold: N; load: C (defaults: 1000 / 50)
  std::chrono::nanoseconds duration = std::chrono::seconds(10);
  std::chrono::nanoseconds interval = std::chrono::seconds(5);  // hold
  int pipeline = 1;                                             // load
  std::chrono::nanoseconds timeout = std::chrono::seconds(10);  // dial, and each response
  std::string method = "GET";
  std::string body;
  std::vector<std::string> headers;  // "Name: value"
  // WebSocket (ws mode, or hold with a ws:// URL).
  std::size_t message_size = 32;  // --size: bytes per message
  bool binary = false;            // --binary: binary messages (else text)
  bool deflate = false;           // --deflate: offer permessage-deflate
  bool ws_ping = true;            // hold: a ping per interval (--ws-send ping), else a message
  int dial_concurrency = 256;        // dials in flight per process
  std::vector<std::string> sources;  // --source; empty: automatic
  int64_t per_process = 0;           // connections per process; 0: from RLIMIT_NOFILE
  std::string json_path;
  // --server-metrics: the server's Prometheus /metrics (one per process),
  // scraped before and after the run (server_metrics.h).
  std::vector<Target> server_metrics;
  Progress progress = Progress::automatic;
  bool help = false;

  // Worker processes (set by the parent, not by users): this process opens
  // connections [first, first + connections) of `total`, and talks to its
  // parent over the socket `control_fd`.
  bool worker = false;
  int64_t first = 0;
  int64_t total = 0;
  int control_fd = -1;
};

// parse_options() reads argv (argv[0] skipped). Throws FlagError.
Options parse_options(int argc, const char* const* argv);
std::string usage();

std::string format_duration(std::chrono::nanoseconds d);

// ---------------------------------------------------------------------------
// Process split

// kFdMargin: descriptors a process keeps for itself (stdio, epoll, the
// control socket, the runtime's own) below RLIMIT_NOFILE.
inline constexpr int64_t kFdMargin = 100;

// connections_per_process() is how many connections one process may open:
// --per-process if given, else the hard RLIMIT_NOFILE (the runtime raises the
// soft one to it) minus kFdMargin.
int64_t connections_per_process(const Options& o, uint64_t fd_hard_limit);

// Slice: the connections one worker process opens.
struct Slice {
  int64_t first = 0;
  int64_t count = 0;
};
// split() divides n connections into the fewest processes of at most
// per_process each, as evenly as possible.
std::vector<Slice> split(int64_t n, int64_t per_process);

// ---------------------------------------------------------------------------
// Source addresses

// PortRange: net.ipv4.ip_local_port_range, the ports connect() picks from.
struct PortRange {
  int low = 32768;
  int high = 60999;
  int size() const { return high - low + 1; }
};
PortRange read_port_range();  // the defaults above if /proc is unreadable

// SourcePlan: which local address each connection binds before connecting.
// Every (source, destination) pair has its own PortRange of ports, but the
// kernel's port search slows down sharply once half of them are taken (see
// plan_sources), so one source address carries at most ~45% of the range to
// the target; past that connections spread round-robin over 127.0.0.2,
// 127.0.0.3, ... — only when the target is on 127.0.0.0/8, where every such
// address is local. Explicit --source addresses are used round-robin as given.
struct SourcePlan {
  std::vector<std::string> addresses;  // empty: let the kernel choose
  int64_t per_source_budget = 0;       // connections one source may carry
  // source_for() is the local address ("127.0.0.3:0") for connection
  // `index`, or "" for the kernel's choice.
  std::string source_for(int64_t index) const;
};
// plan_sources() plans for `total` connections. Throws FlagError when more
// are asked than one source can carry and the target is not a loopback
// address (the message says to pass --source).
SourcePlan plan_sources(const Options& o, int64_t total, const PortRange& ports);

}  // namespace cogo::load
