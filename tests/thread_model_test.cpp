// thread_model_test: the thread-per-connection model's listeners, accept
// threads, live-fd set and shutdown, over real sockets; and a real
// cogo::http::Server in the thread model with plain and TLS listeners,
// driven by Python clients (support/thread_model_clients.py, Python's ssl).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <future>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cogo/http/request.h"
#include "cogo/http/response.h"
#include "cogo/http/server.h"
#include "cogo/net.h"
#include "cogo/runtime.h"
#include "goroutine_model.h"
#include "net_test_util.h"
#include "shutdown.h"
#include "support/idle_check.h"
#include "support/served_server.h"
#include "support/server_process.h"
#include "thread_model.h"

namespace {

using cogo::server_detail::GoroutineModel;
using cogo::server_detail::Shutdown;
using cogo::server_detail::ThreadModel;

int port_of(const std::string& addr) { return std::stoi(addr.substr(addr.rfind(':') + 1)); }

// wait_eof() reads fd until the server closes it; false if it stays open
// for the hang guard's 20 s.
bool wait_eof(int fd) {
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 20000) <= 0) return false;
    char buf[256];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return true;
  }
}

// A connection's fd leaves the live set before the model closes it: once
// the client sees the close, the fd is no longer live, so a new connection
// that gets the same number is never dropped from the set by the old one's
// erase (the TLS path used to close first). Each round reuses the number.
TEST(ThreadModel, FdLeavesTheLiveSetBeforeItIsClosed) {
  cogo::run([] {
    Shutdown shutdown;
    ThreadModel model;
    const int port = port_of(model.listen("127.0.0.1:0", false));
    std::vector<int> served_fds;
    std::mutex mu;
    model.start(
        [&](int fd, std::size_t) {
          std::lock_guard<std::mutex> lk(mu);
          served_fds.push_back(fd);
        },
        shutdown, 64 * 1024);
    for (int round = 0; round < 200; round++) {
      int c = cogo_test::connect_to(port);
      ASSERT_GE(c, 0);
      ASSERT_TRUE(wait_eof(c)) << "round " << round;
      EXPECT_EQ(model.live_connections(), 0u) << "round " << round << ": a closed fd is still live";
      close(c);
    }
    // The kernel hands out the lowest free number: the rounds shared a few.
    {
      std::lock_guard<std::mutex> lk(mu);
      std::sort(served_fds.begin(), served_fds.end());
      EXPECT_LT(std::unique(served_fds.begin(), served_fds.end()) - served_fds.begin(), 200);
    }
    shutdown.request();
    model.stop_accepting();
    model.join_acceptors();
    EXPECT_TRUE(shutdown.wait_connections(std::chrono::steady_clock::now() + std::chrono::seconds(20)));
  });
}

// Every open connection is in the live set from its accept on, so a
// shutdown right after the accept threads stop reaches all of them, and
// wait_connections() returns once they are all closed.
TEST(ThreadModel, ShutdownReachesEveryOpenConnection) {
  cogo::run([] {
    Shutdown shutdown;
    ThreadModel model;
    const int port = port_of(model.listen("127.0.0.1:0", false));
    std::atomic<int> serving{0};
    model.start(
        [&](int fd, std::size_t) {
          serving.fetch_add(1);
          char buf[64];
          while (recv(fd, buf, sizeof buf, 0) > 0) {
          }
        },
        shutdown, 64 * 1024);
    std::vector<int> clients;
    for (int i = 0; i < 20; i++) clients.push_back(cogo_test::connect_to(port));
    // Accepted is enough (the set is filled before a thread starts); the
    // threads need not have begun.
    for (int i = 0; i < 20000 && shutdown.open_connections() < 20; i++) cogo::sleep_for(std::chrono::milliseconds(1));
    ASSERT_EQ(shutdown.open_connections(), 20);
    shutdown.request();
    model.stop_accepting();
    model.join_acceptors();
    model.shutdown_live(SHUT_RDWR);
    for (int c : clients) {
      EXPECT_TRUE(wait_eof(c));
      close(c);
    }
    EXPECT_TRUE(shutdown.wait_connections(std::chrono::steady_clock::now() + std::chrono::seconds(20)));
    EXPECT_EQ(model.live_connections(), 0u);
  });
}

