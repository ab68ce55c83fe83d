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
  websocket = websocket || w.websocket;
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

std::string json_string(const Json& j, const char* key, const std::string& fallback) {
  if (!j.is_object()) return fallback;
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : fallback;
}

const Json& json_member(const Json& j, const char* key) {
  static const Json null;
  if (!j.is_object()) return null;
  const auto it = j.find(key);
  return it != j.end() ? *it : null;
}

Json Report::to_json(bool with_buckets) const {
  Json conns{{"asked", connections},    {"established", established},
                   {"failed", failed},        {"held", held},
                   {"peak_open", peak_open},  {"lost", lost},
                   {"reconnects", reconnects}};
  Json by_status{{"2xx", status[2]},
                       {"3xx", status[3]},
                       {"4xx", status[4]},
                       {"5xx", status[5]},
                       {"other", status[0]}};
  Json reqs{{"sent", sent},
                  {"answered", answered},
                  {"unanswered", unanswered()},
                  {"answered_in_window", answered_in_window},
                  {"by_status", by_status},
                  {"bytes_read", bytes_read}};
  Json errs = Json::object();
  for (const auto& [k, v] : errors) errs[k] = v;
  Json lat{{"count", latency.count()},
                 {"min_ns", latency.min()},
                 {"max_ns", latency.max()},
                 {"mean_ns", latency.mean()},
                 {"stddev_ns", latency.stddev()}};
  for (double p : kPercentiles) lat[percentile_key(p) + "_ns"] = latency.percentile(p);
  if (with_buckets) {
    Json buckets = Json::array();
    for (const auto& [b, n] : latency.nonzero()) {
      buckets.push_back(Json::array({static_cast<uint64_t>(b), n}));
    }
    lat["buckets"] = std::move(buckets);
    lat["sum_ns"] = latency.sum();
    lat["sum_squares_ns"] = latency.sum_squares();
  }
  return Json{{"mode", mode},
                         {"url", url},
                         {"websocket", websocket},
                         {"processes", processes},
                         {"source_addresses", sources},
                         {"connections", conns},
                         {"requests", reqs},
                         {"errors", errs},
                         {"error_count", error_count()},
                         {"ramp_seconds", ramp_seconds},
                         {"duration_seconds", duration_seconds},
                         {"requests_per_second", requests_per_second},
                         {"latency", lat},
                         {"clean", clean()}};
}

Report Report::from_json(const Json& j) {
  Report r;
  r.mode = json_string(j, "mode", "");
  r.url = json_string(j, "url", "");
  r.websocket = json_member(j, "websocket").is_boolean() && json_member(j, "websocket").get<bool>();
  r.processes = static_cast<int>(json_number<int64_t>(j, "processes", 1));
  r.sources = static_cast<int>(json_number<int64_t>(j, "source_addresses", 0));
  const Json& c = json_member(j, "connections");
  r.connections = json_number<int64_t>(c, "asked", 0);
  r.established = json_number<int64_t>(c, "established", 0);
  r.failed = json_number<int64_t>(c, "failed", 0);
  r.held = json_number<int64_t>(c, "held", 0);
  r.peak_open = json_number<int64_t>(c, "peak_open", 0);
  r.lost = json_number<int64_t>(c, "lost", 0);
  r.reconnects = json_number<int64_t>(c, "reconnects", 0);
  const Json& q = json_member(j, "requests");
  r.sent = json_number<int64_t>(q, "sent", 0);
  r.answered = json_number<int64_t>(q, "answered", 0);
  r.answered_in_window = json_number<int64_t>(q, "answered_in_window", 0);
  r.bytes_read = json_number<int64_t>(q, "bytes_read", 0);
  const Json& s = json_member(q, "by_status");
  r.status[2] = json_number<int64_t>(s, "2xx", 0);
  r.status[3] = json_number<int64_t>(s, "3xx", 0);
  r.status[4] = json_number<int64_t>(s, "4xx", 0);
  r.status[5] = json_number<int64_t>(s, "5xx", 0);
  r.status[0] = json_number<int64_t>(s, "other", 0);
  for (const auto& [k, v] : json_member(j, "errors").items()) r.errors[k] = v.get<int64_t>();
  r.ramp_seconds = json_number<double>(j, "ramp_seconds", 0);
  r.duration_seconds = json_number<double>(j, "duration_seconds", 0);
  r.requests_per_second = json_number<double>(j, "requests_per_second", 0);
  const Json& l = json_member(j, "latency");
  std::vector<std::pair<size_t, uint64_t>> buckets;
  if (json_member(l, "buckets").is_array()) {
    for (const Json& pair : json_member(l, "buckets")) {
      if (!pair.is_array() || pair.size() != 2) {
        throw std::runtime_error("json: latency bucket is not [index, count]");
      }
      buckets.emplace_back(pair[0].get<size_t>(), pair[1].get<uint64_t>());
    }
  }
  r.latency.restore(buckets, static_cast<uint64_t>(json_number<int64_t>(l, "min_ns", 0)),
                    static_cast<uint64_t>(json_number<int64_t>(l, "max_ns", 0)), json_number<double>(l, "sum_ns", 0),
                    json_number<double>(l, "sum_squares_ns", 0));
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
  std::snprintf(line, sizeof line, "  %-12s %12s %12s %12s %12s %12s\n",
                websocket ? (mode == "hold" ? "round trips" : "messages") : "requests", "sent",
                "answered", "unanswered", websocket ? "checked" : "2xx", websocket ? "wrong" : "non-2xx");
  out += line;
  std::snprintf(line, sizeof line, "  %-12s %12s %12s %12s %12s %12s\n", "",
                group_digits(sent).c_str(), group_digits(answered).c_str(),
                group_digits(unanswered()).c_str(), group_digits(status[2]).c_str(),
                group_digits(answered - status[2]).c_str());
  out += line;
  std::snprintf(line, sizeof line, "  %-12s ramp %.2fs, %s %.2fs\n", "time", ramp_seconds,
                mode == "hold" ? "held" : "measured", duration_seconds);
  out += line;
  if (mode == "load" || mode == "ws") {
    std::snprintf(line, sizeof line, "  %-12s %.1f  (%s answered in the window)\n",
                  mode == "ws" ? "messages/s" : "requests/s", requests_per_second,
                  group_digits(answered_in_window).c_str());
    out += line;
  }
  if (latency.count()) {
    std::snprintf(line, sizeof line, "  %-12s %10s %10s %10s %10s %10s %10s\n",
                  websocket ? "round trip" : "latency", "p50",
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
