// server_metrics.cpp: cogo-load --server-metrics (server_metrics.h).
#include "loadtest/server_metrics.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>

#include "cogo/net.h"

namespace cogo::load {

namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

double parse_value(const std::string& v) {
  if (v == "+Inf" || v == "Inf") return std::numeric_limits<double>::infinity();
  if (v == "-Inf") return -std::numeric_limits<double>::infinity();
  if (v == "NaN") return std::numeric_limits<double>::quiet_NaN();
  std::size_t used = 0;
  const double d = std::stod(v, &used);
  if (used != v.size()) throw std::invalid_argument(v);
  return d;
}

// name_of() is the metric name of a series key (before '{').
std::string name_of(const std::string& key) {
  return key.substr(0, key.find('{'));
}

// label() is label l's value in a series key, "" when absent.
std::string label(const std::string& key, const std::string& l) {
  const std::string needle = l + "=\"";
  for (std::size_t at = key.find('{'); at != std::string::npos; at = key.find(',', at + 1)) {
    if (key.compare(at + 1, needle.size(), needle) == 0) {
      const std::size_t b = at + 1 + needle.size();
      return key.substr(b, key.find('"', b) - b);
    }
  }
  return {};
}

double sum_family(const Samples& s, const std::string& name) {
  double t = 0;
  for (const auto& [k, v] : s) {
    if (name_of(k) == name) t += v;
  }
  return t;
}

double value_or_zero(const Samples& s, const std::string& key) {
  const auto it = s.find(key);
  return it == s.end() ? 0 : it->second;
}

std::string fmt_seconds(double s) {
  if (s < 0) return "-";
  return format_duration(std::chrono::nanoseconds(static_cast<int64_t>(s * 1e9)));
}

}  // namespace

Samples parse_exposition(const std::string& text) {
  Samples out;
  std::size_t line_no = 0;
  for (std::size_t at = 0; at < text.size();) {
    std::size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    const std::string line = trim(text.substr(at, end - at));
    at = end + 1;
    line_no++;
    if (line.empty() || line[0] == '#') continue;
    // The series ends at the first space outside the label braces (label
    // values may hold spaces and escaped quotes).
    std::size_t i = 0;
    bool in_braces = false, in_quotes = false;
    for (; i < line.size(); i++) {
      const char c = line[i];
      if (in_quotes) {
        if (c == '\\') {
          i++;
        } else if (c == '"') {
          in_quotes = false;
        }
      } else if (c == '"') {
        in_quotes = in_braces;
      } else if (c == '{') {
        in_braces = true;
      } else if (c == '}') {
        in_braces = false;
      } else if ((c == ' ' || c == '\t') && !in_braces) {
        break;
      }
    }
    const std::string key = line.substr(0, i);
    std::string rest = trim(line.substr(i));
    rest = rest.substr(0, rest.find_first_of(" \t"));  // drop a timestamp
    try {
      if (key.empty() || rest.empty()) throw std::invalid_argument(line);
      out[key] = parse_value(rest);
    } catch (const std::exception&) {
      throw std::runtime_error("line " + std::to_string(line_no) +
                               " is not 'series value': " + line);
    }
  }
  return out;
}

Samples fetch_metrics(const Target& url, std::chrono::nanoseconds timeout) {
  const std::string where = url.url();
  std::string response;
  try {
    net::Conn c = net::dial(url.dial_address(), timeout);
    c.set_deadline(std::chrono::steady_clock::now() + timeout);
    c.write_all("GET " + url.path + " HTTP/1.0\r\nHost: " + url.host_header() +
                "\r\nAccept: text/plain\r\n\r\n");
    char buf[16384];
    for (;;) {
      std::error_code ec;
      const std::size_t n = c.read(buf, sizeof buf, ec);
      if (ec) {
        if (ec == net::errc::eof) break;
        throw net::Error(ec, "read");
      }
      response.append(buf, n);
    }
  } catch (const std::exception& e) {
    throw std::runtime_error("--server-metrics " + where + ": " + e.what());
  }
  const std::size_t head_end = response.find("\r\n\r\n");
  if (response.compare(0, 5, "HTTP/") != 0 || head_end == std::string::npos) {
    throw std::runtime_error("--server-metrics " + where + ": not an HTTP response");
  }
  const std::size_t sp = response.find(' ');
  if (response.compare(sp + 1, 3, "200") != 0) {
    throw std::runtime_error("--server-metrics " + where + ": " +
                             response.substr(0, response.find("\r\n")));
  }
  try {
    return parse_exposition(response.substr(head_end + 4));
  } catch (const std::exception& e) {
    throw std::runtime_error("--server-metrics " + where + ": " + e.what());
  }
}

ServerDelta delta(const Samples& before, const Samples& after) {
  ServerDelta d;
  d.processes = 1;
  auto diff = [&](const std::string& key) {
    return value_or_zero(after, key) - value_or_zero(before, key);
  };
  for (const auto& [k, v] : after) {
    const std::string name = name_of(k);
    if (name == "cogo_http_requests_total") {
      d.has_requests = true;
      const double n = v - value_or_zero(before, k);
      d.requests += n;
      const std::string code = label(k, "code");
      const int cls = code.size() == 3 && code[0] >= '2' && code[0] <= '5' ? code[0] - '0' : 0;
      d.by_class[cls] += n;
    } else if (name == "cogo_http_request_duration_seconds_bucket") {
      d.buckets[parse_value(label(k, "le"))] += v - value_or_zero(before, k);
    }
  }
  d.duration_count = sum_family(after, "cogo_http_request_duration_seconds_count") -
                     sum_family(before, "cogo_http_request_duration_seconds_count");
  d.duration_sum = sum_family(after, "cogo_http_request_duration_seconds_sum") -
                   sum_family(before, "cogo_http_request_duration_seconds_sum");
  d.cpu_seconds = diff("process_cpu_seconds_total");
  d.accepted = diff("cogo_connections_accepted_total");
  d.cancelled = sum_family(after, "cogo_http_requests_cancelled_total") -
                sum_family(before, "cogo_http_requests_cancelled_total");
  d.listen_overflows = diff("cogo_tcp_listen_overflows_total");
  d.goroutines_after = value_or_zero(after, "cogo_goroutines");
  d.rss_after = value_or_zero(after, "process_resident_memory_bytes");
  return d;
}

