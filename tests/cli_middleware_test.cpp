// The middleware flags of the real cogo-server binary, in both models:
// --request-id, --recover, --real-ip-trusted, --access-log-format/-file
// (the file and stdout), --rate-limit/--rate-burst, --max-in-flight,
// --auth-file on the admin listener; their COGO_* variables; and a
// message naming the flag for each bad value.
#include <crypt.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "support/server_process.h"
#include "support/temp_dir.h"

namespace {

namespace fs = std::filesystem;
using cogo_test::run_command;
using cogo_test::ServerProcess;

const std::string kServer = cogo_test::server_binary();

std::string url(const ServerProcess& s, int n = 0, const std::string& path = "/") {
  return "http://127.0.0.1:" + std::to_string(s.port(n)) + path;
}

// head_of() is curl's response head for url with extra arguments.
std::string head_of(const std::string& u, const std::string& args = "") {
  return run_command("curl -sS -o /dev/null -D - " + args + " '" + u + "'");
}

class CliMiddleware : public ::testing::TestWithParam<const char*> {};
INSTANTIATE_TEST_SUITE_P(Models, CliMiddleware, ::testing::Values("goroutine", "thread"),
                         [](const auto& info) { return std::string(info.param); });

TEST_P(CliMiddleware, RequestIdRealIpAndAJsonAccessLogFile) {
  cogo_test::TempDir dir{"cogo_cli_mw"};
  const fs::path log = dir.path / "access.log";
  ServerProcess s({"--listen", "127.0.0.1:0", "--model", GetParam(), "--request-id", "--recover",
                   "--real-ip-trusted", "127.0.0.1,10.0.0.0/8", "--access-log-format", "json",
                   "--access-log-file", log.string()});
  const std::string h = head_of(url(s, 0, "/sleep?ms=1"),
                                "-H 'X-Forwarded-For: 6.6.6.6, 203.0.113.7, 10.1.2.3' "
                                "-H 'X-Request-Id: cli-1' -A agent/7");
  EXPECT_NE(h.find("X-Request-Id: cli-1\r\n"), std::string::npos) << h;
  const std::string made = head_of(url(s));
  EXPECT_TRUE(std::regex_search(made, std::regex("X-Request-Id: [0-9a-z]{13}-[0-9a-f]{12}\r\n")))
      << made;
  EXPECT_EQ(s.stop(), 0);  // the writer flushes as the server stops
  // The two lines in either order (the writer batches lines per thread).
  std::ifstream in(log);
  std::string line, other;
  ASSERT_TRUE(std::getline(in, line)) << s.output();
  ASSERT_TRUE(std::getline(in, other));
  if (line.find("cli-1") == std::string::npos) std::swap(line, other);
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j.at("remote_addr"), "203.0.113.7");
  EXPECT_EQ(j.at("request_id"), "cli-1");
  EXPECT_EQ(j.at("route"), "/sleep");
  EXPECT_EQ(j.at("target"), "/sleep?ms=1");
  EXPECT_EQ(j.at("status"), 200);
  EXPECT_EQ(j.at("user_agent"), "agent/7");
  EXPECT_EQ(nlohmann::json::parse(other).at("remote_addr"), "127.0.0.1");
}

