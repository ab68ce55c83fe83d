// access_log.cpp: the access-log middleware.
#include "cogo/middleware/access_log.h"

#include <chrono>
#include <memory>
#include <stdexcept>

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
    try {
      next(req, res);
    } catch (...) {
      line(500);
      throw;
    }
    line(res.status());
  };
}

}  // namespace cogo::middleware
