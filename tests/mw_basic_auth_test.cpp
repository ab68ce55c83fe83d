// middleware::basic_auth through a real Server in every model, with curl
// and raw sockets: RFC 7617's challenge and credentials, hashes of every
// method the file takes (made by libxcrypt and by `openssl passwd`), the
// 400s, the cache of passed checks, that a slow check never holds the P,
// and the errors of a bad users file.
#include "cogo/middleware/basic_auth.h"

#include <crypt.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "cogo/http/request.h"
#include "cogo/http/response.h"
#include "http_test_util.h"
#include "support/served_server.h"
#include "support/server_process.h"

namespace cogo::middleware {
namespace {

namespace fs = std::filesystem;
using cogo_test::ServedServer;
using http::testing::Client;

// hash() is crypt(3) of password with a new salt of prefix (and cost).
std::string hash(const std::string& password, const char* prefix, unsigned long cost = 0) {
  char* setting = crypt_gensalt_ra(prefix, cost, nullptr, 0);
  EXPECT_NE(setting, nullptr) << prefix;
  void* data = nullptr;
  int size = 0;
  const std::string out = crypt_ra(password.c_str(), setting, &data, &size);
  std::free(setting);
  std::free(data);
  return out;
}

struct UsersFile {
  fs::path dir;
  fs::path path;
  explicit UsersFile(const std::string& text) {
    char tmpl[] = "/tmp/cogo_basic_auth_XXXXXX";
    dir = ::mkdtemp(tmpl);
    path = dir / "users";
    std::ofstream(path) << text;
  }
  ~UsersFile() { fs::remove_all(dir); }
};

// The users: one per method, and one whose hash `openssl passwd -6` made.
const UsersFile& users() {
  static const UsersFile file = [] {
    int st = 0;
    std::string openssl = cogo_test::sh("openssl passwd -6 -salt 0123456789abcdef 'o p=n'", &st);
    EXPECT_EQ(st, 0) << openssl;
    while (!openssl.empty() && openssl.back() == '\n') openssl.pop_back();
    return UsersFile(
        "# the test's users\n\n"
        "ann:" +
        hash("ann's secret", "$y$") +
        "\n"
        "bob:" +
        hash("b:o:b", "$2b$", 5) +
        "\n"
        "cho:" +
        hash("caf\xC3\xA9", "$6$") +
        "\r\n"
        "dee:" +
        openssl + "\n");
  }();
  return file;
}

std::function<void(http::Server&)> routes(std::shared_ptr<BasicAuth> auth) {
  return [auth](http::Server& s) {
    s.router().get("/public", [auth](http::Request&, http::Response& res) {
      res.text(200, "checks in flight: " + std::to_string(auth->checks_in_flight()));
    });
    s.router().group("/private", [auth](http::Router& r) {
      r.use(auth->middleware());
      r.get("/", [](http::Request& req, http::Response& res) {
        const auto* u = req.value<AuthenticatedUser>();
        res.text(200, "hello " + std::string(u != nullptr ? u->name : "?"));
      });
    });
  };
}

std::shared_ptr<BasicAuth> make_auth(std::chrono::seconds ttl = std::chrono::seconds(300)) {
  BasicAuthOptions o;
  o.realm = "the \"admin\" area";
  o.users_file = users().path.string();
  o.cache_ttl = ttl;
  return std::make_shared<BasicAuth>(o);
}

const std::string kChallenge = "Basic realm=\"the \\\"admin\\\" area\", charset=\"UTF-8\"";

class BasicAuthTest : public cogo_test::ServeModelTest {};
INSTANTIATE_TEST_SUITE_P(Models, BasicAuthTest, cogo_test::kServeModels,
                         cogo_test::serve_model_param_name);

TEST_P(BasicAuthTest, RightCredentialsOfEveryMethodPass) {
  auto auth = make_auth();
  ServedServer s(GetParam(), routes(auth));
  int st = 0;
  // curl encodes user:password as RFC 7617 2 says (UTF-8 bytes as given).
  EXPECT_EQ(cogo_test::sh("curl -sS -u \"ann:ann's secret\" " + s.url + "/private/", &st),
            "hello ann");
  EXPECT_EQ(cogo_test::sh("curl -sS -u 'bob:b:o:b' " + s.url + "/private/", &st), "hello bob");
  EXPECT_EQ(cogo_test::sh("curl -sS -u 'cho:caf\xC3\xA9' " + s.url + "/private/", &st),
            "hello cho");
  EXPECT_EQ(cogo_test::sh("curl -sS -u 'dee:o p=n' " + s.url + "/private/", &st), "hello dee");
  // The scheme is case-insensitive (RFC 9110 11.1); spaces may follow it.
  Client c(cogo_test::connect_to(s.port));
  c.send("GET /private/ HTTP/1.1\r\nHost: h\r\nAuthorization: bAsIc   Ym9iOmI6bzpi\r\n\r\n");
  EXPECT_EQ(c.read_response().body, "hello bob");
}

// RFC 7617 2 and 2.1 (RFC 9110 11.6.1): 401 with the challenge, realm
// quoted, charset="UTF-8".
TEST_P(BasicAuthTest, WrongOrMissingCredentialsAre401WithTheChallenge) {
  auto auth = make_auth();
  ServedServer s(GetParam(), routes(auth));
  Client c(cogo_test::connect_to(s.port));
  for (const std::string& head :
       {std::string(""), std::string("Authorization: Basic YW5uOndyb25n\r\n"),  // ann:wrong
        std::string("Authorization: Basic bm9ib2R5Onh4\r\n"),                   // nobody:xx
        std::string("Authorization: Bearer YW5uOndyb25n\r\n"),                  // another scheme
        std::string("Authorization: Basic\r\n")}) {
    c.send("GET /private/ HTTP/1.1\r\nHost: h\r\n" + head + "\r\n");
    auto r = c.read_response();
    EXPECT_EQ(r.status, 401) << head;
    EXPECT_EQ(r.header("WWW-Authenticate"), kChallenge) << head;
    EXPECT_EQ(r.body, "Unauthorized\n");
  }
  // The password is not echoed and the public route is untouched.
  c.send("GET /public HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(c.read_response().status, 200);
}

// RFC 9110 11.6.2: invalid credentials get the 401 and the challenge,
// malformed ones too (the reason in the body): not base64 (RFC 7617 2,
// RFC 4648 4), no ':' (RFC 7617 2), a control character in the user-id
// or password (RFC 7617 2: MUST NOT), not UTF-8 after charset="UTF-8"
// (RFC 7617 2.1). No crypt(3) runs for any of them.
TEST_P(BasicAuthTest, MalformedCredentialsAre401WithTheReason) {
  auto auth = make_auth();
  ServedServer s(GetParam(), routes(auth));
  const struct {
    const char* token;
    const char* reason;
  } cases[] = {
      {"YW5u", "no ':' after the user-id"},                  // "ann"
      {"YW5uOn!4", "not base64"},                            // '!'
      {"YW5uOng=x", "not base64"},                           // data after padding
      {"YW5uOnh", "not base64"},                             // no padding
      {"YW5uOnQJYWI=", "a control character (RFC 7617 2)"},  // "ann:t\tab"
      {"YQFubjp4", "a control character (RFC 7617 2)"},      // "a\x01nn:x"
      {"YW5uOmNhZuk=", "not UTF-8 (RFC 7617 2.1)"},          // "ann:caf\xe9" (Latin-1)
  };
  for (const auto& c : cases) {
    Client client(cogo_test::connect_to(s.port));
    client.send("GET /private/ HTTP/1.1\r\nHost: h\r\nAuthorization: Basic " +
                std::string(c.token) + "\r\n\r\n");
    auto r = client.read_response();
    EXPECT_EQ(r.status, 401) << c.token;
    EXPECT_EQ(r.header("WWW-Authenticate"), kChallenge) << c.token;
    EXPECT_NE(r.body.find(c.reason), std::string::npos) << c.token << ": " << r.body;
  }
  EXPECT_EQ(auth->checks(), 0u);
}

// RFC 9110 5.3, 11.6.2: Authorization is no list; two of them are a 400.
TEST_P(BasicAuthTest, TwoAuthorizationFieldsAre400) {
  auto auth = make_auth();
  ServedServer s(GetParam(), routes(auth));
  Client c(cogo_test::connect_to(s.port));
  c.send(
      "GET /private/ HTTP/1.1\r\nHost: h\r\nAuthorization: Basic Ym9iOmI6bzpi\r\n"
      "Authorization: Basic Ym9iOmI6bzpi\r\n\r\n");
  auto r = c.read_response();
  EXPECT_EQ(r.status, 400);
  EXPECT_FALSE(r.has_header("WWW-Authenticate"));
}

// A check that passed is remembered (one crypt for many requests); a
// failed one never is.
TEST_P(BasicAuthTest, PassedChecksAreCachedFailedOnesNot) {
  auto auth = make_auth();
  ServedServer s(GetParam(), routes(auth));
  Client c(cogo_test::connect_to(s.port));
  auto get = [&](const std::string& credentials) {
    c.send("GET /private/ HTTP/1.1\r\nHost: h\r\nAuthorization: Basic " + credentials + "\r\n\r\n");
    return c.read_response().status;
  };
  for (int i = 0; i < 5; ++i) EXPECT_EQ(get("Ym9iOmI6bzpi"), 200);  // bob:b:o:b
  EXPECT_EQ(auth->checks(), 1u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(get("Ym9iOmI6bzp4"), 401);  // bob:b:o:x
  EXPECT_EQ(auth->checks(), 4u);
  EXPECT_EQ(get("Ym9iOmI6bzpi"), 200);  // the right one is still cached
  EXPECT_EQ(auth->checks(), 4u);
}

TEST_P(BasicAuthTest, WithoutACacheEveryRequestPays) {
  auto uncached = make_auth(std::chrono::seconds(0));
  ServedServer t(GetParam(), routes(uncached));
  Client d(cogo_test::connect_to(t.port));
  for (int i = 0; i < 3; ++i) {
    d.send("GET /private/ HTTP/1.1\r\nHost: h\r\nAuthorization: Basic Ym9iOmI6bzpi\r\n\r\n");
    EXPECT_EQ(d.read_response().status, 200);
  }
  EXPECT_EQ(uncached->checks(), 3u);
}

// crypt(3) runs in cogo::blocking(): with one P, another request is served
// while a slow check runs (it sees the check in flight).
TEST_P(BasicAuthTest, ASlowCheckDoesNotHoldTheP) {
  BasicAuthOptions o;
  o.users = {{"slow", hash("pw", "$2b$", 12)}};  // bcrypt at cost 12: hundreds of ms
  o.cache_ttl = std::chrono::seconds(0);
  auto auth = std::make_shared<BasicAuth>(o);
  ServedServer s(GetParam(), routes(auth));
  Client slow(cogo_test::connect_to(s.port));
  slow.send("GET /private/ HTTP/1.1\r\nHost: h\r\nAuthorization: Basic c2xvdzpwdw==\r\n\r\n");
  for (int i = 0; i < 60000 && auth->checks_in_flight() == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_EQ(auth->checks_in_flight(), 1u);
  Client c(cogo_test::connect_to(s.port));
  c.send("GET /public HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(c.read_response().body, "checks in flight: 1");
  EXPECT_EQ(slow.read_response(false, 60000).body, "hello slow");
}

TEST(BasicAuthFile, BadEntriesAreNamedWithTheirLine) {
  auto error_of = [](const std::string& text) -> std::string {
    UsersFile f(text);
    BasicAuthOptions o;
    o.users_file = f.path.string();
    try {
      BasicAuth a(o);
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "no error";
  };
  const std::string good = "ann:" + hash("x", "$6$") + "\n";
  EXPECT_NE(error_of(good + "bob\n").find("users:2: not \"name:hash\""), std::string::npos);
  EXPECT_NE(error_of(good + "bob:$1$abc$defghijklmnopqrstuvwxy\n")
                .find("users:2: user bob has a legacy hash"),
            std::string::npos);
  EXPECT_NE(error_of(good + "bob:$apr1$x$y\n").find("$apr1$"), std::string::npos);
  // "!x" (a locked account's mark) is no crypt(3) setting; "plain" would
  // read as a DES salt ("pl") and be refused as legacy.
  EXPECT_NE(error_of(good + "bob:!locked\n").find("users:2: user bob has no crypt(3) hash"),
            std::string::npos);
  EXPECT_NE(error_of(good + "bob:plain\n").find("users:2: user bob has a legacy hash"),
            std::string::npos);
  EXPECT_NE(error_of(good + good).find("users:2: user ann appears twice"), std::string::npos);
  EXPECT_NE(error_of("# nobody\n").find("no users"), std::string::npos);
  BasicAuthOptions o;
  o.users_file = "/nonexistent/users";
  EXPECT_THROW(BasicAuth{o}, std::invalid_argument);
  o.users_file.clear();
  o.users = {{"a", hash("x", "$6$")}};
  o.realm = "bad\nrealm";
  EXPECT_THROW(BasicAuth{o}, std::invalid_argument);
}

}  // namespace
}  // namespace cogo::middleware
