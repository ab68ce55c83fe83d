// middleware::secure_headers, no_cache and heartbeat through a real
// cogo::http::Server: HSTS only on the TLS listener (curl over a real
// handshake), the other fields on both, in both models.
#include "cogo/middleware/secure_headers.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <atomic>
#include <cstdio>
#include <future>
#include <string>
#include <thread>

#include "cogo/http/request.h"
#include "cogo/http/response.h"
#include "cogo/http/server.h"
#include "cogo/middleware/heartbeat.h"
#include "cogo/middleware/no_cache.h"
#include "cogo/runtime.h"

namespace cogo::middleware {
namespace {

std::string sh(const std::string& command, int* status = nullptr) {
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int raw = ::pclose(p);
  if (status) *status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return out;
}

// A self-signed certificate, made once per process.
const std::string& cert_dir() {
  static const std::string dir = [] {
    char tmpl[] = "/tmp/cogo_secure_headers_XXXXXX";
    const std::string d = ::mkdtemp(tmpl);
    int st = 0;
    const std::string out =
        sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
           "-subj /CN=localhost -keyout " + d + "/key.pem -out " + d + "/cert.pem", &st);
    if (st != 0) throw std::runtime_error("openssl: " + out);
    return d;
  }();
  return dir;
}

// Served: a real Server with a plain and a TLS listener, on a runtime of its own.
class Served {
 public:
  Served(http::Model model, http::Middleware mw, std::string heartbeat_path = {}) {
    std::promise<void> ready;
    thread_ = std::thread([&, model] {
      cogo::run([&] {
        http::ServerOptions o;
        o.model = model;
        o.handle_signals = false;
        o.shutdown_grace = std::chrono::milliseconds(2000);
        o.listen = {{"127.0.0.1:0", false}, {"127.0.0.1:0", true}};
        o.tls.cert_file = cert_dir() + "/cert.pem";
        o.tls.key_file = cert_dir() + "/key.pem";
        http::Server server(o);
        if (!heartbeat_path.empty()) server.use(heartbeat(heartbeat_path));
        server.use(mw);
        server.router().get("/", [](http::Request&, http::Response& res) { res.text(200, "hi"); });
        server.router().get("/framed", [](http::Request&, http::Response& res) {
          res.set_header("X-Frame-Options", "SAMEORIGIN");  // a handler may replace a field
          res.text(200, "framed");
        });
        server.listen();
        plain_ = "http://" + server.addresses()[0];
        tls_ = "https://" + server.addresses()[1];
        server_ = &server;
        ready.set_value();
        server.serve();
        server_ = nullptr;
      });
    });
    ready.get_future().wait();
  }
  ~Served() {
    server_.load()->shutdown();
    thread_.join();
  }
  // head() is curl's dump of the response head of path.
  std::string head(const std::string& base, const std::string& path,
                   const std::string& flags = "") {
    int st = 0;
    std::string out = sh("curl -sS -k -o /dev/null -D - " + flags + " " + base + path, &st);
    EXPECT_EQ(st, 0) << out;
    return out;
  }
  std::string plain_, tls_;

