// builtin_routes.h: cogo-server's demo routes.
#pragma once

#include "cogo/http/router.h"

namespace cogo::cli {

// add_builtin_routes() adds cogo-server's demo routes: GET / (Hello, World!),
// POST /echo (the body back), GET /sleep?ms=N (a handler blocking in
// sleep_for), GET /healthz.
void add_builtin_routes(http::Router& router);

}  // namespace cogo::cli
