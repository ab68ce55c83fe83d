// report.cpp: merge, JSON and the human table of a Report.
#include "loadtest/report.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>

#include "loadtest/options.h"

namespace cogo::load {

namespace {

constexpr double kPercentiles[] = {50, 90, 99, 99.9};

std::string percentile_key(double p) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "p%g", p);  // p50, p99.9
  return buf;
}

std::string fmt_ns(uint64_t ns) {
  return format_duration(std::chrono::nanoseconds(static_cast<int64_t>(ns)));
}

}  // namespace

std::string group_digits(int64_t v) {
  const std::string digits = std::to_string(v < 0 ? -v : v);
  std::string out = v < 0 ? "-" : "";
  for (size_t i = 0; i < digits.size(); i++) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string error_kind(const std::string& op, const std::string& message) {
  std::string m = message;
  // "dial 127.0.0.1:1: connection refused — is ..." -> "connection refused":
  // the address and the advice vary; the kind is what is counted.
  const size_t dash = m.find(" — ");
  if (dash != std::string::npos) m = m.substr(0, dash);
  const size_t colon = m.rfind(": ");
  if (colon != std::string::npos) m = m.substr(colon + 2);
  for (char& c : m) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return op + ": " + m;
}

int64_t Report::error_count() const {
  int64_t n = 0;
  for (const auto& [k, v] : errors) n += v;
  return n;
}

bool Report::clean() const {
  if (established != connections || failed != 0 || lost != 0) return false;
  if (mode == "hold" && held != connections) return false;
  if (sent != answered || sent == 0) return false;
  if (status[2] + status[3] != answered) return false;
  return error_count() == 0;
}

void Report::merge(const Report& w) {
  if (mode.empty()) mode = w.mode;
  if (url.empty()) url = w.url;
  processes += w.processes;
  sources = std::max(sources, w.sources);
  connections += w.connections;
  established += w.established;
  failed += w.failed;
  held += w.held;
  peak_open += w.peak_open;
  lost += w.lost;
  reconnects += w.reconnects;
  sent += w.sent;
  answered += w.answered;
  answered_in_window += w.answered_in_window;
  for (int i = 0; i < 6; i++) status[i] += w.status[i];
  bytes_read += w.bytes_read;
  for (const auto& [k, v] : w.errors) errors[k] += v;
  ramp_seconds = std::max(ramp_seconds, w.ramp_seconds);
  duration_seconds = std::max(duration_seconds, w.duration_seconds);
  requests_per_second += w.requests_per_second;
  latency.merge(w.latency);
}

Json Report::to_json(bool with_buckets) const {
  JsonObject conns{{"asked", connections},    {"established", established},
                   {"failed", failed},        {"held", held},
                   {"peak_open", peak_open},  {"lost", lost},
                   {"reconnects", reconnects}};
  JsonObject by_status{{"2xx", status[2]},
                       {"3xx", status[3]},
                       {"4xx", status[4]},
                       {"5xx", status[5]},
                       {"other", status[0]}};
  JsonObject reqs{{"sent", sent},
                  {"answered", answered},
                  {"unanswered", unanswered()},
                  {"answered_in_window", answered_in_window},
                  {"by_status", Json(by_status)},
                  {"bytes_read", bytes_read}};
  JsonObject errs;
  for (const auto& [k, v] : errors) errs[k] = v;
  JsonObject lat{{"count", latency.count()},
                 {"min_ns", latency.min()},
                 {"max_ns", latency.max()},
                 {"mean_ns", latency.mean()},
                 {"stddev_ns", latency.stddev()}};
  for (double p : kPercentiles) lat[percentile_key(p) + "_ns"] = latency.percentile(p);
  if (with_buckets) {
    JsonArray buckets;
    for (const auto& [b, n] : latency.nonzero()) {
      buckets.push_back(Json(JsonArray{Json(static_cast<uint64_t>(b)), Json(n)}));
    }
    lat["buckets"] = Json(std::move(buckets));
    lat["sum_ns"] = latency.sum();
    lat["sum_squares_ns"] = latency.sum_squares();
  }
  return Json(JsonObject{{"mode", mode},
                         {"url", url},
                         {"processes", processes},
                         {"source_addresses", sources},
                         {"connections", Json(conns)},
                         {"requests", Json(reqs)},
                         {"errors", Json(errs)},
                         {"error_count", error_count()},
                         {"ramp_seconds", ramp_seconds},
                         {"duration_seconds", duration_seconds},
                         {"requests_per_second", requests_per_second},
                         {"latency", Json(lat)},
                         {"clean", clean()}});
}

Report Report::from_json(const Json& j) {
  Report r;
  r.mode = j.string_or("mode", "");
  r.url = j.string_or("url", "");
  r.processes = static_cast<int>(j.int_or("processes", 1));
  r.sources = static_cast<int>(j.int_or("source_addresses", 0));
  const Json& c = j.get("connections");
  r.connections = c.int_or("asked", 0);
  r.established = c.int_or("established", 0);
  r.failed = c.int_or("failed", 0);
  r.held = c.int_or("held", 0);
  r.peak_open = c.int_or("peak_open", 0);
  r.lost = c.int_or("lost", 0);
  r.reconnects = c.int_or("reconnects", 0);
  const Json& q = j.get("requests");
  r.sent = q.int_or("sent", 0);
  r.answered = q.int_or("answered", 0);
  r.answered_in_window = q.int_or("answered_in_window", 0);
  r.bytes_read = q.int_or("bytes_read", 0);
  const Json& s = q.get("by_status");
  r.status[2] = s.int_or("2xx", 0);
  r.status[3] = s.int_or("3xx", 0);
  r.status[4] = s.int_or("4xx", 0);
  r.status[5] = s.int_or("5xx", 0);
  r.status[0] = s.int_or("other", 0);
  for (const auto& [k, v] : j.get("errors").as_object()) r.errors[k] = v.as_int();
  r.ramp_seconds = j.double_or("ramp_seconds", 0);
  r.duration_seconds = j.double_or("duration_seconds", 0);
  r.requests_per_second = j.double_or("requests_per_second", 0);
  const Json& l = j.get("latency");
  std::vector<std::pair<size_t, uint64_t>> buckets;
  if (l.get("buckets").is_array()) {
    for (const Json& b : l.get("buckets").as_array()) {
      const JsonArray& pair = b.as_array();
      if (pair.size() != 2) throw JsonError("json: latency bucket is not [index, count]");
      buckets.emplace_back(static_cast<size_t>(pair[0].as_int()),
                           static_cast<uint64_t>(pair[1].as_int()));
    }
  }
  r.latency.restore(buckets, static_cast<uint64_t>(l.int_or("min_ns", 0)),
                    static_cast<uint64_t>(l.int_or("max_ns", 0)), l.double_or("sum_ns", 0),
                    l.double_or("sum_squares_ns", 0));
  return r;
}

std::string Report::table() const {
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "cogo-load %s %s  (%d process%s, %s)\n", mode.c_str(),
                url.c_str(), processes, processes == 1 ? "" : "es",
                sources ? (std::to_string(sources) + " source addresses").c_str()
                        : "kernel-chosen source address");
  out += line;
  std::snprintf(line, sizeof line, "  %-12s %12s %12s %12s %12s %12s\n", "connections", "asked",
                "established", "failed", mode == "hold" ? "held" : "reconnects", "lost");
  out += line;
  std::snprintf(line, sizeof line, "  %-12s %12s %12s %12s %12s %12s\n", "",
                group_digits(connections).c_str(), group_digits(established).c_str(),
                group_digits(failed).c_str(),
                group_digits(mode == "hold" ? held : reconnects).c_str(),
                group_digits(lost).c_str());
  out += line;
  std::snprintf(line, sizeof line, "  %-12s %12s %12s %12s %12s %12s\n", "requests", "sent",
                "answered", "unanswered", "2xx", "non-2xx");
  out += line;
  std::snprintf(line, sizeof line, "  %-12s %12s %12s %12s %12s %12s\n", "",
                group_digits(sent).c_str(), group_digits(answered).c_str(),
                group_digits(unanswered()).c_str(), group_digits(status[2]).c_str(),
                group_digits(answered - status[2]).c_str());
  out += line;
  std::snprintf(line, sizeof line, "  %-12s ramp %.2fs, %s %.2fs\n", "time", ramp_seconds,
                mode == "hold" ? "held" : "measured", duration_seconds);
  out += line;
  if (mode == "load") {
    std::snprintf(line, sizeof line, "  %-12s %.1f  (%s answered in the window)\n", "requests/s",
                  requests_per_second, group_digits(answered_in_window).c_str());
    out += line;
  }
  if (latency.count()) {
    std::snprintf(line, sizeof line, "  %-12s %10s %10s %10s %10s %10s %10s\n", "latency", "p50",
                  "p90", "p99", "p99.9", "max", "mean");
    out += line;
    std::snprintf(line, sizeof line, "  %-12s %10s %10s %10s %10s %10s %10s\n", "",
                  fmt_ns(latency.percentile(50)).c_str(), fmt_ns(latency.percentile(90)).c_str(),
                  fmt_ns(latency.percentile(99)).c_str(), fmt_ns(latency.percentile(99.9)).c_str(),
                  fmt_ns(latency.max()).c_str(),
                  fmt_ns(static_cast<uint64_t>(latency.mean())).c_str());
    out += line;
  }
  if (errors.empty()) {
    out += "  errors       none\n";
  } else {
    for (const auto& [k, v] : errors) {
      std::snprintf(line, sizeof line, "  %-12s %12s  %s\n", "errors", group_digits(v).c_str(),
                    k.c_str());
      out += line;
    }
  }
  return out;
}

}  // namespace cogo::load
