// tcp_test.cpp: listen / accept / dial over real loopback sockets — IPv4, IPv6
// and Unix-domain, 10,000 concurrent echo connections with every byte
// checked, errors that name the address and the fix, dial timeouts, and
// accept under fd exhaustion (EMFILE back-off).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cogo/introspect.h"
#include "cogo/net.h"
#include "cogo/runtime.h"
#include "gtest/gtest.h"
#include "net_test_util.h"
#include "support/idle_check.h"

namespace {

using namespace std::chrono_literals;
using cogo::net::Address;
using cogo::net::Conn;
using cogo::net::errc;
using cogo::net::Listener;
using nettest::wait_until;

class Tcp : public nettest::ProcsTest {};
INSTANTIATE_TEST_SUITE_P(Procs, Tcp, ::testing::Values(1, 2), nettest::procs_name);

// echo_once() dials addr, sends msg and checks the echo; the listener side
// must be served by serve_echo().
void expect_echo(const std::string& addr, const std::string& msg) {
  Conn c = cogo::net::dial(addr, std::chrono::seconds(5));
  c.write_all(msg);
  std::string back(msg.size(), '\0');
  c.read_full(back.data(), back.size());
  EXPECT_EQ(back, msg);
}

// serve_echo() accepts and echoes until the listener closes.
void serve_echo(Listener& ln) {
  cogo::go([&ln] {
    for (;;) {
      std::error_code ec;
      Conn c = ln.accept(ec);
      if (ec) return;
      cogo::go([c = std::move(c)]() mutable {
        char buf[4096];
        std::error_code e;
        while (size_t n = c.read(buf, sizeof buf, e)) c.write_all(buf, n, e);
      });
    }
  });
}

std::string what_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const cogo::net::Error& e) {
    return e.what();
  }
  return "(no error)";
}

// closed_port() is a loopback port that nothing listens on.
uint16_t closed_port() {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  close(s);
  return ntohs(a.sin_port);
}

// ---------------------------------------------------------------------------
// Addresses

TEST(Address, ParseAndPrint) {
  EXPECT_EQ(Address::parse("127.0.0.1:80").to_string(), "127.0.0.1:80");
  EXPECT_EQ(Address::parse("[::1]:8080").to_string(), "[::1]:8080");
  EXPECT_EQ(Address::parse("[::1]:8080").family(), Address::Family::ipv6);
  EXPECT_EQ(Address::parse(":9").to_string(), "0.0.0.0:9");
  EXPECT_EQ(Address::parse("unix:/tmp/x.sock").to_string(), "unix:/tmp/x.sock");
  EXPECT_EQ(Address::parse("unix:@abstract").host(), "@abstract");
  EXPECT_EQ(Address::parse("10.1.2.3:65535").port(), 65535);
  auto bad = [](const char* text) { return what_of([&] { Address::parse(text); }); };
  EXPECT_NE(bad("127.0.0.1").find("missing \":port\""), std::string::npos) << bad("127.0.0.1");
  EXPECT_NE(bad("::1:80").find("needs brackets"), std::string::npos) << bad("::1:80");
  EXPECT_NE(bad("1.2.3.4:99999").find("bad port"), std::string::npos);
  EXPECT_NE(bad("example.com:80").find("not a numeric IP address"), std::string::npos);
}

// ---------------------------------------------------------------------------
// Listening and dialing

