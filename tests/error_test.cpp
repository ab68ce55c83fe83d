// error_test: every exception cogo throws for a failed operation is a
// cogo::Error (cogo/error.h) that still names what failed, with a code in
// its own category — each produced by the real operation, not constructed.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "cogo/flag_value.h"
#include "cogo/http.h"
#include "cogo/net.h"
#include "support/server_process.h"

namespace {

using cogo::http::Request;
using cogo::http::Response;

TEST(ErrorFamily, NetErrorFromARefusedDial) {
  // A port that nothing listens on: bind one, note it, close it.
  int port = 0;
  {
    cogo::run([&] {
      auto ln = cogo::net::listen("127.0.0.1:0");
      port = ln.address().port();
    });
  }
  bool caught = false;
  cogo::run([&] {
    try {
      cogo::net::dial("127.0.0.1:" + std::to_string(port));
    } catch (const cogo::Error& e) {
      caught = true;
      EXPECT_EQ(e.code(), std::errc::connection_refused) << e.what();
      EXPECT_NE(std::string(e.what()).find("127.0.0.1:" + std::to_string(port)), std::string::npos)
          << e.what();
      EXPECT_NE(dynamic_cast<const cogo::net::Error*>(&e), nullptr);
    }
  });
  EXPECT_TRUE(caught);
}

TEST(ErrorFamily, FlagErrorFromABadValue) {
  try {
    cogo::parse_size("--max-body-bytes", "lots");
    FAIL() << "no error";
  } catch (const cogo::Error& e) {
    EXPECT_EQ(e.code(), std::errc::invalid_argument);
    EXPECT_STREQ(e.what(), "--max-body-bytes: 'lots' is not a size; use bytes or a number with K, M "
                           "or G (e.g. 8K, 1M)");
  }
}

// A handler reading a body catches what Request::read() throws as cogo::Error
// and answers with what it learned: HttpError (413, too large) and
// TimeoutError (the body stopped arriving).
TEST(ErrorFamily, HttpErrorAndTimeoutErrorFromRequestRead) {
  cogo::run([&] {
    cogo::http::ServerOptions o;
    o.listen = {{"127.0.0.1:0"}};
    o.handle_signals = false;
    o.http.max_body_bytes = 10;
    o.http.body_read_timeout = std::chrono::milliseconds(200);
    cogo::http::Server server(o);
    server.router().post("/", [](Request& req, Response& res) {
      try {
        (void)req.body();
        res.text(200, "read it");
      } catch (const cogo::Error& e) {
        res.text(200, std::string(e.code().category().name()) + " " +
                          std::to_string(e.code().value()) + " " + e.what());
      }
    });
    server.listen();
    const std::string addr = server.addresses().at(0);
    const int port = std::stoi(addr.substr(addr.rfind(':') + 1));
    std::string too_large, timed_out;
    std::thread t([&] {
      int fd = cogo_test::connect_to(port);
      // Chunked, so the handler runs and learns of the excess while reading
      // (a declared Content-Length over the limit is answered 413 at once).
      cogo_test::send_all(fd, "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                              "Transfer-Encoding: chunked\r\n\r\nb\r\nhello world\r\n0\r\n\r\n");
      too_large = cogo_test::read_until_close(fd);
      close(fd);
      fd = cogo_test::connect_to(port);
      cogo_test::send_all(fd, "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                              "Content-Length: 5\r\n\r\nab");  // 3 bytes never come
      timed_out = cogo_test::read_until_close(fd);
      close(fd);
      server.shutdown();
    });
    server.serve();
    cogo::blocking([&] { t.join(); });
    EXPECT_NE(too_large.find("cogo.http 413 request body too large"), std::string::npos)
        << too_large;
    EXPECT_NE(timed_out.find(std::string(std::generic_category().name()) + " " +
                             std::to_string(static_cast<int>(std::errc::timed_out))),
              std::string::npos)
        << timed_out;
  });
}

TEST(ErrorFamily, HttpStatusCategoryNamesTheReason) {
  const cogo::http::HttpError e(404, "no such user");
  EXPECT_STREQ(e.what(), "no such user");
  EXPECT_EQ(e.status(), 404);
  EXPECT_EQ(e.code().message(), "Not Found");
  EXPECT_STREQ(e.code().category().name(), "cogo.http");
  // Still a std::system_error, for code that catches those.
  EXPECT_NE(dynamic_cast<const std::system_error*>(&e), nullptr);
}

}  // namespace
