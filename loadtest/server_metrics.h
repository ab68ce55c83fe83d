// server_metrics.h: cogo-load --server-metrics URL — the server's own view
// of a run, from its Prometheus /metrics before and after: requests by
// status class, the request-duration histogram's p50/p90/p99 (the
// server-side latency beside the client's), CPU seconds, connections
// accepted, cancelled requests, listen overflows. Several URLs (one per
// --procs process) add up, histograms bucket by bucket.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "loadtest/options.h"
#include "loadtest/report.h"

namespace cogo::load {

// Samples: one scrape, series (the name with its labels as written,
// `name{a="x",b="y"}`) to value.
using Samples = std::map<std::string, double>;

// parse_exposition() reads the Prometheus text format (0.0.4): comments
// and blank lines are skipped; a timestamp after the value is ignored.
// Throws std::runtime_error naming the line it cannot read.
Samples parse_exposition(const std::string& text);

// fetch_metrics() GETs url (HTTP/1.0, the body until the close) and parses
// it. Works on and off a goroutine. Throws std::runtime_error saying what
// failed (connect, status, parse).
Samples fetch_metrics(const Target& url, std::chrono::nanoseconds timeout);

// ServerDelta: what the server counted between two scrapes.
struct ServerDelta {
  bool has_requests = false;  // the request metrics are there (middleware::metrics)
  double requests = 0;        // cogo_http_requests_total
  double by_class[6] = {};    // [2] 2xx ... [5] 5xx, [0] other (499 is 4xx)
  double duration_count = 0;  // observations in cogo_http_request_duration_seconds
  double duration_sum = 0;    // seconds
  // The duration histogram, summed over its series: upper bound -> count
  // (cumulative, +Inf as infinity).
  std::map<double, double> buckets;
  double cpu_seconds = 0;       // process_cpu_seconds_total
  double accepted = 0;          // cogo_connections_accepted_total
  double cancelled = 0;         // cogo_http_requests_cancelled_total, every reason
  double listen_overflows = 0;  // cogo_tcp_listen_overflows_total (the namespace's)
  double goroutines_after = 0;  // cogo_goroutines at the second scrape
  double rss_after = 0;         // process_resident_memory_bytes at the second scrape
  int processes = 0;            // URLs summed

  // quantile() is Prometheus' histogram_quantile(q) over buckets: linear
  // interpolation inside the bucket holding rank q*count; seconds, or -1
  // without observations. Past the largest finite bound it is that bound.
  double quantile(double q) const;
  void add(const ServerDelta& d);
  Json to_json() const;
  // table() is the lines Report::table() is followed by.
  std::string table(double client_answered) const;
};

// delta() is after - before, for one process.
ServerDelta delta(const Samples& before, const Samples& after);

}  // namespace cogo::load
