// cogo/middleware/no_cache.h: responses no cache may keep (chi's NoCache).
//
//   router.with(cogo::middleware::no_cache()).get("/account", account);
//
// What it writes, before the handler runs (the handler may replace them):
// Cache-Control: no-store, no-cache, must-revalidate, private, max-age=0
// (RFC 9111 5.2.2), Pragma: no-cache and Expires: 0 for HTTP/1.0 caches
// (RFC 9111 5.3: an invalid date means already expired). It reads nothing and
// answers nothing itself. Unlike chi's it cannot strip the request's
// If-None-Match / If-Modified-Since: a handler behind it that answers 304 to
// them still may.
#pragma once

#include "cogo/http/handler.h"

namespace cogo::middleware {

http::Middleware no_cache();

}  // namespace cogo::middleware
