// middleware::basic_auth through a real Server in every model, with curl,
// Python's http.client and raw sockets: RFC 7617's challenge and
// credentials, hashes of every method the file takes (made by libxcrypt,
// by `openssl passwd`, and {SSHA256} by openssl rand + dgst), RFC 8265's
// PRECIS profiles on user-ids and passwords (RFC 7617 2.1), the 400s, the
// cache of passed checks, that a slow check never holds the P, and the
// errors of a bad users file.
#include "cogo/middleware/basic_auth.h"

#include <crypt.h>
#include <gtest/gtest.h>
#include <malloc.h>
#include <string.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <new>

#include "cogo/http/request.h"
#include "cogo/http/response.h"
#include "http_test_util.h"
#include "support/served_server.h"
#include "support/server_process.h"

// FreedSecrets: while armed, every block freed through operator delete
// (every std::string, std::vector, ... in this process: the in-process
// server's included) is searched for a secret before it goes back to the
// heap, in UTF-8, UTF-16LE and UTF-32LE (the encodings the PRECIS code
// holds a password in). Sanitizer builds keep their own operator new and
// delete: the test that uses this skips there.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define COGO_FREED_SECRETS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define COGO_FREED_SECRETS 0
#endif
#endif
#ifndef COGO_FREED_SECRETS
#define COGO_FREED_SECRETS 1
#endif

namespace freed_secrets {
constexpr int kForms = 3;
struct Needle {
  char bytes[256];
  std::size_t size;
};
Needle needles[kForms];
std::atomic<bool> armed{false};
std::atomic<int> found[kForms];
std::atomic<std::size_t> found_block_size{0};

// arm() takes an ASCII secret; its three forms are built without the heap.
void arm(std::string_view ascii) {
  for (int f = 0; f < kForms; ++f) {
    const std::size_t width = f == 0 ? 1 : f == 1 ? 2 : 4;
    needles[f].size = ascii.size() * width;
    std::memset(needles[f].bytes, 0, sizeof needles[f].bytes);
    for (std::size_t i = 0; i < ascii.size(); ++i) needles[f].bytes[i * width] = ascii[i];
    found[f].store(0);
  }
  armed.store(true);
}
void disarm() { armed.store(false); }

void scan(void* p) noexcept {
  if (p == nullptr || !armed.load(std::memory_order_acquire)) return;
  const std::size_t n = malloc_usable_size(p);
  for (int f = 0; f < kForms; ++f) {
    if (memmem(p, n, needles[f].bytes, needles[f].size) != nullptr) {
      found[f].fetch_add(1);
      found_block_size.store(n);
    }
  }
}
}  // namespace freed_secrets