void ServerDelta::add(const ServerDelta& o) {
  has_requests = has_requests || o.has_requests;
  requests += o.requests;
  for (int i = 0; i < 6; i++) by_class[i] += o.by_class[i];
  duration_count += o.duration_count;
  duration_sum += o.duration_sum;
  for (const auto& [le, n] : o.buckets) buckets[le] += n;
  cpu_seconds += o.cpu_seconds;
  accepted += o.accepted;
  cancelled += o.cancelled;
  // The namespace's counter: every process reports the same one.
  listen_overflows = std::max(listen_overflows, o.listen_overflows);
  goroutines_after += o.goroutines_after;
  rss_after += o.rss_after;
  processes += o.processes;
}

double ServerDelta::quantile(double q) const {
  if (buckets.empty()) return -1;
  const double total = buckets.rbegin()->second;  // +Inf: every observation
  if (total <= 0) return -1;
  const double rank = q * total;
  double lower = 0, below = 0;
  for (const auto& [le, cumulative] : buckets) {
    if (cumulative >= rank) {
      if (std::isinf(le)) return lower;  // past the largest finite bound
      if (cumulative == below) return le;
      return lower + (le - lower) * (rank - below) / (cumulative - below);
    }
    lower = le;
    below = cumulative;
  }
  return lower;
}

Json ServerDelta::to_json() const {
  Json j = {{"processes", processes},
            {"cpu_seconds", cpu_seconds},
            {"connections_accepted", accepted},
            {"requests_cancelled", cancelled},
            {"listen_overflows", listen_overflows},
            {"goroutines_after", goroutines_after},
            {"rss_bytes_after", rss_after}};
  if (has_requests) {
    j["requests"] = requests;
    j["by_status"] = {{"2xx", by_class[2]},
                      {"3xx", by_class[3]},
                      {"4xx", by_class[4]},
                      {"5xx", by_class[5]},
                      {"other", by_class[0]}};
    j["duration_seconds"] = {{"count", duration_count},
                             {"mean", duration_count > 0 ? duration_sum / duration_count : 0},
                             {"p50", quantile(0.5)},
                             {"p90", quantile(0.9)},
                             {"p99", quantile(0.99)}};
    if (requests > 0) j["cpu_us_per_request"] = cpu_seconds * 1e6 / requests;
  }
  return j;
}

std::string ServerDelta::table(double client_answered) const {
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "server       /metrics deltas over the run (%d process%s)\n",
                processes, processes == 1 ? "" : "es");
  out += line;
  if (!has_requests) {
    out += "  (no cogo_http_requests_total: the server runs without the metrics middleware)\n";
  } else {
    std::snprintf(line, sizeof line, "  %-12s %12s %12s %12s %12s %12s\n", "requests", "counted",
                  "client got", "2xx", "4xx", "5xx");
    out += line;
    std::snprintf(line, sizeof line, "  %-12s %12s %12s %12s %12s %12s\n", "",
                  group_digits(static_cast<int64_t>(requests)).c_str(),
                  group_digits(static_cast<int64_t>(client_answered)).c_str(),
                  group_digits(static_cast<int64_t>(by_class[2])).c_str(),
                  group_digits(static_cast<int64_t>(by_class[4])).c_str(),
                  group_digits(static_cast<int64_t>(by_class[5])).c_str());
    out += line;
    std::snprintf(line, sizeof line,
                  "  %-12s %10s %10s %10s %10s  (server-side, from the histogram)\n", "duration",
                  "p50", "p90", "p99", "mean");
    out += line;
    std::snprintf(line, sizeof line, "  %-12s %10s %10s %10s %10s\n", "",
                  fmt_seconds(quantile(0.5)).c_str(), fmt_seconds(quantile(0.9)).c_str(),
                  fmt_seconds(quantile(0.99)).c_str(),
                  fmt_seconds(duration_count > 0 ? duration_sum / duration_count : -1).c_str());
    out += line;
  }
  char per_request[48] = "";
  if (has_requests && requests > 0) {
    std::snprintf(per_request, sizeof per_request, " (%.2f us/req)", cpu_seconds * 1e6 / requests);
  }
  std::snprintf(
      line, sizeof line,
      "  %-12s cpu %.2fs%s, accepted %s, cancelled %s, listen overflows %s, "
      "goroutines %s, RSS %.1f MiB after\n",
      "process", cpu_seconds, per_request, group_digits(static_cast<int64_t>(accepted)).c_str(),
      group_digits(static_cast<int64_t>(cancelled)).c_str(),
      group_digits(static_cast<int64_t>(listen_overflows)).c_str(),
      group_digits(static_cast<int64_t>(goroutines_after)).c_str(), rss_after / (1 << 20));
  out += line;
  return out;
}

}  // namespace cogo::load
