// builtin_routes.cpp: cogo-server's demo routes (see builtin_routes.h).
#include "builtin_routes.h"

#include <charconv>
#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

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
  // The body back: a small one (up to 64 KiB declared) as one response with
  // Content-Length; a larger or chunked one streamed back as it arrives, so
  // an upload costs the server one read buffer, not the whole body.
  router.post("/echo", [](Request& req, Response& res) {
    const std::string_view type = req.header("Content-Type");
    res.set_header("Content-Type", type.empty() ? "application/octet-stream" : type);
    const std::optional<std::uint64_t> length = req.content_length();
    const bool stream = !length || *length > 64 * 1024;
    char buf[16 * 1024];
    for (;;) {
      std::size_t n = req.read(buf, sizeof buf);
      if (n == 0) break;
      res.write(buf, n);
      if (stream) res.flush();
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
  // N bytes of 'x': one buffered response up to 64 KiB, above that streamed
  // (chunked) 64 KiB at a time, each write waiting for the socket, so a
  // slow reader costs the server one chunk, not the whole body.
  router.get("/bytes", [](Request& req, Response& res) {
    const std::string_view n_text = req.query("n");
    std::uint64_t n = 0;
    const auto* end = n_text.data() + n_text.size();
    auto [p, ec] = std::from_chars(n_text.data(), end, n);
    if (n_text.empty() || ec != std::errc() || p != end || n > (std::uint64_t{1} << 34)) {
      res.text(400, "bytes: n must be a number of bytes from 0 to 17179869184\n");
      return;
    }
    constexpr std::size_t kChunk = 64 * 1024;
    static const std::string chunk(kChunk, 'x');
    res.set_header("Content-Type", "application/octet-stream");
    if (n <= kChunk) {
      res.write(chunk.data(), static_cast<std::size_t>(n));
      return;
    }
    while (n > 0) {
      const std::size_t k = n < kChunk ? static_cast<std::size_t>(n) : kChunk;
      res.write(chunk.data(), k);
      res.flush();
      n -= k;
    }
  });
  router.get("/healthz", [](Request&, Response& res) { res.text(200, "ok\n"); });
}

namespace {

// overflow() recurses until the stack's guard page stops it; the frame's
// buffer, written and read, keeps the compiler from folding the recursion,
// and a depth it can never prove unreachable from ending it.
volatile int g_overflow_stop = -1;
[[gnu::noinline]] int overflow(int depth) {
  volatile char frame[4096];
  frame[0] = static_cast<char>(depth);
  if (depth == g_overflow_stop) return frame[0];
  return overflow(depth + 1) + frame[0];
}

}  // namespace

void add_crash_routes(http::Router& router) {
  router.get("/crash", [](Request& req, Response& res) {
    const std::string_view how = req.query("how");
    if (how == "exception") {
      auto escape = [] { throw std::runtime_error("crash route: an exception no handler catches"); };
      if (cogo::in_goroutine()) {
        cogo::go(escape);  // escapes its goroutine: the runtime ends the process
      } else {
        std::thread(escape).detach();  // thread model: std::terminate
      }
      cogo::sleep_for(std::chrono::seconds(5));
    } else if (how == "overflow") {
      res.text(200, std::to_string(overflow(0)));
    } else {
      res.text(400, "crash: how must be exception or overflow\n");
    }
  });
}

}  // namespace cogo::cli