#if COGO_FREED_SECRETS
// new and delete replaced as a pair: malloc and free.
[[gnu::noinline]] void* operator new(std::size_t n) {
  if (void* p = std::malloc(n != 0 ? n : 1)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void* operator new[](std::size_t n) {
  if (void* p = std::malloc(n != 0 ? n : 1)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept {
  freed_secrets::scan(p);
  std::free(p);
}
[[gnu::noinline]] void operator delete[](void* p) noexcept {
  freed_secrets::scan(p);
  std::free(p);
}
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept {
  freed_secrets::scan(p);
  std::free(p);
}
[[gnu::noinline]] void operator delete[](void* p, std::size_t) noexcept {
  freed_secrets::scan(p);
  std::free(p);
}
#endif

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

// ssha256() is "{SSHA256}base64(SHA-256(password + salt) + salt)" made
// with the shell commands middleware/README.md gives (openssl, base64).
std::string ssha256(const std::string& password) {
  int st = 0;
  std::string out = cogo_test::sh(
      "d=$(mktemp -d) && openssl rand 16 > $d/salt && "
      "{ printf %s '" +
          password +
          "'; cat $d/salt; } | openssl dgst -sha256 -binary > $d/digest && "
          "printf '{SSHA256}%s' \"$(cat $d/digest $d/salt | base64 -w0)\"; rm -r $d",
      &st);
  EXPECT_EQ(st, 0) << out;
  return out;
}

// py_get() sends GET /private/ from Python's http.client, one connection
// per credential, with "Authorization: Basic " and the base64 of each
// user_pass's bytes as given (curl -u cannot send every byte string), and
// returns "status body" for each, in order. One interpreter for them all:
// Python's start takes seconds on a loaded machine.
std::vector<std::string> py_get(int port, const std::vector<std::string>& user_passes) {
  static const char hex[] = "0123456789abcdef";
  std::string args;
  for (const std::string& user_pass : user_passes) {
    args += " x";  // an empty user_pass is still an argument
    for (unsigned char c : user_pass) {
      args.push_back(hex[c >> 4]);
      args.push_back(hex[c & 15]);
    }
  }
  const std::string out = cogo_test::sh(
      "python3 -c 'import base64, http.client, sys\n"
      "for arg in sys.argv[2:]:\n"
      "    c = http.client.HTTPConnection(\"127.0.0.1\", int(sys.argv[1]), timeout=60)\n"
      "    c.putrequest(\"GET\", \"/private/\")\n"
      "    c.putheader(\"Authorization\", \"Basic \" + "
      "base64.b64encode(bytes.fromhex(arg[1:])).decode())\n"
      "    c.endheaders()\n"
      "    r = c.getresponse()\n"
      "    sys.stdout.write(\"%d %s\\x1e\" % (r.status, r.read().decode()))\n"
      "    c.close()' " +
      std::to_string(port) + args);
  std::vector<std::string> results;
  for (std::size_t start = 0, end; (end = out.find('\x1e', start)) != std::string::npos;
       start = end + 1) {
    results.push_back(out.substr(start, end - start));
  }
  EXPECT_EQ(results.size(), user_passes.size()) << out;
  results.resize(user_passes.size());
  return results;
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
        openssl +
        "\n"
        // {SSHA256}: salted SHA-256, from openssl rand and dgst.
        "eve:" +
        ssha256("e v=e") +
        "\n"
        // RFC 8265 3.4.2: the name written decomposed (e, U+0301), the
        // hash of the password's enforced (NFC) form.
        "jose\xCC\x81:" +
        ssha256("p\xC3\xA2t\xC3\xA9") + "\n");
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

// {SSHA256} entries: the right password passes, a wrong one or another
// user's is refused.
TEST_P(BasicAuthTest, SaltedSha256EntriesPassAndRefuse) {
  auto auth = make_auth();
  ServedServer s(GetParam(), routes(auth));
  int st = 0;
  EXPECT_EQ(cogo_test::sh("curl -sS -u 'eve:e v=e' " + s.url + "/private/", &st), "hello eve");
  EXPECT_EQ(
      cogo_test::sh("curl -sS -o /dev/null -w '%{http_code}' -u 'eve:e v=x' " + s.url + "/private/",
                    &st),
      "401");
  EXPECT_EQ(cogo_test::sh("curl -sS -o /dev/null -w '%{http_code}' -u \"eve:ann's secret\" " +
                              s.url + "/private/",
                          &st),
            "401");
  EXPECT_EQ(auth->checks(), 3u);
  EXPECT_EQ(cogo_test::sh("curl -sS -u 'eve:e v=e' " + s.url + "/private/", &st), "hello eve");
  EXPECT_EQ(auth->checks(), 3u);  // a passed check is cached for {SSHA256} too
}

// RFC 7617 2.1, RFC 8265 3.4.2 and 4.2.2 (NFC): the file's decomposed
// name (jose + U+0301) and a client's composed one (jos + U+00E9) are one
// user, and the password matches composed or decomposed.
TEST_P(BasicAuthTest, Rfc8265NfcAndNfdNamesAndPasswordsAreOne) {
  auto auth = make_auth(std::chrono::seconds(0));
  ServedServer s(GetParam(), routes(auth));
  const std::string nfc_name = "jos\xC3\xA9";
  const std::string nfd_name = "jose\xCC\x81";
  const std::string nfc_password = "p\xC3\xA2t\xC3\xA9";
  const std::string nfd_password = "pa\xCC\x82te\xCC\x81";
  const auto got = py_get(s.port, {nfc_name + ":" + nfc_password, nfc_name + ":" + nfd_password,
                                   nfd_name + ":" + nfc_password, nfd_name + ":" + nfd_password,
                                   nfc_name + ":pate", nfd_name + ":pate"});
  for (int i = 0; i < 4; ++i) EXPECT_EQ(got[i], "200 hello " + nfc_name) << i;
  for (int i = 4; i < 6; ++i) EXPECT_EQ(got[i], "401 Unauthorized\n") << i;
  int st = 0;  // curl sends the bytes it is given: both decomposed here
  EXPECT_EQ(cogo_test::sh(
                "curl -sS -u '" + nfd_name + ":" + nfd_password + "' " + s.url + "/private/", &st),
            "hello " + nfc_name);
}

// RFC 8265 3.4.2 rule 1 (width mapping): fullwidth letters in a user-id
// are their ASCII letters; OpaqueString (4.2.2) has no width mapping, so a
// fullwidth letter in a password is another password, but a non-ASCII
// space (U+00A0, U+3000) in one is U+0020.
TEST_P(BasicAuthTest, Rfc8265FullwidthUserIdIsMapped) {
  auto auth = make_auth();
  ServedServer s(GetParam(), routes(auth));
  const std::string fullwidth_ann = "\xEF\xBD\x81\xEF\xBD\x8E\xEF\xBD\x8E";  // U+FF41 U+FF4E U+FF4E
  const auto got = py_get(s.port, {fullwidth_ann + ":ann's secret",
                                   "eve:\xEF\xBD\x85 v=e",  // U+FF45, fullwidth e
                                   "eve:e\xC2\xA0v=e", "eve:e\xE3\x80\x80v=e"});
  EXPECT_EQ(got[0], "200 hello ann");
  EXPECT_EQ(got[1], "401 Unauthorized\n");
  EXPECT_EQ(got[2], "200 hello eve");
  EXPECT_EQ(got[3], "200 hello eve");
}

// RFC 8264 4.2, 4.3, 8 and RFC 5893 2 through RFC 8265 3.4.2 and 4.2.2:
// what a profile disallows is a 401 naming the rule (never the
// credentials, never a 500), and no hash runs.
TEST_P(BasicAuthTest, Rfc8265DisallowedCredentialsAre401) {
  auto auth = make_auth();
  ServedServer s(GetParam(), routes(auth));
  const std::vector<std::pair<std::string, std::string>> cases = {
      // A C1 control (U+0085) in a password: FreeformClass's Controls (RFC 8264 9.12).
      {"eve:e\xC2\x85v", "the password (RFC 8265 4.2): a code point the FreeformClass disallows"},
      // A noncharacter (U+FDD0) in a password (RFC 8264 9.13).
      {"eve:x\xEF\xB7\x90",
       "the password (RFC 8265 4.2): a code point the FreeformClass disallows"},
      // A symbol (U+2603) in a user-id: FREE_PVAL, not in IdentifierClass (RFC 8264 4.2).
      {"a\xE2\x98\x83:x", "the user-id (RFC 8265 3.4): a code point the IdentifierClass disallows"},
      // An unassigned code point (U+0378) (RFC 8264 9.10).
      {"a\xCD\xB8:x", "the user-id (RFC 8265 3.4): an unassigned code point"},
      // ZERO WIDTH JOINER with no virama before it (RFC 5892 A.2).
      {"a\xE2\x80\x8D"
       "b:x",
       "the user-id (RFC 8265 3.4): a contextual code point out of its context"},
      // Hebrew after a Latin letter: the Bidi Rule's first condition (RFC 5893 2).
      {"a\xD7\x90:x", "the user-id (RFC 8265 3.4): fails the Bidi Rule"},
      // Empty user-id, empty password, an empty userpart (RFC 8265 3.4.2, 4.2.2, 3.5).
      {":x", "the user-id (RFC 8265 3.4): empty"},
      {"eve:", "the password (RFC 8265 4.2): empty"},
      {"ann  bob:x", "the user-id (RFC 8265 3.4): an empty userpart"},
      // Not UTF-8 (RFC 7617 2.1): an encoded surrogate, an overlong '/'.
      {"eve:\xED\xA0\x80", "not UTF-8 (RFC 7617 2.1)"},
      {"e\xC0\xAFve:x", "not UTF-8 (RFC 7617 2.1)"},
      // Neither is an error: a right-to-left user-id that keeps the Bidi
      // Rule, and a space between userparts (RFC 8265 3.5): unknown users,
      // checked like any other.
      {"\xD7\x90\xD7\x91:x", ""},
      {"ann bob:x", ""},
  };
  std::vector<std::string> user_passes;
  for (const auto& c : cases) user_passes.push_back(c.first);
  const auto got = py_get(s.port, user_passes);
  for (std::size_t i = 0; i < cases.size(); ++i) {
    if (cases[i].second.empty()) {
      EXPECT_EQ(got[i], "401 Unauthorized\n") << i;
      continue;
    }
    EXPECT_EQ(got[i].rfind("401 Unauthorized: malformed Basic credentials: ", 0), 0u) << got[i];
    EXPECT_NE(got[i].find(cases[i].second), std::string::npos) << got[i];
  }
  EXPECT_EQ(auth->checks(), 2u);
}

// A password a client sent is wiped from every heap block it passed
// through before the block is freed (middleware/src/wiping.h): the decoded
// credentials, the PRECIS profile's code points and UTF-16 (RFC 8265 4.2),
// the crypt(3) phrase, the cache's HMAC input; a right and a wrong
// password, crypt(3) and {SSHA256} entries, one password that the profile
// maps (U+00A0 -> U+0020). The in-process server frees its blocks through
// this binary's operator delete, which searches each for the password.
TEST_P(BasicAuthTest, PasswordsLeaveNoCopyInFreedHeapBlocks) {
#if !COGO_FREED_SECRETS
  GTEST_SKIP() << "sanitizer builds keep their own operator delete";
#else
  // Longer than any inline string buffer, so every copy is on the heap.
  constexpr std::string_view kSecret = "Wipe-Me-Correct-Horse-Battery-Staple-7f3a";
  const std::string secret(kSecret);
  UsersFile file("wipe:" + hash(secret, "$y$") + "\n" + "ssha:" + ssha256(secret + " x") + "\n");
  BasicAuthOptions o;
  o.users_file = file.path.string();
  o.cache_ttl = std::chrono::seconds(300);
  auto auth = std::make_shared<BasicAuth>(o);
  int st = 0;
  auto basic = [&](const std::string& user_pass) {
    return cogo_test::sh("printf %s '" + user_pass + "' | base64 -w0", &st);
  };
  const std::string right = basic("wipe:" + secret);
  const std::string wrong = basic("wipe:" + secret + "-not");
  const std::string mapped = basic("ssha:" + secret + "\xC2\xA0x");  // U+00A0: a space
  {
    ServedServer s(GetParam(), routes(auth));
    Client c(cogo_test::connect_to(s.port));
    auto get = [&](const std::string& credentials) {
      c.send("GET /private/ HTTP/1.1\r\nHost: h\r\nAuthorization: Basic " + credentials +
             "\r\n\r\n");
      return c.read_response();
    };
    // The detector works: a block freed with the secret in it is seen.
    freed_secrets::arm(kSecret);
    delete new std::string(secret + "?");
    EXPECT_GE(freed_secrets::found[0].load(), 1);
    freed_secrets::arm(kSecret);
    EXPECT_EQ(get(right).body, "hello wipe");  // crypt(3)
    EXPECT_EQ(get(right).body, "hello wipe");  // the cache's HMAC
    EXPECT_EQ(get(wrong).status, 401);
    EXPECT_EQ(get(mapped).body, "hello ssha");  // {SSHA256}, mapped by the profile
    EXPECT_EQ(auth->checks(), 3u);
  }  // the server stops: what it pooled is freed too
  freed_secrets::disarm();
  const char* forms[] = {"UTF-8", "UTF-16", "UTF-32"};
  for (int f = 0; f < freed_secrets::kForms; ++f) {
    EXPECT_EQ(freed_secrets::found[f].load(), 0)
        << "freed heap blocks held the password in " << forms[f] << " (one of "
        << freed_secrets::found_block_size.load() << " bytes)";
  }
#endif
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
  // {SSHA256} and the other RFC 2307-style schemes.
  const std::string salted = ssha256("x");
  EXPECT_EQ(error_of(good + "bob:" + salted + "\n"), "no error");
  EXPECT_NE(error_of(good + "bob:{SSHA256}!!!!\n")
                .find("users:2: user bob has {SSHA256}: the value is not base64"),
            std::string::npos);
  // 32 bytes of digest and 4 of salt: too short a salt.
  EXPECT_NE(error_of(good + "bob:{SSHA256}" + std::string(48, 'A') + "\n")
                .find("users:2: user bob has {SSHA256}: the value is 36 bytes"),
            std::string::npos);
  EXPECT_NE(error_of(good + "bob:{SHA256}" + std::string(44, 'A') + "\n")
                .find("users:2: user bob has {SHA256}: an unsalted digest, refused"),
            std::string::npos);
  EXPECT_NE(error_of(good + "bob:{SSHA}" + std::string(32, 'A') + "\n")
                .find("users:2: user bob has {SSHA}: a salted SHA-1 or MD5 digest, refused"),
            std::string::npos);
  EXPECT_NE(error_of(good + "bob:{PLAIN}secret\n")
                .find("users:2: user bob has {PLAIN}: a plain-text password, refused"),
            std::string::npos);
  EXPECT_NE(
      error_of(good + "bob:{ARGON9}x\n").find("users:2: user bob has {ARGON9}: an unknown scheme"),
      std::string::npos);
  // RFC 8265 3.4.2 at load: a name the profile refuses, and two names
  // that are one after NFC.
  EXPECT_NE(error_of(good + "a\xE2\x98\x83:" + salted + "\n")
                .find("users:2: the user name is not a UsernameCasePreserved string (RFC 8265 "
                      "3.4): a code point the IdentifierClass disallows"),
            std::string::npos);
  EXPECT_NE(error_of("jos\xC3\xA9:" + salted + "\n# x\njose\xCC\x81:" + salted + "\n")
                .find("users:3: user jos\xC3\xA9 appears twice"),
            std::string::npos);
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
