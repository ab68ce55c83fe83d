// middleware::metrics through a real cogo::http::Server in every model
// (goroutines on 1 and 2 Ps, a thread per connection): each way a request
// can end is counted under the status its client actually received (the
// client's own tally is the oracle), routes are patterns or "other",
// unknown methods fold, durations and sizes land in their buckets, counts
// from many connections at once are exact, and the exposition passes
// `promtool check metrics` and the Python client's parser. Through the
// real cogo-server: --admin-listen turns the middleware on, --no-metrics
// off, and /metrics carries the server's in-flight and cancelled counters
// under their cogo_http_ names.
#include "cogo/middleware/metrics.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "cogo/cancel.h"
#include "cogo/http/error.h"
#include "cogo/http/request.h"
#include "cogo/http/response.h"
#include "cogo/http/server.h"
#include "cogo/middleware/timeout.h"
#include "cogo/runtime.h"
#include "http_test_util.h"
#include "support/serve_with_client.h"
#include "support/server_process.h"

namespace cogo::middleware {
namespace {

using namespace std::chrono_literals;
using cogo::metrics::Registry;
using http::Request;
using http::Response;
using http::testing::Client;

struct Param {
  http::Model model;
  int procs;
  const char* name;
};

// wait_until() polls pred for up to 30 s (a hang guard, not a timing).
template <class P>
bool wait_until(P pred) {
  for (int i = 0; i < 3000 && !pred(); ++i) std::this_thread::sleep_for(10ms);
  return pred();
}

using Key = std::tuple<std::string, std::string, std::string>;  // method, route, code

class Metrics : public ::testing::TestWithParam<Param> {
 protected:
  // serve() runs a Server with the metrics middleware on reg (outermost),
  // the routes setup adds, and client(port) on a plain thread meanwhile.
  template <class Setup, class Run>
  void serve(Registry& reg, Setup setup, Run client, http::HttpOptions http = {}) {
    http::ServerOptions o;
    o.listen = {{"127.0.0.1:0"}};
    o.model = GetParam().model;
    o.handle_signals = false;
    o.http = http;
    cogo_test::serve_with_client(
        GetParam().procs, o,
        [&](http::Server& server) {
          server.use(metrics({.registry = &reg}));
          setup(server);
        },
        client);
  }

