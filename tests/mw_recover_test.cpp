// middleware::recover through a real Server in every model: a bug becomes
// a 500 and one log line (request id, method, target, type, message), the
// fields set before recover survive it and the handler's do not, a bug
// after the head went out closes the connection, and HttpError, Cancelled
// and the keep-alive connection go their usual ways.
#include "cogo/middleware/recover.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <sstream>

#include "cogo/http/error.h"
#include "cogo/http/request.h"
#include "cogo/http/response.h"
#include "cogo/middleware/access_log.h"
#include "cogo/middleware/request_id.h"
#include "cogo/runtime.h"
#include "http_test_util.h"
#include "spdlog/sinks/ostream_sink.h"
#include "spdlog/spdlog.h"
#include "support/served_server.h"
#include "support/server_process.h"

namespace cogo::middleware {
namespace {

using cogo_test::ServedServer;
using http::testing::Client;

// CapturedLog: an spdlog logger named name whose lines the test reads.
class CapturedLog {
 public:
  explicit CapturedLog(const std::string& name) : name_(name) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    sink->set_pattern("%l %v");
    auto logger = std::make_shared<spdlog::logger>(name, sink);
    logger->set_level(spdlog::level::debug);
    spdlog::drop(name);
    spdlog::register_logger(logger);
  }
  ~CapturedLog() { spdlog::drop(name_); }
  std::string text() {
    spdlog::get(name_)->flush();
    return out_.str();
  }

