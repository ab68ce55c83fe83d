// http_cancel_test: request cancellation through a real cogo::http::Server
// (goroutine model with 1 and 2 Ps, thread model) and real sockets. A
// handler's waits throw cogo::Cancelled when its client leaves (FIN or
// reset), when HttpOptions::handler_timeout passes, and when the graceful
// shutdown runs out of grace; the client gets what each case promises
// (nothing, a 503, a close mid-stream), the request's helper goroutines die
// with it, a CancelShield lets cleanup wait, pipelined requests behind a
// cancelled one are answered, and the counters say what happened.
//
// Waits here are hang guards, never assertions about time: a handler that
// was not cancelled would finish its 60 s sleep and report "finished".
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cogo/cancel.h"
#include "cogo/chan.h"
#include "cogo/cond.h"
#include "cogo/http.h"
#include "cogo/http/admin.h"
#include "cogo/middleware/access_log.h"
#include "cogo/middleware/timeout.h"
#include "cogo/mutex.h"
#include "cogo/net.h"
#include "cogo/runtime.h"
#include "support/serve_with_client.h"
#include "support/server_process.h"

namespace {

using namespace std::chrono_literals;
using cogo::CancelReason;
using cogo::http::Request;
using cogo::http::Response;
using cogo::http::Server;
using cogo::http::ServerOptions;

constexpr auto kForever = 60s;  // a wait nothing but a cancel ends in a test's time

// Events: what handlers report (name -> value), waited for by the client
// thread. Handlers run on goroutines or threads; the critical sections are
// a few instructions.
class Events {
 public:
  void set(const std::string& key, const std::string& value) {
    std::lock_guard<std::mutex> lk(mu_);
    values_[key] = value;
    cv_.notify_all();
  }
  void add(const std::string& key) {
    std::lock_guard<std::mutex> lk(mu_);
    ++counts_[key];
    cv_.notify_all();
  }
  // get() waits (a hang guard of 30 s) for key and returns its value, "" if
  // it never came.
  std::string get(const std::string& key) {
    std::unique_lock<std::mutex> lk(mu_);
    cv_.wait_for(lk, 30s, [&] { return values_.count(key) != 0; });
    auto it = values_.find(key);
    return it == values_.end() ? "" : it->second;
  }
  // wait_count() waits (30 s guard) until key was added n times.
  int wait_count(const std::string& key, int n) {
    std::unique_lock<std::mutex> lk(mu_);
    cv_.wait_for(lk, 30s, [&] { return counts_[key] >= n; });
    return counts_[key];
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::string> values_;
  std::map<std::string, int> counts_;
};

// outcome_of() runs wait and reports under key how it ended: "finished",
// or the reason of the Cancelled it threw (rethrown).
template <class F>
void report(Events& ev, const std::string& key, F&& wait) {
  try {
    wait();
    ev.set(key, "finished");
  } catch (const cogo::Cancelled& e) {
    ev.set(key, std::string(cogo::to_string(e.reason())));
    throw;
  }
}

// Response: one HTTP/1.1 response read off a keep-alive connection.
struct Reply {
  int status = -1;
  std::string head;
  std::string body;
  bool eof = false;  // the server closed before (or instead of) a response
};

// recv_some() appends what arrives within the hang guard; false at EOF or
// when nothing came.
bool recv_some(int fd, std::string& buf) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, 20000) <= 0) return false;
  char tmp[8192];
  const ssize_t n = recv(fd, tmp, sizeof tmp, 0);
  if (n <= 0) return false;
  buf.append(tmp, static_cast<size_t>(n));
  return true;
}

// read_reply() reads one Content-Length-framed response; buf keeps any
// bytes after it (the next pipelined response).
Reply read_reply(int fd, std::string& buf) {
  Reply r;
  std::size_t end;
  while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
    if (!recv_some(fd, buf)) {
      r.eof = true;
      return r;
    }
  }
  r.head = buf.substr(0, end + 4);
  if (r.head.size() >= 12 && r.head.compare(0, 5, "HTTP/") == 0) r.status = std::stoi(r.head.substr(9, 3));
  std::size_t length = 0;
  if (auto p = r.head.find("Content-Length: "); p != std::string::npos) {
    length = std::stoul(r.head.substr(p + 16));
  }
  while (buf.size() < end + 4 + length) {
    if (!recv_some(fd, buf)) {
      r.eof = true;
      break;
    }
  }
  r.body = buf.substr(end + 4, length);
  buf.erase(0, std::min(buf.size(), end + 4 + length));
  return r;
}

