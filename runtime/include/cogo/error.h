// cogo/error.h: Error, the one base of every exception cogo throws for an
// operation that failed, so a handler can catch them all in one place:
//
//   try { ... } catch (const cogo::Error& e) { log(e.what(), e.code()); }
//
// Each kind still says what failed, and its code() says why, in a category
// of its own:
//   cogo::net::Error          a socket operation: an errno (system_category)
//                             or an errc (timed out, eof, closed)
//   cogo::http::HttpError     a status to answer: category "cogo.http"
//   cogo::http::TimeoutError  a read or write deadline: errc::timed_out
//   cogo::FlagError           a bad flag or value: errc::invalid_argument
// It is a std::system_error, so code that catches those keeps working; what()
// is exactly the message given (system_error's own would append the code's
// message a second time).
#pragma once

#include <memory>
#include <string>
#include <system_error>

namespace cogo {

class Error : public std::system_error {
 public:
  Error(std::error_code code, std::string what)
      : std::system_error(code), what_(std::make_shared<const std::string>(std::move(what))) {}
  const char* what() const noexcept override { return what_->c_str(); }

 private:
  std::shared_ptr<const std::string> what_;  // shared: copying an exception must not throw
};

}  // namespace cogo
