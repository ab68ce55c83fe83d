// cogo/http/error.h: the server's members of the cogo::Error family
// (cogo/error.h): HttpError, which carries a response status, and
// TimeoutError, a passed read or write deadline.
#pragma once

#include <string>
#include <system_error>

#include "cogo/error.h"

namespace cogo::http {

// http_status_category(): the category of HttpError's code(), "cogo.http";
// its message() is the status's reason phrase.
const std::error_category& http_status_category() noexcept;

// HttpError ends a request with a status: a handler may throw it ("404"),
// and Request::read() throws it for a body the server refuses (413 when it
// exceeds HttpOptions::max_body_bytes, 400 when its framing is malformed or
// the peer hangs up mid-body). When it escapes a handler and nothing was sent
// yet, the engine answers with its status and message; it is not logged as a
// handler failure.
class HttpError : public cogo::Error {
 public:
  HttpError(int status, const std::string& message)
      : cogo::Error(std::error_code(status, http_status_category()), message) {}
  int status() const noexcept { return code().value(); }
};

// TimeoutError: a read or write deadline passed (Request::read() throws it
// when the body does not arrive within HttpOptions::body_read_timeout; left
// uncaught, the client gets 408). code() is errc::timed_out.
class TimeoutError : public cogo::Error {
 public:
  explicit TimeoutError(const char* what)
      : cogo::Error(std::make_error_code(std::errc::timed_out), what) {}
};

}  // namespace cogo::http