// wait_connections() never returns true while a connection is open, and
// returns false once the deadline passed.
TEST(Shutdown, WaitConnectionsHonoursTheDeadline) {
  cogo::run([] {
    Shutdown shutdown;
    shutdown.connection_opened();
    shutdown.request();
    EXPECT_FALSE(shutdown.wait_connections(std::chrono::steady_clock::now() + std::chrono::milliseconds(50)));
    EXPECT_EQ(shutdown.open_connections(), 1);
  });
  cogo::run([] {
    Shutdown shutdown;
    shutdown.connection_opened();
    shutdown.request();
    cogo::go([&] { shutdown.connection_closed(); });
    EXPECT_TRUE(shutdown.wait_connections(std::chrono::steady_clock::now() + std::chrono::seconds(60)));
  });
}

// One listener policy for both models (cogo/net/listener_policy.h): a
// listen that fails names the address and the fix, in the same words.
TEST(ListenerPolicy, BothModelsNameTheAddressAndTheFixAlike) {
  cogo::run([] {
    cogo::net::Listener taken = cogo::net::listen("127.0.0.1:0");
    const std::string addr = taken.address().to_string();
    std::string thread_msg, goroutine_msg;
    try {
      ThreadModel model;
      model.listen(addr, false);
    } catch (const cogo::net::Error& e) {
      thread_msg = e.what();
      EXPECT_EQ(e.code().value(), EADDRINUSE);
    }
    try {
      GoroutineModel model;
      model.listen(addr, false);
    } catch (const cogo::net::Error& e) {
      goroutine_msg = e.what();
    }
    EXPECT_NE(thread_msg.find("listen " + addr + ": "), std::string::npos) << thread_msg;
    EXPECT_NE(thread_msg.find("another socket listens there"), std::string::npos) << thread_msg;
    EXPECT_EQ(thread_msg, goroutine_msg);
  });
}

// Out of descriptors, the thread model's accept thread does what the
// goroutine model's accept does (tcp_test's TcpEmfile): it logs once, backs
// off instead of spinning, accepts the waiting connections once descriptors
// are back (logging that too), and stop_accepting() ends a back-off.
TEST(ThreadModelEmfile, AcceptBacksOffRecoversAndStops) {
#if defined(COGO_SANITIZE_THREAD)
  GTEST_SKIP() << "TSan's own runtime needs descriptors and crashes when there are none";
#endif
  if (!nettest::in_child()) {
    EXPECT_EQ(nettest::run_child("ThreadModelEmfile.AcceptBacksOffRecoversAndStops"), 0);
    return;
  }
  static nettest::EmfileLogs& logs = nettest::watch_emfile_logs();
  setenv("COGO_MAXPROCS", "1", 1);
  cogo::run([] {
    Shutdown shutdown;
    ThreadModel model;
    const int port = port_of(model.listen("127.0.0.1:0", false));
    constexpr int kClients = 3;
    std::vector<int> hog = nettest::hog_descriptors(64, kClients);
    ASSERT_FALSE(::testing::Test::HasFailure());
    std::vector<int> clients;
    for (int i = 0; i < kClients; ++i) {
      clients.push_back(cogo_test::connect_to(port));  // completes in the backlog
      ASSERT_GE(clients.back(), 0);
      ASSERT_EQ(send(clients.back(), "ping", 4, MSG_NOSIGNAL), 4);
    }
    std::atomic<int> served{0};
    model.start(
        [&](int fd, std::size_t) {
          char buf[16];
          const ssize_t n = recv(fd, buf, sizeof buf, 0);
          if (n > 0) send(fd, buf, static_cast<size_t>(n), MSG_NOSIGNAL);
          ++served;
        },
        shutdown, 64 * 1024);
    // accept() fails with EMFILE: one log line, and a back-off, not a spin.
    EXPECT_TRUE(nettest::wait_until([] { return logs.exhausted.load() == 1; }));
    cogo_test::expect_idle("thread-model accept out of descriptors");
    EXPECT_EQ(served.load(), 0);
    EXPECT_EQ(logs.exhausted.load(), 1);
    // Descriptors back: the waiting connections are accepted and served.
    nettest::release_descriptors(hog);
    for (int c : clients) {
      char buf[4];
      ASSERT_EQ(recv(c, buf, 4, MSG_WAITALL), 4);
      EXPECT_EQ(std::string(buf, 4), "ping");
      close(c);
    }
    EXPECT_TRUE(nettest::wait_until([&] { return served.load() == kClients; }));
    EXPECT_EQ(logs.recovered.load(), 1);
    // A connection thread closes its socket after serve returns: wait for
    // the three, or their descriptors, freed after the hog below, let the
    // late connection be accepted with no EMFILE at all (seen under load).
    EXPECT_TRUE(nettest::wait_until([&] { return shutdown.open_connections() == 0; }));
    // Out of descriptors again, with a connection waiting: the accept thread
    // backs off once more, and stop_accepting() ends that wait, so the
    // accept thread is joined. (It would also end by itself within the 1 s
    // cap: what is asserted is that the thread ends, not how fast.)
    hog = nettest::hog_descriptors(64, 1);
    const int late = cogo_test::connect_to(port);
    ASSERT_GE(late, 0);
    EXPECT_TRUE(nettest::wait_until([] { return logs.exhausted.load() == 2; }));
    shutdown.request();
    model.stop_accepting();
    model.join_acceptors();
    EXPECT_EQ(served.load(), kClients);
    close(late);
    nettest::release_descriptors(hog);
    EXPECT_TRUE(shutdown.wait_connections(std::chrono::steady_clock::now() + std::chrono::seconds(20)));
  });
  _exit(::testing::Test::HasFailure() ? 1 : 0);
}

