// middleware::body_limit through a real connection in every engine model:
// a declared body over the limit is refused before it is read (413, close,
// no 100 Continue), a chunked one when it passes the limit, and the limit
// belongs to the routes it wraps and to one request only.
#include "cogo/middleware/body_limit.h"

#include <gtest/gtest.h>

#include "cogo/http/error.h"
#include "cogo/http/handler.h"
#include "cogo/http/router.h"
#include "http_test_util.h"

namespace cogo::middleware {
namespace {

using http::testing::ServedPair;

class BodyLimit : public http::testing::EngineTest {
 protected:
  BodyLimit() {
    router.post("/small", http::MiddlewareChain().use(body_limit(10)).then(echo_size));
    router.post("/big", echo_size);
  }
  static void echo_size(http::Request& req, http::Response& res) {
    res.text(200, std::to_string(req.body().size()));
  }
  http::Router router;
};
INSTANTIATE_TEST_SUITE_P(Models, BodyLimit, http::testing::kEngineModels,
                         http::testing::engine_model_name);

TEST_P(BodyLimit, DeclaredLengthOverTheLimitIsRefusedUnreadAndClosed) {
  ServedPair pair(router.handler());
  auto& c = pair.client();
  c.send("POST /small HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello");
  auto r = c.read_response();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "5");
  // Over the limit, with Expect: 100-continue: 413 at once, never a 100.
  c.send("POST /small HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n");
  r = c.read_response();
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.header("Connection"), "close");
  EXPECT_TRUE(c.closed_by_peer());
}

TEST_P(BodyLimit, ChunkedBodyPassingTheLimitIs413AndClosed) {
  ServedPair pair(router.handler());
  auto& c = pair.client();
  c.send("POST /small HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
         "6\r\nabcdef\r\n4\r\nghij\r\n0\r\n\r\n");  // exactly 10: allowed
  auto r = c.read_response();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "10");
  c.send("POST /small HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
         "6\r\nabcdef\r\n5\r\nghijk\r\n0\r\n\r\n");  // 11
  r = c.read_response();
  EXPECT_EQ(r.status, 413);
  EXPECT_TRUE(c.closed_by_peer());
}

TEST_P(BodyLimit, OtherRoutesAndLaterRequestsKeepTheServerLimit) {
  ServedPair pair(router.handler());
  auto& c = pair.client();
  c.send("POST /small HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc");
  EXPECT_EQ(c.read_response().body, "3");
  // The next request on the same connection, another route: the 10-byte
  // limit of /small is gone.
  const std::string body(1000, 'x');
  c.send("POST /big HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n" + body +
         "\r\n0\r\n\r\n");
  auto r = c.read_response();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "1000");
}

}  // namespace
}  // namespace cogo::middleware
