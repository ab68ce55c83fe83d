// cogo/middleware/access_log.h: one line per request.
//
//   server.use(cogo::middleware::access_log());   // text, through spdlog's default logger
//   -> 127.0.0.1:51234 "GET /users/7 HTTP/1.1" 200 57 0.212ms kd3x9q2m7a1p4-00000000002a /users/:id
//
//   cogo::middleware::AccessLogOptions o;
//   o.format = cogo::middleware::AccessLogFormat::json;
//   o.file = "/var/log/cogo/access.log";          // rotated at 100 MiB, 5 kept
//   server.use(cogo::middleware::access_log(o));
//   -> {"time":"2026-11-23T14:30:00.123Z","remote_addr":"203.0.113.7","user":null,
//       "method":"GET","target":"/users/7","protocol":"HTTP/1.1","status":200,"bytes":57,
//       "duration_ms":0.212,"request_id":"kd3x9q2m7a1p4-00000000002a","route":"/users/:id",
//       "referer":null,"user_agent":"curl/7.88.1"}
//
// Formats:
//   text      remote "request line" status bytes duration request-id route
//             ('-' for a missing id or route); through a spdlog logger it
//             gets the logger's prefix, to a file or stdout an ISO 8601 time
//   common    Apache's Common Log Format, exactly, for the tools that parse
//             it: host - user [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 2326
//             (host: the client address without a port; user: basic_auth's;
//             bytes: body bytes, '-' for none)
//   combined  common + "referer" "user agent"
//   json      one object per line with every field (UTF-8; strings escaped,
//             bad bytes as U+FFFD; absent ones null)
// In common and combined, '"', '\' and bytes outside printable ASCII are
// written as \" \\ \xHH. The client address is req.remote_address() (after
// real_ip). The status is what the client got: 499 when it left (nothing
// was sent), 503 for another cancellation, 500 when the handler threw.
//
// Where to: an spdlog logger (access_log(logger_name), synchronous, text
// only), or stdout or a file (AccessLogOptions) through a writer thread of
// the middleware's own: a request only copies its line into memory, so a
// slow disk never stalls a goroutine's P; lines are written in batches
// every flush_interval, and dropped (counted) only if max_buffered_bytes
// of them wait for a stuck disk. A file rotates through spdlog's rotating
// sink: "access.log" -> "access.1.log" -> ... "access.<max_files>.log".
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "cogo/http/handler.h"

namespace cogo::middleware {

enum class AccessLogFormat { text, common, combined, json };

// parse_access_log_format() reads "text", "common", "combined" or "json";
// throws std::invalid_argument naming anything else.
AccessLogFormat parse_access_log_format(const std::string& name);

struct AccessLogOptions {
  AccessLogFormat format = AccessLogFormat::text;
  // A file to append to (created if missing, with its directories);
  // empty: stdout.
  std::string file;
  // Rotate the file when a batch would take it past this size; 0: never.
  std::size_t max_file_bytes = 100 * 1024 * 1024;
  // Rotated files kept beside the live one.
  std::size_t max_files = 5;
  // How often the writer thread writes and flushes what is buffered.
  std::chrono::milliseconds flush_interval{200};
  // Per shard of the buffer (16 shards): lines beyond it are dropped.
  std::size_t max_buffered_bytes = 4 * 1024 * 1024;
};

// AccessLog: what access_log(options) returns, for the caller that wants
// to flush it (tests, before reading the file) or read the drop count.
class AccessLog {
 public:
  // AccessLog() opens the file (throws std::invalid_argument naming it when
  // it cannot be opened) and starts the writer thread.
  explicit AccessLog(AccessLogOptions options);
  ~AccessLog();
  http::Middleware middleware() const;
  // flush() returns once every line logged before it is in the file.
  void flush();
  std::uint64_t dropped() const noexcept;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

// access_log(options) is AccessLog(options).middleware(): the writer lives
// as long as the middleware (and the handlers built from it).
http::Middleware access_log(AccessLogOptions options);

// access_log(logger_name) logs text lines at info level through the spdlog
// logger registered under logger_name (the default logger when empty,
// looked up per request so that a later set_default_logger() applies),
// synchronously. Throws std::invalid_argument naming logger_name when no
// such logger is registered.
http::Middleware access_log(const std::string& logger_name = {});

}  // namespace cogo::middleware
