// admin_test: cogo-server --admin-listen, through the real binary and curl:
// /debug/vars (its documented keys and that they move with traffic),
// /debug/goroutines, the separation from the public port, and --procs N
// (one admin port per process, PORT+i).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "support/server_process.h"

namespace {

using cogo_test::run_command;
using cogo_test::ServerProcess;
using nlohmann::json;

const std::string& kServer = cogo_test::server_binary();

std::string get(int port, const std::string& path) {
  return run_command("curl -s --max-time 20 http://127.0.0.1:" + std::to_string(port) + path);
}
std::string status_of(int port, const std::string& path) {
  return run_command("curl -s -o /dev/null -w '%{http_code}' --max-time 20 http://127.0.0.1:" +
                     std::to_string(port) + path);
}

// free_port_pair() is a port P such that P and P+1 could both be bound a
// moment ago (the kernel picks P; a few tries for P+1).
int free_port_pair() {
  for (int attempt = 0; attempt < 50; attempt++) {
    int fds[2] = {socket(AF_INET, SOCK_STREAM, 0), socket(AF_INET, SOCK_STREAM, 0)};
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = -1;
    if (bind(fds[0], reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        getsockname(fds[0], reinterpret_cast<sockaddr*>(&a), &len) == 0) {
      const int p = ntohs(a.sin_port);
      a.sin_port = htons(static_cast<uint16_t>(p + 1));
      if (p < 65535 && bind(fds[1], reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) port = p;
    }
    close(fds[0]);
    close(fds[1]);
    if (port > 0) return port;
  }
  return -1;
}

class Admin : public ::testing::TestWithParam<std::string> {};

INSTANTIATE_TEST_SUITE_P(Models, Admin, ::testing::Values("goroutine", "thread"),
                         [](const auto& info) { return info.param; });

TEST_P(Admin, DebugVarsHasEveryDocumentedKeyAndCountsTraffic) {
  ServerProcess srv({"http", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--model",
                     GetParam(), "--maxprocs", "2"});
  const int port = srv.port(0), admin = srv.port(1);
  ASSERT_GT(port, 0) << srv.output();
  ASSERT_GT(admin, 0) << srv.output();
  for (int i = 0; i < 5; i++) ASSERT_EQ(get(port, "/"), "Hello, World!");

  const json v = json::parse(get(admin, "/debug/vars"));
  for (const char* key : {"goroutines", "gomaxprocs", "threads", "idle_threads", "spawned",
                          "switches", "parks", "steals", "retakes", "global_run_queue", "accepted",
                          "connections_active", "connections_idle", "tls_handshake_failures"}) {
    ASSERT_TRUE(v.contains(key)) << key << " missing in " << v.dump();
    EXPECT_TRUE(v[key].is_number_unsigned() || v[key].is_number_integer()) << key;
  }
  EXPECT_EQ(v["model"], GetParam());
  EXPECT_EQ(v["gomaxprocs"], 2);
  ASSERT_TRUE(v["procs"].is_array());
  EXPECT_EQ(v["procs"].size(), 2u);
  EXPECT_EQ(v["run_queues"].size(), 2u);
  for (const auto& p : v["procs"]) {
    for (const char* key : {"id", "run_queue", "runnext", "schedules", "steals", "timers"}) {
      EXPECT_TRUE(p.contains(key)) << key;
    }
  }
  for (const char* key : {"in_use", "cached", "size_bytes"}) EXPECT_TRUE(v["stacks"].contains(key));
  // Five curl connections on the public port were accepted (the admin port's
  // own connections are not the public server's).
  EXPECT_GE(v["accepted"].get<int64_t>(), 5);
  EXPECT_GE(v["goroutines"].get<int64_t>(), 1);
  EXPECT_GE(v["threads"].get<int64_t>(), 1);
  EXPECT_EQ(v["tls_handshake_failures"], 0);

  // The dump names the goroutines, as SIGQUIT does.
  const std::string dump = get(admin, "/debug/goroutines");
  EXPECT_NE(dump.find("goroutines, GOMAXPROCS=2"), std::string::npos) << dump;
  EXPECT_NE(dump.find("goroutine 1 ["), std::string::npos) << dump;

  // /metrics: the Prometheus text format, as promtool and the Python client
  // read it, with the server's counters beside the runtime's and the process's.
  const std::string dir = ::testing::TempDir() + "admin_test_" + std::to_string(getpid());
  run_command("mkdir -p " + dir);
  run_command("curl -s --max-time 20 -D " + dir + "/h.txt -o " + dir + "/m.txt http://127.0.0.1:" +
              std::to_string(admin) + "/metrics");
  int st = 0;
  EXPECT_NE(run_command("cat " + dir + "/h.txt").find("Content-Type: text/plain; version=0.0.4"),
            std::string::npos);
  const std::string prom = run_command("promtool check metrics < " + dir + "/m.txt 2>&1", &st);
  EXPECT_EQ(WEXITSTATUS(st), 0) << prom;
  const std::string py = run_command(
      "/usr/bin/python3 -c \"import sys; from prometheus_client.parser import "
      "text_string_to_metric_families as p; f={x.name: x for x in p(open(sys.argv[1]).read())}; "
      "print(f['cogo_connections_accepted'].samples[0].value, f['cogo_goroutines'].type, "
      "f['process_open_fds'].type, len(f['cogo_run_queue_length'].samples))\" " + dir + "/m.txt 2>&1",
      &st);
  EXPECT_EQ(WEXITSTATUS(st), 0) << py;
  EXPECT_GE(std::atof(py.c_str()), 5.0) << py;  // the five curl connections above, at least
  EXPECT_NE(py.find(" gauge gauge 2"), std::string::npos) << py;
  run_command("rm -rf " + dir);

  // Neither port answers the other's routes.
  EXPECT_EQ(status_of(port, "/debug/vars"), "404");
  EXPECT_EQ(status_of(admin, "/"), "404");
  EXPECT_EQ(srv.stop(), 0) << srv.output();
}

// metric() is the value of series (name with labels, as written) in the
// /metrics text, or -1 when absent.
double metric(const std::string& text, const std::string& series) {
  const std::size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::atof(text.c_str() + at + series.size() + 2);
}

// The accept queue of each listener (TCP_INFO) and the kernel's overflow
// counters (/proc/net/netstat), in /metrics and /debug/vars alike. The
// overflow counter is the network namespace's: a listener of this test's
// own with a full queue makes it move.
TEST_P(Admin, ListenQueuesAndOverflowsComeFromTheKernel) {
  ServerProcess srv(
      {"http", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--model", GetParam()});
  const int port = srv.port(0), admin = srv.port(1);
  ASSERT_GT(admin, 0) << srv.output();
  const std::string listener = "127.0.0.1:" + std::to_string(port);
  std::string m = get(admin, "/metrics");
  EXPECT_EQ(metric(m, "cogo_listen_queue_length{listener=\"" + listener + "\"}"), 0) << m;
  EXPECT_GT(metric(m, "cogo_listen_queue_limit{listener=\"" + listener + "\"}"), 0) << m;
  const double overflows0 = metric(m, "cogo_tcp_listen_overflows_total");
  ASSERT_GE(overflows0, 0) << m;
  ASSERT_GE(metric(m, "cogo_tcp_listen_drops_total"), overflows0) << m;

  // A listener with a backlog of 1 that never accepts: connects past its
  // queue are dropped by the kernel and counted as overflows.
  const int lfd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof a;
  ASSERT_EQ(bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(lfd, 1), 0);
  ASSERT_EQ(getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &alen), 0);
  std::vector<int> clients;
  for (int i = 0; i < 8; i++) {
    const int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a);  // EINPROGRESS
    clients.push_back(c);
  }
  double overflows = overflows0;
  for (int i = 0; i < 200 && overflows <= overflows0; i++) {
    usleep(50'000);
    overflows = metric(get(admin, "/metrics"), "cogo_tcp_listen_overflows_total");
  }
  EXPECT_GT(overflows, overflows0);
  for (int c : clients) close(c);
  close(lfd);

  const json v = json::parse(get(admin, "/debug/vars"));
  EXPECT_GE(v["listen_overflows"].get<double>(), overflows);
  EXPECT_GE(v["listen_drops"].get<double>(), v["listen_overflows"].get<double>());
  ASSERT_EQ(v["listeners"].size(), 1u) << v.dump();
  EXPECT_EQ(v["listeners"][0]["address"], listener);
  EXPECT_EQ(v["listeners"][0]["queued"], 0);
  EXPECT_GT(v["listeners"][0]["backlog"].get<int64_t>(), 0);
  EXPECT_EQ(srv.stop(), 0) << srv.output();
}

// A client that speaks plain HTTP to the TLS port fails the handshake: the
// counter says so, in both documents; a real handshake does not count.
TEST_P(Admin, TlsHandshakeFailuresAreCounted) {
  const std::string dir = ::testing::TempDir() + "admin_tls_" + std::to_string(getpid());
  int st = 0;
  run_command("mkdir -p " + dir +
                  " && openssl req -x509 -newkey ec -pkeyopt "
                  "ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=localhost -keyout " +
                  dir + "/key.pem -out " + dir + "/cert.pem 2>&1",
              &st);
  ASSERT_EQ(WEXITSTATUS(st), 0);
  ServerProcess srv({"http", "--tls-listen", "127.0.0.1:0", "--tls-cert", dir + "/cert.pem",
                     "--tls-key", dir + "/key.pem", "--admin-listen", "127.0.0.1:0", "--model",
                     GetParam()});
  const int tls = srv.port(0), admin = srv.port(1);
  ASSERT_GT(admin, 0) << srv.output();
  EXPECT_EQ(run_command("curl -sk --max-time 20 https://127.0.0.1:" + std::to_string(tls) + "/"),
            "Hello, World!");
  for (int i = 0; i < 2; i++) {
    const int fd = cogo_test::connect_to(tls);
    cogo_test::send_all(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    cogo_test::read_until_close(fd);  // the server gives up on the handshake
    close(fd);
  }
  double failures = -1;
  for (int i = 0; i < 200 && failures != 2; i++) {
    failures = metric(get(admin, "/metrics"), "cogo_tls_handshake_failures_total");
    if (failures != 2) usleep(50'000);
  }
  EXPECT_EQ(failures, 2);
  EXPECT_EQ(json::parse(get(admin, "/debug/vars"))["tls_handshake_failures"], 2);
  EXPECT_EQ(srv.stop(), 0) << srv.output();
  run_command("rm -rf " + dir);
}

TEST(AdminFlags, TheAdminPortIsNeverAPublicOne) {
  int st = 0;
  std::string out = run_command(
      kServer + " --listen 127.0.0.1:18555 --admin-listen 127.0.0.1:18555 2>&1", &st);
  EXPECT_EQ(WEXITSTATUS(st), 2);
  EXPECT_NE(out.find("--admin-listen: 127.0.0.1:18555 is also a public --listen address"),
            std::string::npos)
      << out;
  out = run_command(kServer + " --admin-listen nowhere 2>&1", &st);
  EXPECT_EQ(WEXITSTATUS(st), 2);
  EXPECT_NE(out.find("--admin-listen: 'nowhere' is not HOST:PORT"), std::string::npos) << out;
  out = run_command(kServer + " echo --admin-listen 127.0.0.1:0 2>&1", &st);
  EXPECT_EQ(WEXITSTATUS(st), 2);
  EXPECT_NE(out.find("--admin-listen: only in http mode"), std::string::npos) << out;
  out = run_command("COGO_ADMIN_LISTEN=x " + kServer + " 2>&1", &st);
  EXPECT_EQ(WEXITSTATUS(st), 2);
  EXPECT_NE(out.find("COGO_ADMIN_LISTEN"), std::string::npos) << out;
}

TEST(AdminProcs, EveryProcessServesItsOwnAdminPort) {
  const int base = free_port_pair();
  ASSERT_GT(base, 0);
  ServerProcess srv({"http", "--listen", "127.0.0.1:0", "--procs", "2", "--admin-listen",
                     "127.0.0.1:" + std::to_string(base)});
  ASSERT_GT(srv.port(), 0) << srv.output();
  // The start-up line is per process; wait until both admin ports answer.
  std::set<int64_t> pids;
  for (int i = 0; i < 2; i++) {
    std::string vars;
    for (int tries = 0; tries < 200 && vars.empty(); tries++) {
      vars = get(base + i, "/debug/vars");
      if (vars.empty()) usleep(50'000);
    }
    ASSERT_FALSE(vars.empty()) << "admin port " << base + i << " never answered\n" << srv.output();
    EXPECT_TRUE(json::parse(vars).contains("goroutines"));
  }
  EXPECT_EQ(srv.stop(), 0) << srv.output();
}

}  // namespace
