// cogo/middleware/secure_headers.h: the response fields that make browsers
// safer with a site (OWASP's secure headers), set before the handler runs.
//
//   server.use(cogo::middleware::secure_headers());
//
// What it writes (each field replaced if the handler sets it again; an empty
// option leaves its field out):
// - Strict-Transport-Security: "max-age=<hsts_max_age>[; includeSubDomains]
//   [; preload]", only on requests that came over TLS (Request::secure()):
//   RFC 6797 7.2 says a host must not send it over plain HTTP. Off when
//   hsts_max_age is 0 and absent unless hsts is set.
// - X-Content-Type-Options: nosniff (browsers trust Content-Type).
// - X-Frame-Options: DENY (no framing: clickjacking).
// - Referrer-Policy: strict-origin-when-cross-origin.
// - Content-Security-Policy: when content_security_policy is set.
// It reads nothing from the request but its transport, and answers nothing
// itself.
#pragma once

#include <string>

#include "cogo/http/handler.h"

namespace cogo::middleware {

struct SecureHeadersOptions {
  bool hsts = true;
  long hsts_max_age = 31536000;  // one year, in seconds
  bool hsts_include_subdomains = false;
  bool hsts_preload = false;  // only with include_subdomains and a year or more (hstspreload.org)
  std::string content_type_options = "nosniff";
  std::string frame_options = "DENY";  // or "SAMEORIGIN"
  std::string referrer_policy = "strict-origin-when-cross-origin";
  std::string content_security_policy;
};

// secure_headers() throws std::invalid_argument naming the option for a
// negative hsts_max_age, hsts_preload without include_subdomains or with less
// than a year, a frame_options other than DENY / SAMEORIGIN, and a value
// with CR, LF or NUL.
http::Middleware secure_headers(SecureHeadersOptions options = {});

}  // namespace cogo::middleware
