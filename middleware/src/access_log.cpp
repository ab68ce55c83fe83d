// access_log.cpp: the access-log middleware and its four formats
// (cogo/middleware/access_log.h); log_writer.h carries the lines to the
// file or stdout.
#include "cogo/middleware/access_log.h"

#include <time.h>

#include <chrono>
#include <cstdio>
#include <stdexcept>

#include "cogo/cancel.h"
#include "cogo/http/error.h"
#include "cogo/http/request.h"
#include "cogo/http/response.h"
#include "cogo/middleware/authenticated_user.h"
#include "cogo/middleware/request_id.h"
#include "ip.h"
#include "log_writer.h"
#include "named_logger.h"
#include "spdlog/fmt/fmt.h"
#include "spdlog/sinks/rotating_file_sink.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"
#include "utf8.h"

namespace cogo::middleware {
namespace {

using Buffer = fmt::memory_buffer;

void put(Buffer& b, std::string_view s) {
  b.append(s.data(), s.data() + s.size());
}
void put(Buffer& b, char c) {
  b.push_back(c);
}

// WallClock: the time texts of the current second, per thread (strftime
// and the time zone once a second, not once a line).
struct WallClock {
  std::int64_t second = -1;
  char iso[24] = {};  // "2026-11-23T14:30:00" (UTC)
  char clf[32] = {};  // "23/Nov/2026:15:30:00 +0100" (local)
  int millis = 0;
  void now() {
    const auto t = std::chrono::system_clock::now().time_since_epoch();
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t).count();
    millis = static_cast<int>(ms % 1000);
    const std::int64_t s = ms / 1000;
    if (s == second) return;
    second = s;
    const time_t tt = static_cast<time_t>(s);
    tm utc{};
    tm local{};
    gmtime_r(&tt, &utc);
    localtime_r(&tt, &local);
    strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%S", &utc);
    strftime(clf, sizeof clf, "%d/%b/%Y:%H:%M:%S %z", &local);
  }
};

WallClock& wall_clock() {
  thread_local WallClock c;
  c.now();
  return c;
}

void put_iso_time(Buffer& b) {
  const WallClock& c = wall_clock();
  fmt::format_to(std::back_inserter(b), "{}.{:03}Z", c.iso, c.millis);
}

// put_clf_escaped() writes s as Apache escapes its log fields: '"' and '\'
// with a backslash, other bytes outside printable ASCII as \xHH.
void put_clf_escaped(Buffer& b, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      put(b, '\\');
      put(b, static_cast<char>(c));
    } else if (c < 0x20 || c >= 0x7f) {
      const char esc[4] = {'\\', 'x', kHex[c >> 4], kHex[c & 15]};
      b.append(esc, esc + 4);
    } else {
      put(b, static_cast<char>(c));
    }
  }
}

// put_json_string() writes s as a JSON string: quotes, '\', control
// characters escaped; bytes that are not UTF-8 as U+FFFD.
void put_json_string(Buffer& b, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  put(b, '"');
  for (std::size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      put(b, '\\');
      put(b, static_cast<char>(c));
    } else if (c < 0x20) {
      const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
      b.append(esc, esc + 6);
    } else if (c < 0x80) {
      put(b, static_cast<char>(c));
    } else if (const std::size_t n = detail::utf8_length(s, i); n > 0) {
      b.append(s.data() + i, s.data() + i + n);
      i += n;
      continue;
    } else {
      put(b, "\\ufffd");
    }
    ++i;
  }
  put(b, '"');
}

void put_json_or_null(Buffer& b, std::string_view s) {
  if (s.empty()) {
    put(b, "null");
  } else {
    put_json_string(b, s);
  }
}

std::string_view dash_if_empty(std::string_view s) {
  return s.empty() ? std::string_view("-") : s;
}

std::string_view user_of(const http::Request& req) {
  const auto* u = req.value<AuthenticatedUser>();
  return u != nullptr ? u->name : std::string_view();
}

// Entry: what one line says.
struct Entry {
  const http::Request& req;
  const http::Response& res;
  int status;
  double ms;
};

void format_text(Buffer& b, const Entry& e) {
  fmt::format_to(std::back_inserter(b), "{} \"{} {} HTTP/{}.{}\" {} {} {:.3f}ms {} {}",
                 e.req.remote_address(), e.req.method(), e.req.target(), e.req.version_major(),
                 e.req.version_minor(), e.status, e.res.body_bytes(), e.ms,
                 dash_if_empty(request_id_of(e.req)), dash_if_empty(e.req.route()));
}

void format_clf(Buffer& b, const Entry& e, bool combined) {
  put_clf_escaped(b, detail::strip_port(e.req.remote_address()));
  put(b, " - ");
  const std::string_view user = user_of(e.req);
  if (user.empty()) {
    put(b, '-');
  } else {
    put_clf_escaped(b, user);
  }
  put(b, " [");
  put(b, wall_clock().clf);
  put(b, "] \"");
  put_clf_escaped(b, e.req.method());
  put(b, ' ');
  put_clf_escaped(b, e.req.target());
  fmt::format_to(std::back_inserter(b), " HTTP/{}.{}\" {} ", e.req.version_major(),
                 e.req.version_minor(), e.status);
  if (e.res.body_bytes() == 0) {
    put(b, '-');
  } else {
    fmt::format_to(std::back_inserter(b), "{}", e.res.body_bytes());
  }
  if (!combined) return;
  for (std::string_view field : {"Referer", "User-Agent"}) {
    put(b, " \"");
    const std::string_view v = e.req.header(field);
    if (v.empty()) {
      put(b, '-');
    } else {
      put_clf_escaped(b, v);
    }
    put(b, '"');
  }
}

