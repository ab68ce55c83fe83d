// builtin_routes.cpp: cogo-server's demo routes (see builtin_routes.h).
#include "builtin_routes.h"

#include <charconv>
#include <chrono>
#include <string>

#include "cogo/http/request.h"
#include "cogo/http/response.h"
#include "cogo/runtime.h"

namespace cogo::cli {

using http::Request;
using http::Response;

void add_builtin_routes(http::Router& router) {
  router.get("/", [](Request&, Response& res) {
    res.set_header("Content-Type", "text/plain");
    res.write("Hello, World!");
  });
  router.post("/echo", [](Request& req, Response& res) {
    const std::string_view type = req.header("Content-Type");
    res.set_header("Content-Type", type.empty() ? "application/octet-stream" : type);
    char buf[16 * 1024];
    for (;;) {
      std::size_t n = req.read(buf, sizeof buf);
      if (n == 0) break;
      res.write(buf, n);
    }
  });
  router.get("/sleep", [](Request& req, Response& res) {
    const std::string_view ms_text = req.query("ms");
    long ms = 0;
    const auto* end = ms_text.data() + ms_text.size();
    auto [p, ec] = std::from_chars(ms_text.data(), end, ms);
    if (ms_text.empty() || ec != std::errc() || p != end || ms < 0 || ms > 600'000) {
      res.text(400, "sleep: ms must be a number of milliseconds from 0 to 600000\n");
      return;
    }
    cogo::sleep_for(std::chrono::milliseconds(ms));
    res.text(200, "slept " + std::to_string(ms) + " ms\n");
  });
  router.get("/healthz", [](Request&, Response& res) { res.text(200, "ok\n"); });
}

}  // namespace cogo::cli