// ---------------------------------------------------------------------------
// A real Server in the thread model, plain and TLS listeners

// ThreadServer: a cogo::http::Server in the thread model on a runtime of its
// own thread, listening on 127.0.0.1:0 plain and TLS (served_server.h's
// certificate). Routes: GET /retire -> "retired"; GET /body/N -> N bytes of
// the clients' pattern; GET /slow -> "slow" once the test began the
// shutdown (slow_entered counts its calls).
class ThreadServer {
 public:
  ThreadServer() {
    std::promise<void> ready;
    thread_ = std::thread([this, &ready] {
      cogo::run([this, &ready] {
        cogo::http::ServerOptions o;
        o.model = cogo::http::Model::thread;
        o.handle_signals = false;
        // Far beyond what any step takes: reaching it is a failure (the
        // active count after serve() says so), not a timing.
        o.shutdown_grace = std::chrono::seconds(60);
        o.http.idle_timeout = std::chrono::seconds(120);
        o.listen = {{"127.0.0.1:0", false}, {"127.0.0.1:0", true}};
        o.tls.cert_file = cogo_test::tls_cert_dir() + "/cert.pem";
        o.tls.key_file = cogo_test::tls_cert_dir() + "/key.pem";
        cogo::http::Server server(o);
        server.router().get("/retire", [](cogo::http::Request&, cogo::http::Response& res) {
          res.text(200, "retired");
        });
        server.router().get("/body/:n", [](cogo::http::Request& req, cogo::http::Response& res) {
          const std::size_t n = std::stoul(std::string(req.param("n")));
          static const std::string unit = "0123456789abcdef";
          std::string body;
          body.reserve(n + unit.size());
          while (body.size() < n) body += unit;
          body.resize(n);
          res.text(200, body);
        });
        server.router().get("/slow", [this](cogo::http::Request&, cogo::http::Response& res) {
          slow_entered.fetch_add(1);
          // A hang guard, not a timing: the test begins the shutdown first.
          for (int i = 0; i < 60000 && !shutdown_begun.load(); i++) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
          }
          res.text(200, "slow");
        });
        server.listen();
        const auto addresses = server.addresses();
        plain_port = port_of(addresses[0]);
        tls_port = port_of(addresses[1]);
        server_ = &server;
        ready.set_value();
        server.serve();
        active_after = server.counters().active;
        server_ = nullptr;
      });
    });
    ready.get_future().wait();
  }
  ~ThreadServer() { stop(); }
  ThreadServer(const ThreadServer&) = delete;
  ThreadServer& operator=(const ThreadServer&) = delete;

  // begin_shutdown() starts the graceful shutdown (serve() goes on draining).
  void begin_shutdown() {
    server_.load()->shutdown();
    shutdown_begun.store(true);
  }
  // stop() shuts down (if not begun) and waits for serve() to return.
  void stop() {
    if (!thread_.joinable()) return;
    if (!shutdown_begun.load()) begin_shutdown();
    thread_.join();
  }

  int plain_port = 0;
  int tls_port = 0;
  std::atomic<int> slow_entered{0};
  std::atomic<bool> shutdown_begun{false};
  std::uint64_t active_after = 0;  // connections still open when serve() returned

 private:
  std::thread thread_;
  std::atomic<cogo::http::Server*> server_{nullptr};
};

