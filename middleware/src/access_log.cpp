// access_log.cpp: the access-log middleware.
#include "cogo/middleware/access_log.h"

#include <chrono>
#include <memory>
#include <stdexcept>

#include "cogo/cancel.h"
#include "cogo/http/request.h"
#include "cogo/http/response.h"
#include "spdlog/spdlog.h"

namespace cogo::middleware {

http::Middleware access_log(const std::string& logger_name) {
  std::shared_ptr<spdlog::logger> logger;
  if (!logger_name.empty()) {
    logger = spdlog::get(logger_name);
    if (!logger) {
      throw std::invalid_argument("access_log: no spdlog logger named \"" + logger_name +
                                  "\" (register it first, e.g. spdlog::stdout_logger_mt(name))");
    }
  }
  return [logger](http::Request& req, http::Response& res, const http::Next& next) {
    const auto start = std::chrono::steady_clock::now();
    spdlog::logger* log = logger ? logger.get() : spdlog::default_logger_raw();
    auto line = [&](int status) {
      const double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count();
      log->info("{} \"{} {} HTTP/{}.{}\" {} {} {:.3f}ms", req.remote_address(), req.method(),
                req.target(), req.version_major(), req.version_minor(), status, res.body_bytes(),
                ms);
    };
    // A cancelled request is logged as the server answers it: 499 (nginx's
    // "client closed request") when the client left, 503 otherwise.
    auto cancelled_status = [](cogo::CancelReason r) {
      return r == cogo::CancelReason::client_gone ? 499 : 503;
    };
    try {
      next(req, res);
    } catch (const cogo::Cancelled& e) {
      const cogo::CancelReason r = req.context().reason();
      line(cancelled_status(r != cogo::CancelReason::none ? r : e.reason()));
      throw;
    } catch (...) {
      line(500);
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
  };
}

}  // namespace cogo::middleware
