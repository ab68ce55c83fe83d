// thread_model_test: the thread-per-connection model's listeners, accept
// threads, live-fd set and shutdown, over real sockets.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <mutex>
#include <thread>
#include <vector>

#include "cogo/net.h"
#include "cogo/runtime.h"
#include "goroutine_model.h"
#include "net_test_util.h"
#include "shutdown.h"
#include "support/idle_check.h"
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

}  // namespace