void format_json(Buffer& b, const Entry& e) {
  put(b, "{\"time\":\"");
  put_iso_time(b);
  put(b, "\",\"remote_addr\":");
  put_json_string(b, detail::strip_port(e.req.remote_address()));
  put(b, ",\"user\":");
  put_json_or_null(b, user_of(e.req));
  put(b, ",\"method\":");
  put_json_string(b, e.req.method());
  put(b, ",\"target\":");
  put_json_string(b, e.req.target());
  fmt::format_to(std::back_inserter(b),
                 ",\"protocol\":\"HTTP/{}.{}\",\"status\":{},\"bytes\":{},\"duration_ms\":{:.3f}",
                 e.req.version_major(), e.req.version_minor(), e.status, e.res.body_bytes(), e.ms);
  put(b, ",\"request_id\":");
  put_json_or_null(b, request_id_of(e.req));
  put(b, ",\"route\":");
  put_json_or_null(b, e.req.route());
  put(b, ",\"referer\":");
  put_json_or_null(b, e.req.header("Referer"));
  put(b, ",\"user_agent\":");
  put_json_or_null(b, e.req.header("User-Agent"));
  put(b, '}');
}

// cancelled_status() is what the client of a cancelled request got: 499
// (nginx's "client closed request") when it left, 503 otherwise.
int cancelled_status(cogo::CancelReason r) {
  return r == cogo::CancelReason::client_gone ? 499 : 503;
}

// run_logged() runs next and calls line(status) with the status the client
// got, rethrowing what next threw.
template <class Line>
void run_logged(http::Request& req, http::Response& res, const http::Next& next, Line&& line) {
  try {
    next(req, res);
  } catch (const cogo::Cancelled& e) {
    const cogo::CancelReason r = req.context().reason();
    line(cancelled_status(r != cogo::CancelReason::none ? r : e.reason()));
    throw;
  } catch (const http::HttpError& e) {
    line(res.headers_sent() ? res.status() : e.status());
    throw;
  } catch (const http::TimeoutError&) {
    line(res.headers_sent() ? res.status() : 408);
    throw;
  } catch (...) {
    line(res.headers_sent() ? res.status() : 500);
    throw;
  }
  // A handler that swallowed the cancel without answering gets the 503
  // (or nothing, 499) all the same.
  const cogo::CancelReason r = req.context().reason();
  if (r != cogo::CancelReason::none &&
      (r == cogo::CancelReason::client_gone ||
       (!res.headers_sent() && res.status() == 200 && res.body_bytes() == 0))) {
    line(cancelled_status(r));
    return;
  }
  line(res.status());
}

double elapsed_ms(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

}  // namespace

AccessLogFormat parse_access_log_format(const std::string& name) {
  if (name == "text") return AccessLogFormat::text;
  if (name == "common") return AccessLogFormat::common;
  if (name == "combined") return AccessLogFormat::combined;
  if (name == "json") return AccessLogFormat::json;
  throw std::invalid_argument("'" + name +
                              "' is not an access log format; use text, common, combined or json");
}

struct AccessLog::State {
  AccessLogFormat format;
  std::unique_ptr<detail::LogWriter> writer;
};

AccessLog::AccessLog(AccessLogOptions options) : state_(std::make_shared<State>()) {
  std::shared_ptr<spdlog::sinks::sink> sink;
  if (options.file.empty()) {
    sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
  } else {
    try {
      sink = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
          options.file, options.max_file_bytes == 0 ? SIZE_MAX : options.max_file_bytes,
          options.max_files);
    } catch (const spdlog::spdlog_ex& e) {
      throw std::invalid_argument("access log file " + options.file + ": " + e.what());
    }
  }
  state_->format = options.format;
  state_->writer = std::make_unique<detail::LogWriter>(
      std::move(sink),
      detail::LogWriter::Options{options.flush_interval, options.max_buffered_bytes});
}

AccessLog::~AccessLog() = default;

void AccessLog::flush() {
  state_->writer->flush();
}
std::uint64_t AccessLog::dropped() const noexcept {
  return state_->writer->dropped();
}

http::Middleware AccessLog::middleware() const {
  return [state = state_](http::Request& req, http::Response& res, const http::Next& next) {
    const auto start = std::chrono::steady_clock::now();
    run_logged(req, res, next, [&](int status) {
      const Entry e{req, res, status, elapsed_ms(start)};
      Buffer b;
      switch (state->format) {
        case AccessLogFormat::text:
          put_iso_time(b);
          put(b, ' ');
          format_text(b, e);
          break;
        case AccessLogFormat::common:
        case AccessLogFormat::combined:
          format_clf(b, e, state->format == AccessLogFormat::combined);
          break;
        case AccessLogFormat::json:
          format_json(b, e);
          break;
      }
      put(b, '\n');
      state->writer->append(std::string_view(b.data(), b.size()));
    });
  };
}

http::Middleware access_log(AccessLogOptions options) {
  return AccessLog(std::move(options)).middleware();
}

http::Middleware access_log(const std::string& logger_name) {
  std::shared_ptr<spdlog::logger> logger = detail::named_logger("access_log", logger_name);
  return [logger](http::Request& req, http::Response& res, const http::Next& next) {
    const auto start = std::chrono::steady_clock::now();
    run_logged(req, res, next, [&](int status) {
      Buffer b;
      format_text(b, Entry{req, res, status, elapsed_ms(start)});
      spdlog::logger* log = logger ? logger.get() : spdlog::default_logger_raw();
      log->info(spdlog::string_view_t(b.data(), b.size()));
    });
  };
}

}  // namespace cogo::middleware
