// cogo/http.h: the HTTP server in one include, with the runtime under it
// (cogo/cogo.h) — so a first server needs nothing else:
//
//   #include <cogo/http.h>
//
//   int main() {
//     return cogo::run([] {
//       cogo::http::Server server({.listen = {{"0.0.0.0:8080"}}});
//       server.router().get("/", [](cogo::http::Request&, cogo::http::Response& res) {
//         res.text(200, "Hello, World!");
//       });
//       server.serve();  // until SIGTERM/SIGINT, then a graceful shutdown
//     });
//   }
//
// (examples/hello.cpp, built with the project.)
#pragma once

#include "cogo/cogo.h"
#include "cogo/echo.h"
#include "cogo/http/body_filter.h"
#include "cogo/http/date.h"
#include "cogo/http/error.h"
#include "cogo/http/field.h"
#include "cogo/http/handler.h"
#include "cogo/http/options.h"
#include "cogo/http/outcome.h"
#include "cogo/http/request.h"
#include "cogo/http/response.h"
#include "cogo/http/router.h"
#include "cogo/http/server.h"
#include "cogo/http/tls_config.h"
#include "cogo/model.h"