TEST_P(Tcp, ListenDialIPv4IPv6UnixAndDualStack) {
  run([] {
    Listener v4 = cogo::net::listen("127.0.0.1:0");
    EXPECT_EQ(v4.address().family(), Address::Family::ipv4);
    EXPECT_NE(v4.address().port(), 0);
    serve_echo(v4);
    expect_echo(v4.address().to_string(), "over IPv4");

    Listener v6 = cogo::net::listen("[::1]:0");
    EXPECT_EQ(v6.address().family(), Address::Family::ipv6);
    serve_echo(v6);
    expect_echo(v6.address().to_string(), "over IPv6");

    std::string path = "/tmp/cogo-np-" + std::to_string(getpid()) + ".sock";
    Listener ux = cogo::net::listen("unix:" + path);
    EXPECT_EQ(ux.address().to_string(), "unix:" + path);
    serve_echo(ux);
    expect_echo("unix:" + path, "over a Unix socket");
    EXPECT_EQ(access(path.c_str(), F_OK), 0);
    ux.close();
    EXPECT_NE(access(path.c_str(), F_OK), 0) << "socket file left behind";

    Listener ab = cogo::net::listen("unix:@cogo-np-" + std::to_string(getpid()));
    serve_echo(ab);
    expect_echo(ab.address().to_string(), "over an abstract Unix socket");

    // ":port": every interface, both families on one socket.
    Listener any = cogo::net::listen(":0");
    serve_echo(any);
    std::string port = std::to_string(any.address().port());
    expect_echo("127.0.0.1:" + port, "dual-stack v4");
    expect_echo("[::1]:" + port, "dual-stack v6");
    // A name goes through getaddrinfo (on a blocking section).
    expect_echo("localhost:" + port, "resolved");

    v4.close();
    v6.close();
    ab.close();
    any.close();
  });
}