 private:
  std::string name_;
  std::ostringstream out_;
};

// g_waiting counts the requests that reached /wait's handler.
std::atomic<int> g_waiting{0};

void routes(http::Server& s) {
  s.use(request_id());
  s.use(access_log("recover_test"));
  s.use([](http::Request& req, http::Response& res, const http::Next& next) {
    res.set_header("X-Outer", "kept");  // set before recover runs
    next(req, res);
  });
  s.use(recover("recover_test"));
  auto& r = s.router();
  r.get("/bug", [](http::Request&, http::Response& res) {
    res.set_header("X-Handler", "dropped");
    res.set_header("Content-Type", "application/json");
    res.write("{\"half\":");
    throw std::out_of_range("vector::at: index 7");
  });
  r.get("/int", [](http::Request&, http::Response&) { throw 42; });
  r.get("/replaced", [](http::Request&, http::Response& res) {
    res.set_header("X-Outer", "changed");  // replaces a field set before recover
    throw std::runtime_error("after a replace");
  });
  r.get("/late", [](http::Request&, http::Response& res) {
    res.write("started");
    res.flush();
    throw std::logic_error("too late");
  });
  r.get("/teapot",
        [](http::Request&, http::Response&) { throw http::HttpError(418, "short and stout"); });
  r.get("/unavailable",
        [](http::Request&, http::Response&) { throw http::HttpError(503, "database down"); });
  r.get("/wait", [](http::Request&, http::Response& res) {
    ++g_waiting;
    cogo::sleep_for(std::chrono::seconds(30));  // the client leaves first
    res.text(200, "late");
  });
  r.get("/ok", [](http::Request&, http::Response& res) { res.text(200, "ok"); });
}

class RecoverTest : public cogo_test::ServeModelTest {
 protected:
  CapturedLog log{"recover_test"};
};
INSTANTIATE_TEST_SUITE_P(Models, RecoverTest, cogo_test::kServeModels,
                         cogo_test::serve_model_param_name);

TEST_P(RecoverTest, ABugIsA500AndOneLogLine) {
  ServedServer s(GetParam(), routes);
  Client c(cogo_test::connect_to(s.port));
  c.send("GET /bug?x=1 HTTP/1.1\r\nHost: h\r\nX-Request-Id: req-1\r\n\r\n");
  auto r = c.read_response();
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body, "Internal Server Error\n");
  EXPECT_EQ(r.header("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(r.header("X-Outer"), "kept");
  EXPECT_FALSE(r.has_header("X-Handler"));
  EXPECT_EQ(r.header("X-Request-Id"), "req-1");
  // The connection goes on.
  c.send("GET /ok HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(c.read_response().body, "ok");
  const std::string text = log.text();
  EXPECT_NE(text.find("error recovered: request_id=req-1 GET /bug?x=1: std::out_of_range: "
                      "vector::at: index 7\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("\"GET /bug?x=1 HTTP/1.1\" 500 22 "), std::string::npos) << text;
}

TEST_P(RecoverTest, ANonStandardExceptionNamesItsType) {
  ServedServer s(GetParam(), routes);
  Client c(cogo_test::connect_to(s.port));
  c.send("GET /int HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(c.read_response().status, 500);
  const std::string text = log.text();
  EXPECT_NE(text.find(" GET /int: int: (not a std::exception)"), std::string::npos) << text;
}

TEST_P(RecoverTest, AReplacedOuterFieldClearsThemAllButTheIdComesBack) {
  ServedServer s(GetParam(), routes);
  Client c(cogo_test::connect_to(s.port));
  c.send("GET /replaced HTTP/1.1\r\nHost: h\r\n\r\n");
  auto r = c.read_response();
  EXPECT_EQ(r.status, 500);
  EXPECT_FALSE(r.has_header("X-Outer"));
  EXPECT_FALSE(r.header("X-Request-Id").empty());
}

TEST_P(RecoverTest, ABugAfterTheHeadClosesTheConnection) {
  ServedServer s(GetParam(), routes);
  Client c(cogo_test::connect_to(s.port));
  c.send("GET /late HTTP/1.1\r\nHost: h\r\n\r\n");
  const std::string head = c.read_until("\r\n\r\n");
  EXPECT_EQ(head.rfind("HTTP/1.1 200", 0), 0u) << head;
  const std::string rest = c.read_all();
  // The chunked body never ends: no last chunk, then the close.
  EXPECT_NE(rest.find("started"), std::string::npos);
  EXPECT_EQ(rest.find("0\r\n\r\n"), std::string::npos) << rest;
  EXPECT_TRUE(c.eof());
  const std::string text = log.text();
  EXPECT_NE(text.find("GET /late: std::logic_error: too late"), std::string::npos) << text;
}

TEST_P(RecoverTest, HttpErrorsKeepTheirStatusAndOnly5xxAreErrors) {
  ServedServer s(GetParam(), routes);
  Client c(cogo_test::connect_to(s.port));
  c.send("GET /teapot HTTP/1.1\r\nHost: h\r\n\r\n");
  auto r = c.read_response();
  EXPECT_EQ(r.status, 418);
  EXPECT_EQ(r.body, "short and stout\n");
  c.send("GET /unavailable HTTP/1.1\r\nHost: h\r\n\r\n");
  r = c.read_response();
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "database down\n");
  const std::string text = log.text();
  EXPECT_NE(text.find("debug recovered: request_id="), std::string::npos) << text;
  EXPECT_NE(text.find("GET /teapot: cogo::http::HttpError: short and stout"), std::string::npos)
      << text;
  EXPECT_NE(text.find("error recovered: request_id="), std::string::npos) << text;
  EXPECT_NE(text.find("GET /unavailable: cogo::http::HttpError: database down"), std::string::npos)
      << text;
  EXPECT_NE(text.find("\"GET /teapot HTTP/1.1\" 418 "), std::string::npos) << text;
}

TEST_P(RecoverTest, ACancelledRequestIsNoError) {
  ServedServer s(GetParam(), routes);
  ASSERT_TRUE(cogo_test::leave_once_waiting(s.port, "/wait", g_waiting));
  std::string text;
  for (int i = 0; i < 200 && text.find("\" 499 ") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    text = log.text();
  }
  EXPECT_NE(text.find("\"GET /wait HTTP/1.1\" 499 "), std::string::npos) << text;
  EXPECT_EQ(text.find("error recovered"), std::string::npos) << text;
}

TEST(Recover, AnUnknownLoggerIsNamed) {
  try {
    recover("no_such_logger");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_logger"), std::string::npos);
  }
}

}  // namespace
}  // namespace cogo::middleware
