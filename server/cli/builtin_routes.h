// builtin_routes.h: cogo-server's demo routes.
#pragma once

#include "cogo/http/router.h"

namespace cogo::cli {

// add_builtin_routes() adds cogo-server's demo routes: GET / (Hello, World!),
// POST /echo (the body back), GET /sleep?ms=N (a handler blocking in
// sleep_for), GET /bytes?n=N (N bytes, streamed), GET /healthz.
void add_builtin_routes(http::Router& router);

// add_crash_routes() adds GET /crash?how=exception|overflow, which kills
// the process the way a handler bug does: an exception escaping a
// goroutine (or, in the thread model, a thread), or a stack overflow. For
// fault tests of a --procs deployment (--crash-routes); never on by default.
void add_crash_routes(http::Router& router);

}  // namespace cogo::cli
