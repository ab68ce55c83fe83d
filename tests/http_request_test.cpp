// The request side of the HTTP engine: what llhttp's parse turns into the
// Request a handler sees, and which malformed or hostile requests are
// refused with which status. Everything runs over a real socketpair.
#include <gtest/gtest.h>

#include <string>

#include "cogo/http/error.h"
#include "http_test_util.h"

namespace cogo::http {
namespace {

using testing::Client;
using testing::ServedPair;

// Seen is what a handler observed, copied out of the request.
struct Seen {
  std::string method, target, path, raw_path, raw_query, remote;
  std::vector<std::pair<std::string, std::string>> fields;
  std::vector<std::pair<std::string, std::string>> query;
  int major = 0, minor = 0;
  bool keep_alive = false;
  std::string body;
};

Handler recording(Seen& seen) {
  return [&seen](Request& req, Response& res) {
    seen.method = req.method();
    seen.target = req.target();
    seen.path = req.path();
    seen.raw_path = req.raw_path();
    seen.raw_query = req.raw_query();
    seen.remote = req.remote_address();
    seen.fields.clear();
    for (const Field& f : req.header_fields()) seen.fields.emplace_back(f.name, f.value);
    seen.query.clear();
    for (const Field& f : req.query_params()) seen.query.emplace_back(f.name, f.value);
    seen.major = req.version_major();
    seen.minor = req.version_minor();
    seen.keep_alive = req.keep_alive();
    seen.body = req.body();
    res.text(200, "ok");
  };
}

// RequestOverModels: the engine tests run in every EngineModel (a thread over FdStream,
// goroutines over the netpoller with 1 and with 2 Ps).
class RequestOverModels : public testing::EngineTest {};
INSTANTIATE_TEST_SUITE_P(Models, RequestOverModels, testing::kEngineModels, testing::engine_model_name);

TEST_P(RequestOverModels, RequestLineAndHeaders) {
  Seen seen;
  ServedPair pair(recording(seen));
  pair.client().send(
      "GET /a/b?x=1 HTTP/1.1\r\nHost: example.com\r\nX-Multi: one\r\nx-multi:  two  "
      "\r\nEmpty:\r\n\r\n");
  auto res = pair.client().read_response();
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(seen.method, "GET");
  EXPECT_EQ(seen.target, "/a/b?x=1");
  EXPECT_EQ(seen.path, "/a/b");
  EXPECT_EQ(seen.raw_query, "x=1");
  EXPECT_EQ(seen.remote, "test-peer");
  EXPECT_EQ(seen.major, 1);
  EXPECT_EQ(seen.minor, 1);
  EXPECT_TRUE(seen.keep_alive);
  ASSERT_EQ(seen.fields.size(), 4u);
  EXPECT_EQ(seen.fields[1], (std::pair<std::string, std::string>("X-Multi", "one")));
  // Leading and trailing whitespace is not part of a field value.
  EXPECT_EQ(seen.fields[2], (std::pair<std::string, std::string>("x-multi", "two")));
  EXPECT_EQ(seen.fields[3], (std::pair<std::string, std::string>("Empty", "")));
}

TEST_P(RequestOverModels, HeaderLookupIsCaseInsensitiveAndKeepsRepeats) {
  std::string first, all, host, missing;
  bool has_missing = true;
  ServedPair pair([&](Request& req, Response& res) {
    first = req.header("x-MULTI");
    for (auto v : req.headers("X-Multi")) all += std::string(v) + "|";
    host = req.header("HOST");
    missing = req.header("X-None");
    has_missing = req.has_header("X-None");
    res.text(200, "ok");
  });
  pair.client().send("GET / HTTP/1.1\r\nHost: h\r\nX-Multi: a\r\nX-MULTI: b\r\nx-multi: c\r\n\r\n");
  EXPECT_EQ(pair.client().read_response().status, 200);
  EXPECT_EQ(first, "a");
  EXPECT_EQ(all, "a|b|c|");
  EXPECT_EQ(host, "h");
  EXPECT_EQ(missing, "");
  EXPECT_FALSE(has_missing);
}

TEST_P(RequestOverModels, PathAndQueryDecoding) {
  Seen seen;
  ServedPair pair(recording(seen));
  pair.client().send(
      "GET /caf%C3%A9/a%20b+c?q=hello+world&x=%2Fslash%26amp&flag&empty=&x=second&bad=%zz "
      "HTTP/1.1\r\n"
      "Host: h\r\n\r\n");
  EXPECT_EQ(pair.client().read_response().status, 200);
  EXPECT_EQ(seen.raw_path, "/caf%C3%A9/a%20b+c");
  // '+' is a space only in the query.
  EXPECT_EQ(seen.path, "/caf\xC3\xA9/a b+c");
  using P = std::pair<std::string, std::string>;
  ASSERT_EQ(seen.query.size(), 6u);
  EXPECT_EQ(seen.query[0], P("q", "hello world"));
  EXPECT_EQ(seen.query[1], P("x", "/slash&amp"));
  EXPECT_EQ(seen.query[2], P("flag", ""));
  EXPECT_EQ(seen.query[3], P("empty", ""));
  EXPECT_EQ(seen.query[4], P("x", "second"));
  EXPECT_EQ(seen.query[5], P("bad", "%zz"));
}

TEST_P(RequestOverModels, QueryAccessors) {
  std::string q, x;
  bool has_flag = false, has_none = true;
  ServedPair pair([&](Request& req, Response& res) {
    q = req.query("q");
    x = req.query("x");
    has_flag = req.has_query("flag");
    has_none = req.has_query("none");
    res.text(200, "ok");
  });
  pair.client().send("GET /?q=a%2Bb&x=1&x=2&flag HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(pair.client().read_response().status, 200);
  EXPECT_EQ(q, "a+b");
  EXPECT_EQ(x, "1");
  EXPECT_TRUE(has_flag);
  EXPECT_FALSE(has_none);
}

TEST_P(RequestOverModels, AbsoluteFormTarget) {
  Seen seen;
  ServedPair pair(recording(seen));
  pair.client().send("GET http://example.com/x/y?z=1 HTTP/1.1\r\nHost: example.com\r\n\r\n");
  EXPECT_EQ(pair.client().read_response().status, 200);
  EXPECT_EQ(seen.path, "/x/y");
  EXPECT_EQ(seen.raw_query, "z=1");
}

TEST_P(RequestOverModels, MalformedPathEscapeIs400) {
  Seen seen;
  ServedPair pair(recording(seen));
  pair.client().send("GET /a%zzb HTTP/1.1\r\nHost: h\r\n\r\n");
  auto res = pair.client().read_response();
  EXPECT_EQ(res.status, 400);
  EXPECT_EQ(res.header("Connection"), "close");
  EXPECT_TRUE(pair.client().closed_by_peer());
}

// A request delivered one byte per write still parses: every span llhttp
// reports in pieces is stitched back together.
TEST_P(RequestOverModels, ByteByByte) {
  Seen seen;
  ServedPair pair(recording(seen));
  std::string request =
      "POST /up/load?k=v HTTP/1.1\r\nHost: h\r\nX-Long-Header-Name: some value here\r\n"
      "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: "
      "t\r\n\r\n";
  for (char c : request) {
    pair.client().send(std::string_view(&c, 1));
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  auto res = pair.client().read_response();
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.target, "/up/load?k=v");
  ASSERT_EQ(seen.fields.size(), 3u);
  EXPECT_EQ(seen.fields[1].first, "X-Long-Header-Name");
  EXPECT_EQ(seen.fields[1].second, "some value here");
  EXPECT_EQ(seen.body, "hello world");
}

TEST_P(RequestOverModels, LeadingEmptyLinesAreIgnored) {
  Seen seen;
  ServedPair pair(recording(seen));
  pair.client().send("\r\n\r\nGET /x HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(pair.client().read_response().status, 200);
  EXPECT_EQ(seen.path, "/x");
}

// Each bad request gets its status, "Connection: close", and a clean close.
struct Refusal {
  const char* name;
  std::string request;
  int status;
};

class HttpRefusal : public ::testing::TestWithParam<Refusal> {};

TEST_P(HttpRefusal, AnswersAndCloses) {
  bool handler_ran = false;
  ServedPair pair([&](Request& req, Response& res) {
    handler_ran = true;
    req.body();
    res.text(200, "ok");
  });
  pair.client().send(GetParam().request);
  auto res = pair.client().read_response();
  EXPECT_EQ(res.status, GetParam().status) << GetParam().request;
  EXPECT_EQ(res.header("Connection"), "close");
  EXPECT_TRUE(pair.client().closed_by_peer());
  EXPECT_FALSE(handler_ran);
}

INSTANTIATE_TEST_SUITE_P(
    Requests, HttpRefusal,
    ::testing::Values(
        Refusal{"garbage", "this is not http\r\n\r\n", 400},
        Refusal{"bare_lf", "GET / HTTP/1.1\nHost: h\n\n", 400},
        Refusal{"space_in_target", "GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        Refusal{"space_in_header_name", "GET / HTTP/1.1\r\nHost: h\r\nBad Header: x\r\n\r\n", 400},
        Refusal{"space_before_colon", "GET / HTTP/1.1\r\nHost: h\r\nX-A : x\r\n\r\n", 400},
        Refusal{"obs_fold", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n", 400},
        Refusal{"missing_host", "GET / HTTP/1.1\r\n\r\n", 400},
        Refusal{"two_hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
        Refusal{"cl_and_te",
                "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: "
                "chunked\r\n\r\n0\r\n\r\n",
                400},
        Refusal{"te_and_cl",
                "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: "
                "5\r\n\r\n0\r\n\r\n",
                400},
        Refusal{"double_cl",
                "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
                400},
        Refusal{
            "conflicting_cl",
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
            400},
        Refusal{"cl_list", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\nhello", 400},
        Refusal{"negative_cl", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400},
        Refusal{"chunked_not_last",
                "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 400},
        Refusal{"unknown_coding", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\nxx",
                501},
        Refusal{"gzip_then_chunked",
                "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
                501},
        Refusal{"chunked_twice",
                "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
                "chunked\r\n\r\n0\r\n\r\n",
                400},
        Refusal{"te_in_http10", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                400},
        Refusal{"http2_version", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505},
        Refusal{"unknown_expectation",
                "POST / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\nContent-Length: 2\r\n\r\nhi", 417},
        Refusal{"unknown_method", "BREW / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        Refusal{"declared_body_over_limit",
                "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999\r\n\r\n", 413}),
    [](const ::testing::TestParamInfo<Refusal>& info) { return std::string(info.param.name); });

TEST_P(RequestOverModels, HeadOverLimitIs431) {
  HttpOptions options;
  options.max_header_bytes = 1024;
  Seen seen;
  ServedPair pair(recording(seen), options);
  pair.client().send("GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n");
  auto res = pair.client().read_response();
  EXPECT_EQ(res.status, 431);
  EXPECT_TRUE(pair.client().closed_by_peer());
}

// The limit holds even when the head never ends: the server does not wait
// for the blank line to count.
TEST_P(RequestOverModels, EndlessHeadIs431) {
  HttpOptions options;
  options.max_header_bytes = 4096;
  Seen seen;
  ServedPair pair(recording(seen), options);
  pair.client().send("GET / HTTP/1.1\r\nHost: h\r\n");
  std::string res_text;
  for (int i = 0; i < 100 && res_text.empty(); ++i) {
    try {
      pair.client().send("X-Header-" + std::to_string(i) + ": " + std::string(100, 'v') + "\r\n");
    } catch (const std::exception&) {
      break;  // the server closed
    }
  }
  auto res = pair.client().read_response();
  EXPECT_EQ(res.status, 431);
}

TEST_P(RequestOverModels, HeadJustUnderLimitIsServed) {
  HttpOptions options;
  options.max_header_bytes = 2048;
  Seen seen;
  ServedPair pair(recording(seen), options);
  std::string head = "GET / HTTP/1.1\r\nHost: h\r\nX-Pad: ";
  head += std::string(2048 - head.size() - 4, 'p') + "\r\n\r\n";
  ASSERT_EQ(head.size(), 2048u);
  pair.client().send(head);
  EXPECT_EQ(pair.client().read_response().status, 200);
}

// An HTTP/1.0 request's Expect is ignored (RFC 9110, 10.1.1): served, with
// no interim 100 Continue.
TEST_P(RequestOverModels, ExpectationsOfHttp10AreIgnored) {
  for (const char* expect : {"100-continue", "200-ok"}) {
    ServedPair pair([](Request& req, Response& res) { res.text(200, req.body()); });
    pair.client().send(std::string("POST / HTTP/1.0\r\nExpect: ") + expect +
                       "\r\nContent-Length: 2\r\n\r\nhi");
    auto res = pair.client().read_response();
    EXPECT_EQ(res.status, 200) << expect;
    EXPECT_EQ(res.body, "hi") << expect;
  }
}

TEST_P(RequestOverModels, ChunkedBodyOverLimitIs413) {
  HttpOptions options;
  options.max_body_bytes = 1000;
  Seen seen;
  ServedPair pair(recording(seen), options);
  std::string request = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 5; ++i) request += "12c\r\n" + std::string(300, 'x') + "\r\n";
  request += "0\r\n\r\n";
  pair.client().send(request);
  auto res = pair.client().read_response();
  EXPECT_EQ(res.status, 413);
  EXPECT_EQ(res.header("Connection"), "close");
  EXPECT_TRUE(pair.client().closed_by_peer());
}

TEST_P(RequestOverModels, MalformedChunkIs400) {
  Seen seen;
  ServedPair pair(recording(seen));
  pair.client().send(
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n");
  auto res = pair.client().read_response();
  EXPECT_EQ(res.status, 400);
  EXPECT_TRUE(pair.client().closed_by_peer());
}

TEST_P(RequestOverModels, HandlerCanThrowHttpError) {
  ServedPair pair([](Request&, Response&) { throw HttpError(403, "no entry"); });
  pair.client().send("GET / HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n");
  auto first = pair.client().read_response();
  EXPECT_EQ(first.status, 403);
  EXPECT_EQ(first.body, "no entry\n");
  // Not a connection failure: the next request is served.
  EXPECT_EQ(pair.client().read_response().status, 403);
}

}  // namespace
}  // namespace cogo::http