 private:
  std::thread thread_;
  std::atomic<http::Server*> server_{nullptr};
};

bool has(const std::string& head, const std::string& line) {
  return head.find(line + "\r\n") != std::string::npos;
}

class SecureHeaders : public ::testing::TestWithParam<http::Model> {};
INSTANTIATE_TEST_SUITE_P(Models, SecureHeaders,
                         ::testing::Values(http::Model::goroutine, http::Model::thread),
                         [](const auto& info) { return std::string(http::model_name(info.param)); });

TEST_P(SecureHeaders, HstsOnlyOverTlsAndTheRestOnBoth) {
  SecureHeadersOptions o;
  o.hsts_include_subdomains = true;
  o.content_security_policy = "default-src 'self'";
  Served s(GetParam(), secure_headers(o));
  for (const std::string& base : {s.plain_, s.tls_}) {
    const std::string h = s.head(base, "/");
    EXPECT_TRUE(has(h, "X-Content-Type-Options: nosniff")) << h;
    EXPECT_TRUE(has(h, "X-Frame-Options: DENY")) << h;
    EXPECT_TRUE(has(h, "Referrer-Policy: strict-origin-when-cross-origin")) << h;
    EXPECT_TRUE(has(h, "Content-Security-Policy: default-src 'self'")) << h;
    const bool sts = h.find("Strict-Transport-Security") != std::string::npos;
    EXPECT_EQ(sts, base == s.tls_) << base << "\n" << h;  // RFC 6797 7.2
    if (base == s.tls_) {
      EXPECT_TRUE(has(h, "Strict-Transport-Security: max-age=31536000; includeSubDomains")) << h;
    }
    const std::string f = s.head(base, "/framed");
    EXPECT_TRUE(has(f, "X-Frame-Options: SAMEORIGIN")) << f;
    EXPECT_EQ(f.find("X-Frame-Options: DENY"), std::string::npos) << f;
  }
}

TEST_P(SecureHeaders, EmptyOptionsLeaveTheirFieldsOut) {
  SecureHeadersOptions o;
  o.hsts = false;
  o.frame_options.clear();
  o.referrer_policy.clear();
  Served s(GetParam(), secure_headers(o));
  const std::string h = s.head(s.tls_, "/");
  EXPECT_TRUE(has(h, "X-Content-Type-Options: nosniff")) << h;
  for (const char* absent : {"Strict-Transport-Security", "X-Frame-Options", "Referrer-Policy",
                             "Content-Security-Policy"}) {
    EXPECT_EQ(h.find(absent), std::string::npos) << absent << "\n" << h;
  }
}

TEST_P(SecureHeaders, NoCacheAndHeartbeat) {
  Served s(GetParam(), no_cache(), "/ping");
  std::string h = s.head(s.plain_, "/");
  EXPECT_TRUE(has(h, "Cache-Control: no-store, no-cache, must-revalidate, private, max-age=0")) << h;
  EXPECT_TRUE(has(h, "Pragma: no-cache")) << h;
  EXPECT_TRUE(has(h, "Expires: 0")) << h;
  // The heartbeat answers before no_cache (and the router) run.
  int st = 0;
  EXPECT_EQ(sh("curl -sS " + s.plain_ + "/ping", &st), ".");
  h = s.head(s.plain_, "/ping");
  EXPECT_TRUE(h.rfind("HTTP/1.1 200", 0) == 0) << h;
  EXPECT_TRUE(has(h, "Cache-Control: no-store")) << h;
  EXPECT_EQ(h.find("Pragma"), std::string::npos) << h;
  h = s.head(s.plain_, "/ping", "-I");  // HEAD
  EXPECT_TRUE(h.rfind("HTTP/1.1 200", 0) == 0) << h;
  EXPECT_TRUE(has(h, "Content-Length: 1")) << h;
  // Another method or path goes on: the router has no POST /ping, nor /ping/x.
  h = s.head(s.plain_, "/ping", "-X POST");
  EXPECT_TRUE(h.rfind("HTTP/1.1 404", 0) == 0) << h;
  h = s.head(s.plain_, "/ping/x");
  EXPECT_TRUE(h.rfind("HTTP/1.1 404", 0) == 0) << h;
}

TEST(SecureHeadersOptions, BadOptionsAreNamed) {
  auto error_of = [](SecureHeadersOptions o) -> std::string {
    try {
      secure_headers(std::move(o));
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "no error";
  };
  SecureHeadersOptions o;
  o.hsts_max_age = -1;
  EXPECT_NE(error_of(o).find("hsts_max_age"), std::string::npos);
  o = {};
  o.hsts_preload = true;
  EXPECT_NE(error_of(o).find("hsts_preload needs hsts_include_subdomains"), std::string::npos);
  o = {};
  o.frame_options = "ALLOW-FROM x";
  EXPECT_NE(error_of(o).find("\"ALLOW-FROM x\""), std::string::npos);
  o = {};
  o.content_security_policy = "a\r\nb";
  EXPECT_NE(error_of(o).find("content_security_policy"), std::string::npos);
  EXPECT_THROW(heartbeat("ping"), std::invalid_argument);
}

}  // namespace
}  // namespace cogo::middleware
