// middleware::real_ip through a real Server in every model: the client
// address is the first untrusted hop from the right of X-Forwarded-For
// (or of Forwarded, RFC 7239), only when the peer is trusted; a forged
// leftmost entry is never used; a hop that is no address stops the walk;
// later middleware (the access log) sees the result.
#include "cogo/middleware/real_ip.h"

#include <gtest/gtest.h>

#include "cogo/http/request.h"
#include "cogo/http/response.h"
#include "http_test_util.h"
#include "support/served_server.h"
#include "support/server_process.h"

namespace cogo::middleware {
namespace {

using cogo_test::ServedServer;
using http::testing::Client;

std::function<void(http::Server&)> routes(RealIpOptions o) {
  return [o](http::Server& s) {
    s.use(real_ip(o));
    s.router().get("/", [](http::Request& req, http::Response& res) {
      res.text(200, std::string(req.remote_address()) + " " + std::string(req.peer_address()));
    });
  };
}

RealIpOptions trusting(std::vector<std::string> ranges,
                       RealIpOptions::Header h = RealIpOptions::Header::x_forwarded_for) {
  RealIpOptions o;
  o.trusted = std::move(ranges);
  o.header = h;
  return o;
}

// client_of() is the remote address the handler saw for a request with
// the given head lines (from this test's 127.0.0.1).
std::string client_of(const ServedServer& s, const std::string& head) {
  Client c(cogo_test::connect_to(s.port));
  c.send("GET / HTTP/1.1\r\nHost: h\r\n" + head + "\r\n");
  const std::string body = c.read_response().body;
  const std::string peer = body.substr(body.find(' ') + 1);
  EXPECT_EQ(peer.rfind("127.0.0.1:", 0), 0u) << body;  // peer_address() never changes
  return body.substr(0, body.find(' '));
}

class RealIpTest : public cogo_test::ServeModelTest {};
INSTANTIATE_TEST_SUITE_P(Models, RealIpTest, cogo_test::kServeModels,
                         cogo_test::serve_model_param_name);

TEST_P(RealIpTest, XForwardedForIsWalkedFromTheRight) {
  ServedServer s(GetParam(), routes(trusting({"127.0.0.1", "10.0.0.0/8", "fd00::/8"})));
  EXPECT_EQ(client_of(s, "X-Forwarded-For: 203.0.113.7\r\n"), "203.0.113.7");
  // A client-written (forged) leftmost entry is never the answer.
  EXPECT_EQ(client_of(s, "X-Forwarded-For: 1.2.3.4, 203.0.113.7\r\n"), "203.0.113.7");
  // Trusted hops are proxies: the walk goes past them.
  EXPECT_EQ(client_of(s, "X-Forwarded-For: 6.6.6.6, 203.0.113.7, 10.0.0.2,10.9.9.9\r\n"),
            "203.0.113.7");
  EXPECT_EQ(client_of(s, "X-Forwarded-For: 203.0.113.7, fd00::2\r\n"), "203.0.113.7");
  // All trusted: the leftmost.
  EXPECT_EQ(client_of(s, "X-Forwarded-For: 10.0.0.5, 10.0.0.6\r\n"), "10.0.0.5");
  // Several fields are one list, in order.
  EXPECT_EQ(client_of(s, "X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-For: 203.0.113.9\r\n"),
            "203.0.113.9");
  // Ports and IPv6 in the forms proxies write.
  EXPECT_EQ(client_of(s, "X-Forwarded-For: 203.0.113.7:8080\r\n"), "203.0.113.7");
  EXPECT_EQ(client_of(s, "X-Forwarded-For: [2001:DB8::1]:4711\r\n"), "2001:db8::1");
  EXPECT_EQ(client_of(s, "X-Forwarded-For: 2001:db8::1\r\n"), "2001:db8::1");
  EXPECT_EQ(client_of(s, "X-Forwarded-For: ::ffff:203.0.113.8\r\n"), "203.0.113.8");
  // An entry that is no address stops the walk at the nearest trusted hop.
  EXPECT_EQ(client_of(s, "X-Forwarded-For: 203.0.113.7, unknown, 10.0.0.9\r\n"), "10.0.0.9");
  EXPECT_EQ(client_of(s, "X-Forwarded-For: 203.0.113.7, 1.2.3.4.5\r\n"), "127.0.0.1");
  // No header: nothing changes (the peer keeps its port).
  EXPECT_EQ(client_of(s, "").rfind("127.0.0.1:", 0), 0u);
  // Forwarded is another header: ignored when X-Forwarded-For is read.
  EXPECT_EQ(client_of(s, "Forwarded: for=203.0.113.1\r\n").rfind("127.0.0.1:", 0), 0u);
}

TEST_P(RealIpTest, AnUntrustedPeerIsTheClientWhateverItWrites) {
  ServedServer s(GetParam(), routes(trusting({"10.0.0.0/8", "::1"})));
  EXPECT_EQ(client_of(s, "X-Forwarded-For: 203.0.113.7\r\n").rfind("127.0.0.1:", 0), 0u);
}

// RFC 7239 4: Forwarded's elements, "for" in any case, quoted values,
// IPv6 in brackets, "unknown" and obfuscated identifiers (6.2, 6.3); each
// rule of the grammar below cites its section.
TEST_P(RealIpTest, ForwardedIsRfc7239) {
  ServedServer s(GetParam(), routes(trusting({"127.0.0.0/8", "198.51.100.0/24"},
                                             RealIpOptions::Header::forwarded)));
  EXPECT_EQ(client_of(s, "Forwarded: for=192.0.2.60;proto=http;by=203.0.113.43\r\n"), "192.0.2.60");
  EXPECT_EQ(client_of(s, "Forwarded: for=192.0.2.43, for=\"[2001:db8:cafe::17]:4711\"\r\n"),
            "2001:db8:cafe::17");
  EXPECT_EQ(client_of(s, "Forwarded: For=\"192.0.2.43:47011\", for=198.51.100.17;by=x\r\n"),
            "192.0.2.43");
  EXPECT_EQ(client_of(s, "Forwarded: for=192.0.2.1\r\nForwarded: for=192.0.2.2\r\n"), "192.0.2.2");
  EXPECT_EQ(client_of(s, "Forwarded: proto=https;by=\"a,b\";for=192.0.2.9\r\n"), "192.0.2.9");
  // No address: the walk stops at the nearest trusted hop.
  EXPECT_EQ(client_of(s, "Forwarded: for=192.0.2.60, for=unknown, for=198.51.100.2\r\n"),
            "198.51.100.2");
  EXPECT_EQ(client_of(s, "Forwarded: for=_hidden\r\n"), "127.0.0.1");
  EXPECT_EQ(client_of(s, "Forwarded: proto=http\r\n"), "127.0.0.1");                   // no "for"
  EXPECT_EQ(client_of(s, "Forwarded: for=192.0.2.1;for=192.0.2.2\r\n"), "127.0.0.1");  // twice
  EXPECT_EQ(client_of(s, "Forwarded: for=\"192.0.2.1\r\n"), "127.0.0.1");  // unterminated
  // 4: a value is a token or a quoted-string; ':' and '[]' are no tchar,
  // so a port or an IPv6 address must be quoted.
  EXPECT_EQ(client_of(s, "Forwarded: for=192.0.2.43:47011\r\n"), "127.0.0.1");
  EXPECT_EQ(client_of(s, "Forwarded: for=[2001:db8::1]\r\n"), "127.0.0.1");
  // 4: no parameter twice in an element, whichever it is.
  EXPECT_EQ(client_of(s, "Forwarded: for=192.0.2.1;proto=http;Proto=https\r\n"), "127.0.0.1");
  // 4: empty pairs are part of the grammar; RFC 9110 5.6.1: empty list
  // elements are ignored.
  EXPECT_EQ(client_of(s, "Forwarded: , for=192.0.2.3;;proto=http ,\r\n"), "192.0.2.3");
  // RFC 9110 5.6.4: a quoted-pair stands for the character after a backslash.
  EXPECT_EQ(client_of(s, "Forwarded: for=\"\\[2001:db8::5\\]\"\r\n"), "2001:db8::5");
  // 6: an IPv6 address only in brackets; a port of 1-5 digits or
  // obfuscated ("_" and ALPHA / DIGIT / "." / "_" / "-", 6.3).
  EXPECT_EQ(client_of(s, "Forwarded: for=\"2001:db8::6\"\r\n"), "127.0.0.1");
  EXPECT_EQ(client_of(s, "Forwarded: for=\"[192.0.2.7]\"\r\n"), "127.0.0.1");
  EXPECT_EQ(client_of(s, "Forwarded: for=\"192.0.2.7:_p.1-x\"\r\n"), "192.0.2.7");
  EXPECT_EQ(client_of(s, "Forwarded: for=\"192.0.2.7:123456\"\r\n"), "127.0.0.1");
  EXPECT_EQ(client_of(s, "Forwarded: for=\"[2001:db8::8]:\"\r\n"), "127.0.0.1");
  // 6.2: "unknown" in any case is no address.
  EXPECT_EQ(client_of(s, "Forwarded: for=192.0.2.60, for=UNKNOWN\r\n"), "127.0.0.1");
  // A bad element stops the walk but the elements right of it count.
  EXPECT_EQ(client_of(s, "Forwarded: for=192.0.2.1, for=x y, for=198.51.100.4, for=192.0.2.8\r\n"),
            "192.0.2.8");
  // X-Forwarded-For is ignored in this mode.
  EXPECT_EQ(client_of(s, "X-Forwarded-For: 192.0.2.5\r\n").rfind("127.0.0.1:", 0), 0u);
}

TEST(RealIp, BadRangesAreNamed) {
  for (const char* bad : {"10.0.0.0/33", "nonsense", "10.0.0.0/x", "::/129", "10.0.0.0/", ""}) {
    try {
      real_ip(trusting({"127.0.0.1", bad}));
      ADD_FAILURE() << bad;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("'" + std::string(bad) + "'"), std::string::npos)
          << e.what();
    }
  }
}

}  // namespace
}  // namespace cogo::middleware
