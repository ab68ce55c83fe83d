// http_bench: user-space CPU of the HTTP engine per request, with the
// socket replaced by memory (no system calls): what the engine itself costs
// on top of the kernel's read/write.
//
//   build/bin/http_bench --benchmark_filter=Plaintext
#include <benchmark/benchmark.h>

#include <cstring>
#include <string>

#include "cogo/http/http1_session.h"
#include "cogo/http/request.h"
#include "cogo/http/response.h"
#include "cogo/http/router.h"

namespace {

using namespace cogo::http;

// What wrk sends by default, and a browser-like head (TechEmpower's shape).
const std::string kWrkRequest = "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";
const std::string kBrowserRequest =
    "GET / HTTP/1.1\r\nHost: server\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) Gecko/20130501 "
    "Firefox/30.0 AppleWebKit/600.00 Chrome/30.0.0000.0 Trident/10.0 Safari/600.00\r\nCookie: "
    "uid=12345678901234567890; __utma=1.1234567890.1234567890.1234567890.1234567890.12; "
    "wd=2560x1600\r\nAccept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    "Accept-Language: en-US,en;q=0.5\r\nConnection: keep-alive\r\n\r\n";

// MemoryStream hands out one prepared batch per read, then would-block (or
// EOF for the blocking loop); writes are counted and dropped.
class MemoryStream final : public Stream {
 public:
  std::string batch;
  int batches_left = 0;
  std::size_t written = 0;
  std::size_t writes = 0;

  std::size_t read(void* buf, std::size_t size) override {
    if (batches_left == 0) return 0;
    return take(buf, size);
  }
  std::ptrdiff_t try_read(void* buf, std::size_t size) override {
    if (batches_left == 0) return would_block;
    return static_cast<std::ptrdiff_t>(take(buf, size));
  }
  void write_all(const void*, std::size_t size) override {
    written += size;
    ++writes;
  }
  void writev_all(std::span<const ConstBuffer> buffers) override {
    for (const ConstBuffer& b : buffers) written += b.size;
    ++writes;
  }
  void set_read_deadline(Deadline) override {}
  void set_write_deadline(Deadline) override {}

 private:
  std::size_t take(void* buf, std::size_t size) {
    if (size < batch.size()) std::abort();  // batches are small
    std::memcpy(buf, batch.data(), batch.size());
    --batches_left;
    return batch.size();
  }
};

Router& plaintext_router() {
  static Router r = [] {
    Router router;
    router.get("/", [](Request&, Response& res) { res.text(200, "Hello, World!"); });
    router.get("/json",
               [](Request&, Response& res) { res.json(200, R"({"message":"Hello, World!"})"); });
    return router;
  }();
  return r;
}

// serve_ready(), as under the netpoller: each iteration is one readable
// edge carrying `depth` pipelined requests; the connection goes idle after.
void BM_PlaintextServeReady(benchmark::State& state, const std::string& request) {
  const int depth = static_cast<int>(state.range(0));
  Handler handler = plaintext_router().handler();
  HttpOptions options;
  Http1Session conn(handler, options, "127.0.0.1:1");
  MemoryStream stream;
  for (int i = 0; i < depth; ++i) stream.batch += request;
  for (auto _ : state) {
    stream.batches_left = 1;
    if (conn.serve_ready(stream) != Http1Session::State::idle) state.SkipWithError("closed");
  }
  state.SetItemsProcessed(state.iterations() * depth);
  state.counters["bytes/resp"] =
      static_cast<double>(stream.written) / static_cast<double>(state.iterations() * depth);
  state.counters["writes/batch"] =
      static_cast<double>(stream.writes) / static_cast<double>(state.iterations());
}
BENCHMARK_CAPTURE(BM_PlaintextServeReady, wrk, kWrkRequest)->Arg(1)->Arg(16);
BENCHMARK_CAPTURE(BM_PlaintextServeReady, browser, kBrowserRequest)->Arg(1)->Arg(16);

// serve(), the blocking loop of the thread model: 1000 reads of `depth`
// requests each per iteration, then end of input.
void BM_PlaintextServeLoop(benchmark::State& state) {
  const int depth = static_cast<int>(state.range(0));
  constexpr int kReads = 1000;
  Handler handler = plaintext_router().handler();
  HttpOptions options;
  MemoryStream stream;
  for (int i = 0; i < depth; ++i) stream.batch += kWrkRequest;
  for (auto _ : state) {
    stream.batches_left = kReads;
    serve_http1(stream, handler, options, "127.0.0.1:1");
  }
  state.SetItemsProcessed(state.iterations() * depth * kReads);
}
BENCHMARK(BM_PlaintextServeLoop)->Arg(1)->Arg(16);

}  // namespace

BENCHMARK_MAIN();
