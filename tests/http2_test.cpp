// http2_test: HTTP/2 (issue 16) through a real cogo::http::Server with h2
// (TLS, ALPN) and h2c (plain, prior knowledge) on, against real clients:
// curl (--http2-prior-knowledge, --http2 over TLS), nghttp (nghttp2's own
// client), and Python's h2 (python3-h2) for frame-level cases
// (tests/http2/frames.py). Each stream's handler runs in its own goroutine;
// what the server saw is counted by the routes themselves (side channels),
// never inferred from timing.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>

#include "cogo/cancel.h"
#include "cogo/http.h"
#include "cogo/runtime.h"
#include "support/serve_with_client.h"
#include "support/server_process.h"

namespace {

using namespace std::chrono_literals;
using cogo::http::Request;
using cogo::http::Response;
using cogo::http::Server;
using cogo::http::ServerOptions;
using cogo_test::run_command;

// cert_dir() holds a throwaway self-signed certificate for the TLS listener.
const std::string& cert_dir() {
  static const std::string dir = [] {
    const std::string d = "/tmp/cogo_http2_test_" + std::to_string(getpid());
    run_command("mkdir -p " + d +
                " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
                "-days 1 -subj /CN=localhost -keyout " +
                d + "/key.pem -out " + d + "/cert.pem 2>/dev/null");
    return d;
  }();
  return dir;
}

// A file of n bytes (a pattern, not zeros), for request bodies.
std::string body_file(std::size_t n) {
  const std::string path = cert_dir() + "/body_" + std::to_string(n);
  std::ofstream f(path, std::ios::binary);
  for (std::size_t i = 0; i < n; ++i) f.put(static_cast<char>((i * 31 + 7) % 251));
  return path;
}

template <class P>
bool wait_until(P pred) {
  for (int i = 0; i < 3000; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

// What the routes saw (the side channel).
struct Seen {
  std::atomic<int> gate_active{0};
  std::atomic<int> gate_max{0};
  std::atomic<int> parked{0};
  std::atomic<int> park_cancelled{0};           // /park observed cogo::Cancelled
  std::atomic<int> park_cancelled_client{0};    // ... with reason client_gone
  std::atomic<int> stubborn_started{0};         // /stubborn handlers started
  std::atomic<int> stubborn_active{0};          // ... running now
  std::atomic<int> stubborn_max{0};             // ... running at once, at most
  std::atomic<int> big_failed{0};               // /big handlers whose writes threw
  std::atomic<int> slow_in{0};                  // /slow handlers inside
};

void raise_max(std::atomic<int>& max, int now) {
  for (int m = max.load(); now > m && !max.compare_exchange_weak(m, now);) {
  }
}

class Http2 : public ::testing::Test {
 protected:
  ServerOptions options() {
    ServerOptions o;
    o.listen = {{"127.0.0.1:0", false}, {"127.0.0.1:0", true}};
    o.tls.cert_file = cert_dir() + "/cert.pem";
    o.tls.key_file = cert_dir() + "/key.pem";
    o.http.h2 = true;
    o.http.h2c = true;
    o.http.max_body_bytes = 1024 * 1024;
    o.handle_signals = false;
    o.shutdown_grace = 5s;
    if (tweak_) tweak_(o);
    return o;
  }
  std::function<void(ServerOptions&)> tweak_;  // a test's own options
  Server* server_ = nullptr;                   // while serve() runs

  // serve() runs the server with the test routes and client(plain port,
  // TLS port) on a plain thread; then shuts it down (which waits for every
  // connection, HTTP/2 ones included, to close).
  template <class Client>
  void serve(Client client, int procs = 2) {
    cogo_test::serve_with_client(
        procs, options(), [&](Server& s) { routes(s); },
        [&](int port, Server& s) {
          server_ = &s;
          const std::string tls = s.addresses().at(1);
          client(port, std::stoi(tls.substr(tls.rfind(':') + 1)));
        });
  }

  void routes(Server& s) {
    auto& r = s.router();
    r.get("/", [](Request&, Response& res) { res.text(200, "hello"); });
    r.get("/proto", [](Request& req, Response& res) {
      res.text(200, "HTTP/" + std::to_string(req.version_major()) + "." +
                        std::to_string(req.version_minor()));
    });
    r.post("/echo", [](Request& req, Response& res) {
      // Read in small pieces and stream the echo back: the body is never
      // whole in memory, and windows must open as it is read.
      char buf[8192];
      for (;;) {
        const std::size_t n = req.read(buf, sizeof buf);
        if (n == 0) break;
        res.write(buf, n);
        if (res.body_bytes() % (64 * 1024) < n) res.flush();
      }
    });
    r.get("/throw", [](Request&, Response&) -> void { throw std::runtime_error("boom"); });
    // /gate: each request waits until `want` requests are in the handler at
    // once (or 20 s pass): served one at a time, gate_max would stay 1.
    r.get("/gate", [this](Request& req, Response& res) {
      const int want = std::stoi(std::string(req.query("want")));
      const int now = ++seen_.gate_active;
      for (int m = seen_.gate_max.load(); now > m && !seen_.gate_max.compare_exchange_weak(m, now);) {
      }
      for (int i = 0; i < 2000 && seen_.gate_max.load() < want; ++i) cogo::sleep_for(10ms);
      --seen_.gate_active;
      res.text(200, "through");
    });
    // /stubborn?ms=N: ignores cancellation for N ms (a handler that does
    // not notice a reset), counting how many run at once.
    r.get("/stubborn", [this](Request& req, Response& res) {
      ++seen_.stubborn_started;
      raise_max(seen_.stubborn_max, ++seen_.stubborn_active);
      {
        cogo::CancelShield shield;
        cogo::sleep_for(std::chrono::milliseconds(std::stoi(std::string(req.query("ms")))));
      }
      --seen_.stubborn_active;
      res.text(200, "done");
    });
    // /big?n=N: N bytes, flushed 64 KiB at a time; counts a write that throws.
    r.get("/big", [this](Request& req, Response& res) {
      const std::size_t n = std::stoul(std::string(req.query("n")));
      const std::string piece(64 * 1024, 'x');
      try {
        for (std::size_t done = 0; done < n;) {
          const std::size_t k = std::min(piece.size(), n - done);
          res.write(piece.data(), k);
          res.flush();
          done += k;
        }
      } catch (...) {
        ++seen_.big_failed;
        throw;
      }
    });
    // /slow?ms=N: answers "slept" after N ms.
    r.get("/slow", [this](Request& req, Response& res) {
      ++seen_.slow_in;
      cogo::sleep_for(std::chrono::milliseconds(std::stoi(std::string(req.query("ms")))));
      res.text(200, "slept");
    });
    // /park: parks until its request context is cancelled (60 s at most).
    r.get("/park", [this](Request& req, Response& res) {
      ++seen_.parked;
      try {
        cogo::sleep_for(60s);
      } catch (const cogo::Cancelled& e) {
        ++seen_.park_cancelled;
        if (e.reason() == cogo::CancelReason::client_gone) ++seen_.park_cancelled_client;
        (void)req;
        throw;
      }
      res.text(200, "woke");
    });
  }

  std::string frames(int port, const std::string& name) {
    int status = -1;
    const std::string out = run_command("timeout 90 /usr/bin/python3 " + std::string(COGO_SOURCE_DIR) +
                                            "/tests/http2/frames.py " + std::to_string(port) + " " +
                                            name + " 2>&1",
                                        &status);
    EXPECT_EQ(status, 0) << name << ":\n" << out;
    std::printf("frames.py %s: %s", name.c_str(), out.c_str());
    return out;
  }

  Seen seen_;
};

// GET over h2c (prior knowledge) and over TLS with ALPN h2: curl says it
// spoke HTTP/2 and the handler saw HTTP/2.0.
TEST_F(Http2, GetOverH2cAndTlsAlpn) {
  serve([&](int port, int tls) {
    EXPECT_EQ(run_command("curl -s --max-time 30 --http2-prior-knowledge -w ' %{http_version} %{http_code}' "
                          "http://127.0.0.1:" + std::to_string(port) + "/proto"),
              "HTTP/2.0 2 200");
    EXPECT_EQ(run_command("curl -sk --max-time 30 --http2 -w ' %{http_version} %{http_code}' "
                          "https://127.0.0.1:" + std::to_string(tls) + "/proto"),
              "HTTP/2.0 2 200");
    // nghttp, nghttp2's own client, over TLS (it asks ALPN for h2 only).
    const std::string out = run_command("timeout 30 nghttp -v https://127.0.0.1:" +
                                        std::to_string(tls) + "/ 2>&1");
    EXPECT_NE(out.find(":status: 200"), std::string::npos) << out;
    EXPECT_NE(out.find("h2"), std::string::npos) << out;
  });
}

// HTTP/1.1 still works on the same listeners with h2c and h2 on: a client
// that does not send the preface, and a TLS client that offers only
// http/1.1 in ALPN.
TEST_F(Http2, Http1StillServedBesideH2) {
  serve([&](int port, int tls) {
    EXPECT_EQ(run_command("curl -s --max-time 30 --http1.1 -w ' %{http_version} %{http_code}' "
                          "http://127.0.0.1:" + std::to_string(port) + "/proto"),
              "HTTP/1.1 1.1 200");
    EXPECT_EQ(run_command("curl -sk --max-time 30 --http1.1 -w ' %{http_version} %{http_code}' "
                          "https://127.0.0.1:" + std::to_string(tls) + "/proto"),
              "HTTP/1.1 1.1 200");
  });
}

// 50 streams on one connection (nghttp -m 50), each answered by its own
// goroutine: every /gate handler waits until 50 are inside at once, so
// gate_max reaches 50 only if they all ran concurrently; one at a time it
// would stay 1 (and each would wait its 20 s out).
TEST_F(Http2, FiftyStreamsOnOneConnectionRunConcurrently) {
  serve([&](int port, int) {
    const std::string out = run_command("timeout 60 nghttp -n -v -m 50 'http://127.0.0.1:" +
                                        std::to_string(port) + "/gate?want=50' 2>&1");
    std::size_t answered = 0;
    for (std::size_t at = out.find(":status: 200"); at != std::string::npos;
         at = out.find(":status: 200", at + 1)) {
      ++answered;
    }
    EXPECT_EQ(answered, 50u) << out.substr(0, 4000);
    EXPECT_EQ(seen_.gate_max.load(), 50);
  });
}

// A POST body larger than the initial windows (65,535) is streamed to a
// handler that reads 8 KiB at a time and echoes it: through curl over h2c
// and TLS, and through Python's h2 which also counts the WINDOW_UPDATEs.
TEST_F(Http2, PostBodyLargerThanTheWindowIsEchoed) {
  const std::string in = body_file(300000);
  serve([&](int port, int tls) {
    const std::string out1 = cert_dir() + "/echo_h2c";
    const std::string out2 = cert_dir() + "/echo_tls";
    EXPECT_EQ(run_command("curl -s --max-time 60 --http2-prior-knowledge --data-binary @" + in +
                          " -o " + out1 + " -w '%{http_version} %{http_code} %{size_download}' " +
                          "http://127.0.0.1:" + std::to_string(port) + "/echo"),
              "2 200 300000");
    EXPECT_EQ(run_command("cmp " + in + " " + out1 + " && echo same"), "same\n");
    EXPECT_EQ(run_command("curl -sk --max-time 60 --http2 --data-binary @" + in + " -o " + out2 +
                          " -w '%{http_version} %{http_code} %{size_download}' " +
                          "https://127.0.0.1:" + std::to_string(tls) + "/echo"),
              "2 200 300000");
    EXPECT_EQ(run_command("cmp " + in + " " + out2 + " && echo same"), "same\n");
    frames(port, "post_windows");
  });
}

// A body over max_body_bytes (1 MiB here), declared by content-length: 413
// on that stream, as in HTTP/1.1, then RST_STREAM NO_ERROR so the client
// stops sending the rest (RFC 9113 8.1). nghttp, not curl: curl 7.88
// reports that RST_STREAM as a failure and drops the response, which 8.1
// forbids a client to do.
TEST_F(Http2, BodyOverTheLimitIs413) {
  const std::string in = body_file(2 * 1024 * 1024);
  serve([&](int port, int) {
    const std::string out = run_command("timeout 60 nghttp -v -d " + in + " http://127.0.0.1:" +
                                        std::to_string(port) + "/echo 2>&1");
    EXPECT_NE(out.find(":status: 413"), std::string::npos) << out.substr(0, 4000);
    EXPECT_NE(out.find("recv RST_STREAM"), std::string::npos) << out.substr(0, 4000);
    EXPECT_NE(out.find("error_code=NO_ERROR"), std::string::npos) << out.substr(0, 4000);
  });
}

// RST_STREAM from the client cancels that stream's request context: the
// handler parked in sleep_for throws Cancelled(client_gone); the connection
// serves the next stream.
TEST_F(Http2, RstStreamCancelsTheParkedHandler) {
  serve([&](int port, int) {
    frames(port, "rst_cancels");
    EXPECT_TRUE(wait_until([&] { return seen_.park_cancelled.load() == 1; }))
        << "parked " << seen_.parked << ", cancelled " << seen_.park_cancelled;
    EXPECT_EQ(seen_.park_cancelled_client.load(), 1);
  });
}

// A handler that throws: 500 on its stream; a sibling stream on the same
// connection gets its 200, and the connection carries a third.
TEST_F(Http2, HandlerExceptionIs500OnThatStreamOnly) {
  serve([&](int port, int) { frames(port, "exception_isolated"); });
}

// HEAD: the GET's head (content-length 5), END_STREAM on HEADERS, no DATA.
TEST_F(Http2, HeadHasNoData) {
  serve([&](int port, int) { frames(port, "head_no_data"); });
}

// SETTINGS_MAX_CONCURRENT_STREAMS 100: a 101st concurrent stream is refused;
// when the client then closes the connection, all 100 parked handlers are
// cancelled and the server's shutdown finds no connection left behind.
TEST_F(Http2, StreamsBeyond100AreRefusedAndTeardownCancelsTheRest) {
  serve([&](int port, int) {
    frames(port, "refuse_over_100");
    EXPECT_EQ(seen_.parked.load(), 100);
    EXPECT_TRUE(wait_until([&] { return seen_.park_cancelled.load() == 100; }))
        << "cancelled " << seen_.park_cancelled;
  });
}

// A header list over max_header_bytes: 431 on that stream (or a stream
// reset); the connection goes on.
TEST_F(Http2, HeaderListOverTheLimitIs431) {
  serve([&](int port, int) { frames(port, "header_too_large"); });
}

// Rapid reset (CVE-2023-44487): streams opened and reset at once, in a
// loop, to a handler that ignores cancellation for 300 ms. At most 100
// handlers run at once (a reset stream's handler counts until it ends; the
// streams behind them wait and, reset, never start), and the connection
// ends (GOAWAY ENHANCE_YOUR_CALM) after 200 resets, so a few hundred
// handlers start at most, not one per reset.
TEST_F(Http2, RapidResetIsBoundedAndEndsTheConnection) {
  serve([&](int port, int) {
    frames(port, "rapid_reset");
    std::printf("stubborn handlers started %d, at once at most %d\n", seen_.stubborn_started.load(),
                seen_.stubborn_max.load());
    EXPECT_LE(seen_.stubborn_max.load(), 100);
    EXPECT_LE(seen_.stubborn_started.load(), 300);
    EXPECT_TRUE(wait_until([&] { return seen_.stubborn_active.load() == 0; }));
  });
}

// Handlers cancelled by a reset count until they end: 100 reset while they
// ignore it, then 100 more streams: never more than 100 run at once, and
// the second hundred are all answered once the first end.
TEST_F(Http2, ResetHandlersCountUntilTheyEnd) {
  serve([&](int port, int) {
    frames(port, "reset_handlers_bounded");
    EXPECT_EQ(seen_.stubborn_started.load(), 200);
    EXPECT_LE(seen_.stubborn_max.load(), 100);
  });
}

// CONTINUATION flood (CVE-2024-27316, CVE-2024-28182): a header block that
// never ends is a connection error after a few frames.
TEST_F(Http2, ContinuationFloodEndsTheConnection) {
  serve([&](int port, int) { frames(port, "continuation_flood"); });
}

// PING and SETTINGS floods from a client that never reads the ACKs: the
// connection ends long before the write deadline (120 s here) would end it.
TEST_F(Http2, PingFloodEndsTheConnection) {
  tweak_ = [](ServerOptions& o) { o.http.write_timeout = 120s; };
  serve([&](int port, int) { frames(port, "ping_flood"); });
}

TEST_F(Http2, SettingsFloodEndsTheConnection) {
  tweak_ = [](ServerOptions& o) { o.http.write_timeout = 120s; };
  serve([&](int port, int) { frames(port, "settings_flood"); });
}

// HPACK bomb: a 12 KB block that decodes to 16 MB of fields is stopped by
// the header list limit (431, or a stream or connection error).
TEST_F(Http2, HpackBombIsStoppedByTheHeaderListLimit) {
  serve([&](int port, int) { frames(port, "hpack_bomb"); });
}

// A stream window the client keeps at 0: after write_timeout (1 s here)
// the stream is reset with CANCEL and the flushing handler's flush throws.
TEST_F(Http2, ZeroWindowStreamIsResetAfterTheWriteTimeout) {
  tweak_ = [](ServerOptions& o) { o.http.write_timeout = 1s; };
  serve([&](int port, int) {
    frames(port, "zero_window");
    EXPECT_TRUE(wait_until([&] { return seen_.big_failed.load() == 1; })) << seen_.big_failed;
  });
}

// A client that asks for 40 MB and never reads the socket: the write
// deadline (1 s here) closes the connection; every handler's write throws.
TEST_F(Http2, ClientThatNeverReadsIsClosedByTheWriteDeadline) {
  tweak_ = [](ServerOptions& o) { o.http.write_timeout = 1s; };
  serve([&](int port, int) {
    frames(port, "never_reads");
    EXPECT_TRUE(wait_until([&] { return seen_.big_failed.load() == 10; })) << seen_.big_failed;
  });
}

// PRIORITY frames on idle streams are ignored safely; a stream that
// depends on itself is a stream error PROTOCOL_ERROR (RFC 9113 5.3.1).
TEST_F(Http2, PriorityFramesAreHandledSafely) {
  serve([&](int port, int) { frames(port, "priority"); });
}

// A graceful shutdown while a stream is in flight: GOAWAY NO_ERROR with the
// last stream id, and the stream's whole response within the grace.
TEST_F(Http2, GracefulShutdownFinishesTheInFlightStream) {
  serve([&](int port, int) {
    std::thread client([&] { frames(port, "graceful"); });
    EXPECT_TRUE(wait_until([&] { return seen_.slow_in.load() == 1; }));
    // The shutdown's start (it returns at once; serve() ends once the
    // connections did).
    server_->shutdown();
    client.join();
  });
}

// h2c: a preface that arrives a byte at a time is still told from HTTP/1.1
// (the connection parks in the poller between the bytes) and served as
// HTTP/2.
TEST_F(Http2, TrickledH2cPrefaceIsDetected) {
  serve([&](int port, int) { frames(port, "trickled_preface"); });
}

}  // namespace
