// cogo/middleware/cors.h: Cross-Origin Resource Sharing (the Fetch standard's
// CORS protocol), for APIs called from browser pages of other origins.
//
//   cogo::middleware::CorsOptions o;
//   o.allowed_origins = {"https://app.example.com", "https://*.example.com"};
//   o.allowed_methods = {"GET", "POST", "DELETE"};
//   o.allowed_headers = {"Content-Type", "Authorization"};
//   o.allow_credentials = true;
//   server.use(cogo::middleware::cors(o));
//
// What it reads: Origin; on a preflight (OPTIONS with Origin and
// Access-Control-Request-Method) also Access-Control-Request-Method and
// Access-Control-Request-Headers.
//
// What it does:
// - A request without Origin is not a CORS request: passed on untouched,
//   but for the Vary field below.
// - A preflight is answered here and never reaches the handler: 204 with
//   Access-Control-Allow-Origin (the origin, or "*" when every origin is
//   allowed without credentials), Access-Control-Allow-Methods (the method
//   asked for), Access-Control-Allow-Headers (the headers asked for, as
//   sent), Access-Control-Allow-Credentials: true when allow_credentials,
//   Access-Control-Max-Age when max_age > 0. A preflight the options do not
//   allow (origin, method or a header) gets 204 without any
//   Access-Control-* field, which is how a browser is told no; the handler
//   is not run either way. With options_passthrough the preflight headers
//   are set and the handler answers the OPTIONS itself.
// - Any other request with an allowed Origin gets Access-Control-Allow-Origin,
//   Access-Control-Allow-Credentials and Access-Control-Expose-Headers set
//   before the handler runs; a disallowed Origin gets none of them (the
//   handler still runs: CORS protects the reader, not the server).
// - Vary: Origin on every response whose CORS fields depend on the Origin
//   (all of them, unless every origin is allowed without credentials), and
//   Vary: Access-Control-Request-Method, Access-Control-Request-Headers on
//   preflights, so shared caches keep the answers apart.
//
// Origins are matched ASCII case-insensitively as serialised origins
// ("scheme://host[:port]", no path); "null" only when listed. A pattern may
// hold one '*' standing for one or more characters ("https://*.example.com"
// matches "https://a.b.example.com", not "https://example.com").
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "cogo/http/handler.h"

namespace cogo::middleware {

struct CorsOptions {
  // allowed_origins: serialised origins, patterns with one '*', "null", or
  // "*" for every origin.
  std::vector<std::string> allowed_origins = {"*"};
  // allow_origin, when set, is asked about origins allowed_origins does not
  // list (called on every CORS request; keep it cheap).
  std::function<bool(std::string_view origin)> allow_origin;
  // allowed_methods: what a preflight may ask for (case-sensitive, as RFC
  // 9110 methods are). The Fetch standard's safelisted GET, HEAD and POST
  // need no preflight; they are listed so a preflight for them passes.
  std::vector<std::string> allowed_methods = {"GET", "HEAD", "POST"};
  // allowed_headers: request headers a preflight may ask for
  // (case-insensitive), or "*" for any.
  std::vector<std::string> allowed_headers = {"Accept", "Content-Type", "X-Requested-With"};
  // exposed_headers: response headers the page's script may read beyond the
  // safelisted ones.
  std::vector<std::string> exposed_headers;
  // allow_credentials: cookies and HTTP authentication may be sent. Not
  // with allowed_origins "*" (the standard forbids "*" with credentials,
  // and reflecting any origin would hand every site the user's session).
  bool allow_credentials = false;
  // max_age: seconds a browser may cache a preflight's answer (0: no
  // Access-Control-Max-Age; browsers cap it, Chromium at 7200).
  int max_age = 0;
  // options_passthrough: run the handler for preflights too.
  bool options_passthrough = false;
};

// cors() throws std::invalid_argument naming the offending entry for an
// origin that is not a serialised origin (a path, a trailing '/', two '*'),
// a method or header name that is not an RFC 9110 token, allow_credentials
// with "*" among the origins, or a negative max_age.
http::Middleware cors(CorsOptions options = {});

}  // namespace cogo::middleware