  // count() is cogo_http_requests_total{method,route,code} in reg.
  static uint64_t count(Registry& reg, const Key& k) {
    auto* f = reg.find<cogo::metrics::Counter>("cogo_http_requests_total");
    if (f == nullptr) return 0;
    return f->with({std::get<0>(k), std::get<1>(k), std::get<2>(k)}).value();
  }
  static cogo::metrics::Histogram::Snapshot histogram(Registry& reg, const char* name,
                                                      const std::string& method,
                                                      const std::string& route) {
    return reg.find<cogo::metrics::Histogram>(name)->with({method, route}).snapshot();
  }
};

INSTANTIATE_TEST_SUITE_P(Models, Metrics,
                         ::testing::Values(Param{http::Model::goroutine, 1, "goroutine_1P"},
                                           Param{http::Model::goroutine, 2, "goroutine_2P"},
                                           Param{http::Model::thread, 2, "thread"}),
                         [](const auto& info) { return std::string(info.param.name); });

// status_line() sends raw on a new connection and returns the status code
// of the first response line (0 if the connection ended without one).
int status_line(int port, const std::string& raw) {
  Client c(cogo_test::connect_to(port));
  c.send(raw);
  try {
    const std::string line = c.read_until("\r\n", 20000);
    return line.compare(0, 9, "HTTP/1.1 ") == 0 ? std::stoi(line.substr(9, 3)) : 0;
  } catch (const std::exception&) {
    return 0;
  }
}

std::string get(const std::string& path, const std::string& method = "GET") {
  return method + " " + path + " HTTP/1.1\r\nHost: t\r\n\r\n";
}

// Every way a request ends, each counted under the code its client got.
TEST_P(Metrics, EveryOutcomeIsCountedAsTheClientReceivedIt) {
  Registry reg;
  std::atomic<int> waiting{0};
  http::HttpOptions http;
  http.max_body_bytes = 1000;
  http.body_read_timeout = 300ms;
  http.handler_timeout = 2s;    // only the handlers that wait meet it
  std::map<Key, uint64_t> got;  // the client's tally
  serve(
      reg,
      [&](http::Server& s) {
        auto& r = s.router();
        r.get("/ok", [](Request&, Response& res) { res.text(200, "hello"); });
        r.get("/users/:id", [](Request&, Response& res) { res.text(201, "made"); });
        r.get("/teapot",
              [](Request&, Response&) { throw http::HttpError(418, "short and stout"); });
        r.get("/throw", [](Request&, Response&) { throw std::runtime_error("bug"); });
        r.get("/status/:code", [](Request& req, Response& res) {
          res.text(std::stoi(std::string(req.param("code"))), "as asked");
        });
        // The head goes out, then the handler fails: 200 and a close.
        r.get("/stream-fail", [](Request&, Response& res) {
          res.write("part");
          res.flush();
          throw std::runtime_error("mid-stream");
        });
        // A route deadline (middleware::timeout) the handler lets escape: 503.
        r.get("/slow", http::MiddlewareChain().use(timeout(50ms)).then([](Request&, Response&) {
          cogo::sleep_for(1h);
        }));
        // The same deadline swallowed: the request's own context is not
        // cancelled, so the server sends the empty 200 the handler left.
        r.get("/swallow-route",
              http::MiddlewareChain().use(timeout(50ms)).then([](Request&, Response&) {
                try {
                  cogo::sleep_for(1h);
                } catch (const cogo::Cancelled&) {
                }
              }));
        // The server's handler_timeout swallowed: the server answers 503.
        r.get("/swallow", [](Request&, Response&) {
          try {
            cogo::sleep_for(1h);
          } catch (const cogo::Cancelled&) {
          }
        });
        // The client leaves while the handler waits: 499.
        r.get("/wait", [&](Request&, Response&) {
          waiting++;
          cogo::sleep_for(1h);
        });
        r.post("/upload", [](Request& req, Response& res) {
          res.text(200, std::to_string(req.body().size()));
        });
      },
      [&](int port, http::Server& s) {
        auto expect = [&](const std::string& method, const std::string& route, int want,
                          const std::string& raw) {
          const int code = status_line(port, raw);
          EXPECT_EQ(code, want) << raw;
          got[{method, route, std::to_string(code)}]++;
        };
        for (int i = 0; i < 3; i++) expect("GET", "/ok", 200, get("/ok"));
        expect("HEAD", "/ok", 200, get("/ok", "HEAD"));
        expect("GET", "/users/:id", 201, get("/users/7"));
        expect("GET", "/users/:id", 201, get("/users/8"));
        expect("GET", "other", 404, get("/nowhere"));
        expect("GET", "other", 404, get("/users/7/x"));
        expect("POST", "/ok", 405, "POST /ok HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
        expect("other", "/ok", 405, get("/ok", "PROPFIND"));  // known to HTTP, not counted by name
        expect("GET", "/teapot", 418, get("/teapot"));
        expect("GET", "/throw", 500, get("/throw"));
        expect("GET", "/status/:code", 299, get("/status/299"));
        expect("GET", "/status/:code", 999, get("/status/999"));
        expect("GET", "/stream-fail", 200, get("/stream-fail"));
        expect("GET", "/slow", 503, get("/slow"));
        expect("GET", "/swallow-route", 200, get("/swallow-route"));
        expect("GET", "/swallow", 503, get("/swallow"));
        // A chunked body past the limit: read() throws 413.
        expect("POST", "/upload", 413,
               "POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
               "3e9\r\n" +
                   std::string(1001, 'x') + "\r\n0\r\n\r\n");
        // A body that stops coming: 408 after body_read_timeout.
        expect("POST", "/upload", 408,
               "POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
        expect("POST", "/upload", 200,
               "POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc");
        {
          const int fd = cogo_test::connect_to(port);
          cogo_test::send_all(fd, get("/wait"));
          ASSERT_TRUE(wait_until([&] { return waiting.load() == 1; }));
          close(fd);
          got[{"GET", "/wait", "499"}]++;
        }
        // The engine counts a cancel after the handler unwound; the
        // middleware before that.
        EXPECT_TRUE(wait_until([&] { return count(reg, {"GET", "/wait", "499"}) == 1; }));
        EXPECT_TRUE(wait_until([&] { return s.counters().requests_in_flight == 0; }));
      },
      http);
  for (const auto& [k, n] : got) {
    EXPECT_EQ(count(reg, k), n) << std::get<0>(k) << " " << std::get<1>(k) << " " << std::get<2>(k);
  }
  // Nothing else was counted: the family holds exactly the client's keys.
  uint64_t total = 0, counted = 0;
  for (const auto& [k, n] : got) total += n;
  const std::string text = reg.expose();
  for (std::size_t at = 0; (at = text.find("\ncogo_http_requests_total{", at)) != std::string::npos;
       at++) {
    counted += std::stoull(text.substr(text.find("} ", at) + 2));
  }
  EXPECT_EQ(counted, total) << text;
}

// Durations: a handler that sleeps 20 ms is never in a bucket under 20 ms
// (a loaded machine may only make it slower); sizes land in theirs;
// buckets are the options'.
TEST_P(Metrics, DurationsAndSizesLandInTheirBuckets) {
  Registry reg;
  (void)metrics({.registry = &reg,
                 .duration_buckets = {0.005, 0.015, 60},
                 .size_buckets = {100, 1000, 10000}});
  serve(
      reg,
      [](http::Server& s) {
        s.router().get("/sleep", [](Request&, Response& res) {
          cogo::sleep_for(20ms);
          res.text(200, "zz");
        });
        s.router().get("/bytes/:n", [](Request& req, Response& res) {
          res.write(std::string(std::stoul(std::string(req.param("n"))), 'b'));
        });
      },
      [](int port, http::Server&) {
        Client c(cogo_test::connect_to(port));
        for (int i = 0; i < 5; i++) {
          c.send(get("/sleep"));
          EXPECT_EQ(c.read_response().status, 200);
        }
        for (const char* n : {"0", "99", "100", "101", "999", "5000", "20000"}) {
          c.send(get(std::string("/bytes/") + n));
          EXPECT_EQ(c.read_response().body.size(), std::stoul(n));
        }
      });
  const auto d = histogram(reg, "cogo_http_request_duration_seconds", "GET", "/sleep");
  EXPECT_EQ(d.count, 5u);
  EXPECT_EQ(d.cumulative.size(), 4u);  // 0.005, 0.015, 60, +Inf: the options' buckets
  EXPECT_EQ(d.cumulative[0], 0u);
  EXPECT_EQ(d.cumulative[1], 0u);
  EXPECT_EQ(d.cumulative[2], 5u);  // a minute is a hang guard
  EXPECT_GE(d.sum, 5 * 0.020);
  const auto s = histogram(reg, "cogo_http_response_size_bytes", "GET", "/bytes/:n");
  EXPECT_EQ(s.count, 7u);
  // le=100: 0, 99, 100; le=1000: +101, 999; le=10000: +5000; +Inf: +20000.
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{3, 5, 6, 7}));
  EXPECT_DOUBLE_EQ(s.sum, 0 + 99 + 100 + 101 + 999 + 5000 + 20000);
}

// Many connections at once on every P: the sums are exact, and the paths
// a scanner makes up cost one series.
TEST_P(Metrics, ConcurrentCountsAreExactAndUnmatchedPathsAreOneSeries) {
  Registry reg;
  constexpr int kClients = 16, kEach = 100;
  serve(
      reg,
      [](http::Server& s) {
        s.router().get("/", [](Request&, Response& res) { res.text(200, "x"); });
      },
      [&](int port, http::Server&) {
        std::vector<std::thread> ts;
        for (int t = 0; t < kClients; t++) {
          ts.emplace_back([&, t] {
            Client c(cogo_test::connect_to(port));
            for (int i = 0; i < kEach; i++) {
              c.send(get(i % 2 ? "/" : "/scan/" + std::to_string(t) + "/" + std::to_string(i)));
              c.read_response();
            }
          });
        }
        for (auto& t : ts) t.join();
      });
  EXPECT_EQ(count(reg, {"GET", "/", "200"}), uint64_t{kClients} * kEach / 2);
  EXPECT_EQ(count(reg, {"GET", "other", "404"}), uint64_t{kClients} * kEach / 2);
  EXPECT_EQ(reg.find<cogo::metrics::Counter>("cogo_http_requests_total")->series(), 2u);
  EXPECT_EQ(reg.find<cogo::metrics::Histogram>("cogo_http_request_duration_seconds")->series(), 2u);
}

// The exposition, as promtool and the Python client read it.
TEST_P(Metrics, RealToolsReadTheFamiliesBack) {
  Registry reg;
  serve(
      reg,
      [](http::Server& s) {
        s.router().get("/users/:id", [](Request&, Response& res) { res.text(200, "u"); });
      },
      [](int port, http::Server&) {
        for (int i = 0; i < 4; i++)
          EXPECT_EQ(status_line(port, get("/users/" + std::to_string(i))), 200);
        EXPECT_EQ(status_line(port, get("/x")), 404);
      });
  const std::string dir = ::testing::TempDir() + "mw_metrics_test_" + std::to_string(getpid());
  cogo_test::run_command("mkdir -p " + dir);
  std::ofstream(dir + "/m.txt") << reg.expose();
  int st = 0;
  std::string out = cogo_test::run_command("promtool check metrics < " + dir + "/m.txt 2>&1", &st);
  EXPECT_EQ(WEXITSTATUS(st), 0) << out;
  std::ofstream(dir + "/check.py")
      << "import sys\n"
         "from prometheus_client.parser import text_string_to_metric_families as p\n"
         "f = {x.name: x for x in p(open(sys.argv[1]).read())}\n"
         "def v(fam, name, **l):\n"
         "    return [s.value for s in f[fam].samples if s.name == name and s.labels == l][0]\n"
         "assert f['cogo_http_requests'].type == 'counter'\n"
         "assert v('cogo_http_requests', 'cogo_http_requests_total', method='GET', "
         "route='/users/:id', code='200') == 4\n"
         "assert v('cogo_http_requests', 'cogo_http_requests_total', method='GET', route='other', "
         "code='404') == 1\n"
         "d = 'cogo_http_request_duration_seconds'\n"
         "assert f[d].type == 'histogram'\n"
         "assert v(d, d + '_count', method='GET', route='/users/:id') == 4\n"
         "assert v(d, d + '_bucket', method='GET', route='/users/:id', le='10') == 4\n"
         "s = 'cogo_http_response_size_bytes'\n"
         "assert v(s, s + '_sum', method='GET', route='/users/:id') == 4\n"
         "print('python ok')\n";
  out = cogo_test::run_command("/usr/bin/python3 " + dir + "/check.py " + dir + "/m.txt 2>&1", &st);
  EXPECT_EQ(WEXITSTATUS(st), 0) << out;
  EXPECT_NE(out.find("python ok"), std::string::npos) << out;
  cogo_test::run_command("rm -rf " + dir);
}

TEST(MetricsOptions, FamiliesAreSharedPerRegistryAndConflictsAreNamed) {
  Registry reg;
  (void)metrics({.registry = &reg});
  (void)metrics({.registry = &reg});  // a second one shares the families
  EXPECT_NE(reg.find<cogo::metrics::Counter>("cogo_http_requests_total"), nullptr);
  auto error_of = [](MetricsOptions o) -> std::string {
    try {
      (void)metrics(std::move(o));
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "no error";
  };
  Registry other;
  other.counter_family("cogo_http_requests_total", "x", {"path"});
  EXPECT_NE(error_of({.registry = &other})
                .find("cogo_http_requests_total is already registered with other labels"),
            std::string::npos);
  Registry kind;
  kind.gauge_family("cogo_http_response_size_bytes", "x", {"method", "route"});
  EXPECT_NE(error_of({.registry = &kind}).find("registered as another kind"), std::string::npos);
  Registry fresh;
  EXPECT_NE(
      error_of({.registry = &fresh, .duration_buckets = {1, 0.5}}).find("strictly increasing"),
      std::string::npos);
  EXPECT_EQ(fresh.find<cogo::metrics::Counter>("cogo_http_requests_total"),
            nullptr);  // nothing half-registered
}

// cogo-server: --admin-listen turns the middleware on; --no-metrics leaves
// it out; /metrics has the server's own request counters either way.
TEST(MetricsServer, AdminListenTurnsItOnAndNoMetricsOff) {
  for (const bool off : {false, true}) {
    std::vector<std::string> args = {"--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"};
    if (off) args.push_back("--no-metrics");
    cogo_test::ServerProcess srv(args);
    const int port = srv.port(0), admin = srv.port(1);
    ASSERT_GT(admin, 0) << srv.output();
    for (int i = 0; i < 3; i++) EXPECT_EQ(status_line(port, get("/")), 200);
    EXPECT_EQ(status_line(port, get("/missing")), 404);
    const std::string m = cogo_test::run_command(
        "curl -s --max-time 20 http://127.0.0.1:" + std::to_string(admin) + "/metrics");
    const bool has_requests =
        m.find("cogo_http_requests_total{method=\"GET\",route=\"/\",code=\"200\"} 3\n") !=
        std::string::npos;
    EXPECT_EQ(has_requests, !off) << m;
    EXPECT_EQ(m.find("cogo_http_requests_total{method=\"GET\",route=\"other\",code=\"404\"} 1\n") !=
                  std::string::npos,
              !off)
        << m;
    EXPECT_EQ(m.find("# TYPE cogo_http_request_duration_seconds histogram") != std::string::npos,
              !off);
    EXPECT_NE(m.find("cogo_http_requests_in_flight 0\n"), std::string::npos) << m;
    EXPECT_NE(m.find("cogo_http_requests_cancelled_total{reason=\"client_gone\"} 0\n"),
              std::string::npos)
        << m;
    EXPECT_EQ(srv.stop(), 0) << srv.output();
  }
}

}  // namespace
}  // namespace cogo::middleware
