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

#include "cogo/runtime.h"
#include "shutdown.h"
#include "support/server_process.h"
#include "thread_model.h"

namespace {

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

}  // namespace
