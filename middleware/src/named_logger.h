// named_logger.h: the spdlog logger a middleware was given by name
// (recover, access_log). Private to cogo_middleware.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include "spdlog/spdlog.h"

namespace cogo::middleware::detail {

// named_logger() is the logger registered under name, or null for an
// empty name (the caller then uses the default logger at each request, so
// that a later set_default_logger() applies). Throws
// std::invalid_argument, saying who asked, when no such logger exists.
inline std::shared_ptr<spdlog::logger> named_logger(const char* who, const std::string& name) {
  if (name.empty()) return nullptr;
  std::shared_ptr<spdlog::logger> logger = spdlog::get(name);
  if (!logger) {
    throw std::invalid_argument(std::string(who) + ": no spdlog logger named \"" + name +
                                "\" (register it first, e.g. spdlog::stdout_logger_mt(name))");
  }
  return logger;
}

}  // namespace cogo::middleware::detail
