// cogo/http/error.h: HttpError, an exception that carries a response status.
#pragma once

#include <stdexcept>
#include <string>

namespace cogo::http {

// HttpError ends a request with a status: a handler may throw it ("404"),
// and Request::read() throws it for a body the server refuses (413 when it
// exceeds HttpOptions::max_body_bytes, 400 when its framing is malformed or
// the peer hangs up mid-body). When it escapes a handler and nothing was sent
// yet, the engine answers with its status and message; it is not logged as a
// handler failure.
class HttpError : public std::runtime_error {
 public:
  HttpError(int status, const std::string& message)
      : std::runtime_error(message), status_(status) {}
  int status() const noexcept { return status_; }

 private:
  int status_;
};

}  // namespace cogo::http
