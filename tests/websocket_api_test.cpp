// websocket_api_test: the blocking-style API of cogo/websocket.h and the
// upgrade primitive under it (cogo/http/upgrade.h), through a real Server
// in the three connection models: writes from several goroutines at once,
// messages written and read frame by frame, pongs passing between the
// frames of a long message, cancellation (a cancelled request closes with
// 1001; a server shutdown says 1001 to every WebSocket at its start), the
// connection counters, a handler that returns or throws, a Sender used
// after its connection ended, and the raw upgrade primitive on its own.
//
// Waits are hang guards, never assertions about time.
#include <gtest/gtest.h>
#include <malloc.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cogo/cancel.h"
#include "cogo/http.h"
#include "cogo/http/upgrade.h"
#include "cogo/middleware/timeout.h"
#include "cogo/wait_group.h"
#include "cogo/websocket.h"
#include "websocket_test_util.h"

namespace {

using namespace ws_test;
using cogo::http::Request;
using cogo::http::Response;
using cogo::http::Server;
namespace websocket = cogo::websocket;

class Api : public ServerTest {};
INSTANTIATE_TEST_SUITE_P(Models, Api, kModels, model_name);

constexpr int kWriters = 8;
constexpr int kEach = 200;

TEST_P(Api, WritesFromSeveralGoroutinesArriveWholeAndInOrder) {
  run(
      [](int port, Server&) {
        Client c;
        c.open(port, "/fanout");
        std::map<int, int> next;  // writer -> the next index expected
        int large = 0;
        for (int n = 0; n < kWriters * kEach + 3; ++n) {
          auto m = c.read_message();
          ASSERT_TRUE(m) << n;
          if (m->payload.size() > 1000) {
            // One goroutine's 200 KB messages (4 frames each) beside the rest.
            EXPECT_EQ(m->payload, std::string(200000, static_cast<char>('A' + large)));
            ++large;
            continue;
          }
          const auto dash = m->payload.find('-');
          ASSERT_NE(dash, std::string::npos) << m->payload;
          const int w = std::stoi(m->payload.substr(1, dash - 1));
          const int i = std::stoi(m->payload.substr(dash + 1));
          EXPECT_EQ(i, next[w]) << m->payload;
          next[w] = i + 1;
        }
        EXPECT_EQ(large, 3);
        for (int w = 0; w < kWriters; ++w) EXPECT_EQ(next[w], kEach);
      },
      [](Server& s) {
        s.router().get("/fanout", [](Request& req, Response& res) {
          websocket::Options o;
          o.write_frame_bytes = 64 * 1024;
          auto ws = websocket::accept(req, res, o);
          cogo::WaitGroup wg;
          for (int w = 0; w < kWriters; ++w) {
            wg.add(1);
            cogo::go([w, out = ws.sender(), &wg]() mutable {
              for (int i = 0; i < kEach; ++i) {
                std::string text = "w";
                text += std::to_string(w);
                text += '-';
                text += std::to_string(i);
                out.write_text(text);
                if (i % 16 == 0) cogo::yield();
              }
              wg.done();
            });
          }
          wg.add(1);
          cogo::go([out = ws.sender(), &wg]() mutable {
            for (int k = 0; k < 3; ++k)
              out.write_binary(std::string(200000, static_cast<char>('A' + k)));
            wg.done();
          });
          wg.wait();
          websocket::Message m;
          while (ws.read(m)) {
          }
        });
      });
}

TEST_P(Api, WriterSendsFramesAndPongsPassBetweenThem) {
  run(
      [](int port, Server&) {
        Client c;
        c.open(port, "/frames");
        auto first = c.read_frame();
        ASSERT_TRUE(first);
        EXPECT_EQ(first->opcode, 0x1);
        EXPECT_FALSE(first->fin);
        EXPECT_EQ(first->payload, "part 0;");
        // The message is open; a ping is answered before it ends.
        c.send_frame(0x9, "between");
        std::string rest;
        bool pong = false;
        for (;;) {
          auto f = c.read_frame();
          ASSERT_TRUE(f);
          if (f->opcode == 0xA) {
            EXPECT_EQ(f->payload, "between");
            EXPECT_TRUE(rest.empty());  // before the message's next frame
            pong = true;
            c.text("pong seen");
            continue;
          }
          EXPECT_EQ(f->opcode, 0x0);
          rest += f->payload;
          if (f->fin) break;
        }
        EXPECT_TRUE(pong);
        EXPECT_EQ(rest, "part 1;part 2;end");
      },
      [](Server& s) {
        s.router().get("/frames", [](Request& req, Response& res) {
          auto ws = websocket::accept(req, res);
          cogo::WaitGroup done;
          done.add(1);
          // The reader: answers the ping inside read(), then gets the text.
          cogo::go([&] {
            websocket::Message m;
            ws.read(m);
            EXPECT_EQ(m.data, "pong seen");
            done.done();
          });
          {
            websocket::Writer w = ws.writer(websocket::Kind::text);
            w.write("part 0;");
            done.wait();  // the message stays open until the pong went out
            w.write("part 1;");
            w.write("part 2;");
            w.finish("end");
          }
          websocket::Message m;
          while (ws.read(m)) {
          }
        });
      });
}

TEST_P(Api, ReadSomeStreamsAMessageLargerThanTheMessageLimit) {
  std::atomic<std::uint64_t> total{0};
  std::atomic<std::uint64_t> sum{0};
  std::atomic<int> pieces{0};
  run(
      [&](int port, Server&) {
        Client c;
        c.open(port, "/stream");
        std::string chunk(100000, '\0');
        std::uint64_t expect_sum = 0;
        for (int i = 0; i < 50; ++i) {
          for (std::size_t k = 0; k < chunk.size(); ++k) {
            chunk[k] = static_cast<char>(i + k);
            expect_sum += static_cast<unsigned char>(chunk[k]);
          }
          c.send_frame(i == 0 ? 0x2 : 0x0, chunk, i == 49);
        }
        auto m = c.read_message();
        ASSERT_TRUE(m);
        EXPECT_EQ(m->payload, std::to_string(expect_sum));
      },
      [&](Server& s) {
        s.router().get("/stream", [&](Request& req, Response& res) {
          websocket::Options o;
          o.max_message_bytes = 1 << 20;  // read_some is not bound by it
          auto ws = websocket::accept(req, res, o);
          char buf[8192];
          for (;;) {
            const auto p = ws.read_some(buf, sizeof buf);
            ASSERT_NE(p.kind, websocket::Kind::close);
            EXPECT_EQ(p.kind, websocket::Kind::binary);
            for (std::size_t k = 0; k < p.size; ++k) sum += static_cast<unsigned char>(buf[k]);
            total += p.size;
            ++pieces;
            if (p.last) break;
          }
          ws.write_text(std::to_string(sum.load()));
          websocket::Message m;
          while (ws.read(m)) {
          }
        });
      });
  EXPECT_EQ(total.load(), 5'000'000u);
  EXPECT_GT(pieces.load(), 600);
}

TEST_P(Api, ShutdownSays1001ToEveryWebSocketAtItsStart) {
  // A grace of a minute: a 1001 that came only when the grace ran out would
  // miss the client's 20 s hang guard.
  auto so = server_options();
  so.shutdown_grace = std::chrono::seconds(60);
  run(
      [](int port, Server& s) {
        Client a, b;
        a.open(port);
        b.open(port, "/idle");
        a.text("x");
        ASSERT_TRUE(a.read_message());
        ASSERT_TRUE(wait_until([&] { return s.counters().upgraded == 2; }));
        s.shutdown();
        for (Client* c : {&a, &b}) {
          auto f = c->read_frame();
          ASSERT_TRUE(f);
          EXPECT_EQ(f->opcode, 0x8);
          EXPECT_EQ(f->close_code(), 1001);
          c->close(1001);
          EXPECT_TRUE(c->eof());
        }
        EXPECT_TRUE(wait_until([&] { return s.counters().active == 0; }));
      },
      [](Server& s) {
        s.router().get("/idle", [](Request& req, Response& res) {
          // Not in read(): waiting on a channel. Its wait is cancelled, the
          // WebSocket's destructor says 1001.
          auto ws = websocket::accept(req, res);
          cogo::Chan<int> never;
          (void)never.recv();
        });
      },
      so);
}

TEST_P(Api, ACancelledRequestClosesWith1001) {
  std::atomic<int> reason{-1};
  run(
      [&](int port, Server&) {
        Client c;
        c.open(port, "/deadline");
        c.text("one");
        EXPECT_EQ(c.read_message()->payload, "one");
        // Then silence until the route's deadline cancels read().
        EXPECT_EQ(c.expect_close(), 1001);
        c.close(1001);
        EXPECT_TRUE(c.eof());
        EXPECT_TRUE(wait_until([&] { return reason.load() >= 0; }));
      },
      [&](Server& s) {
        s.router().get("/deadline",
                       cogo::http::MiddlewareChain()
                           .use(cogo::middleware::timeout(std::chrono::milliseconds(300)))
                           .then([&](Request& req, Response& res) {
                             auto ws = websocket::accept(req, res);
                             try {
                               echo(ws);
                             } catch (const cogo::Cancelled& e) {
                               reason = static_cast<int>(e.reason());
                               throw;
                             }
                           }));
      });
  EXPECT_EQ(reason.load(), static_cast<int>(cogo::CancelReason::deadline));
}

TEST_P(Api, HandlerTimeoutEndsAtTheUpgrade) {
  constexpr auto kTimeout = 300ms;
  auto so = server_options();
  so.http.handler_timeout = kTimeout;
  run(
      [&](int port, Server&) {
        // The server stops the handler timeout before it writes the 101, and
        // starts it after the request was sent: a handshake that took less
        // than the timeout, as the client saw it, upgraded in time. One that
        // took longer (a loaded machine: it failed so at load 17, the
        // deadline passing before the upgrade) proves nothing; try again.
        std::unique_ptr<Client> c;
        for (int tries = 0; tries < 50 && !c; ++tries) {
          auto one = std::make_unique<Client>();
          const auto t0 = std::chrono::steady_clock::now();
          one->open(port);
          if (std::chrono::steady_clock::now() - t0 < kTimeout) c = std::move(one);
        }
        ASSERT_TRUE(c) << "no handshake of 50 finished within the handler timeout";
        // The request started before open() returned: past its deadline.
        std::this_thread::sleep_for(2 * kTimeout);
        c->text("still here");
        auto m = c->read_message();
        ASSERT_TRUE(m);
        EXPECT_EQ(m->payload, "still here");
      },
      {}, so);
}

TEST_P(Api, CountersSeeAnUpgradedConnection) {
  run([](int port, Server& s) {
    Client c;
    c.open(port);
    c.text("x");
    ASSERT_TRUE(c.read_message());
    const auto k = s.counters();
    EXPECT_EQ(k.upgraded, 1u);
    EXPECT_EQ(k.active, 1u);
    EXPECT_EQ(k.requests_in_flight, 0u);
    c.close(1000);
    EXPECT_EQ(c.expect_close(), 1000);
    EXPECT_TRUE(c.eof());
    EXPECT_TRUE(wait_until([&] { return s.counters().upgraded == 0 && s.counters().active == 0; }));
  });
}

TEST_P(Api, ReturningHandlerCloses1000_ThrowingOne1011) {
  run(
      [](int port, Server&) {
        {
          Client c;
          c.open(port, "/return");
          EXPECT_EQ(c.expect_close(), 1000);
          c.close(1000);
          EXPECT_TRUE(c.eof());
        }
        {
          Client c;
          c.open(port, "/throw");
          EXPECT_EQ(c.expect_close(), 1011);
          c.close(1011);
          EXPECT_TRUE(c.eof());
        }
      },
      [](Server& s) {
        s.router().get("/return",
                       [](Request& req, Response& res) { auto ws = websocket::accept(req, res); });
        s.router().get("/throw", [](Request& req, Response& res) {
          auto ws = websocket::accept(req, res);
          throw std::runtime_error("handler bug");
        });
      });
}

TEST_P(Api, SenderAfterTheConnectionEndedThrowsError) {
  std::mutex mu;
  websocket::Sender kept;
  run(
      [&](int port, Server&) {
        Client c;
        c.open(port, "/keep");
        c.close(1000);
        EXPECT_EQ(c.expect_close(), 1000);
        EXPECT_TRUE(c.eof());
        websocket::Sender s;
        ASSERT_TRUE(wait_until([&] {
          std::lock_guard<std::mutex> g(mu);
          s = kept;
          return static_cast<bool>(s) && !s.open();
        }));
        EXPECT_THROW(s.write_text("late"), websocket::Error);
        EXPECT_THROW(s.ping(), websocket::Error);
      },
      [&](Server& s) {
        s.router().get("/keep", [&](Request& req, Response& res) {
          auto ws = websocket::accept(req, res);
          {
            std::lock_guard<std::mutex> g(mu);
            kept = ws.sender();
          }
          echo(ws);
        });
      });
}

TEST_P(Api, InvalidArgumentsNameTheRule) {
  run(
      [](int port, Server&) {
        Client c;
        c.open(port, "/args");
        EXPECT_EQ(c.expect_close(), 1000);
      },
      [](Server& s) {
        s.router().get("/args", [](Request& req, Response& res) {
          auto ws = websocket::accept(req, res);
          EXPECT_THROW(ws.write_text("\xFF"), std::invalid_argument);
          EXPECT_THROW(ws.ping(std::string(126, 'x')), std::invalid_argument);
          EXPECT_THROW(ws.close(1005), std::invalid_argument);
          EXPECT_THROW(ws.close(1000, std::string(124, 'r')), std::invalid_argument);
          EXPECT_THROW(ws.write(websocket::Kind::close, "x"), std::invalid_argument);
          ws.close(1000);
        });
      });
}

// The primitive alone: a protocol of its own after a 101.
TEST_P(Api, UpgradePrimitiveHandsOverTheConnection) {
  run(
      [](int port, Server& s) {
        Client c;
        c.connect(port);
        // The first bytes of the new protocol travel with the request.
        c.handshake(
            "GET /raw HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: echo/1\r\n\r\nearly;");
        EXPECT_EQ(c.status(), 101);
        EXPECT_EQ(c.header("Upgrade"), "echo/1");
        EXPECT_TRUE(cogo::http::iequals(c.header("Connection"), "Upgrade"));
        EXPECT_FALSE(c.has_header("Content-Length"));
        EXPECT_EQ(c.read_exact(6), "early;");
        c.send("late;");
        EXPECT_EQ(c.read_exact(5), "late;");
        EXPECT_EQ(s.counters().upgraded, 1u);
        c.shutdown_write();
        EXPECT_TRUE(c.eof());
      },
      [](Server& s) {
        s.router().get("/raw", [](Request& req, Response& res) {
          res.set_status(101);
          res.set_header("Upgrade", "echo/1");
          cogo::http::Upgraded conn = cogo::http::upgrade(req, res);
          EXPECT_THROW(cogo::http::upgrade(req, res), std::logic_error);
          char buf[256];
          while (std::size_t n = conn.read(buf, sizeof buf)) conn.write(buf, n);
        });
      });
}

// serve(): the loop runs after the request is over; the same protocol,
// counted upgraded (not in flight), and told 1001 at a shutdown's start.
TEST_P(Api, ServeRunsTheLoopAfterTheRequestEnds) {
  auto so = server_options();
  so.shutdown_grace = std::chrono::seconds(60);
  std::atomic<int> loops{0};
  run(
      [&](int port, Server& s) {
        Client c;
        c.open(port, "/served");
        c.text("hello");
        EXPECT_EQ(c.read_message()->payload, "hello");
        c.send_frame(0x9, "p");
        EXPECT_EQ(c.read_frame()->opcode, 0xA);
        ASSERT_TRUE(wait_until([&] { return s.counters().upgraded == 1; }));
        EXPECT_EQ(s.counters().requests_in_flight, 0u);
        EXPECT_EQ(s.counters().active, 1u);
        s.shutdown();
        EXPECT_EQ(c.expect_close(), 1001);
        c.close(1001);
        EXPECT_TRUE(c.eof());
        EXPECT_TRUE(wait_until([&] { return s.counters().active == 0; }));
      },
      [&](Server& s) {
        s.router().get("/served", [&](Request& req, Response& res) {
          const bool ok = websocket::serve(req, res, {}, [&](websocket::WebSocket& ws) {
            ++loops;
            echo(ws);
          });
          EXPECT_TRUE(ok);
          EXPECT_EQ(loops.load(), 0);  // not before the handler returned
        });
      },
      so);
  EXPECT_EQ(loops.load(), 1);
}

// An idle WebSocket's heap. Issue 14 asks at most 6 KiB of RSS per
// WebSocket idle in read(); the parked goroutine's stack page takes 4 KiB of
// it, and the heap's RSS runs about 130 bytes a connection above what malloc
// counts as in use (loadtest/ws_compare.sh's memory part against this
// count), so the heap counted here gets 1,792 bytes: 1.75 KiB, leaving that
// and some room. (It was 1,942-1,981 before the Connection lost its holes
// and the upgrade its records, 1,445-1,679 after.) kIdle connections through
// websocket::serve() (cogo-server's /ws/echo), each answered one ping so
// that its loop waits in read(), are counted by glibc's mallinfo2() (every
// arena) before and after; the client side allocates nothing meanwhile (raw
// sockets, stack buffers, a vector reserved beforehand). The bound is met
// once the readers have given their read buffers back: polled, a hang
// guard, not a timing.
TEST_P(Api, AnIdleServedWebSocketKeepsAtMost1792BytesOfHeap) {
  if (GetParam().model != cogo::Model::goroutine) GTEST_SKIP() << "a thread per connection";
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "a sanitizer's allocator: neither glibc's sizes nor its mallinfo2()";
#endif
  // 1,000 connections: what varies with scheduling (an engine pooled on
  // one thread while another thread's pool is empty, a free list's chunk)
  // is a few dozen KiB, 2-3% of the count here; at 400 connections under a
  // parallel ctest it was 1,845 B against 1,465-1,663 alone.
  constexpr int kIdle = 1000;
  constexpr int kWarm = 64;
  constexpr std::size_t kBound = 1792;
  rlimit nofile{};
  ::getrlimit(RLIMIT_NOFILE, &nofile);
  if (nofile.rlim_cur < 4 * kIdle) {
    nofile.rlim_cur = std::min<rlim_t>(nofile.rlim_max, 4 * kIdle);
    ::setrlimit(RLIMIT_NOFILE, &nofile);
  }
  std::size_t per_connection = 0;
  run(
      [&](int port, Server& s) {
        static constexpr char kRequest[] =
            "GET /served HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
        static constexpr unsigned char kPing[] = {0x89, 0x80, 1, 2, 3, 4};  // masked, empty
        // open() makes one idle WebSocket: the handshake, then a ping
        // answered (the server's loop has read it and waits again).
        const auto open = [&]() -> int {
          const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
          sockaddr_in a{};
          a.sin_family = AF_INET;
          a.sin_port = htons(static_cast<std::uint16_t>(port));
          a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
          if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return -1;
          const auto read_exactly = [fd](char* buf, std::size_t n, std::string_view until) {
            std::size_t got = 0;
            while (got < n) {
              pollfd p{fd, POLLIN, 0};
              if (::poll(&p, 1, 20000) <= 0) return std::size_t{0};
              const ssize_t k = ::recv(fd, buf + got, until.empty() ? n - got : 1, 0);
              if (k <= 0) return std::size_t{0};
              got += static_cast<std::size_t>(k);
              if (!until.empty() && std::string_view(buf, got).ends_with(until)) break;
            }
            return got;
          };
          char buf[512];
          if (::send(fd, kRequest, sizeof kRequest - 1, MSG_NOSIGNAL) !=
                  static_cast<ssize_t>(sizeof kRequest - 1) ||
              read_exactly(buf, sizeof buf, "\r\n\r\n") == 0 ||
              !std::string_view(buf).starts_with("HTTP/1.1 101") ||
              ::send(fd, kPing, sizeof kPing, MSG_NOSIGNAL) != sizeof kPing ||
              read_exactly(buf, 2, {}) != 2 || buf[0] != '\x8A' || buf[1] != 0) {
            ::close(fd);
            return -1;
          }
          return fd;
        };
        // Warm-up: the engine pools, the runtime's free lists, the first
        // handshake's one-time allocations — kWarm connections open at once,
        // so that every thread's pool and free list has been filled, then
        // closed.
        std::vector<int> warm;
        warm.reserve(kWarm);
        for (int i = 0; i < kWarm; ++i) {
          const int fd = open();
          ASSERT_GE(fd, 0);
          warm.push_back(fd);
        }
        for (int fd : warm) ::close(fd);
        ASSERT_TRUE(wait_until([&] { return s.counters().upgraded == 0; }));
        std::vector<int> fds;
        fds.reserve(kIdle);
        const std::size_t before = ::mallinfo2().uordblks;
        for (int i = 0; i < kIdle; ++i) {
          const int fd = open();
          ASSERT_GE(fd, 0) << "connection " << i;
          fds.push_back(fd);
        }
        const auto measure = [&] {
          const std::size_t now = ::mallinfo2().uordblks;
          per_connection = now > before ? (now - before) / kIdle : 0;
          return per_connection <= kBound;
        };
        EXPECT_TRUE(wait_until(measure)) << per_connection << " bytes of heap per idle WebSocket";
        std::printf("heap per idle WebSocket: %zu bytes\n", per_connection);
        for (int fd : fds) ::close(fd);
        EXPECT_TRUE(wait_until([&] { return s.counters().upgraded == 0; }));
      },
      [](Server& s) {
        s.router().get("/served", [](Request& req, Response& res) {
          websocket::serve(req, res, {}, [](websocket::WebSocket& ws) { echo(ws); });
        });
      });
}

TEST_P(Api, ServeRefusesABadHandshakeLikeAccept) {
  run(
      [](int port, Server&) {
        Client c;
        c.connect(port);
        c.handshake("GET /served HTTP/1.1\r\nHost: t\r\n\r\n");
        EXPECT_EQ(c.status(), 400);
        EXPECT_TRUE(c.eof());
      },
      [](Server& s) {
        s.router().get("/served", [](Request& req, Response& res) {
          EXPECT_FALSE(
              websocket::serve(req, res, {}, [](websocket::WebSocket&) { ADD_FAILURE(); }));
        });
      });
}

TEST_P(Api, DeferredUpgradeRunsOnTheConnectionAfterTheHandler) {
  run(
      [](int port, Server& s) {
        Client c;
        c.connect(port);
        c.handshake(
            "GET /later HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: "
            "echo/1\r\n\r\nfirst;");
        EXPECT_EQ(c.status(), 101);
        EXPECT_EQ(c.read_exact(6), "first;");
        c.send("second;");
        EXPECT_EQ(c.read_exact(7), "second;");
        EXPECT_EQ(s.counters().upgraded, 1u);
        EXPECT_EQ(s.counters().requests_in_flight, 0u);
        c.shutdown_write();
        EXPECT_TRUE(c.eof());
        EXPECT_TRUE(
            wait_until([&] { return s.counters().upgraded == 0 && s.counters().active == 0; }));
      },
      [](Server& s) {
        s.router().get("/later", [](Request& req, Response& res) {
          res.set_status(101);
          res.set_header("Upgrade", "echo/1");
          cogo::http::upgrade(req, res, [](cogo::http::Upgraded& conn) {
            char buf[256];
            while (std::size_t n = conn.read(buf, sizeof buf)) conn.write(buf, n);
          });
        });
      });
}

TEST_P(Api, DeferredUpgradeOfAHandlerThatThrowsNeverRuns) {
  std::atomic<bool> ran{false};
  run(
      [&](int port, Server& s) {
        Client c;
        c.connect(port);
        c.handshake(
            "GET /later HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: echo/1\r\n\r\n");
        EXPECT_EQ(c.status(), 101);
        EXPECT_TRUE(c.eof());
        EXPECT_TRUE(wait_until([&] { return s.counters().active == 0; }));
      },
      [&](Server& s) {
        s.router().get("/later", [&](Request& req, Response& res) {
          res.set_status(101);
          res.set_header("Upgrade", "echo/1");
          cogo::http::upgrade(req, res, [&](cogo::http::Upgraded&) { ran = true; });
          throw std::runtime_error("changed its mind");
        });
      });
  EXPECT_FALSE(ran.load());
}

TEST_P(Api, UpgradePreconditionsAreLogicErrors) {
  run(
      [](int port, Server&) {
        Client c;
        c.connect(port);
        c.handshake("GET /wrong HTTP/1.1\r\nHost: t\r\n\r\n");
        EXPECT_EQ(c.status(), 200);
      },
      [](Server& s) {
        s.router().get("/wrong", [](Request& req, Response& res) {
          EXPECT_THROW(cogo::http::upgrade(req, res), std::logic_error);  // status 200
          res.set_status(101);
          EXPECT_THROW(cogo::http::upgrade(req, res), std::logic_error);  // no Upgrade asked
          res.set_status(200);
          res.text(200, "fine");
        });
      });
}

}  // namespace
