// middleware::cors through a real connection: preflights answered here (and
// refused by leaving the Access-Control-* fields out), actual requests
// marked, Vary, credentials, patterns, and the option errors.
#include "cogo/middleware/cors.h"

#include <gtest/gtest.h>

#include <atomic>

#include "http_test_util.h"

namespace cogo::middleware {
namespace {

using http::testing::ServedPair;

struct Served {
  explicit Served(CorsOptions o)
      : chain(http::MiddlewareChain().use(cors(std::move(o)))),
        pair(chain.then([this](http::Request&, http::Response& res) {
          ++handled;
          res.text(200, "hello");
        })) {}
  std::atomic<int> handled{0};
  http::MiddlewareChain chain;
  ServedPair pair;

  http::testing::Client::Response get(const std::string& extra_head, const char* method = "GET") {
    pair.client().send(std::string(method) + " /r HTTP/1.1\r\nHost: h\r\n" + extra_head + "\r\n");
    return pair.client().read_response(std::string_view(method) == "HEAD");
  }
};

bool has_cors_fields(const http::testing::Client::Response& r) {
  for (const auto& [name, value] : r.headers) {
    if (name.rfind("Access-Control-", 0) == 0) return true;
  }
  return false;
}

std::string vary(const http::testing::Client::Response& r) {
  std::string out;
  for (const auto& [name, value] : r.headers) {
    if (name == "Vary") out += (out.empty() ? "" : ", ") + value;
  }
  return out;
}

CorsOptions listed() {
  CorsOptions o;
  o.allowed_origins = {"https://app.example.com", "https://*.example.org"};
  o.allowed_methods = {"GET", "POST", "DELETE"};
  o.allowed_headers = {"Content-Type", "Authorization"};
  o.exposed_headers = {"X-Total", "X-Page"};
  o.max_age = 600;
  return o;
}

TEST(Cors, PreflightAllowedIsAnsweredWithoutTheHandler) {
  Served s(listed());
  auto r = s.get(
      "Origin: https://app.example.com\r\nAccess-Control-Request-Method: DELETE\r\n"
      "Access-Control-Request-Headers: authorization,content-type\r\n",
      "OPTIONS");
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.header("Access-Control-Allow-Origin"), "https://app.example.com");
  EXPECT_EQ(r.header("Access-Control-Allow-Methods"), "DELETE");
  EXPECT_EQ(r.header("Access-Control-Allow-Headers"), "authorization,content-type");
  EXPECT_EQ(r.header("Access-Control-Max-Age"), "600");
  EXPECT_FALSE(r.has_header("Access-Control-Allow-Credentials"));
  EXPECT_EQ(vary(r), "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
  EXPECT_EQ(s.handled.load(), 0);
}

TEST(Cors, PreflightRefusedCarriesNoCorsFields) {
  Served s(listed());
  // Unknown origin, method not allowed, header not allowed, a malformed header list.
  for (const char* head :
       {"Origin: https://evil.example\r\nAccess-Control-Request-Method: GET\r\n",
        "Origin: https://app.example.com\r\nAccess-Control-Request-Method: PUT\r\n",
        "Origin: https://app.example.com\r\nAccess-Control-Request-Method: get\r\n",
        "Origin: https://app.example.com\r\nAccess-Control-Request-Method: POST\r\n"
        "Access-Control-Request-Headers: content-type, x-secret\r\n",
        "Origin: https://app.example.com\r\nAccess-Control-Request-Method: POST\r\n"
        "Access-Control-Request-Headers: bad header\r\n",
        "Origin: https://example.org\r\nAccess-Control-Request-Method: GET\r\n"}) {
    auto r = s.get(head, "OPTIONS");
    EXPECT_EQ(r.status, 204) << head;
    EXPECT_FALSE(has_cors_fields(r)) << head;
    EXPECT_EQ(vary(r), "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
  }
  EXPECT_EQ(s.handled.load(), 0);
}

TEST(Cors, PreflightHeaderListsFromSeveralFieldsAreOneList) {
  Served s(listed());
  auto r = s.get(
      "Origin: https://app.example.com\r\nAccess-Control-Request-Method: POST\r\n"
      "Access-Control-Request-Headers: content-type\r\n"
      "Access-Control-Request-Headers: Authorization\r\n",
      "OPTIONS");
  EXPECT_EQ(r.header("Access-Control-Allow-Headers"), "content-type, Authorization");
}

TEST(Cors, ActualRequestFromAnAllowedOriginIsMarked) {
  Served s(listed());
  auto r = s.get("Origin: https://APP.example.com\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello");
  EXPECT_EQ(r.header("Access-Control-Allow-Origin"), "https://APP.example.com");
  EXPECT_EQ(r.header("Access-Control-Expose-Headers"), "X-Total, X-Page");
  EXPECT_FALSE(r.has_header("Access-Control-Allow-Methods"));  // preflight-only fields
  EXPECT_EQ(vary(r), "Origin");
  // A pattern: one or more characters for '*'.
  r = s.get("Origin: https://a.b.example.org\r\n");
  EXPECT_EQ(r.header("Access-Control-Allow-Origin"), "https://a.b.example.org");
  // OPTIONS without Access-Control-Request-Method is no preflight: the handler answers.
  r = s.get("Origin: https://app.example.com\r\n", "OPTIONS");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Access-Control-Allow-Origin"), "https://app.example.com");
  EXPECT_EQ(s.handled.load(), 3);
}

TEST(Cors, DisallowedOriginStillRunsTheHandlerWithoutCorsFields) {
  Served s(listed());
  for (const char* origin : {"https://evil.example", "null", "https://app.example.com.evil.example",
                             "http://app.example.com"}) {
    auto r = s.get(std::string("Origin: ") + origin + "\r\n");
    EXPECT_EQ(r.status, 200) << origin;
    EXPECT_FALSE(has_cors_fields(r)) << origin;
    EXPECT_EQ(vary(r), "Origin") << origin;
  }
  // No Origin: not a CORS request; Vary still says the answer depends on it.
  auto r = s.get("");
  EXPECT_FALSE(has_cors_fields(r));
  EXPECT_EQ(vary(r), "Origin");
  EXPECT_EQ(s.handled.load(), 5);
}

TEST(Cors, AnyOriginWithoutCredentialsIsAStarAndNeedsNoVary) {
  CorsOptions o;  // defaults: "*", GET HEAD POST
  Served s(o);
  auto r = s.get("Origin: https://anyone.example\r\n");
  EXPECT_EQ(r.header("Access-Control-Allow-Origin"), "*");
  EXPECT_EQ(vary(r), "");
  r = s.get("Origin: https://anyone.example\r\nAccess-Control-Request-Method: POST\r\n"
            "Access-Control-Request-Headers: content-type\r\n",
            "OPTIONS");
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.header("Access-Control-Allow-Origin"), "*");
  EXPECT_FALSE(r.has_header("Access-Control-Max-Age"));
}

TEST(Cors, CredentialsReflectTheOriginAndAnyHeaderReflectsTheList) {
  CorsOptions o;
  o.allowed_origins = {};
  o.allow_origin = [](std::string_view origin) { return origin == "https://fn.example"; };
  o.allowed_headers = {"*"};
  o.allow_credentials = true;
  Served s(o);
  auto r = s.get("Origin: https://fn.example\r\nAccess-Control-Request-Method: POST\r\n"
                 "Access-Control-Request-Headers: x-anything,x-else\r\n",
                 "OPTIONS");
  EXPECT_EQ(r.header("Access-Control-Allow-Origin"), "https://fn.example");
  EXPECT_EQ(r.header("Access-Control-Allow-Credentials"), "true");
  EXPECT_EQ(r.header("Access-Control-Allow-Headers"), "x-anything,x-else");
  r = s.get("Origin: https://fn.example\r\n");
  EXPECT_EQ(r.header("Access-Control-Allow-Credentials"), "true");
  r = s.get("Origin: https://other.example\r\n");
  EXPECT_FALSE(has_cors_fields(r));
}

TEST(Cors, PassthroughRunsTheHandlerForPreflights) {
  CorsOptions o = listed();
  o.options_passthrough = true;
  Served s(o);
  auto r = s.get("Origin: https://app.example.com\r\nAccess-Control-Request-Method: GET\r\n",
                 "OPTIONS");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Access-Control-Allow-Methods"), "GET");
  EXPECT_EQ(s.handled.load(), 1);
}

TEST(Cors, BadOptionsAreNamed) {
  auto error_of = [](CorsOptions o) -> std::string {
    try {
      cors(std::move(o));
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "no error";
  };
  CorsOptions o;
  o.allowed_origins = {"https://example.com/"};
  EXPECT_NE(error_of(o).find("\"https://example.com/\" ends in '/'"), std::string::npos);
  o.allowed_origins = {"example.com"};
  EXPECT_NE(error_of(o).find("has no scheme"), std::string::npos);
  o.allowed_origins = {"https://*.*.example.com"};
  EXPECT_NE(error_of(o).find("more than one '*'"), std::string::npos);
  o.allowed_origins = {"https://example.com/app"};
  EXPECT_NE(error_of(o).find("path"), std::string::npos);
  o.allowed_origins = {"*"};
  o.allow_credentials = true;
  EXPECT_NE(error_of(o).find("allow_credentials"), std::string::npos);
  o = {};
  o.allowed_methods = {"GET POST"};
  EXPECT_NE(error_of(o).find("\"GET POST\" is not a token"), std::string::npos);
  o = {};
  o.allowed_headers = {"X:Y"};
  EXPECT_NE(error_of(o).find("\"X:Y\""), std::string::npos);
  o = {};
  o.max_age = -1;
  EXPECT_NE(error_of(o).find("max_age"), std::string::npos);
}

}  // namespace
}  // namespace cogo::middleware
