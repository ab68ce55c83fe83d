// middleware::request_id through a real Server in every model: a sane
// incoming X-Request-Id is kept, anything else replaced by a new id of the
// documented form, unique per request and per process (a forked child
// draws its own prefix); the id is on the response (a streamed one too)
// and a request value the handler reads.
#include "cogo/middleware/request_id.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <regex>
#include <set>

#include "cogo/http/request.h"
#include "cogo/http/response.h"
#include "http_test_util.h"
#include "support/served_server.h"
#include "support/server_process.h"

namespace cogo::middleware {
namespace {

using cogo_test::ServedServer;
using http::testing::Client;

const std::regex kGenerated("[0-9a-hjkmnp-tv-z]{13}-[0-9a-f]{12}");

void routes(http::Server& s, RequestIdOptions o = {}) {
  s.use(request_id(std::move(o)));
  s.router().get("/", [](http::Request& req, http::Response& res) {
    res.text(200, std::string(request_id_of(req)));
  });
  s.router().get("/stream", [](http::Request& req, http::Response& res) {
    res.write("part ");
    res.flush();  // the head is out: the field went with it
    res.write(std::string(request_id_of(req)));
  });
}

// get() sends one request with extra head lines on a fresh connection.
Client::Response get(const ServedServer& s, const std::string& path, const std::string& head = "") {
  const int fd = cogo_test::connect_to(s.port);
  Client c(fd);
  c.send("GET " + path + " HTTP/1.1\r\nHost: h\r\n" + head + "\r\n");
  return c.read_response();
}

class RequestIdTest : public cogo_test::ServeModelTest {};
INSTANTIATE_TEST_SUITE_P(Models, RequestIdTest, cogo_test::kServeModels,
                         cogo_test::serve_model_param_name);

TEST_P(RequestIdTest, MakesAnIdOfTheDocumentedFormUniquePerRequest) {
  ServedServer s(GetParam(), [](http::Server& s) { routes(s); });
  std::set<std::string> seen;
  const int fd = cogo_test::connect_to(s.port);
  Client c(fd);
  for (int i = 0; i < 200; ++i) {
    c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    auto r = c.read_response();
    const std::string id = r.header("X-Request-Id");
    EXPECT_TRUE(std::regex_match(id, kGenerated)) << id;
    EXPECT_EQ(r.body, id);  // the handler reads the same id
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 200u);
  // curl, on its own connections: a prefix per process, a counter per id.
  int st = 0;
  const std::string a = cogo_test::sh("curl -sS " + s.url + "/", &st);
  const std::string b = cogo_test::sh("curl -sS " + s.url + "/", &st);
  ASSERT_TRUE(std::regex_match(a, kGenerated)) << a;
  EXPECT_NE(a, b);
  EXPECT_EQ(a.substr(0, 13), b.substr(0, 13));
}

TEST_P(RequestIdTest, KeepsASaneIncomingIdAndReplacesAnyOther) {
  ServedServer s(GetParam(), [](http::Server& s) { routes(s); });
  const std::string longest(RequestId::kMaxLength, 'a');
  for (const std::string& sane : {std::string("abc-123"), std::string("~!{}\"'<>"), longest}) {
    auto r = get(s, "/", "X-Request-Id: " + sane + "\r\n");
    EXPECT_EQ(r.header("X-Request-Id"), sane);
    EXPECT_EQ(r.body, sane);
  }
  for (const std::string& insane : {longest + "a", std::string("a b"), std::string("a\tb"),
                                    std::string("caf\xC3\xA9"), std::string("")}) {
    auto r = get(s, "/", "X-Request-Id: " + insane + "\r\n");
    EXPECT_TRUE(std::regex_match(r.header("X-Request-Id"), kGenerated))
        << "[" << insane << "] -> " << r.header("X-Request-Id");
  }
}

TEST_P(RequestIdTest, UntrustedIncomingIdsAreReplacedAndOtherHeaderNamesWork) {
  RequestIdOptions o;
  o.header = "X-Trace";
  o.trust_incoming = false;
  ServedServer s(GetParam(), [o](http::Server& s) { routes(s, o); });
  auto r = get(s, "/", "X-Trace: mine\r\n");
  EXPECT_TRUE(std::regex_match(r.header("X-Trace"), kGenerated)) << r.header("X-Trace");
  EXPECT_FALSE(r.has_header("X-Request-Id"));
}

TEST_P(RequestIdTest, AStreamedResponseCarriesTheId) {
  ServedServer s(GetParam(), [](http::Server& s) { routes(s); });
  auto r = get(s, "/stream");
  EXPECT_TRUE(r.chunked);
  EXPECT_EQ(r.body, "part " + r.header("X-Request-Id"));
}

TEST(RequestId, AForkedChildDrawsItsOwnPrefix) {
  char parent[32];
  const std::size_t n = new_request_id(parent);
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    char child[32];
    const std::size_t m = new_request_id(child);
    _exit(::write(fds[1], child, m) == static_cast<ssize_t>(m) ? 0 : 1);
  }
  ::close(fds[1]);
  char child[32] = {};
  const ssize_t got = ::read(fds[0], child, sizeof child);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_EQ(got, static_cast<ssize_t>(n));
  EXPECT_NE(std::string(parent, 13), std::string(child, 13));
}

TEST(RequestId, ABadHeaderNameIsRefused) {
  RequestIdOptions o;
  o.header = "X Request";
  EXPECT_THROW(request_id(o), std::invalid_argument);
}

}  // namespace
}  // namespace cogo::middleware
