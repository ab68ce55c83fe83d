// middleware::access_log through a real Server in every model: the four
// formats field by field (request id, route, duration, bytes, referer,
// user agent, user; the client after real_ip), their escaping, 499 for a
// client that left, rotation, and the promise that a stuck disk never
// stalls a request (a FIFO nobody reads as the log file).
#include "cogo/middleware/access_log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "cogo/http/request.h"
#include "cogo/http/response.h"
#include "cogo/middleware/authenticated_user.h"
#include "cogo/middleware/real_ip.h"
#include "cogo/middleware/request_id.h"
#include "cogo/runtime.h"
#include "http_test_util.h"
#include "support/served_server.h"
#include "support/server_process.h"
#include "support/temp_dir.h"

namespace cogo::middleware {
namespace {

namespace fs = std::filesystem;
using cogo_test::ServedServer;
using http::testing::Client;

std::vector<std::string> lines_of(const fs::path& file) {
  std::ifstream in(file);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// g_waiting counts the requests that reached /wait's handler.
std::atomic<int> g_waiting{0};

// routes(): request_id, real_ip (this test's 127.0.0.1 is the trusted
// proxy), the log, a stand-in for an auth middleware, and the routes.
std::function<void(http::Server&)> routes(std::shared_ptr<AccessLog> log) {
  return [log](http::Server& s) {
    s.use(request_id());
    RealIpOptions ip;
    ip.trusted = {"127.0.0.1"};
    s.use(real_ip(ip));
    s.use(log->middleware());
    s.use([](http::Request& req, http::Response& res, const http::Next& next) {
      if (req.has_header("X-Test-User"))
        req.set_value<AuthenticatedUser>(AuthenticatedUser{"ann \"a\""});
      next(req, res);
    });
    s.router().get("/users/:id",
                   [](http::Request&, http::Response& res) { res.text(200, "hello"); });
    s.router().get("/empty", [](http::Request&, http::Response& res) { res.set_status(204); });
    s.router().get("/wait", [](http::Request&, http::Response& res) {
      ++g_waiting;
      cogo::sleep_for(std::chrono::seconds(30));
      res.text(200, "late");
    });
  };
}

std::shared_ptr<AccessLog> open_log(const fs::path& file, AccessLogFormat format,
                                    std::size_t max_bytes = 100 << 20, std::size_t files = 5) {
  AccessLogOptions o;
  o.format = format;
  o.file = file.string();
  o.max_file_bytes = max_bytes;
  o.max_files = files;
  return std::make_shared<AccessLog>(o);
}

// send() sends one request on a fresh connection and reads the answer.
Client::Response send(const ServedServer& s, const std::string& line,
                      const std::string& head = "") {
  Client c(cogo_test::connect_to(s.port));
  c.send(line + " HTTP/1.1\r\nHost: h\r\n" + head + "\r\n");
  return c.read_response();
}

const char* kHead =
    "X-Forwarded-For: 6.6.6.6, 203.0.113.7\r\nX-Request-Id: rid-1\r\nX-Test-User: 1\r\n"
    "Referer: https://example.com/a\"b\r\nUser-Agent: agent/1.0 caf\xC3\xA9 \xFF\r\n";

// Logged: a request the test sends and the status it must get.
struct Logged {
  std::string line;
  std::string head;
  int status;
};

class AccessLogTest : public cogo_test::ServeModelTest {
 protected:
  cogo_test::TempDir dir{"cogo_access_log"};

  // log_of() serves requests, each on a fresh connection, with the log in
  // format, and returns the log file's lines once the server has stopped.
  std::vector<std::string> log_of(AccessLogFormat format, const std::vector<Logged>& requests) {
    const fs::path file = dir.path / "access.log";
    auto log = open_log(file, format);
    {
      ServedServer s(GetParam(), routes(log));
      for (const auto& r : requests) EXPECT_EQ(send(s, r.line, r.head).status, r.status) << r.line;
    }
    log->flush();
    return lines_of(file);
  }
};
INSTANTIATE_TEST_SUITE_P(Models, AccessLogTest, cogo_test::kServeModels,
                         cogo_test::serve_model_param_name);

TEST_P(AccessLogTest, CombinedIsApachesFormatEscaped) {
  const auto lines = log_of(
      AccessLogFormat::combined,
      {{"GET /users/7?q=%22", kHead, 200}, {"GET /empty", "", 204}, {"GET /missing", "", 404}});
  ASSERT_EQ(lines.size(), 3u);
  const std::regex time(R"(\[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\])");
  for (const auto& l : lines) EXPECT_TRUE(std::regex_search(l, time)) << l;
  const std::string t = "[TIME]";
  // Lines written from different threads may come in another order within
  // a batch (log_writer.h): compared as a set.
  std::set<std::string> untimed;
  for (const auto& l : lines) untimed.insert(std::regex_replace(l, time, t));
  EXPECT_EQ(untimed, (std::set<std::string>{
                         "203.0.113.7 - ann \\\"a\\\" [TIME] \"GET /users/7?q=%22 HTTP/1.1\" 200 5 "
                         "\"https://example.com/a\\\"b\" \"agent/1.0 caf\\xc3\\xa9 \\xff\"",
                         "127.0.0.1 - - [TIME] \"GET /empty HTTP/1.1\" 204 - \"-\" \"-\"",
                         "127.0.0.1 - - [TIME] \"GET /missing HTTP/1.1\" 404 10 \"-\" \"-\""}));
}

TEST_P(AccessLogTest, CommonStopsAfterTheBytes) {
  const auto lines = log_of(AccessLogFormat::common, {{"GET /users/7", kHead, 200}});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(std::regex_match(
      lines[0],
      std::regex(R"(203\.0\.113\.7 - ann \\"a\\" \[[^\]]+\] "GET /users/7 HTTP/1\.1" 200 5)")))
      << lines[0];
}

TEST_P(AccessLogTest, JsonHasEveryFieldAndIsValidUtf8) {
  const auto lines = log_of(AccessLogFormat::json,
                            {{"GET /users/7?q=%22", kHead, 200}, {"GET /missing", "", 404}});
  ASSERT_EQ(lines.size(), 2u);
  // Either order (log_writer.h); parse() throws on invalid JSON or UTF-8.
  const bool first = lines[0].find("/users/7") != std::string::npos;
  const auto j = nlohmann::json::parse(lines[first ? 0 : 1]);
  EXPECT_TRUE(std::regex_match(j.at("time").get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
      << j.at("time");
  EXPECT_EQ(j.at("remote_addr"), "203.0.113.7");
  EXPECT_EQ(j.at("user"), "ann \"a\"");
  EXPECT_EQ(j.at("method"), "GET");
  EXPECT_EQ(j.at("target"), "/users/7?q=%22");
  EXPECT_EQ(j.at("protocol"), "HTTP/1.1");
  EXPECT_EQ(j.at("status"), 200);
  EXPECT_EQ(j.at("bytes"), 5);
  EXPECT_GE(j.at("duration_ms").get<double>(), 0.0);
  EXPECT_EQ(j.at("request_id"), "rid-1");
  EXPECT_EQ(j.at("route"), "/users/:id");
  EXPECT_EQ(j.at("referer"), "https://example.com/a\"b");
  EXPECT_EQ(j.at("user_agent"), "agent/1.0 caf\u00e9 \ufffd");
  const auto k = nlohmann::json::parse(lines[first ? 1 : 0]);
  EXPECT_EQ(k.at("status"), 404);
  EXPECT_TRUE(k.at("route").is_null());
  EXPECT_TRUE(k.at("user").is_null());
  EXPECT_TRUE(k.at("referer").is_null());
  EXPECT_FALSE(k.at("request_id").get<std::string>().empty());
}

TEST_P(AccessLogTest, TextHasTheIdAndTheRoute) {
  const auto lines = log_of(AccessLogFormat::text, {{"GET /users/7", kHead, 200}});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(std::regex_match(
      lines[0],
      std::regex(
          R"(\S+Z 203\.0\.113\.7 "GET /users/7 HTTP/1\.1" 200 5 \d+\.\d{3}ms rid-1 /users/:id)")))
      << lines[0];
}

TEST_P(AccessLogTest, AClientThatLeftIs499) {
  const fs::path file = dir.path / "access.log";
  auto log = open_log(file, AccessLogFormat::combined);
  {
    ServedServer s(GetParam(), routes(log));
    ASSERT_TRUE(cogo_test::leave_once_waiting(s.port, "/wait", g_waiting));
    std::vector<std::string> lines;
    for (int i = 0; i < 200 && lines.empty(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      log->flush();
      lines = lines_of(file);
    }
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_NE(lines[0].find("\"GET /wait HTTP/1.1\" 499 - "), std::string::npos) << lines[0];
  }
}

TEST_P(AccessLogTest, TheFileRotates) {
  const fs::path file = dir.path / "access.log";
  auto log = open_log(file, AccessLogFormat::combined, 4096, 2);
  {
    ServedServer s(GetParam(), routes(log));
    Client c(cogo_test::connect_to(s.port));
    for (int round = 0; round < 6; ++round) {
      for (int i = 0; i < 40; ++i) {  // ~4 KB of lines
        c.send("GET /users/" + std::to_string(i) + " HTTP/1.1\r\nHost: h\r\n\r\n");
        c.read_response();
      }
      log->flush();  // one batch per round: rotation happens between batches
    }
  }
  EXPECT_TRUE(fs::exists(dir.path / "access.log"));
  EXPECT_TRUE(fs::exists(dir.path / "access.1.log"));
  EXPECT_TRUE(fs::exists(dir.path / "access.2.log"));
  EXPECT_FALSE(fs::exists(dir.path / "access.3.log"));
  for (const char* name : {"access.log", "access.1.log", "access.2.log"}) {
    EXPECT_LE(fs::file_size(dir.path / name), 4096u) << name;
  }
}

// A log file nobody drains (a FIFO whose reader never reads): the writer
// thread blocks in write(2), lines beyond the buffer are dropped and
// counted, and every request is still answered, with one P.
TEST_P(AccessLogTest, AStuckDiskNeverStallsARequest) {
  const fs::path fifo = dir.path / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);  // so the writer's open returns
  ASSERT_GE(reader, 0);
  AccessLogOptions o;
  o.format = AccessLogFormat::combined;
  o.file = fifo.string();
  o.max_file_bytes = 0;
  o.max_buffered_bytes = 16 * 1024;
  o.flush_interval = std::chrono::milliseconds(10);
  auto log = std::make_shared<AccessLog>(o);
  {
    ServedServer s(GetParam(), routes(log));
    Client c(cogo_test::connect_to(s.port));
    const std::string pad(200, 'x');
    for (int i = 0; i < 3000; ++i) {  // ~1 MB of lines against a 64 KB pipe
      c.send("GET /users/" + std::to_string(i) + "?" + pad + " HTTP/1.1\r\nHost: h\r\n\r\n");
      ASSERT_EQ(c.read_response().status, 200) << i;
    }
  }
  EXPECT_GT(log->dropped(), 0u);
  // Drain the FIFO so that the writer thread can finish and be joined.
  std::atomic<bool> done{false};
  std::thread drain([&] {
    char buf[65536];
    while (!done) {
      if (::read(reader, buf, sizeof buf) <= 0)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  log.reset();
  done = true;
  drain.join();
  ::close(reader);
}

TEST(AccessLogOptions, BadOnesAreNamed) {
  EXPECT_EQ(parse_access_log_format("json"), AccessLogFormat::json);
  try {
    parse_access_log_format("xml");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("'xml'"), std::string::npos);
  }
  // Missing directories are made (spdlog's file helper), so the one that
  // cannot be is under a regular file.
  cogo_test::TempDir dir{"cogo_access_log"};
  std::ofstream(dir.path / "plain") << "x";
  AccessLogOptions o;
  o.file = (dir.path / "plain" / "access.log").string();
  try {
    AccessLog log(o);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(o.file), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace cogo::middleware