// clients_command() runs support/thread_model_clients.py with args.
std::string clients_command(const std::string& args) {
  return "/usr/bin/python3 " COGO_SOURCE_DIR "/tests/support/thread_model_clients.py " + args;
}

// LiveSetSeen: what the live-set hook saw of one fd as it entered or left
// the set.
struct LiveSetSeen {
  ThreadModel::LiveSetEvent event;
  int fd = -1;
  bool open = false;    // fcntl(F_GETFD) worked
  bool socket = false;  // fstat: a socket
  ino_t inode = 0;      // the socket's inode: which socket the number names
  int local_port = -1;  // at the insert: getsockname, the listener's port
  int peer_port = -1;   // at the insert: getpeername, the client's port
  std::string error;    // what failed, if anything
};

std::mutex g_seen_mu;
std::vector<LiveSetSeen> g_seen;  // guarded by g_seen_mu

int port_of_name(int fd, bool peer) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  const int r = peer ? getpeername(fd, reinterpret_cast<sockaddr*>(&a), &len)
                     : getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return r == 0 && a.sin_family == AF_INET ? ntohs(a.sin_port) : -1;
}

// record_live_set() is the live-set hook: it looks at the fd as it enters
// the set (on the accept thread) and as it leaves it, just before the model
// closes it (on the connection's thread), both under the set's lock. The
// inode says which socket the number names: a connection's ends, known at
// the insert, are gone from the socket once the TCP connection is closed.
void record_live_set(ThreadModel::LiveSetEvent event, int fd) {
  LiveSetSeen r;
  r.event = event;
  r.fd = fd;
  r.open = fcntl(fd, F_GETFD) != -1;
  if (!r.open) r.error = std::string("fcntl(F_GETFD): ") + std::strerror(errno);
  struct stat st {};
  r.socket = r.open && fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
  if (r.socket) r.inode = st.st_ino;
  if (r.socket && event == ThreadModel::LiveSetEvent::inserted) {
    r.local_port = port_of_name(fd, false);
    r.peer_port = port_of_name(fd, true);
  }
  std::lock_guard<std::mutex> lk(g_seen_mu);
  g_seen.push_back(std::move(r));
}

// The thread model erases a connection's fd from the live set while the fd
// is still open and still that connection's socket, and only then closes it
// (thread_model.h), on the TLS path (TlsStream borrows the fd: it used to
// own and close it before the erase) as on the plain one. The live-set hook
// notes each accepted socket's inode and ends, and looks at the fd again at
// the erase: it must be open (fcntl) and name the same socket (inode) that
// the client's connection was. Closed first, the hook finds EBADF, or
// another connection's socket under the reused number: every connection
// must be seen open and its own, so the wrong order fails every time, not
// by luck.
TEST(ThreadModelServer, FdErasedFromTheLiveSetIsStillOpenAndTheConnections) {
  {
    std::lock_guard<std::mutex> lk(g_seen_mu);
    g_seen.clear();
  }
  ThreadModel::set_live_set_hook(record_live_set);
  struct Unhook {
    ~Unhook() { ThreadModel::set_live_set_hook(nullptr); }
  } unhook;
  ThreadServer server;
  constexpr int kRounds = 10;
  int status = -1;
  const std::string out = cogo_test::sh(
      clients_command("retire " + std::to_string(server.plain_port) + " " +
                      std::to_string(server.tls_port) + " " + std::to_string(kRounds)),
      &status);
  ASSERT_EQ(status, 0) << out;
  struct Client {
    std::string kind;
    int port;
  };
  std::vector<Client> clients;
  std::istringstream lines(out);
  for (std::string kind, status_line, body; lines >> kind;) {
    int port = -1;
    lines >> port >> status_line >> body;
    EXPECT_EQ(status_line, "HTTP/1.1_200_OK") << kind << " " << port;
    EXPECT_EQ(body, "retired") << kind << " " << port;
    clients.push_back({kind, port});
  }
  ASSERT_EQ(clients.size(), 2u * kRounds) << out;
  // Each client saw its close, which comes after the hook in the right
  // order; the wait only matters when the order is wrong.
  auto erased = [] {  // call under g_seen_mu
    return std::count_if(g_seen.begin(), g_seen.end(), [](const LiveSetSeen& r) {
      return r.event == ThreadModel::LiveSetEvent::erased;
    });
  };
  EXPECT_TRUE(nettest::wait_until([&] {
    std::lock_guard<std::mutex> lk(g_seen_mu);
    return erased() >= static_cast<long>(clients.size());
  }));
  server.stop();
  std::lock_guard<std::mutex> lk(g_seen_mu);
  std::string seen;
  std::map<ino_t, const LiveSetSeen*> accepted;  // by inode
  for (const LiveSetSeen& r : g_seen) {
    const bool in = r.event == ThreadModel::LiveSetEvent::inserted;
    seen +=
        std::string(in ? "  inserted fd " : "  erased   fd ") + std::to_string(r.fd) +
        (r.open ? " open" : " closed") +
        (r.socket ? ", socket inode " + std::to_string(r.inode) : "") +
        (in && r.socket ? ", " + std::to_string(r.local_port) + " <- " + std::to_string(r.peer_port)
                        : "") +
        (r.error.empty() ? "" : ", " + r.error) + "\n";
    if (in && r.socket) accepted[r.inode] = &r;
  }
  for (const Client& c : clients) {
    const int listener = c.kind == "tls" ? server.tls_port : server.plain_port;
    const auto n = std::count_if(g_seen.begin(), g_seen.end(), [&](const LiveSetSeen& r) {
      if (r.event != ThreadModel::LiveSetEvent::erased || !r.open || !r.socket) return false;
      const auto it = accepted.find(r.inode);
      return it != accepted.end() && it->second->fd == r.fd && it->second->peer_port == c.port &&
             it->second->local_port == listener;
    });
    EXPECT_EQ(n, 1) << c.kind << " connection from client port " << c.port
                    << ": its fd was not open and its own when it left the live set "
                       "(closed before?); the hook saw:\n"
                    << seen;
  }
  EXPECT_EQ(erased(), static_cast<long>(clients.size())) << seen;
  EXPECT_EQ(server.active_after, 0u);
}

