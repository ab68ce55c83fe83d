// report.h: what one cogo-load run (or one of its worker processes) found,
// how worker reports add up, and how a report is printed and serialised.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "loadtest/histogram.h"
#include "nlohmann/json.hpp"

namespace cogo::load {

// Json: the reports and the messages between worker processes are JSON
// (nlohmann-json; objects keep their keys sorted, integers stay exact).
using Json = nlohmann::json;

// json_number() is the member key of object j as T, or fallback when j is
// not an object or has no such number.
template <class T>
T json_number(const Json& j, const char* key, T fallback) {
  if (!j.is_object()) return fallback;
  const auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<T>() : fallback;
}
// json_string() is the same for a string member.
std::string json_string(const Json& j, const char* key, const std::string& fallback);
// json_member() is the member key of j, or null.
const Json& json_member(const Json& j, const char* key);

struct Report {
  std::string mode;  // "hold", "load" or "ws"
  std::string url;
  bool websocket = false;  // WebSocket connections: requests are messages or pings
  int processes = 1;  // processes that opened connections
  int sources = 0;    // source addresses bound (0: the kernel's choice)

  // Connections.
  int64_t connections = 0;  // asked for
  int64_t established = 0;  // connected
  int64_t failed = 0;       // could not connect
  int64_t held = 0;         // hold: open and healthy at the end of the hold time
  int64_t peak_open = 0;    // most connections open at once (sum of workers' peaks)
  int64_t lost = 0;         // closed or broken after connecting
  int64_t reconnects = 0;   // load: new connections after a server close

  // Requests.
  int64_t sent = 0;                // requests written
  int64_t answered = 0;            // complete responses read
  int64_t answered_in_window = 0;  // load: answered before the measuring window ended
  int64_t status[6] = {};          // answered by class: [2] 2xx ... [5] 5xx, [0] other
                                   // (WebSocket: [2] counts answers that checked out)
  int64_t bytes_read = 0;

  // Errors by kind ("connect: connection refused", "read: timeout", ...).
  std::map<std::string, int64_t> errors;

  // Times, seconds.
  double ramp_seconds = 0;         // from the first dial to the last connection's first answer
  double duration_seconds = 0;     // hold time, or the load measuring window
  double requests_per_second = 0;  // load: answered_in_window / duration (summed over workers)

  Histogram latency;  // load (and hold): nanoseconds from write to complete response

  int64_t unanswered() const { return sent - answered; }
  int64_t error_count() const;
  // clean() is what the exit status reports: every connection established
  // (and held, in hold mode), every request answered, no error.
  bool clean() const;

  // merge() adds a worker's report into this one: counts and errors add,
  // histograms merge, rates add (the workers measure the same window), and
  // times take the longest. A sum starts from Report{} with processes = 0.
  void merge(const Report& w);

  Json to_json(bool with_buckets) const;
  // from_json() reads what to_json(true) wrote. Throws Json::exception.
  static Report from_json(const Json& j);

  // table() is the human summary printed on stdout.
  std::string table() const;
};

// group_digits() prints 1234567 as "1,234,567".
std::string group_digits(int64_t v);

// error_kind() names an error for Report::errors: "connect: connection
// refused", "read: timeout", "read: connection reset by peer".
std::string error_kind(const std::string& op, const std::string& message);

}  // namespace cogo::load
