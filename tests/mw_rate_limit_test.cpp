// middleware::rate_limit through a real Server in every model: the bucket
// (burst, then 429 with Retry-After and the RateLimit-* fields), refill,
// keys (client address after real_ip, or a header), bounded keys with the
// least recently seen forgotten, and the option and rate-text errors.
#include "cogo/middleware/rate_limit.h"

#include <gtest/gtest.h>

#include "cogo/http/request.h"
#include "cogo/http/response.h"
#include "cogo/middleware/real_ip.h"
#include "http_test_util.h"
#include "support/served_server.h"
#include "support/server_process.h"

namespace cogo::middleware {
namespace {

using cogo_test::ServedServer;
using http::testing::Client;

std::function<void(http::Server&)> routes(RateLimitOptions o) {
  return [o](http::Server& s) {
    RealIpOptions ip;
    ip.trusted = {"127.0.0.1"};
    s.use(real_ip(ip));
    s.use(rate_limit(o));
    s.router().get("/", [](http::Request&, http::Response& res) { res.text(200, "ok"); });
  };
}

class RateLimitTest : public cogo_test::ServeModelTest {};
INSTANTIATE_TEST_SUITE_P(Models, RateLimitTest, cogo_test::kServeModels,
                         cogo_test::serve_model_param_name);

// A rate so slow that no token comes back during the test: the burst is
// all a key gets.
RateLimitOptions slow(double burst) {
  RateLimitOptions o;
  o.rate = 1.0 / 600;  // one token per 10 minutes
  o.burst = burst;
  return o;
}

TEST_P(RateLimitTest, TheBurstPassesThenEachRequestIs429) {
  ServedServer s(GetParam(), routes(slow(3)));
  Client c(cogo_test::connect_to(s.port));
  for (int i = 0; i < 3; ++i) {
    c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    auto r = c.read_response();
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("RateLimit-Limit"), "3");
    EXPECT_EQ(r.header("RateLimit-Remaining"), std::to_string(2 - i));
    // The bucket is full again (3 - remaining tokens) * 600 s later.
    const int reset = std::stoi(r.header("RateLimit-Reset"));
    EXPECT_GE(reset, (i + 1) * 600 - 1);
    EXPECT_LE(reset, (i + 1) * 600);
    EXPECT_FALSE(r.has_header("Retry-After"));
  }
  c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  auto r = c.read_response();
  EXPECT_EQ(r.status, 429);  // RFC 6585 4
  EXPECT_EQ(r.body, "rate limit exceeded\n");
  EXPECT_EQ(r.header("RateLimit-Limit"), "3");
  EXPECT_EQ(r.header("RateLimit-Remaining"), "0");
  const int retry = std::stoi(r.header("Retry-After"));  // RFC 9110 10.2.3: delay-seconds
  EXPECT_GE(retry, 599);
  EXPECT_LE(retry, 600);
  EXPECT_EQ(r.header("Cache-Control"), "no-store");  // RFC 6585 4: MUST NOT be stored by a cache
  // The connection goes on (a 429 does not close it).
  c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(c.read_response().status, 429);
}

TEST_P(RateLimitTest, TokensComeBackAtTheRate) {
  RateLimitOptions o;
  o.rate = 20;  // one token per 50 ms
  o.burst = 1;
  ServedServer s(GetParam(), routes(o));
  Client c(cogo_test::connect_to(s.port));
  c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(c.read_response().status, 200);
  // However long the next request took to come, waiting out Retry-After's
  // lower bound (a second) is always enough for one token at 20/s.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  auto r = c.read_response();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("RateLimit-Remaining"), "0");
}

TEST_P(RateLimitTest, EachClientHasItsOwnBucket) {
  ServedServer s(GetParam(), routes(slow(1)));
  auto get = [&](const std::string& head) {
    Client c(cogo_test::connect_to(s.port));
    c.send("GET / HTTP/1.1\r\nHost: h\r\n" + head + "\r\n");
    return c.read_response().status;
  };
  // real_ip runs first: the key is the client behind the trusted proxy.
  EXPECT_EQ(get("X-Forwarded-For: 203.0.113.1\r\n"), 200);
  EXPECT_EQ(get("X-Forwarded-For: 203.0.113.1\r\n"), 429);
  EXPECT_EQ(get("X-Forwarded-For: 203.0.113.2\r\n"), 200);
  // Connections from one address share its bucket whatever their port.
  EXPECT_EQ(get(""), 200);
  EXPECT_EQ(get(""), 429);
}

TEST_P(RateLimitTest, AHeaderKeyAndBoundedKeys) {
  RateLimitOptions o = slow(1);
  o.key_header = "X-Api-Key";
  o.max_keys = 2;
  o.shards = 1;  // one shard: the least recently seen of all keys goes
  ServedServer s(GetParam(), routes(o));
  Client c(cogo_test::connect_to(s.port));
  auto get = [&](const std::string& key) {
    c.send("GET / HTTP/1.1\r\nHost: h\r\nX-Api-Key: " + key + "\r\n\r\n");
    return c.read_response().status;
  };
  EXPECT_EQ(get("a"), 200);
  EXPECT_EQ(get("a"), 429);
  EXPECT_EQ(get("b"), 200);
  EXPECT_EQ(get("a"), 429);  // a is the most recent now; b the least
  EXPECT_EQ(get("c"), 200);  // a third key: b is forgotten
  EXPECT_EQ(get("a"), 429);  // a was kept
  EXPECT_EQ(get("b"), 200);  // b starts again with a full bucket (and c goes)
  EXPECT_EQ(get("b"), 429);
}

TEST_P(RateLimitTest, HeadersCanStayOffButNotOnThe429) {
  RateLimitOptions o = slow(1);
  o.headers = false;
  ServedServer s(GetParam(), routes(o));
  Client c(cogo_test::connect_to(s.port));
  c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  auto r = c.read_response();
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(r.has_header("RateLimit-Limit"));
  c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  r = c.read_response();
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.header("RateLimit-Limit"), "1");
  EXPECT_FALSE(r.header("Retry-After").empty());
}

TEST(RateLimit, RatesAndOptions) {
  EXPECT_DOUBLE_EQ(parse_rate("100/s"), 100);
  EXPECT_DOUBLE_EQ(parse_rate("600/m"), 10);
  EXPECT_DOUBLE_EQ(parse_rate("7200/h"), 2);
  EXPECT_DOUBLE_EQ(parse_rate("2.5"), 2.5);
  for (const char* bad : {"", "0", "-1/s", "10/d", "ten/s", "10/", "nan", "inf/s"}) {
    try {
      parse_rate(bad);
      ADD_FAILURE() << bad;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("'" + std::string(bad) + "'"), std::string::npos);
    }
  }
  RateLimitOptions o;
  o.burst = 0.5;
  EXPECT_THROW(rate_limit(o), std::invalid_argument);
  o = {};
  o.rate = 0;
  EXPECT_THROW(rate_limit(o), std::invalid_argument);
  o = {};
  o.max_keys = 0;
  EXPECT_THROW(rate_limit(o), std::invalid_argument);
}

}  // namespace
}  // namespace cogo::middleware