// A graceful shutdown in the thread model while TLS (and plain) keep-alive
// connections open and close (server/README.md, Shutdown): every response a
// client got is complete and right; the requests in flight at the shutdown
// are answered whole, with "Connection: close"; every idle keep-alive
// connection is closed without a byte (SHUT_RD on the live set reaches it:
// a connection dropped from the set by a reused number would wait for its
// idle timeout instead); a connection ends only between responses; new
// connections are refused once the listeners are gone; and serve() returns
// with no connection open (the 60 s grace was not what ended them).
TEST(ThreadModelServer, GracefulShutdownAmidTlsChurnCutsNoResponse) {
  ThreadServer server;
  FILE* p = ::popen((clients_command("churn " + std::to_string(server.plain_port) + " " +
                                     std::to_string(server.tls_port)) +
                     " 2>&1")
                        .c_str(),
                    "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  auto next_line = [&] {
    char buf[65536];
    if (std::fgets(buf, sizeof buf, p) == nullptr) return std::string();
    out += buf;
    return std::string(buf);
  };
  std::string line;
  while (!(line = next_line()).empty() && line != "ready\n") {
  }
  const bool ready = line == "ready\n";
  // The two slow requests wait in their handlers: in flight at the shutdown.
  const bool slow_waiting =
      ready && nettest::wait_until([&] { return server.slow_entered.load() == 2; });
  server.begin_shutdown();
  while (!(line = next_line()).empty()) {
  }
  const int raw = ::pclose(p);
  server.stop();
  ASSERT_TRUE(ready) << out;
  ASSERT_TRUE(slow_waiting) << out;
  ASSERT_TRUE(WIFEXITED(raw) && WEXITSTATUS(raw) == 0) << out;
  std::map<std::string, long> counts;
  std::istringstream in(out.substr(out.find("counts ") + 7));
  for (std::string name; in >> name && name != "details";) in >> counts[name];
  std::printf("%s", out.substr(out.find("counts ")).c_str());
  SCOPED_TRACE(out);
  EXPECT_GT(counts["responses"], 0);
  EXPECT_EQ(counts["bad"], 0);
  EXPECT_EQ(counts["cut"], 0);
  EXPECT_EQ(counts["slow_ok"], 2);
  EXPECT_EQ(counts["slow_bad"], 0);
  EXPECT_EQ(counts["idle_closed"], 6);
  EXPECT_EQ(counts["idle_not_closed"], 0);
  EXPECT_GE(counts["refused"], 1);
  EXPECT_EQ(server.active_after, 0u);
}

}  // namespace