TEST_P(CliMiddleware, CombinedAccessLogToStdout) {
  ServerProcess s(
      {"--listen", "127.0.0.1:0", "--model", GetParam(), "--access-log-format", "combined"});
  const std::string body =
      run_command("curl -sS -e https://ref.example/ -A 'curl \"q\"' " + url(s, 0, "/healthz"));
  // The bytes field is the body's length.
  EXPECT_TRUE(s.wait_for("\"GET /healthz HTTP/1.1\" 200 " + std::to_string(body.size()) +
                         " \"https://ref.example/\" \"curl \\\"q\\\"\"\n"))
      << s.output();
  EXPECT_TRUE(
      std::regex_search(s.output(), std::regex(R"(\n127\.0\.0\.1 - - \[[^\]]+\] "GET /healthz)")))
      << s.output();
  EXPECT_EQ(s.stop(), 0);
}

TEST_P(CliMiddleware, RateLimitAndBurst) {
  ServerProcess s({"--listen", "127.0.0.1:0", "--model", GetParam(), "--rate-limit", "1/m",
                   "--rate-burst", "2"});
  const auto first = std::chrono::steady_clock::now();
  for (int i = 0; i < 2; ++i) {
    const std::string h = head_of(url(s));
    EXPECT_EQ(h.rfind("HTTP/1.1 200", 0), 0u) << h;
    EXPECT_NE(h.find("RateLimit-Limit: 2\r\n"), std::string::npos) << h;
    EXPECT_NE(h.find("RateLimit-Remaining: " + std::to_string(1 - i) + "\r\n"), std::string::npos)
        << h;
  }
  const std::string h = head_of(url(s));
  const auto elapsed = std::chrono::ceil<std::chrono::seconds>(std::chrono::steady_clock::now() -
                                                               first);
  EXPECT_EQ(h.rfind("HTTP/1.1 429", 0), 0u) << h;
  // The next token comes a minute after the bucket was last full, which was
  // no earlier than the first request: Retry-After counts down from 60 by
  // the time the three requests took (seconds on a loaded machine), never
  // below what is left of that minute, never above it.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(h, m, std::regex("Retry-After: (\\d+)\r\n"))) << h;
  const long retry = std::stol(m[1]);
  EXPECT_LE(retry, 60) << h;
  EXPECT_GE(retry, 60 - elapsed.count() - 1) << h << "after " << elapsed.count() << " s";
  EXPECT_NE(h.find("RateLimit-Remaining: 0\r\n"), std::string::npos) << h;
  EXPECT_TRUE(std::regex_search(h, std::regex("RateLimit-Reset: \\d+\r\n"))) << h;
  EXPECT_EQ(s.stop(), 0);
}

// in_flight() is the server's requests_in_flight from /debug/vars on the
// admin listener (listener 1), or -1 if it cannot be read.
int in_flight(const ServerProcess& s) {
  const std::string vars = run_command("curl -sS " + url(s, 1, "/debug/vars"));
  const auto j = nlohmann::json::parse(vars, nullptr, false);
  if (j.is_discarded() || !j.contains("requests_in_flight")) return -1;
  return j.at("requests_in_flight").get<int>();
}

TEST_P(CliMiddleware, MaxInFlight) {
  ServerProcess s({"--listen", "127.0.0.1:0", "--model", GetParam(), "--max-in-flight", "1",
                   "--max-in-flight-backlog", "0", "--admin-listen", "127.0.0.1:0"});
  // The one request allowed in flight: a handler that sleeps for ten minutes
  // on a connection of the test's own, until the test closes it (a client
  // gone cancels the handler) — however slow the machine, it is still in
  // flight when the probe comes.
  const int slow = cogo_test::connect_to(s.port(0));
  ASSERT_GE(slow, 0);
  cogo_test::send_all(slow, "GET /sleep?ms=600000 HTTP/1.1\r\nHost: t\r\n\r\n");
  // Until the admin endpoint shows the sleeping request in its handler.
  bool inside = false;
  for (int i = 0; i < 400 && !inside; ++i) {
    inside = in_flight(s) == 1;
    if (!inside) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ASSERT_TRUE(inside);
  const std::string h = head_of(url(s));
  EXPECT_EQ(h.rfind("HTTP/1.1 503", 0), 0u) << h;
  EXPECT_NE(h.find("Retry-After: 1\r\n"), std::string::npos) << h;
  ::close(slow);
  // The slow request's client is gone: its handler is cancelled, the slot
  // is free again and the next request is served.
  bool drained = false;
  for (int i = 0; i < 2000 && !drained; ++i) {
    drained = in_flight(s) == 0;
    if (!drained) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ASSERT_TRUE(drained) << "the sleeping handler was still in flight after its client closed";
  EXPECT_EQ(head_of(url(s)).rfind("HTTP/1.1 200", 0), 0u);
  EXPECT_EQ(s.stop(), 0);
}

TEST_P(CliMiddleware, AuthFileGuardsTheAdminListenerOnly) {
  cogo_test::TempDir dir{"cogo_cli_mw"};
  char* setting = crypt_gensalt_ra("$y$", 0, nullptr, 0);
  void* data = nullptr;
  int size = 0;
  const std::string hash = crypt_ra("s3cret", setting, &data, &size);
  std::free(setting);
  std::free(data);
  const fs::path users = dir.path / "users";
  std::ofstream(users) << "ops:" << hash << "\n";
  // A salted SHA-256 user, made as middleware/README.md says.
  int made = 0;
  run_command("cd " + dir.path.string() +
                  " && openssl rand 16 > salt && { printf %s 'm0n pw'; cat salt; } | openssl dgst "
                  "-sha256 -binary > digest && echo \"mon:{SSHA256}$(cat digest salt | base64 "
                  "-w0)\" >> users",
              &made);
  ASSERT_EQ(made, 0);
  ServerProcess s({"--listen", "127.0.0.1:0", "--model", GetParam(), "--admin-listen",
                   "127.0.0.1:0", "--auth-file", users.string()});
  for (const char* path : {"/metrics", "/debug/vars", "/debug/goroutines"}) {
    const std::string h = head_of(url(s, 1, path));
    EXPECT_EQ(h.rfind("HTTP/1.1 401", 0), 0u) << path << h;
    EXPECT_NE(h.find("WWW-Authenticate: Basic realm=\"cogo admin\", charset=\"UTF-8\"\r\n"),
              std::string::npos)
        << h;
    EXPECT_EQ(head_of(url(s, 1, path), "-u ops:wrong").rfind("HTTP/1.1 401", 0), 0u);
    EXPECT_EQ(head_of(url(s, 1, path), "-u ops:s3cret").rfind("HTTP/1.1 200", 0), 0u) << path;
    EXPECT_EQ(head_of(url(s, 1, path), "-u 'mon:m0n pw'").rfind("HTTP/1.1 200", 0), 0u) << path;
    EXPECT_EQ(head_of(url(s, 1, path), "-u 'mon:m0n px'").rfind("HTTP/1.1 401", 0), 0u) << path;
  }
  EXPECT_EQ(run_command("curl -sS " + url(s)), "Hello, World!");  // the public port is open
  EXPECT_EQ(s.stop(), 0);
  EXPECT_EQ(s.output().find("s3cret"), std::string::npos);  // never logged
  EXPECT_EQ(s.output().find("m0n"), std::string::npos);
}

TEST(CliMiddlewareEnvironment, VariablesSwitchThemOn) {
  setenv("COGO_REQUEST_ID", "1", 1);
  setenv("COGO_RATE_LIMIT", "100/s", 1);
  ServerProcess s({"--listen", "127.0.0.1:0"});
  unsetenv("COGO_REQUEST_ID");
  unsetenv("COGO_RATE_LIMIT");
  const std::string h = head_of(url(s));
  EXPECT_NE(h.find("X-Request-Id: "), std::string::npos) << h;
  EXPECT_NE(h.find("RateLimit-Limit: 100\r\n"), std::string::npos) << h;
  EXPECT_EQ(s.stop(), 0);
}

TEST(CliMiddlewareFlags, BadValuesAreNamed) {
  cogo_test::TempDir dir{"cogo_cli_mw"};
  const std::string bad_users = (dir.path / "users").string();
  std::ofstream(bad_users) << "ops:$1$abc$defghijklmnopqrstuvwxy\n";
  const std::string bad_salted = (dir.path / "salted").string();
  std::ofstream(bad_salted) << "# admins\nops:{SSHA256}c2hvcnQ=\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--rate-limit abc", "--rate-limit: 'abc' is not a rate"},
      {"--rate-limit 10/d", "--rate-limit: '10/d' is not a rate"},
      {"--rate-limit 5/s --rate-burst 0", "--rate-burst: '0' is not a whole number"},
      {"--rate-burst 5", "--rate-burst needs --rate-limit"},
      {"--max-in-flight 0", "--max-in-flight: '0' is not a whole number"},
      {"--max-in-flight-backlog 3", "--max-in-flight-backlog needs --max-in-flight"},
      {"--max-in-flight 2 --max-in-flight-wait 5", "--max-in-flight-wait: '5' is not a duration"},
      {"--real-ip-trusted 10.0.0.0/33", "--real-ip-trusted: '10.0.0.0/33' is not a CIDR range"},
      {"--real-ip-header via", "--real-ip-header: 'via' is not one"},
      {"--access-log-format xml", "--access-log-format: 'xml' is not an access log format"},
      {"--access-log-file /nonexistent/dir/a.log",
       "--access-log-file: cannot write /nonexistent/dir/a.log"},
      {"--auth-file " + bad_users, "--auth-file: it guards the admin listener"},
      {"--admin-listen 127.0.0.1:0 --auth-file /nonexistent/users",
       "--auth-file: basic_auth: cannot read"},
      {"--admin-listen 127.0.0.1:0 --auth-file " + bad_users, "user ops has a legacy hash"},
      {"--admin-listen 127.0.0.1:0 --auth-file " + bad_salted,
       "--auth-file: basic_auth: " + bad_salted +
           ":2: user ops has {SSHA256}: the value is 5 bytes"},
  };
  for (const auto& [flags, message] : cases) {
    int st = 0;
    const std::string out = run_command(kServer + " " + flags + " 2>&1", &st);
    EXPECT_EQ(WEXITSTATUS(st), 2) << flags << ": " << out;
    EXPECT_NE(out.find(message), std::string::npos) << flags << ": " << out;
  }
  int st = 0;
  const std::string out = run_command("COGO_RATE_LIMIT=fast " + kServer + " 2>&1", &st);
  EXPECT_EQ(WEXITSTATUS(st), 2);
  EXPECT_NE(out.find("environment COGO_RATE_LIMIT: --rate-limit: 'fast' is not a rate"),
            std::string::npos)
      << out;
  const std::string help = run_command(kServer + " --help");
  for (const char* flag :
       {"--request-id", "--recover", "--real-ip-trusted", "--access-log-format",
        "--access-log-file", "--rate-limit", "--rate-burst", "--max-in-flight", "--auth-file"}) {
    EXPECT_NE(help.find(flag), std::string::npos) << flag;
  }
}

}  // namespace
