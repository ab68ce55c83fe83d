// JSON bodies (cogo/http/json.h): Request::json() through a real
// connection in every engine model — 415 for a body that is not declared
// JSON, 400 with a message for one that is not JSON (empty, malformed, too
// deep), the value for one that is — and Response::json(status, value)
// read back by Python's json module (a parameter with a quote, bytes that
// are not UTF-8).
#include "cogo/http/json.h"

#include <gtest/gtest.h>

#include "cogo/http/router.h"
#include "http_test_util.h"

namespace cogo::http {
namespace {

using testing::ServedPair;
using testing::TcpServer;

Router json_routes() {
  Router r;
  r.post("/echo", [](Request& req, Response& res) {
    nlohmann::json in = req.json();
    res.json(200, {{"got", in}, {"type", in.type_name()}});
  });
  r.get("/users/:id", [](Request& req, Response& res) {
    res.json(200, {{"id", req.param("id")}, {"n", 7}});
  });
  r.get("/raw",
        [](Request&, Response& res) { res.json(201, "[1,2]"); });  // a string: sent as it is
  return r;
}

class Json : public testing::EngineTest {};
INSTANTIATE_TEST_SUITE_P(Models, Json, testing::kEngineModels, testing::engine_model_name);

testing::Client::Response post(testing::Client& c, const std::string& content_type,
                               const std::string& body) {
  c.send("POST /echo HTTP/1.1\r\nHost: h\r\n" +
         (content_type.empty() ? std::string() : "Content-Type: " + content_type + "\r\n") +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  return c.read_response();
}

TEST_P(Json, ReadsJsonBodiesOfJsonMediaTypes) {
  Router r = json_routes();
  ServedPair pair(r.handler());
  auto& c = pair.client();
  for (const char* type : {"application/json", "Application/JSON; charset=utf-8",
                           "application/merge-patch+json", "application/problem+JSON"}) {
    auto res = post(c, type, R"({"a": [1, 2.5, "x\"y"], "b": null})");
    EXPECT_EQ(res.status, 200) << type;
    EXPECT_EQ(res.header("Content-Type"), "application/json");
    EXPECT_EQ(res.body, R"({"got":{"a":[1,2.5,"x\"y"],"b":null},"type":"object"})") << type;
  }
}

// RFC 9110 15.5.16: content in a format the resource does not support is
// 415 Unsupported Media Type.
TEST_P(Json, OtherMediaTypesAre415) {
  Router r = json_routes();
  ServedPair pair(r.handler());
  auto& c = pair.client();
  for (const char* type : {"", "text/plain", "application/jsonx",
                           "application/x-www-form-urlencoded", "+json", "text/json-seq"}) {
    auto res = post(c, type, "{}");  // answered; the connection goes on
    EXPECT_EQ(res.status, 415) << type;
    EXPECT_NE(res.body.find("application/json"), std::string::npos) << res.body;
  }
}

TEST_P(Json, MalformedEmptyOrTooDeepIs400WithAMessage) {
  Router r = json_routes();
  {
    ServedPair pair(r.handler());
    auto res = post(pair.client(), "application/json", R"({"a": 1,})");
    EXPECT_EQ(res.status, 400);
    EXPECT_EQ(
        res.body.rfind("invalid JSON in the request body: parse error at line 1, column 9", 0), 0u)
        << res.body;
  }
  {
    ServedPair pair(r.handler());
    auto res = post(pair.client(), "application/json", " \r\n");
    EXPECT_EQ(res.status, 400);
    EXPECT_EQ(res.body, "the request body is empty; expected JSON\n");
  }
  {
    ServedPair pair(r.handler());
    const std::string deep =
        std::string(kMaxJsonDepth + 1, '[') + std::string(kMaxJsonDepth + 1, ']');
    auto res = post(pair.client(), "application/json", deep);
    EXPECT_EQ(res.status, 400);
    EXPECT_NE(res.body.find("nests deeper than " + std::to_string(kMaxJsonDepth)), std::string::npos) << res.body;
  }
  {
    // Exactly the limit is fine; brackets inside strings do not count.
    ServedPair pair(r.handler());
    const std::string ok = std::string(kMaxJsonDepth - 1, '[') + "\"[[[[\\\"[[\"" +
                           std::string(kMaxJsonDepth - 1, ']');
    EXPECT_EQ(post(pair.client(), "application/json", "[" + ok + "]").status, 200);
  }
}

// The README's example once built JSON by concatenation; a parameter
// holding a quote (/users/a%22b) made it invalid. Python's json module
// reads what res.json() writes, over a real TCP connection.
TEST_P(Json, WrittenJsonIsValidForAnyParameter) {
  Router r = json_routes();
  TcpServer server(r.handler());
  const char* script = R"PY(
import http.client, json, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
for path, want in (("/users/a%22b", 'a"b'), ("/users/%5C%0A%3C", "\\\n<"),
                   ("/users/caf%C3%A9", "caf\u00e9"), ("/users/%FF", "\ufffd")):
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    assert r.status == 200, r.status
    assert r.getheader("Content-Type") == "application/json", r.getheader("Content-Type")
    doc = json.loads(body)
    assert doc == {"id": want, "n": 7}, (path, body)
c.request("GET", "/raw")
r = c.getresponse()
assert r.status == 201 and json.loads(r.read()) == [1, 2]
print("ok")
)PY";
  int code = 0;
  const std::string out = testing::run_python(script, std::to_string(server.port()), &code);
  EXPECT_EQ(code, 0) << out;
  EXPECT_EQ(out, "ok\n");
}

}  // namespace
}  // namespace cogo::http