Reply get(int fd, const std::string& path) {
  cogo_test::send_all(fd, "GET " + path + " HTTP/1.1\r\nHost: t\r\n\r\n");
  std::string buf;
  return read_reply(fd, buf);
}

// reset_close() closes fd with an RST (SO_LINGER 0) instead of a FIN.
void reset_close(int fd) {
  linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close(fd);
}

// leave_while_waiting() is the client that leaves: it asks for path, waits
// for the handler to report "started", and closes (FIN) or resets.
enum class Leave { close, reset };
void leave_while_waiting(int port, Events& ev, const std::string& path, Leave how) {
  const int fd = cogo_test::connect_to(port);
  cogo_test::send_all(fd, "GET " + path + " HTTP/1.1\r\nHost: t\r\n\r\n");
  ev.get("started");
  if (how == Leave::reset) {
    reset_close(fd);
  } else {
    close(fd);
  }
}

// loopback_listener() is a plain listening socket on 127.0.0.1 (-1 on
// failure) and, in addr, its "127.0.0.1:PORT".
int loopback_listener(std::string& addr) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof a;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, 4) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &alen) != 0) {
    close(fd);
    return -1;
  }
  addr = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  return fd;
}

// wait_until() polls pred (a hang guard of 30 s); its last value.
template <class P>
bool wait_until(P pred) {
  for (int i = 0; i < 3000; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

struct Param {
  cogo::Model model;
  int procs;
  const char* name;
};

class Cancel : public ::testing::TestWithParam<Param> {
 protected:
  ServerOptions options() {
    ServerOptions o;
    o.listen = {{"127.0.0.1:0"}};
    o.model = GetParam().model;
    o.handle_signals = false;
    return o;
  }
  // serve() runs a server with o and the routes setup adds, and client(port,
  // server) on a plain thread while it serves; then shuts it down.
  template <class Setup, class Client>
  void serve(ServerOptions o, Setup setup, Client client) {
    cogo_test::serve_with_client(
        GetParam().procs, std::move(o),
        [&](Server& server) {
          setup(server);
          server.router().get("/fast", [](Request&, Response& res) { res.text(200, "fast"); });
        },
        client);
  }

  static uint64_t cancelled(const Server& s, CancelReason r) {
    return s.counters().requests_cancelled[static_cast<int>(r)];
  }
  // settled() waits until no handler runs and `n` requests were cancelled
  // for r (the engine counts after the handler unwound).
  static bool settled(const Server& s, CancelReason r, uint64_t n) {
    return wait_until([&] { return s.counters().requests_in_flight == 0 && cancelled(s, r) >= n; });
  }
};

INSTANTIATE_TEST_SUITE_P(Models, Cancel,
                         ::testing::Values(Param{cogo::Model::goroutine, 1, "goroutine_1P"},
                                           Param{cogo::Model::goroutine, 2, "goroutine_2P"},
                                           Param{cogo::Model::thread, 2, "thread"}),
                         [](const auto& info) { return std::string(info.param.name); });

// The client closes (FIN) while its handler sleeps: the sleep throws
// Cancelled(client_gone), the handler unwinds, the counters say so.
TEST_P(Cancel, ClientCloseCancelsASleepingHandler) {
  Events ev;
  serve(
      options(),
      [&](Server& s) {
        s.router().get("/wait", [&](Request& req, Response&) {
          EXPECT_FALSE(req.context().background());
          struct Guard {
            Events& ev;
            ~Guard() { ev.set("destructor", "ran"); }
          } guard{ev};
          ev.set("started", "");
          report(ev, "handler", [] { cogo::sleep_for(kForever); });
        });
      },
      [&](int port, Server& s) {
        leave_while_waiting(port, ev, "/wait", Leave::close);
        EXPECT_EQ(ev.get("handler"), "client_gone");
        EXPECT_EQ(ev.get("destructor"), "ran");
        EXPECT_TRUE(settled(s, CancelReason::client_gone, 1));
        EXPECT_EQ(cancelled(s, CancelReason::client_gone), 1u);
        EXPECT_EQ(cancelled(s, CancelReason::deadline), 0u);
        // The server goes on serving.
        const int fd2 = cogo_test::connect_to(port);
        EXPECT_EQ(get(fd2, "/fast").body, "fast");
        close(fd2);
      });
}

// A reset wakes a handler blocked in a channel receive nobody sends to.
TEST_P(Cancel, ClientResetCancelsAChannelReceive) {
  Events ev;
  serve(
      options(),
      [&](Server& s) {
        s.router().get("/wait", [&](Request&, Response&) {
          cogo::Chan<int> never;  // unbuffered, no sender
          ev.set("started", "");
          report(ev, "handler", [&] { (void)never.recv(); });
        });
      },
      [&](int port, Server& s) {
        leave_while_waiting(port, ev, "/wait", Leave::reset);
        EXPECT_EQ(ev.get("handler"), "client_gone");
        EXPECT_TRUE(settled(s, CancelReason::client_gone, 1));
      });
}

// A condition wait is a cancellation point too.
TEST_P(Cancel, ClientCloseCancelsACondWait) {
  Events ev;
  cogo::Mutex mu;
  cogo::Cond cond;
  serve(
      options(),
      [&](Server& s) {
        s.router().get("/wait", [&](Request&, Response&) {
          std::unique_lock<cogo::Mutex> lk(mu);
          ev.set("started", "");
          report(ev, "handler", [&] { cond.wait(lk, [] { return false; }); });
        });
      },
      [&](int port, Server& s) {
        leave_while_waiting(port, ev, "/wait", Leave::close);
        EXPECT_EQ(ev.get("handler"), "client_gone");
        EXPECT_TRUE(settled(s, CancelReason::client_gone, 1));
      });
}

// A handler reading from an upstream that never answers unwinds when its
// client leaves, and its upstream connection is closed on the way out.
TEST_P(Cancel, ClientCloseCancelsAnUpstreamRead) {
  Events ev;
  // The upstream: accepts one connection and holds it, silent, until it
  // sees the other end close.
  std::string up_addr;
  const int up = loopback_listener(up_addr);
  ASSERT_GE(up, 0);
  std::thread upstream([&] {
    const int c = accept(up, nullptr, nullptr);
    if (c < 0) return;
    std::string got;
    while (recv_some(c, got)) {
    }
    ev.set("upstream", "closed");
    close(c);
  });
  serve(
      options(),
      [&](Server& s) {
        s.router().get("/proxy", [&](Request&, Response&) {
          cogo::net::Conn conn = cogo::net::dial(up_addr);
          ev.set("started", "");
          report(ev, "handler", [&] {
            char b;
            (void)conn.read(&b, 1);
          });
        });
      },
      [&](int port, Server& s) {
        leave_while_waiting(port, ev, "/proxy", Leave::close);
        EXPECT_EQ(ev.get("handler"), "client_gone");
        EXPECT_EQ(ev.get("upstream"), "closed");
        EXPECT_TRUE(settled(s, CancelReason::client_gone, 1));
      });
  upstream.join();
  close(up);
}

// handler_timeout: a handler still waiting is cancelled (deadline), the
// client gets 503 and the connection stays usable.
TEST_P(Cancel, HandlerTimeoutAnswers503AndKeepsTheConnection) {
  Events ev;
  ServerOptions o = options();
  o.http.handler_timeout = 200ms;
  serve(
      o,
      [&](Server& s) {
        s.router().get("/wait", [&](Request&, Response&) {
          report(ev, "handler", [] { cogo::sleep_for(kForever); });
        });
      },
      [&](int port, Server& s) {
        const int fd = cogo_test::connect_to(port);
        const Reply r = get(fd, "/wait");
        EXPECT_EQ(r.status, 503) << r.head;
        EXPECT_EQ(r.body, "handler timed out\n");
        EXPECT_EQ(r.head.find("Connection: close"), std::string::npos) << r.head;
        EXPECT_EQ(ev.get("handler"), "deadline");
        const Reply again = get(fd, "/fast");
        EXPECT_EQ(again.status, 200);
        EXPECT_EQ(again.body, "fast");
        close(fd);
        EXPECT_TRUE(settled(s, CancelReason::deadline, 1));
        EXPECT_EQ(cancelled(s, CancelReason::deadline), 1u);
      });
}

// handler_timeout over a body read that the client stops sending.
TEST_P(Cancel, HandlerTimeoutCancelsABodyRead) {
  Events ev;
  ServerOptions o = options();
  o.http.handler_timeout = 200ms;
  serve(
      o,
      [&](Server& s) {
        s.router().post("/upload", [&](Request& req, Response& res) {
          std::string body;
          report(ev, "handler", [&] { body = req.body(); });
          res.text(200, "got " + std::to_string(body.size()));
        });
      },
      [&](int port, Server&) {
        const int fd = cogo_test::connect_to(port);
        cogo_test::send_all(fd, "POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n0123456789");
        std::string buf;
        const Reply r = read_reply(fd, buf);
        EXPECT_EQ(r.status, 503) << r.head;
        EXPECT_EQ(ev.get("handler"), "deadline");
        close(fd);
      });
}

// A client that leaves in the middle of its streamed body: the handler's
// read stops waiting (the request is cancelled, or the read sees the end of
// a truncated body: either way it unwinds) and nothing is answered.
TEST_P(Cancel, ClientLeavingMidBodyUnwindsTheBodyRead) {
  Events ev;
  serve(
      options(),
      [&](Server& s) {
        s.router().post("/upload", [&](Request& req, Response& res) {
          std::size_t total = 0;
          try {
            char buf[4096];
            while (std::size_t n = req.read(buf, sizeof buf)) {
              total += n;
              if (total >= 10) ev.set("started", "");
            }
            ev.set("handler", "finished");
          } catch (const cogo::Cancelled&) {
            ev.set("handler", "unwound");
            throw;
          } catch (const std::exception&) {
            ev.set("handler", "unwound");
            throw;
          }
          res.text(200, std::to_string(total));
        });
      },
      [&](int port, Server&) {
        const int fd = cogo_test::connect_to(port);
        cogo_test::send_all(fd,
                            "POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "a\r\n0123456789\r\n");
        ev.get("started");
        reset_close(fd);
        EXPECT_EQ(ev.get("handler"), "unwound");
      });
}

// A handler that timed out after its head went out: the only honest end is
// a close, before the chunked body's last chunk.
TEST_P(Cancel, HandlerTimeoutMidStreamClosesTheConnection) {
  Events ev;
  ServerOptions o = options();
  o.http.handler_timeout = 300ms;
  serve(
      o,
      [&](Server& s) {
        s.router().get("/stream", [&](Request&, Response& res) {
          res.write("part one\n");
          res.flush();
          report(ev, "handler", [] { cogo::sleep_for(kForever); });
        });
      },
      [&](int port, Server&) {
        const int fd = cogo_test::connect_to(port);
        cogo_test::send_all(fd, "GET /stream HTTP/1.1\r\nHost: t\r\n\r\n");
        const std::string got = cogo_test::read_until_close(fd);
        EXPECT_EQ(got.compare(0, 15, "HTTP/1.1 200 OK"), 0) << got;
        EXPECT_NE(got.find("part one\n"), std::string::npos) << got;
        EXPECT_EQ(got.find("\r\n0\r\n\r\n"), std::string::npos) << "a complete body after a timeout:\n" << got;
        EXPECT_EQ(ev.get("handler"), "deadline");
        close(fd);
      });
}

// A handler that catches Cancelled and returns without an answer still gets
// the 503; one that answers itself keeps its answer.
TEST_P(Cancel, ASwallowedCancelStillAnswers503AndAnOwnAnswerIsKept) {
  ServerOptions o = options();
  o.http.handler_timeout = 200ms;
  serve(
      o,
      [&](Server& s) {
        s.router().get("/swallow", [&](Request&, Response&) {
          try {
            cogo::sleep_for(kForever);
          } catch (const cogo::Cancelled&) {
          }
        });
        s.router().get("/own", [&](Request&, Response& res) {
          try {
            cogo::sleep_for(kForever);
          } catch (const cogo::Cancelled&) {
            res.text(504, "upstream too slow\n");
          }
        });
      },
      [&](int port, Server&) {
        const int fd = cogo_test::connect_to(port);
        const Reply a = get(fd, "/swallow");
        EXPECT_EQ(a.status, 503) << a.head;
        const Reply b = get(fd, "/own");
        EXPECT_EQ(b.status, 504) << b.head;
        EXPECT_EQ(b.body, "upstream too slow\n");
        close(fd);
      });
}

// A Cancelled from a context of the handler's own (a timeout around an
// upstream call) that escapes is a 503, counted as a deadline; the
// request's own context is not done.
TEST_P(Cancel, AnEscapedInnerTimeoutIs503) {
  Events ev;
  serve(
      options(),
      [&](Server& s) {
        s.router().get("/inner", [&](Request& req, Response&) {
          cogo::Context c = cogo::Context::with_timeout(50ms);
          cogo::ContextScope scope(c);
          try {
            cogo::sleep_for(kForever);
          } catch (const cogo::Cancelled& e) {
            ev.set("inner", std::string(cogo::to_string(e.reason())));
            ev.set("request", std::string(cogo::to_string(req.context().reason())));
            throw;
          }
        });
      },
      [&](int port, Server& s) {
        const int fd = cogo_test::connect_to(port);
        const Reply r = get(fd, "/inner");
        EXPECT_EQ(r.status, 503);
        EXPECT_EQ(ev.get("inner"), "deadline");
        EXPECT_EQ(ev.get("request"), "none");
        EXPECT_EQ(get(fd, "/fast").status, 200);  // still keep-alive
        close(fd);
        EXPECT_EQ(cancelled(s, CancelReason::deadline), 1u);  // it ended the request
      });
}

// middleware::timeout narrows one route's requests: its handler's waits end
// at the deadline (503, counted), req.context() is the narrowed context,
// and a route without it waits as long as it likes.
TEST_P(Cancel, TheTimeoutMiddlewareNarrowsOneRoute) {
  Events ev;
  EXPECT_THROW(cogo::middleware::timeout(0ms), std::invalid_argument);
  serve(
      options(),
      [&](Server& s) {
        s.router().get("/slow", cogo::http::MiddlewareChain()
                                    .use(cogo::middleware::timeout(150ms))
                                    .then([&](Request& req, Response&) {
                                      ev.set("deadline", req.context().deadline() ? "set" : "none");
                                      ev.set("current", cogo::current_context() == req.context()
                                                            ? "same"
                                                            : "other");
                                      report(ev, "handler", [] { cogo::sleep_for(kForever); });
                                    }));
        s.router().get("/patient", [&](Request& req, Response& res) {
          ev.set("patient deadline", req.context().deadline() ? "set" : "none");
          cogo::sleep_for(300ms);
          res.text(200, "waited");
        });
      },
      [&](int port, Server& s) {
        const int fd = cogo_test::connect_to(port);
        const Reply r = get(fd, "/slow");
        EXPECT_EQ(r.status, 503) << r.head;
        EXPECT_EQ(r.body, "handler timed out\n");
        EXPECT_EQ(ev.get("handler"), "deadline");
        EXPECT_EQ(ev.get("deadline"), "set");
        EXPECT_EQ(ev.get("current"), "same");
        const Reply p = get(fd, "/patient");
        EXPECT_EQ(p.status, 200);
        EXPECT_EQ(p.body, "waited");
        EXPECT_EQ(ev.get("patient deadline"), "none");
        close(fd);
        EXPECT_TRUE(settled(s, CancelReason::deadline, 1));
        EXPECT_EQ(cancelled(s, CancelReason::deadline), 1u);
      });
}

// Goroutines a handler spawns run under its context: they are cancelled
// when the request ends (cancelled) or its client leaves (client_gone);
// go_detached() ones outlive it.
TEST_P(Cancel, SpawnedGoroutinesDieWithTheRequest) {
  Events ev;
  serve(
      options(),
      [&](Server& s) {
        s.router().get("/spawn-and-return", [&](Request&, Response& res) {
          cogo::go([&] {
            try {
              report(ev, "helper", [] { cogo::sleep_for(kForever); });
            } catch (const cogo::Cancelled&) {
            }
          });
          cogo::go_detached([&] {
            cogo::sleep_for(50ms);
            ev.set("detached", cogo::current_context().background() ? "finished" : "bound");
          });
          res.text(200, "spawned");
        });
        s.router().get("/spawn-and-wait", [&](Request&, Response&) {
          cogo::go([&] {
            try {
              report(ev, "helper2", [] { cogo::sleep_for(kForever); });
            } catch (const cogo::Cancelled&) {
            }
          });
          ev.set("started", "");
          report(ev, "handler", [] { cogo::sleep_for(kForever); });
        });
      },
      [&](int port, Server&) {
        const int fd = cogo_test::connect_to(port);
        EXPECT_EQ(get(fd, "/spawn-and-return").body, "spawned");
        EXPECT_EQ(ev.get("helper"), "cancelled");
        EXPECT_EQ(ev.get("detached"), "finished");
        close(fd);
        leave_while_waiting(port, ev, "/spawn-and-wait", Leave::close);
        EXPECT_EQ(ev.get("handler"), "client_gone");
        EXPECT_EQ(ev.get("helper2"), "client_gone");
      });
}

// Catching Cancelled and waiting again throws again; under a CancelShield
// cleanup may wait and talk to the network after the cancel.
TEST_P(Cancel, WaitingAgainThrowsAgainAndAShieldLetsCleanupTalk) {
  Events ev;
  // The peer the cleanup talks to: reads one line and answers "ack".
  std::string up_addr;
  const int up = loopback_listener(up_addr);
  ASSERT_GE(up, 0);
  std::thread peer([&] {
    const int c = accept(up, nullptr, nullptr);
    if (c < 0) return;
    std::string got;
    while (got.find('\n') == std::string::npos && recv_some(c, got)) {
    }
    ev.set("peer got", got);
    send(c, "ack\n", 4, MSG_NOSIGNAL);
    close(c);
  });
  serve(
      options(),
      [&](Server& s) {
        s.router().get("/wait", [&](Request&, Response&) {
          ev.set("started", "");
          try {
            cogo::sleep_for(kForever);
          } catch (const cogo::Cancelled&) {
            try {
              cogo::sleep_for(kForever);  // the context stays done
              ev.set("again", "slept");
            } catch (const cogo::Cancelled& e) {
              ev.set("again", std::string(cogo::to_string(e.reason())));
            }
            cogo::CancelShield shield;
            cogo::net::Conn conn = cogo::net::dial(up_addr);
            conn.write_all("bye\n", 4);
            char buf[16];
            std::string answer;
            while (answer.find('\n') == std::string::npos) {
              const std::size_t n = conn.read(buf, sizeof buf);
              answer.append(buf, n);
            }
            ev.set("cleanup", answer);
            throw;
          }
        });
      },
      [&](int port, Server& s) {
        leave_while_waiting(port, ev, "/wait", Leave::close);
        EXPECT_EQ(ev.get("again"), "client_gone");
        EXPECT_EQ(ev.get("peer got"), "bye\n");
        EXPECT_EQ(ev.get("cleanup"), "ack\n");
        EXPECT_TRUE(settled(s, CancelReason::client_gone, 1));
      });
  peer.join();
  close(up);
}

// A client that half-closes after its request: a handler that never waits
// answers as always; one that waits is cancelled as gone (Go and nginx
// alike), nothing is written and the connection closes.
TEST_P(Cancel, AHalfClosedClientCancelsAWaitingHandlerByDefault) {
  Events ev;
  serve(
      options(),
      [&](Server& s) {
        s.router().get("/instant", [](Request&, Response& res) { res.text(200, "instant"); });
        s.router().get("/wait", [&](Request&, Response& res) {
          report(ev, "handler", [] { cogo::sleep_for(kForever); });
          res.text(200, "slept");
        });
      },
      [&](int port, Server&) {
        int fd = cogo_test::connect_to(port);
        cogo_test::send_all(fd, "GET /instant HTTP/1.1\r\nHost: t\r\n\r\n");
        shutdown(fd, SHUT_WR);
        std::string got = cogo_test::read_until_close(fd);
        EXPECT_NE(got.find("\r\n\r\ninstant"), std::string::npos) << got;
        close(fd);

        fd = cogo_test::connect_to(port);
        cogo_test::send_all(fd, "GET /wait HTTP/1.1\r\nHost: t\r\n\r\n");
        shutdown(fd, SHUT_WR);
        got = cogo_test::read_until_close(fd);
        EXPECT_EQ(got, "");
        EXPECT_EQ(ev.get("handler"), "client_gone");
        close(fd);
      });
}

// cancel_on_half_close = false (cogo-server --keep-half-closed): a
// half-closed client's waiting handler runs to the end and is answered;
// a reset still cancels it.
TEST_P(Cancel, KeepHalfClosedServesTheClientToTheEnd) {
  Events ev;
  ServerOptions o = options();
  o.http.cancel_on_half_close = false;
  serve(
      o,
      [&](Server& s) {
        s.router().get("/short", [&](Request&, Response& res) {
          report(ev, "short", [] { cogo::sleep_for(300ms); });
          res.text(200, "slept");
        });
        s.router().get("/wait", [&](Request&, Response&) {
          ev.set("started", "");
          report(ev, "handler", [] { cogo::sleep_for(kForever); });
        });
      },
      [&](int port, Server&) {
        int fd = cogo_test::connect_to(port);
        cogo_test::send_all(fd, "GET /short HTTP/1.1\r\nHost: t\r\n\r\n");
        shutdown(fd, SHUT_WR);
        const std::string got = cogo_test::read_until_close(fd);
        EXPECT_NE(got.find("\r\n\r\nslept"), std::string::npos) << got;
        EXPECT_EQ(ev.get("short"), "finished");
        close(fd);

        fd = cogo_test::connect_to(port);
        cogo_test::send_all(fd, "GET /wait HTTP/1.1\r\nHost: t\r\n\r\n");
        ev.get("started");
        reset_close(fd);
        EXPECT_EQ(ev.get("handler"), "client_gone");
      });
}

// Pipelined requests behind a cancelled one are read and answered in order:
// behind a timed-out one, and behind a waiting one whose client sent its FIN
// after them (bytes behind the FIN: the client is not gone).
TEST_P(Cancel, PipelinedRequestsBehindACancelledOneAreAnswered) {
  // The timeout on /wait only: /short must not race a deadline on a busy
  // machine.
  serve(
      options(),
      [&](Server& s) {
        s.router().get("/wait", cogo::http::MiddlewareChain()
                                    .use(cogo::middleware::timeout(300ms))
                                    .then([](Request&, Response&) { cogo::sleep_for(kForever); }));
        s.router().get("/short", [](Request&, Response& res) {
          cogo::sleep_for(50ms);
          res.text(200, "short");
        });
      },
      [&](int port, Server&) {
        int fd = cogo_test::connect_to(port);
        cogo_test::send_all(fd,
                            "GET /wait HTTP/1.1\r\nHost: t\r\n\r\n"
                            "GET /fast HTTP/1.1\r\nHost: t\r\n\r\n");
        std::string buf;
        Reply a = read_reply(fd, buf);
        Reply b = read_reply(fd, buf);
        EXPECT_EQ(a.status, 503) << a.head;
        EXPECT_EQ(b.status, 200) << b.head;
        EXPECT_EQ(b.body, "fast");
        close(fd);

        fd = cogo_test::connect_to(port);
        cogo_test::send_all(fd,
                            "GET /short HTTP/1.1\r\nHost: t\r\n\r\n"
                            "GET /fast HTTP/1.1\r\nHost: t\r\n\r\n");
        shutdown(fd, SHUT_WR);
        buf.clear();
        a = read_reply(fd, buf);
        b = read_reply(fd, buf);
        EXPECT_EQ(a.status, 200) << a.head;
        EXPECT_EQ(a.body, "short");
        EXPECT_EQ(b.status, 200) << b.head;
        EXPECT_EQ(b.body, "fast");
        close(fd);
      });
}

// The graceful shutdown waits shutdown_grace for a handler, then cancels it
// (shutdown): the client gets 503 with "Connection: close", serve() returns.
TEST_P(Cancel, ShutdownCancelsHandlersStillWaitingAfterTheGrace) {
  Events ev;
  ServerOptions o = options();
  o.shutdown_grace = 300ms;
  serve(
      o,
      [&](Server& s) {
        s.router().get("/wait", [&](Request&, Response&) {
          ev.set("started", "");
          report(ev, "handler", [] { cogo::sleep_for(kForever); });
        });
      },
      [&](int port, Server& s) {
        const int fd = cogo_test::connect_to(port);
        cogo_test::send_all(fd, "GET /wait HTTP/1.1\r\nHost: t\r\n\r\n");
        ev.get("started");
        s.shutdown();
        std::string buf;
        const Reply r = read_reply(fd, buf);
        EXPECT_EQ(r.status, 503) << r.head;
        EXPECT_EQ(r.body, "server shutting down\n");
        EXPECT_NE(r.head.find("Connection: close"), std::string::npos) << r.head;
        EXPECT_FALSE(recv_some(fd, buf)) << "the connection stays open after the 503: " << buf;
        EXPECT_EQ(ev.get("handler"), "shutdown");
        close(fd);
        EXPECT_TRUE(settled(s, CancelReason::shutdown, 1));
      });
}

// /debug/vars and /metrics report requests in flight and cancelled by
// reason; the access log writes 499 for a client that left and 503 for a
// timeout.
TEST_P(Cancel, CountersAndTheAccessLogReportCancellations) {
  Events ev;
  std::ostringstream log_text;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log_text);
  auto logger = std::make_shared<spdlog::logger>("cancel_test_access", sink);
  spdlog::register_logger(logger);
  // The deadline on /timed only: /wait's client leaves when it likes, with
  // no deadline to race on a busy machine.
  serve(
      options(),
      [&](Server& s) {
        s.use(cogo::middleware::access_log("cancel_test_access"));
        cogo::http::add_admin_routes(s.router(), s);
        s.router().get("/timed", cogo::http::MiddlewareChain()
                                     .use(cogo::middleware::timeout(200ms))
                                     .then([](Request&, Response&) { cogo::sleep_for(kForever); }));
        s.router().get("/wait", [&](Request&, Response&) {
          ev.set("started", "");
          report(ev, "handler", [] { cogo::sleep_for(kForever); });
        });
      },
      [&](int port, Server& s) {
        int fd = cogo_test::connect_to(port);
        EXPECT_EQ(get(fd, "/timed").status, 503);  // the timeout
        close(fd);
        fd = cogo_test::connect_to(port);
        cogo_test::send_all(fd, "GET /wait HTTP/1.1\r\nHost: t\r\n\r\n");
        EXPECT_EQ(ev.get("started"), "");
        EXPECT_TRUE(wait_until([&] { return s.counters().requests_in_flight == 1; }));
        close(fd);  // client_gone
        EXPECT_TRUE(settled(s, CancelReason::client_gone, 1));

        fd = cogo_test::connect_to(port);
        const Reply vars = get(fd, "/debug/vars");
        ASSERT_EQ(vars.status, 200);
        const auto j = nlohmann::json::parse(vars.body);
        EXPECT_EQ(j["requests_in_flight"], 1);  // this one
        EXPECT_EQ(j["requests_cancelled"]["deadline"], 1);
        EXPECT_EQ(j["requests_cancelled"]["client_gone"], 1);
        EXPECT_EQ(j["requests_cancelled"]["shutdown"], 0);
        const Reply metrics = get(fd, "/metrics");
        EXPECT_NE(metrics.body.find("cogo_http_requests_cancelled_total{reason=\"deadline\"} 1\n"),
                  std::string::npos)
            << metrics.body;
        EXPECT_NE(
            metrics.body.find("cogo_http_requests_cancelled_total{reason=\"client_gone\"} 1\n"),
            std::string::npos)
            << metrics.body;
        EXPECT_NE(metrics.body.find("cogo_http_requests_in_flight 1\n"), std::string::npos)
            << metrics.body;
        close(fd);
      });
  logger->flush();
  const std::string text = log_text.str();
  EXPECT_NE(text.find("\"GET /timed HTTP/1.1\" 503 "), std::string::npos) << text;
  EXPECT_NE(text.find("\"GET /wait HTTP/1.1\" 499 "), std::string::npos) << text;
  spdlog::drop("cancel_test_access");
}

// Many clients leave at once: every handler unwinds, none is left running.
TEST_P(Cancel, ManyClientsLeavingUnwindEveryHandler) {
  constexpr int kClients = 200;
  Events ev;
  serve(
      options(),
      [&](Server& s) {
        s.router().get("/wait", [&](Request&, Response&) {
          ev.add("started");
          try {
            cogo::sleep_for(kForever);
          } catch (const cogo::Cancelled& e) {
            if (e.reason() == CancelReason::client_gone) ev.add("gone");
            throw;
          }
        });
      },
      [&](int port, Server& s) {
        std::vector<int> fds;
        for (int i = 0; i < kClients; ++i) {
          const int fd = cogo_test::connect_to(port);
          ASSERT_GE(fd, 0);
          cogo_test::send_all(fd, "GET /wait HTTP/1.1\r\nHost: t\r\n\r\n");
          fds.push_back(fd);
        }
        EXPECT_EQ(ev.wait_count("started", kClients), kClients);
        for (std::size_t i = 0; i < fds.size(); ++i) {
          if (i % 2) {
            reset_close(fds[i]);
          } else {
            close(fds[i]);
          }
        }
        EXPECT_EQ(ev.wait_count("gone", kClients), kClients);
        EXPECT_TRUE(settled(s, CancelReason::client_gone, kClients));
        EXPECT_EQ(cancelled(s, CancelReason::client_gone), static_cast<uint64_t>(kClients));
      });
}

}  // namespace
