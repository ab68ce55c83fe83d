// recover.cpp: cogo/middleware/recover.h says what it does.
#include "cogo/middleware/recover.h"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <typeinfo>

#include "cogo/cancel.h"
#include "cogo/http/error.h"
#include "cogo/http/request.h"
#include "cogo/http/response.h"
#include "cogo/middleware/request_id.h"
#include "named_logger.h"
#include "spdlog/spdlog.h"

namespace cogo::middleware {
namespace {

// current_exception_type() is the demangled type of the exception being
// handled ("std::out_of_range"). Call it inside a catch block.
std::string current_exception_type() {
  const std::type_info* type = abi::__cxa_current_exception_type();
  if (type == nullptr) return "unknown";
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> name(
      abi::__cxa_demangle(type->name(), nullptr, nullptr, &status), &std::free);
  return status == 0 && name ? std::string(name.get()) : std::string(type->name());
}

std::string_view id_or_dash(const http::Request& req) {
  const std::string_view id = request_id_of(req);
  return id.empty() ? std::string_view("-") : id;
}

}  // namespace

http::Middleware recover(const std::string& logger_name) {
  std::shared_ptr<spdlog::logger> logger = detail::named_logger("recover", logger_name);
  return [logger](http::Request& req, http::Response& res, const http::Next& next) {
    const http::Response::Mark mark = res.mark();
    spdlog::logger* log = logger ? logger.get() : spdlog::default_logger_raw();
    auto report = [&](spdlog::level::level_enum level, std::string_view what) {
      log->log(level, "recovered: request_id={} {} {}: {}: {}", id_or_dash(req), req.method(),
               req.target(), current_exception_type(), what);
    };
    // answer() is the 500 for a bug, or the close when it is too late.
    auto answer = [&] {
      if (res.headers_sent()) {
        // The server closes the connection for an HttpError after the head
        // went out, and logs nothing more.
        throw http::HttpError(500, "the handler failed after the response head was sent");
      }
      res.reset_to(mark);
      res.text(500, "Internal Server Error\n");
    };
    try {
      next(req, res);
    } catch (const cogo::Cancelled& e) {
      report(spdlog::level::debug, e.what());
      throw;
    } catch (const http::TimeoutError&) {
      throw;
    } catch (const http::HttpError& e) {
      report(e.status() >= 500 ? spdlog::level::err : spdlog::level::debug, e.what());
      throw;
    } catch (const std::exception& e) {
      report(spdlog::level::err, e.what());
      answer();
    } catch (...) {
      report(spdlog::level::err, "(not a std::exception)");
      answer();
    }
  };
}

}  // namespace cogo::middleware