TEST_P(Tcp, AddressesAndNoDelay) {
  run([] {
    Listener ln = cogo::net::listen("127.0.0.1:0");
    Conn c = cogo::net::dial(ln.address().to_string());
    Conn s = ln.accept();
    EXPECT_EQ(c.remote_address(), ln.address());
    EXPECT_EQ(s.remote_address(), c.local_address());
    EXPECT_EQ(s.local_address(), ln.address());
    for (Conn* x : {&c, &s}) {
      int v = 0;
      socklen_t len = sizeof v;
      ASSERT_EQ(getsockopt(x->native_handle(), IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
      EXPECT_NE(v, 0) << "TCP_NODELAY is off";
    }
  });
}

TEST_P(Tcp, DialFromAChosenLocalAddress) {
  run([] {
    Listener ln = cogo::net::listen("127.0.0.1:0");
    cogo::net::DialOptions opt;
    opt.local_address = "127.0.0.2:0";
    Conn c = cogo::net::dial(ln.address().to_string(), opt);
    Conn s = ln.accept();
    EXPECT_EQ(c.local_address().host(), "127.0.0.2");
    EXPECT_EQ(s.remote_address().host(), "127.0.0.2");
    // Port 0 with IP_BIND_ADDRESS_NO_PORT: many sources, each its own ports.
    std::vector<Conn> conns;
    for (int i = 2; i < 50; ++i) {
      std::string local = "127.0.0." + std::to_string(i) + ":0";
      opt.local_address = local;
      conns.push_back(cogo::net::dial(ln.address().to_string(), opt));
      EXPECT_EQ(ln.accept().remote_address().host(), "127.0.0." + std::to_string(i));
    }
    opt.local_address = "localhost:0";
    std::string msg = what_of([&] { cogo::net::dial(ln.address().to_string(), opt); });
    EXPECT_NE(msg.find("local address must be numeric"), std::string::npos) << msg;
  });
}

TEST_P(Tcp, ReusePortAndBacklogFromSomaxconn) {
  run([] {
    cogo::net::ListenOptions opt;
    opt.reuse_port = true;
    Listener a = cogo::net::listen("127.0.0.1:0", opt);
    std::string addr = a.address().to_string();
    Listener b = cogo::net::listen(addr, opt);  // same port
    EXPECT_EQ(a.address(), b.address());
    // Without reuse_port the port is taken — and the message says what to do.
    std::string msg = what_of([&] { cogo::net::listen(addr); });
    EXPECT_NE(msg.find("listen " + addr + ": Address already in use"), std::string::npos) << msg;
    EXPECT_NE(msg.find("reuse_port"), std::string::npos) << msg;

    // The backlog is the kernel's maximum: ss shows it as Send-Q.
    int somaxconn = 0;
    if (FILE* f = fopen("/proc/sys/net/core/somaxconn", "r")) {
      if (fscanf(f, "%d", &somaxconn) != 1) somaxconn = 0;
      fclose(f);
    }
    std::string cmd = "ss -ltnH 'sport = :" + std::to_string(a.address().port()) + "' 2>/dev/null";
    if (FILE* p = popen(cmd.c_str(), "r")) {
      char state[32];
      int recvq = -1, sendq = -1;
      if (fscanf(p, "%31s %d %d", state, &recvq, &sendq) == 3) {
        EXPECT_EQ(sendq, somaxconn) << "listen backlog";
      }
      pclose(p);
    }
  });
}

TEST_P(Tcp, ConnectToAClosedPortFailsFastWithAClearError) {
  run([] {
    std::string addr = "127.0.0.1:" + std::to_string(closed_port());
    std::error_code ec;
    Conn c = cogo::net::dial(addr, std::chrono::seconds(30), ec);
    EXPECT_FALSE(c);
    EXPECT_EQ(ec, std::error_code(ECONNREFUSED, std::system_category()));
    std::string msg = what_of([&] { cogo::net::dial(addr); });
    EXPECT_EQ(msg, "dial " + addr + ": Connection refused — nothing is listening there");
  });
}

// A listener whose accept queue is full drops further SYNs, so a connect
// there stays in progress until the dial timeout (all on 127.0.0.1).
TEST_P(Tcp, DialTimeout) {
  int l = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(l, 0), 0);  // a queue of one, never accepted
  socklen_t len = sizeof a;
  getsockname(l, reinterpret_cast<sockaddr*>(&a), &len);
  std::string addr = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  std::vector<Conn> fill;
  run([&] {
    // Fill the queue: the first connect completes, later ones hang.
    for (int i = 0; i < 3; ++i) {
      std::error_code ec;
      Conn c = cogo::net::dial(addr, std::chrono::milliseconds(200), ec);
      if (c) fill.push_back(std::move(c));
    }
    std::error_code ec;
    Conn c = cogo::net::dial(addr, std::chrono::milliseconds(100), ec);
    EXPECT_FALSE(c);
    EXPECT_EQ(ec, errc::timeout);
    EXPECT_TRUE(cogo::net::is_timeout(ec));
    std::string msg = what_of([&] { cogo::net::dial(addr, std::chrono::milliseconds(50)); });
    EXPECT_EQ(msg, "dial " + addr +
                       ": i/o timeout — no answer before the dial timeout; is the host up and "
                       "the port open?");
  });
  // The same from a plain thread (poll(2) with the deadline).
  std::error_code ec;
  Conn c = cogo::net::dial(addr, std::chrono::milliseconds(100), ec);
  EXPECT_EQ(ec, errc::timeout);
  fill.clear();
  close(l);
}

TEST(TcpErrors, ListenMistakesNameTheFix) {
  std::string msg = what_of([] { cogo::net::listen("127.0.0.1"); });
  EXPECT_NE(msg.find("listen 127.0.0.1: Invalid argument (missing \":port\""), std::string::npos)
      << msg;
  // An address that is not this machine's (bind fails locally; no traffic).
  msg = what_of([] { cogo::net::listen("192.0.2.1:8080"); });
  EXPECT_NE(msg.find("listen 192.0.2.1:8080: Cannot assign requested address — that IP address "
                     "is not one of this machine's"),
            std::string::npos)
      << msg;
  std::string long_path = "unix:/tmp/" + std::string(200, 'x');
  msg = what_of([&] { cogo::net::listen(long_path); });
  EXPECT_NE(msg.find("longer than"), std::string::npos) << msg;
  msg = what_of([] { cogo::net::dial("unix:/nonexistent/cogo.sock"); });
  EXPECT_NE(msg.find("the socket file does not exist"), std::string::npos) << msg;
}

// A privileged port without the capability: run as nobody in a child.
TEST(TcpErrors, PrivilegedPortSaysHow) {
  if (!nettest::in_child()) {
    EXPECT_EQ(nettest::run_child("TcpErrors.PrivilegedPortSaysHow"), 0);
    return;
  }
  if (geteuid() == 0 && setuid(65534) != 0) GTEST_SKIP() << "cannot drop root";
  std::string msg = what_of([] { cogo::net::listen("0.0.0.0:80"); });
  EXPECT_EQ(msg,
            "listen 0.0.0.0:80: Permission denied — use a port above 1024 or run with "
            "CAP_NET_BIND_SERVICE");
  _exit(::testing::Test::HasFailure() ? 1 : 0);
}

// ---------------------------------------------------------------------------
// 10,000 concurrent connections, every byte checked. The 20,000-descriptor
// limit does not fit 10,000 client plus 10,000 server sockets in one process,
// so the clients run in a child process (this binary again) and the server
// here; both on cogo runtimes with the same number of Ps.

#if defined(COGO_SANITIZE_THREAD)
constexpr int kEchoConns = 2000;  // TSan counts each goroutine as a thread (max 8128)
#else
constexpr int kEchoConns = 10000;
#endif
constexpr size_t kEchoSizes[] = {1, 1500, 9000};

TEST_P(Tcp, EchoTenThousandConcurrentConnections) {
  run([] {
    Listener ln = cogo::net::listen("127.0.0.1:0");
    std::atomic<int> open{0}, max_open{0}, finished{0}, bad{0};
    std::atomic<uint64_t> bytes{0};
    cogo::go([&] {
      for (;;) {
        std::error_code ec;
        Conn c = ln.accept(ec);
        if (ec) return;
        int now = ++open;
        for (int m = max_open.load(); now > m && !max_open.compare_exchange_weak(m, now);) {
        }
        cogo::go([c = std::move(c), &open, &finished, &bytes, &bad]() mutable {
          char buf[16384];
          std::error_code e;
          while (size_t n = c.read(buf, sizeof buf, e)) {
            c.write_all(buf, n, e);
            if (e) break;
            bytes += n;
          }
          if (e != errc::eof) ++bad;
          --open;
          ++finished;
        });
      }
    });
    int status = cogo::blocking([&] {
      return nettest::run_child("TcpChild.EchoClients",
                                {"COGO_NP_ADDR=" + ln.address().to_string()});
    });
    EXPECT_EQ(status, 0) << "the client process reported failures";
    EXPECT_TRUE(wait_until([&] { return finished.load() == kEchoConns; }));
    EXPECT_EQ(max_open.load(), kEchoConns) << "not all connections were open at once";
    uint64_t per_conn = 0;
    for (size_t s : kEchoSizes) per_conn += s;
    EXPECT_EQ(bytes.load(), per_conn * kEchoConns);
    EXPECT_EQ(bad.load(), 0);
    ln.close();
  });
}

// The client half, in its own process (skipped in a normal run).
TEST(TcpChild, EchoClients) {
  if (!nettest::in_child())
    GTEST_SKIP() << "runs as a child of EchoTenThousandConcurrentConnections";
  std::string addr = std::getenv("COGO_NP_ADDR");
  std::atomic<int> connected{0}, ok{0}, failed{0}, done{0};
  std::mutex first_error_mu;
  std::string first_error;
  cogo::run([&] {
    nettest::Gate all_connected;
    for (int i = 0; i < kEchoConns; ++i) {
      cogo::go([&, i] {
        try {
          Conn c = cogo::net::dial(addr, std::chrono::seconds(60));
          uint64_t offset = 0;
          bool good = true;
          int round = 0;
          for (size_t size : kEchoSizes) {
            std::vector<unsigned char> out(size), in(size);
            for (size_t k = 0; k < size; ++k) out[k] = nettest::pattern_byte(i, offset + k);
            c.write_all(out.data(), size);
            c.read_full(in.data(), size);
            good = good && in == out;
            offset += size;
            if (round++ == 0) {
              // One echo proves the server holds this connection; nobody
              // goes on (or closes) until all 10,000 are held at once.
              if (++connected == kEchoConns) all_connected.open();
              all_connected.wait();
            }
          }
          c.close_write();
          char b;
          std::error_code ec;
          c.read(&b, 1, ec);
          good = good && ec == errc::eof;
          ++(good ? ok : failed);
        } catch (const std::exception& e) {
          ++failed;
          all_connected.open();  // the count cannot complete: release everyone
          std::lock_guard<std::mutex> lk(first_error_mu);
          if (first_error.empty()) first_error = e.what();
        }
        ++done;
      });
    }
    wait_until([&] { return done.load() == kEchoConns; }, std::chrono::minutes(5));
  });
  EXPECT_EQ(ok.load(), kEchoConns)
      << "failed: " << failed.load() << "; first error: " << first_error;
  _exit(::testing::Test::HasFailure() ? 1 : 0);
}

// ---------------------------------------------------------------------------
// Accept under fd exhaustion, in a child with a low RLIMIT_NOFILE.

TEST(TcpEmfile, AcceptBacksOffAndRecovers) {
#if defined(COGO_SANITIZE_THREAD)
  GTEST_SKIP() << "TSan's own runtime needs descriptors and crashes when there are none";
#endif
  if (!nettest::in_child()) {
    EXPECT_EQ(nettest::run_child("TcpEmfile.AcceptBacksOffAndRecovers"), 0);
    return;
  }
  static nettest::EmfileLogs& logs = nettest::watch_emfile_logs();
  setenv("COGO_MAXPROCS", "1", 1);
  int rc = cogo::run([] {
    Listener ln = cogo::net::listen("127.0.0.1:0");
    std::string addr = ln.address().to_string();
    std::atomic<int> served{0};
    // Use up every descriptor but the ones the clients need.
    constexpr int kClients = 3;
    std::vector<int> hog = nettest::hog_descriptors(64, kClients);
    ASSERT_FALSE(::testing::Test::HasFailure());
    std::vector<Conn> clients;
    for (int i = 0; i < kClients; ++i) {
      clients.push_back(cogo::net::dial(addr));  // completes in the backlog
      clients.back().write_all("ping", 4);
    }
    // Only now start accepting: every descriptor is in use.
    cogo::go([&] {
      for (;;) {
        std::error_code ec;
        Conn c = ln.accept(ec);
        if (ec) return;
        char buf[16];
        size_t n = c.read(buf, sizeof buf, ec);
        if (!ec) c.write_all(buf, n, ec);
        ++served;
      }
    });
    // accept() now fails with EMFILE: it must log once and back off, not
    // spin (a spinning accept keeps its thread runnable).
    EXPECT_TRUE(wait_until([] { return logs.exhausted.load() == 1; }));
    cogo_test::expect_idle("goroutine accept out of descriptors");
    EXPECT_EQ(served.load(), 0);
    EXPECT_EQ(logs.exhausted.load(), 1);
    // Free descriptors: the listener accepts again (within the 1 s cap).
    nettest::release_descriptors(hog);
    for (auto& c : clients) {
      char buf[4];
      c.read_full(buf, 4);
      EXPECT_EQ(std::string(buf, 4), "ping");
    }
    EXPECT_TRUE(wait_until([&] { return served.load() == kClients; }));
    EXPECT_EQ(logs.recovered.load(), 1);
    ln.close();
  });
  EXPECT_EQ(rc, 0);
  _exit(::testing::Test::HasFailure() ? 1 : 0);
}

}  // namespace
