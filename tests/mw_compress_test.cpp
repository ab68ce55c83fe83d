// middleware::compress through a real cogo::http::Server in every model
// (thread, goroutine with 1 and 2 Ps): bodies decoded by Python's zlib,
// brotli and zstandard and by curl --compressed; Accept-Encoding negotiated
// as RFC 9110 12.5.3 says; the eligibility rules, Vary, ETag, HEAD,
// streamed flushes that reach the client, the bound on work in progress;
// the Accept-Encoding parser on its own; and cogo-server --compress.
#include "cogo/middleware/compress.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <brotli/decode.h>
#include <zlib.h>
#include <zstd.h>

#include "accept_encoding.h"
#include "cogo/http/request.h"
#include "cogo/http/response.h"
#include "cogo/runtime.h"
#include "support/decode.h"
#include "support/served_server.h"
#include "support/server_process.h"

namespace cogo::middleware {
namespace {

using cogo_test::RawClient;
using cogo_test::ServedServer;
using cogo_test::ServeModel;
using cogo_test::sh;

// A JSON body that compresses well and is comfortably above min_size.
std::string json_body(std::size_t records) {
  std::string s = "[";
  for (std::size_t i = 0; i < records; ++i) {
    if (i > 0) s += ",";
    s += "{\"id\":" + std::to_string(i) + ",\"name\":\"user " + std::to_string(i) +
         "\",\"active\":true}";
  }
  return s + "]";
}

// noise() is size bytes of text that gzip shrinks to about three quarters
// (base64 of pseudo-random bytes): compressed sizes on either side of the
// engine's thresholds for writing a body behind its head.
std::string noise(std::size_t size) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string s(size, ' ');
  std::uint32_t x = 2463534242u;
  for (std::size_t i = 0; i < size; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    s[i] = i % 77 == 76 ? '\n' : kAlphabet[x % 64];
  }
  return s;
}

const std::string& kJson() {
  static const std::string body = json_body(200);
  return body;
}

std::string temp_path(const std::string& name) {
  static const struct Scratch {
    std::string dir;
    Scratch() {
      char tmpl[] = "/tmp/cogo_compress_test_XXXXXX";
      dir = ::mkdtemp(tmpl);
    }
    ~Scratch() { sh("rm -rf " + dir); }
  } scratch;
  return scratch.dir + "/" + name;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string py_decode(const std::string& coding, const std::string& body) {
  return cogo_test::py_decode(coding, body, temp_path(""));
}

// Decoder: incremental decoding in the test itself, to see what a flush
// delivered before the stream ends.
class Decoder {
 public:
  explicit Decoder(const std::string& coding) : coding_(coding) {
    if (coding == "gzip" || coding == "deflate") {
      inflateInit2(&z_, coding == "gzip" ? 31 : 15);
    } else if (coding == "br") {
      br_ = BrotliDecoderCreateInstance(nullptr, nullptr, nullptr);
    } else {
      zstd_ = ZSTD_createDStream();
      ZSTD_initDStream(zstd_);
    }
  }
  ~Decoder() {
    if (coding_ == "gzip" || coding_ == "deflate") inflateEnd(&z_);
    if (br_) BrotliDecoderDestroyInstance(br_);
    if (zstd_) ZSTD_freeDStream(zstd_);
  }
  // feed() decodes data and returns what it yields now.
  std::string feed(const std::string& data) {
    std::string out;
    char buf[65536];
    if (coding_ == "gzip" || coding_ == "deflate") {
      z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
      z_.avail_in = static_cast<uInt>(data.size());
      do {
        z_.next_out = reinterpret_cast<Bytef*>(buf);
        z_.avail_out = sizeof buf;
        const int r = inflate(&z_, Z_SYNC_FLUSH);
        out.append(buf, sizeof buf - z_.avail_out);
        if (r != Z_OK) break;
      } while (z_.avail_out == 0);
    } else if (coding_ == "br") {
      std::size_t avail_in = data.size();
      const auto* next_in = reinterpret_cast<const uint8_t*>(data.data());
      for (;;) {
        std::size_t avail_out = sizeof buf;
        auto* next_out = reinterpret_cast<uint8_t*>(buf);
        const auto r =
            BrotliDecoderDecompressStream(br_, &avail_in, &next_in, &avail_out, &next_out, nullptr);
        out.append(buf, sizeof buf - avail_out);
        if (r != BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT) break;
      }
    } else {
      ZSTD_inBuffer in{data.data(), data.size(), 0};
      for (;;) {
        ZSTD_outBuffer o{buf, sizeof buf, 0};
        ZSTD_decompressStream(zstd_, &o, &in);
        out.append(buf, o.pos);
        if (in.pos == in.size && o.pos < o.size) break;
      }
    }
    return out;
  }

 private:
  std::string coding_;
  z_stream z_{};
  BrotliDecoderState* br_ = nullptr;
  ZSTD_DStream* zstd_ = nullptr;
};

void add_routes(http::Server& server, std::atomic<bool>* released = nullptr) {
  auto& r = server.router();
  r.get("/json", [](http::Request&, http::Response& res) { res.json(200, kJson()); });
  r.get("/etag", [](http::Request& req, http::Response& res) {
    res.set_header("ETag", std::string(req.query("etag")));
    res.set_header("Accept-Ranges", "bytes");
    res.json(200, kJson());
  });
  r.get("/typed", [](http::Request& req, http::Response& res) {
    const std::size_t size = std::stoul(std::string(req.query("size")));
    if (req.has_query("type")) res.set_header("Content-Type", req.query("type"));
    res.write(std::string(size, 'a'));
  });
  r.get("/noise", [](http::Request& req, http::Response& res) {
    res.set_header("Content-Type", "text/plain");
    res.write(noise(std::stoul(std::string(req.query("size")))));
  });
  r.get("/encoded", [](http::Request&, http::Response& res) {
    // Already gzip-coded by the handler: passed through untouched.
    res.set_header("Content-Type", "application/json");
    res.set_header("Content-Encoding", "gzip");
    res.write(kJson());
  });
  r.get("/range", [](http::Request&, http::Response& res) {
    res.set_status(206);
    res.set_header("Content-Type", "text/plain");
    res.set_header("Content-Range", "bytes 0-1999/5000");
    res.write(std::string(2000, 'r'));
  });
  r.get("/notransform", [](http::Request&, http::Response& res) {
    res.set_header("Cache-Control", "public, no-transform");
    res.json(200, kJson());
  });
  r.get("/notmodified", [](http::Request&, http::Response& res) {
    res.set_status(304);
    res.set_header("ETag", "\"v1\"");
  });
  r.get("/large", [](http::Request&, http::Response& res) {
    res.set_header("Content-Type", "text/plain");
    for (int i = 0; i < 3 * 1024; ++i)
      res.write(std::string(1023, static_cast<char>('a' + i % 26)) + "\n");
  });
  r.get("/stream", [released](http::Request&, http::Response& res) {
    res.set_header("Content-Type", "text/event-stream");
    res.write("data: part one\n\n");
    res.flush();
    // Wait until the client has decoded part one (or gave up): only a flush
    // that reached it lets the test release this.
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (released != nullptr && !released->load() && std::chrono::steady_clock::now() < give_up) {
      cogo::sleep_for(std::chrono::milliseconds(2));
    }
    res.write("data: part two\n\n");
  });
}

class Compress : public ::testing::TestWithParam<ServeModel> {};
INSTANTIATE_TEST_SUITE_P(Models, Compress,
                         ::testing::Values(ServeModel::thread, ServeModel::goroutine_1p,
                                           ServeModel::goroutine_2p),
                         [](const auto& info) { return cogo_test::serve_model_name(info.param); });

struct Fetched {
  std::string head;
  std::string body;
  bool has(const std::string& line) const { return head.find(line + "\r\n") != std::string::npos; }
};

// fetch() is curl's view: the raw head and the undecoded body.
Fetched fetch(const std::string& url, const std::string& flags = "") {
  const std::string head = temp_path("head.txt"), body = temp_path("body.bin");
  int st = 0;
  const std::string out =
      sh("curl -sS -o " + body + " -D " + head + " " + flags + " '" + url + "'", &st);
  EXPECT_EQ(st, 0) << out;
  return {read_file(head), read_file(body)};
}

TEST_P(Compress, EveryCodingDecodesWithPythonAndCurl) {
  CompressOptions o;
  o.encodings = {"br", "zstd", "gzip", "deflate"};
  ServedServer s(GetParam(), [&](http::Server& server) {
    server.use(compress(o));
    add_routes(server);
  });
  for (const std::string coding : {"gzip", "br", "zstd", "deflate"}) {
    const Fetched f = fetch(s.url + "/json", "-H 'Accept-Encoding: " + coding + "'");
    EXPECT_TRUE(f.has("Content-Encoding: " + coding)) << f.head;
    EXPECT_TRUE(f.has("Vary: Accept-Encoding")) << f.head;
    // Framing recomputed: the Content-Length of the compressed bytes.
    EXPECT_TRUE(f.has("Content-Length: " + std::to_string(f.body.size()))) << f.head;
    EXPECT_LT(f.body.size(), kJson().size() / 3) << coding;
    EXPECT_EQ(py_decode(coding, f.body), kJson()) << coding;
  }
  // curl --compressed asks for what it can decode and decodes it.
  int st = 0;
  EXPECT_EQ(sh("curl -sS --compressed " + s.url + "/json", &st), kJson());
  const Fetched f = fetch(s.url + "/json", "--compressed");
  EXPECT_TRUE(f.has("Content-Encoding: br")) << f.head;  // the server's first choice
}

// RFC 9110 12.5.3: q-values, q=0 excludes, "*", identity, and 8.4.1.3 x-gzip.
TEST_P(Compress, AcceptEncodingNegotiation) {
  ServedServer s(GetParam(), [&](http::Server& server) {
    server.use(compress());  // br, zstd, gzip
    add_routes(server);
  });
  struct Case {
    const char* accept;  // nullptr: no field
    const char* coding;  // "" : identity
  };
  const Case cases[] = {
      {nullptr, ""},  // no field: identity
      {"", ""},       // empty: no coding wanted
      {"gzip", "gzip"},
      {"GZIP", "gzip"},                // 8.4.1: case-insensitive
      {"x-gzip", "gzip"},              // 8.4.1.3
      {"gzip;q=0.5, br;q=0.8", "br"},  // the highest q
      {"gzip;q=0.8, br;q=0.5", "gzip"},
      {"gzip, zstd, br", "br"},  // equal q: the server's order
      {"br;q=0, gzip", "gzip"},  // q=0 excludes
      {"*", "br"},
      {"*;q=0.5, br;q=0", "zstd"},  // "*" for what is not listed
      {"identity", ""},
      {"gzip;q=0.5, identity", ""},  // identity at q=1 beats gzip at 0.5
      {"gzip, identity;q=0.5", "gzip"},
      {"compress, deflate", ""},  // nothing offered is acceptable
      {"gzip;q=1.5", ""},         // not a qvalue: the member is ignored
      {"gzip;level=9", ""},       // a parameter other than q: ignored
      {"identity;q=0", ""},       // nothing acceptable: the field is disregarded (12.1)
      {"*;q=0", ""},
      {" , gzip ;q=0.3 ,", "gzip"},  // empty list elements, OWS (5.6.1)
  };
  for (const Case& c : cases) {
    const std::string flag = c.accept == nullptr
                                 ? "-H 'Accept-Encoding:'"  // curl: remove it
                                 : std::string("-H 'Accept-Encoding: ") + c.accept + "'";
    std::string head;
    if (c.accept != nullptr && *c.accept == '\0') {
      // curl cannot send an empty field: a raw request.
      RawClient client(s.port);
      client.send("GET /json HTTP/1.1\r\nHost: h\r\nAccept-Encoding:\r\n\r\n");
      const RawClient::Response r = client.read_response();
      EXPECT_FALSE(r.has("Content-Encoding")) << "empty field";
      EXPECT_EQ(r.body, kJson());
      continue;
    }
    const Fetched f = fetch(s.url + "/json", flag);
    const std::string what = c.accept == nullptr ? "(none)" : c.accept;
    EXPECT_TRUE(f.has("HTTP/1.1 200 OK")) << what << "\n" << f.head;
    EXPECT_TRUE(f.has("Vary: Accept-Encoding")) << what << "\n" << f.head;
    if (*c.coding == '\0') {
      EXPECT_EQ(f.head.find("Content-Encoding"), std::string::npos) << what << "\n" << f.head;
      EXPECT_EQ(f.body, kJson()) << what;
    } else {
      EXPECT_TRUE(f.has(std::string("Content-Encoding: ") + c.coding)) << what << "\n" << f.head;
      EXPECT_EQ(py_decode(c.coding, f.body), kJson()) << what;
    }
  }
}

TEST_P(Compress, OnlyCompressibleTypesAboveTheMinimumSize) {
  CompressOptions o;
  o.encodings = {"gzip"};
  o.min_size = 1000;
  ServedServer s(GetParam(), [&](http::Server& server) {
    server.use(compress(o));
    add_routes(server);
  });
  struct Case {
    std::string query;
    bool compressed;
  };
  const Case cases[] = {
      {"size=5000&type=image/png", false},
      {"size=5000&type=application/octet-stream", false},
      {"size=5000", false},  // no Content-Type: nothing says it is text
      {"size=999&type=text/plain", false},
      {"size=1000&type=text/plain", true},
      {"size=5000&type=TEXT/CSS;%20charset=utf-8", true},
      {"size=5000&type=application/ld%2Bjson", true},  // */*+json
      {"size=5000&type=image/svg%2Bxml", true},
      {"size=5000&type=application/javascript", true},
  };
  for (const Case& c : cases) {
    const Fetched f = fetch(s.url + "/typed?" + c.query, "-H 'Accept-Encoding: gzip'");
    EXPECT_EQ(f.has("Content-Encoding: gzip"), c.compressed) << c.query << "\n" << f.head;
    // Vary only where the answer depends on Accept-Encoding.
    EXPECT_EQ(f.has("Vary: Accept-Encoding"), c.compressed) << c.query << "\n" << f.head;
    const std::size_t size = std::stoul(c.query.substr(5));
    EXPECT_EQ(c.compressed ? py_decode("gzip", f.body) : f.body, std::string(size, 'a')) << c.query;
  }
}

TEST_P(Compress, StrongEtagBecomesWeakAndRangesAreNoLongerOffered) {
  ServedServer s(GetParam(), [&](http::Server& server) {
    server.use(compress({.encodings = {"gzip"}}));
    add_routes(server);
  });
  Fetched f = fetch(s.url + "/etag?etag=%22abc%22", "-H 'Accept-Encoding: gzip'");
  EXPECT_TRUE(f.has("ETag: W/\"abc\"")) << f.head;
  EXPECT_EQ(f.head.find("Accept-Ranges"), std::string::npos) << f.head;
  f = fetch(s.url + "/etag?etag=W/%22abc%22", "-H 'Accept-Encoding: gzip'");
  EXPECT_TRUE(f.has("ETag: W/\"abc\"")) << f.head;
  // Not compressed: the ETag and Accept-Ranges stay as the handler set them.
  f = fetch(s.url + "/etag?etag=%22abc%22", "-H 'Accept-Encoding: identity'");
  EXPECT_TRUE(f.has("ETag: \"abc\"")) << f.head;
  EXPECT_TRUE(f.has("Accept-Ranges: bytes")) << f.head;
  // A 304 revalidating the compressed 200 (the client holds W/"v1") carries
  // that 200's ETag and Vary (RFC 9110 15.4.5); one revalidating an
  // uncompressed 200 (it holds "v1") is left alone.
  f = fetch(s.url + "/notmodified", "-H 'Accept-Encoding: gzip' -H 'If-None-Match: W/\"v1\"'");
  EXPECT_TRUE(f.has("HTTP/1.1 304 Not Modified")) << f.head;
  EXPECT_TRUE(f.has("ETag: W/\"v1\"")) << f.head;
  EXPECT_TRUE(f.has("Vary: Accept-Encoding")) << f.head;
  f = fetch(s.url + "/notmodified", "-H 'Accept-Encoding: gzip' -H 'If-None-Match: \"v1\"'");
  EXPECT_TRUE(f.has("ETag: \"v1\"")) << f.head;
  EXPECT_EQ(f.head.find("Vary"), std::string::npos) << f.head;
}

TEST_P(Compress, NeverTwiceNorARangeNorNoTransform) {
  ServedServer s(GetParam(), [&](http::Server& server) {
    server.use(compress({.encodings = {"gzip"}}));
    server.use(compress({.encodings = {"br"}}));  // the inner one finds the filter taken
    add_routes(server);
  });
  Fetched f = fetch(s.url + "/json", "-H 'Accept-Encoding: gzip, br'");
  EXPECT_TRUE(f.has("Content-Encoding: gzip")) << f.head;
  EXPECT_EQ(py_decode("gzip", f.body), kJson());  // once: decodes to the JSON itself
  EXPECT_EQ(f.head.find("Vary: Accept-Encoding\r\nVary"), std::string::npos) << f.head;
  // The handler's own Content-Encoding: untouched.
  f = fetch(s.url + "/encoded", "-H 'Accept-Encoding: gzip'");
  EXPECT_EQ(f.body, kJson());
  EXPECT_TRUE(f.has("Content-Encoding: gzip")) << f.head;
  EXPECT_EQ(f.head.find("Vary"), std::string::npos) << f.head;
  // A range (206, Content-Range) is never compressed.
  f = fetch(s.url + "/range", "-H 'Accept-Encoding: gzip'");
  EXPECT_TRUE(f.has("HTTP/1.1 206 Partial Content")) << f.head;
  EXPECT_EQ(f.body, std::string(2000, 'r'));
  EXPECT_EQ(f.head.find("Content-Encoding"), std::string::npos) << f.head;
  // Cache-Control: no-transform (RFC 9111 5.2.2.6).
  f = fetch(s.url + "/notransform", "-H 'Accept-Encoding: gzip'");
  EXPECT_EQ(f.body, kJson());
  EXPECT_EQ(f.head.find("Content-Encoding"), std::string::npos) << f.head;
}

// RFC 9110 9.3.2: HEAD gets the fields GET would get, except those only
// generating the content tells (8.6: no Content-Length unless it equals the
// GET's); the connection stays usable.
TEST_P(Compress, HeadGetsTheHeadOfTheCompressedGet) {
  ServedServer s(GetParam(), [&](http::Server& server) {
    server.use(compress({.encodings = {"gzip"}}));
    add_routes(server);
  });
  RawClient c(s.port);
  c.send("HEAD /etag?etag=%22e%22 HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\n\r\n");
  RawClient::Response head = c.read_response(true);
  c.send("GET /etag?etag=%22e%22 HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\n\r\n");
  RawClient::Response get = c.read_response();
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.field("Content-Encoding"), "gzip");
  EXPECT_EQ(head.field("Vary"), "Accept-Encoding");
  EXPECT_EQ(head.field("ETag"), "W/\"e\"");
  EXPECT_EQ(head.field("Content-Type"), get.field("Content-Type"));
  EXPECT_FALSE(head.has("Content-Length"));
  EXPECT_FALSE(head.has("Transfer-Encoding"));
  EXPECT_EQ(get.field("Content-Encoding"), "gzip");
  EXPECT_EQ(py_decode("gzip", get.body), kJson());
  // Uncompressed HEAD keeps the GET's Content-Length.
  c.send("HEAD /json HTTP/1.1\r\nHost: h\r\n\r\n");
  head = c.read_response(true);
  EXPECT_EQ(head.field("Content-Length"), std::to_string(kJson().size()));
  EXPECT_FALSE(head.has("Content-Encoding"));
}

// Compressed bodies of every size the HTTP/1.1 engine writes differently
// (copied behind the head; written from the Response with it, alone on the
// connection or last of a pipelined batch; over 16 KiB), identity bodies
// beside them and HEADs between them, on one keep-alive connection: each
// arrives whole and in order, its Content-Length the compressed size, and
// inflates (zlib) to exactly what the handler wrote. Then all of it again
// as one pipelined batch.
TEST_P(Compress, BodiesOfEverySizeArriveWholeOverKeepAliveAndPipelined) {
  ServedServer s(GetParam(), [&](http::Server& server) {
    server.use(compress({.encodings = {"gzip"}}));
    add_routes(server);
  });
  struct Ask {
    std::size_t size;
    bool gzip;
    bool head;
  };
  // Compressed: ~0.76 of size (1.5 KB, 6 KB, 12 KB, 30 KB); identity 9,000.
  const std::vector<Ask> asks = {{2000, true, false},  {8000, true, false},  {8000, true, true},
                                 {16000, true, false}, {9000, false, false}, {40000, true, false},
                                 {40000, true, true},  {2000, true, false},  {16000, true, false}};
  auto request = [](const Ask& a) {
    return std::string(a.head ? "HEAD" : "GET") + " /noise?size=" + std::to_string(a.size) +
           " HTTP/1.1\r\nHost: h\r\n" + (a.gzip ? "Accept-Encoding: gzip\r\n" : "") + "\r\n";
  };
  auto check = [](const Ask& a, const RawClient::Response& r) {
    const std::string what = std::to_string(a.size) + (a.gzip ? " gzip" : "") + (a.head ? " HEAD" : "");
    EXPECT_EQ(r.status, 200) << what;
    EXPECT_EQ(r.field("Content-Encoding"), a.gzip ? "gzip" : "") << what;
    if (a.head) {
      EXPECT_EQ(r.has("Content-Length"), !a.gzip) << what;
      return;
    }
    EXPECT_EQ(r.field("Content-Length"), std::to_string(r.body.size())) << what;
    if (!a.gzip) {
      EXPECT_EQ(r.body, noise(a.size)) << what;
      return;
    }
    EXPECT_LT(r.body.size(), a.size) << what;
    Decoder d("gzip");
    EXPECT_EQ(d.feed(r.body), noise(a.size)) << what;
  };
  {
    RawClient c(s.port);
    for (const Ask& a : asks) {
      c.send(request(a));
      check(a, c.read_response(a.head));
    }
  }
  RawClient c(s.port);
  std::string batch;
  for (const Ask& a : asks) batch += request(a);
  c.send(batch);
  for (const Ask& a : asks) check(a, c.read_response(a.head));
}

TEST_P(Compress, EachFlushReachesTheClientDecodable) {
  std::atomic<bool> released{false};
  ServedServer s(GetParam(), [&](http::Server& server) {
    server.use(compress({.encodings = {"br", "zstd", "gzip", "deflate"}}));
    add_routes(server, &released);
  });
  for (const std::string coding : {"gzip", "br", "zstd", "deflate"}) {
    released = false;
    RawClient c(s.port);
    c.send("GET /stream HTTP/1.1\r\nHost: h\r\nAccept-Encoding: " + coding + "\r\n\r\n");
    const RawClient::Response head = c.head();
    EXPECT_EQ(head.field("Content-Encoding"), coding);
    EXPECT_EQ(head.field("Transfer-Encoding"), "chunked");
    EXPECT_FALSE(head.has("Content-Length"));
    Decoder d(coding);
    std::string decoded;
    bool last = false;
    // Part one arrives and decodes while the handler still waits.
    while (decoded.find("data: part one\n\n") == std::string::npos && !last) {
      decoded += d.feed(c.next_chunk(last));
    }
    EXPECT_EQ(decoded, "data: part one\n\n") << coding;
    released = true;
    while (!last) decoded += d.feed(c.next_chunk(last));
    EXPECT_EQ(decoded, "data: part one\n\ndata: part two\n\n") << coding;
  }
}

TEST_P(Compress, BodiesBeyondTheBufferStreamCompressed) {
  ServedServer s(GetParam(), [&](http::Server& server) {
    server.use(compress({.encodings = {"zstd", "gzip"}}));
    add_routes(server);
  });
  std::string expected;
  for (int i = 0; i < 3 * 1024; ++i)
    expected += std::string(1023, static_cast<char>('a' + i % 26)) + "\n";
  for (const std::string coding : {"gzip", "zstd"}) {
    RawClient c(s.port);
    c.send("GET /large HTTP/1.1\r\nHost: h\r\nAccept-Encoding: " + coding + "\r\n\r\n");
    const RawClient::Response r = c.read_response();
    EXPECT_TRUE(r.chunked) << coding;  // 3 MiB is more than max_buffered_response_bytes
    EXPECT_EQ(r.field("Content-Encoding"), coding);
    EXPECT_EQ(py_decode(coding, r.body), expected) << coding;
  }
}

TEST_P(Compress, WorkInProgressIsBounded) {
  std::atomic<bool> released{false};
  ServedServer s(GetParam(), [&](http::Server& server) {
    server.use(compress({.encodings = {"gzip"}, .max_streams = 1}));
    add_routes(server, &released);
  });
  // One stream holds the only slot while its handler waits.
  RawClient holder(s.port);
  holder.send("GET /stream HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\n\r\n");
  EXPECT_EQ(holder.head().field("Content-Encoding"), "gzip");
  // The next response goes out as it is, still marked as varying.
  Fetched f = fetch(s.url + "/json", "-H 'Accept-Encoding: gzip'");
  EXPECT_EQ(f.head.find("Content-Encoding"), std::string::npos) << f.head;
  EXPECT_TRUE(f.has("Vary: Accept-Encoding")) << f.head;
  EXPECT_EQ(f.body, kJson());
  released = true;
  bool last = false;
  while (!last) holder.next_chunk(last);
  // The slot is free again.
  f = fetch(s.url + "/json", "-H 'Accept-Encoding: gzip'");
  EXPECT_TRUE(f.has("Content-Encoding: gzip")) << f.head;
}

TEST_P(Compress, OverTls) {
  ServedServer s(
      GetParam(),
      [&](http::Server& server) {
        server.use(compress());
        add_routes(server);
      },
      true);
  int st = 0;
  EXPECT_EQ(sh("curl -sSk --compressed " + s.tls_url + "/json", &st), kJson());
  const Fetched f = fetch(s.tls_url + "/json", "-k -H 'Accept-Encoding: zstd'");
  EXPECT_TRUE(f.has("Content-Encoding: zstd")) << f.head;
  EXPECT_EQ(py_decode("zstd", f.body), kJson());
}

TEST(CompressOptions, BadOptionsAreNamed) {
  auto error_of = [](CompressOptions o) -> std::string {
    try {
      compress(std::move(o));
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_NE(error_of({.encodings = {"lzma"}}).find("\"lzma\" is not one of"), std::string::npos);
  EXPECT_NE(error_of({.encodings = {"gzip", "gzip"}}).find("listed twice"), std::string::npos);
  EXPECT_NE(error_of({.encodings = {}}).find("encodings is empty"), std::string::npos);
  EXPECT_NE(error_of({.gzip_level = 10}).find("gzip_level 10 is out of range 1..9"),
            std::string::npos);
  EXPECT_NE(error_of({.brotli_quality = 12}).find("brotli_quality"), std::string::npos);
  EXPECT_NE(error_of({.zstd_level = 0}).find("zstd_level"), std::string::npos);
  CompressOptions o;
  o.types = {"text"};
  EXPECT_NE(error_of(o).find("type \"text\""), std::string::npos);
}

// The parser and the negotiation alone (RFC 9110 12.4.2 qvalue, 12.5.3).
TEST(AcceptEncoding, QvaluesParseAsRfc9110Says) {
  using detail::parse_qvalue;
  EXPECT_EQ(parse_qvalue("0"), 0);
  EXPECT_EQ(parse_qvalue("1"), 1000);
  EXPECT_EQ(parse_qvalue("0.5"), 500);
  EXPECT_EQ(parse_qvalue("0.125"), 125);
  EXPECT_EQ(parse_qvalue("1.000"), 1000);
  EXPECT_EQ(parse_qvalue("0."), 0);
  for (const char* bad : {"", "1.5", "1.001", "0.1234", ".5", "2", "-0", "0,5", "0.5 "}) {
    EXPECT_EQ(parse_qvalue(bad), -1) << bad;
  }
}

TEST(AcceptEncoding, NegotiationFollowsRfc9110Section12_5_3) {
  using detail::kIdentity;
  using detail::kNoneAcceptable;
  const std::vector<std::string_view> offered = {"br", "zstd", "gzip"};
  auto pick = [&](std::vector<std::string_view> values) {
    return detail::negotiate_encoding(values, offered);
  };
  EXPECT_EQ(pick({}), kIdentity);
  EXPECT_EQ(pick({""}), kIdentity);
  EXPECT_EQ(pick({"gzip"}), 2);
  EXPECT_EQ(pick({"gzip", "br"}), 0);  // two fields are one list
  EXPECT_EQ(pick({"identity;q=0"}), kNoneAcceptable);
  EXPECT_EQ(pick({"*;q=0"}), kNoneAcceptable);
  EXPECT_EQ(pick({"*;q=0, identity"}), kIdentity);
  EXPECT_EQ(pick({"*;q=0, gzip;Q=0.001"}), 2);
  EXPECT_EQ(pick({"*;q=0.2, identity;q=0.3"}), kIdentity);
  EXPECT_EQ(pick({"*;q=0.3, identity;q=0.3"}), 0);  // a coding wins a tie with identity
  // A long list (more members than negotiate keeps on the stack, across
  // fields): the members past the 16th count as much as the first.
  std::string many;
  for (int i = 0; i < 20; ++i) many += "x-" + std::to_string(i) + ";q=0.9, ";
  EXPECT_EQ(pick({many + "zstd;q=0.5", "br;q=0"}), 1);
  EXPECT_EQ(pick({many, "*;q=0.1, gzip;q=0.95"}), 2);
  EXPECT_EQ(pick({many + "identity;q=0", "*;q=0"}), kNoneAcceptable);
  std::vector<detail::CodingWeight> members;
  EXPECT_FALSE(detail::parse_accept_encoding("gzip;q=2, br", members));
  ASSERT_EQ(members.size(), 1u);
  EXPECT_EQ(members[0].coding, "br");
}

// cogo-server --compress: a bad coding is named (the flag's own test with a
// body to compress is in mw_static_test, which serves files).
TEST(CompressFlag, BadCodingIsNamed) {
  int st = 0;
  std::string out =
      cogo_test::run_command(cogo_test::server_binary() + " --compress gzip,lzma 2>&1", &st);
  EXPECT_EQ(WEXITSTATUS(st), 2);
  EXPECT_NE(
      out.find("--compress: compress: encoding \"lzma\" is not one of br, zstd, gzip, deflate"),
      std::string::npos)
      << out;
  out = cogo_test::run_command("COGO_COMPRESS=gzip,gzip " + cogo_test::server_binary() + " 2>&1",
                               &st);
  EXPECT_EQ(WEXITSTATUS(st), 2);
  EXPECT_NE(out.find("--compress: compress: encoding \"gzip\" is listed twice"), std::string::npos)
      << out;
}

}  // namespace
}  // namespace cogo::middleware
