// secure_headers.cpp: cogo/middleware/secure_headers.h says what it does.
#include "cogo/middleware/secure_headers.h"

#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

#include "cogo/http/request.h"
#include "cogo/http/response.h"

namespace cogo::middleware {

http::Middleware secure_headers(SecureHeadersOptions o) {
  auto check = [](const char* option, const std::string& value) {
    if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      throw std::invalid_argument(std::string("secure_headers: ") + option +
                                  " holds CR, LF or NUL");
    }
  };
  if (o.hsts_max_age < 0) throw std::invalid_argument("secure_headers: hsts_max_age is negative");
  if (o.hsts_preload && (!o.hsts_include_subdomains || o.hsts_max_age < 31536000)) {
    throw std::invalid_argument(
        "secure_headers: hsts_preload needs hsts_include_subdomains and hsts_max_age of a year "
        "(31536000) or more");
  }
  if (!o.frame_options.empty() && o.frame_options != "DENY" && o.frame_options != "SAMEORIGIN") {
    throw std::invalid_argument("secure_headers: frame_options \"" + o.frame_options +
                                "\" is neither DENY nor SAMEORIGIN");
  }
  check("content_type_options", o.content_type_options);
  check("referrer_policy", o.referrer_policy);
  check("content_security_policy", o.content_security_policy);

  // Every field is built once; a request only copies them into the response.
  auto always = std::make_shared<std::vector<std::pair<std::string, std::string>>>();
  if (!o.content_type_options.empty())
    always->emplace_back("X-Content-Type-Options", o.content_type_options);
  if (!o.frame_options.empty()) always->emplace_back("X-Frame-Options", o.frame_options);
  if (!o.referrer_policy.empty()) always->emplace_back("Referrer-Policy", o.referrer_policy);
  if (!o.content_security_policy.empty())
    always->emplace_back("Content-Security-Policy", o.content_security_policy);
  std::string hsts;
  if (o.hsts && o.hsts_max_age > 0) {
    hsts = "max-age=" + std::to_string(o.hsts_max_age);
    if (o.hsts_include_subdomains) hsts += "; includeSubDomains";
    if (o.hsts_preload) hsts += "; preload";
  }
  return [always, hsts = std::move(hsts)](http::Request& req, http::Response& res,
                                          const http::Next& next) {
    for (const auto& [name, value] : *always) res.set_header(name, value);
    if (!hsts.empty() && req.secure()) res.set_header("Strict-Transport-Security", hsts);
    next(req, res);
  };
}

}  // namespace cogo::middleware
