// served_server.h: a real cogo::http::Server on a runtime of its own thread,
// in a chosen connection model, for the middleware tests that talk to it
// from outside through real sockets (curl, Python, a raw TCP client).
//
//   cogo_test::ServedServer s(ServeModel::goroutine_1p, [](cogo::http::Server& server) {
//     server.use(cogo::middleware::compress());
//     server.router().get("/x", handler);
//   });
//   sh("curl -s " + s.url + "/x");
//
// Also: sh() (a shell command's output), a self-signed certificate made once
// per process (tls_cert_dir()), RawClient (one keep-alive TCP connection
// that reads responses byte-exactly, chunked bodies included),
// leave_once_waiting() (a client that leaves while its handler waits), and
// ServeModelTest, a fixture whose TEST_Ps run once per model:
//   class MyTest : public cogo_test::ServeModelTest {};
//   INSTANTIATE_TEST_SUITE_P(Models, MyTest, cogo_test::kServeModels,
//                            cogo_test::serve_model_param_name);
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cogo/http/server.h"
#include "cogo/runtime.h"
#include "gtest/gtest.h"

namespace cogo_test {

// sh() runs command with the shell (stderr folded into stdout) and returns
// its output; *status receives its exit code.
inline std::string sh(const std::string& command, int* status = nullptr) {
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int raw = ::pclose(p);
  if (status) *status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return out;
}

// tls_cert_dir() holds cert.pem and key.pem, a self-signed certificate for
// localhost made once per process.
inline const std::string& tls_cert_dir() {
  static const std::string dir = [] {
    char tmpl[] = "/tmp/cogo_served_tls_XXXXXX";
    const std::string d = ::mkdtemp(tmpl);
    int st = 0;
    const std::string out =
        sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
           "-subj /CN=localhost -keyout " +
               d + "/key.pem -out " + d + "/cert.pem",
           &st);
    if (st != 0) throw std::runtime_error("openssl: " + out);
    return d;
  }();
  return dir;
}

// ServeModel: the connection model and, for goroutines, the Ps.
enum class ServeModel { thread, goroutine_1p, goroutine_2p };

inline std::string serve_model_name(ServeModel m) {
  switch (m) {
    case ServeModel::thread:
      return "thread";
    case ServeModel::goroutine_1p:
      return "goroutine_1P";
    case ServeModel::goroutine_2p:
      return "goroutine_2P";
  }
  return "unknown";
}

// ServeModelTest: the fixture of tests run in every model (kServeModels).
class ServeModelTest : public ::testing::TestWithParam<ServeModel> {};
inline const auto kServeModels =
    ::testing::Values(ServeModel::goroutine_1p, ServeModel::goroutine_2p, ServeModel::thread);
inline std::string serve_model_param_name(const ::testing::TestParamInfo<ServeModel>& info) {
  return serve_model_name(info.param);
}

// ServedServer: a Server listening on 127.0.0.1:0 (and, with tls, on a
// second port with tls_cert_dir()'s certificate), set up by setup before it
// listens, served until the destructor shuts it down.
class ServedServer {
 public:
  ServedServer(ServeModel model, std::function<void(cogo::http::Server&)> setup, bool tls = false,
               std::function<void(cogo::http::ServerOptions&)> options = {}) {
    std::promise<void> ready;
    ::setenv("COGO_MAXPROCS", model == ServeModel::goroutine_2p ? "2" : "1", 1);
    thread_ = std::thread([&, model, tls] {
      cogo::run([&] {
        cogo::http::ServerOptions o;
        o.model =
            model == ServeModel::thread ? cogo::http::Model::thread : cogo::http::Model::goroutine;
        o.handle_signals = false;
        o.shutdown_grace = std::chrono::milliseconds(2000);
        o.listen = {{"127.0.0.1:0", false}};
        if (tls) {
          o.listen.push_back({"127.0.0.1:0", true});
          o.tls.cert_file = tls_cert_dir() + "/cert.pem";
          o.tls.key_file = tls_cert_dir() + "/key.pem";
        }
        if (options) options(o);
        cogo::http::Server server(o);
        setup(server);
        server.listen();
        const auto addresses = server.addresses();
        url = "http://" + addresses[0];
        port = std::stoi(addresses[0].substr(addresses[0].rfind(':') + 1));
        if (tls) tls_url = "https://" + addresses[1];
        server_ = &server;
        ready.set_value();
        server.serve();
        server_ = nullptr;
      });
    });
    ready.get_future().wait();
  }
  ~ServedServer() {
    server_.load()->shutdown();
    thread_.join();
  }
  ServedServer(const ServedServer&) = delete;
  ServedServer& operator=(const ServedServer&) = delete;

  std::string url;      // "http://127.0.0.1:PORT"
  std::string tls_url;  // "https://127.0.0.1:PORT2" with tls
  int port = 0;

 private:
  std::thread thread_;
  std::atomic<cogo::http::Server*> server_{nullptr};
};

// RawClient: one TCP connection to 127.0.0.1:port, speaking bytes; reads
// responses exactly as they come (head fields in order, a body by
// Content-Length, chunked, or to the close).
class RawClient {
 public:
  explicit RawClient(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      throw std::runtime_error("connect failed");
    }
  }
  ~RawClient() { ::close(fd_); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  void send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error("send failed");
      data.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  // fill() reads more bytes into the buffer; false at EOF or timeout.
  bool fill(int timeout_ms = 10000) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return false;
    char buf[65536];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    in_.append(buf, static_cast<std::size_t>(n));
    return true;
  }
  bool eof() const { return eof_; }

  // take() removes and returns n buffered bytes, reading as needed.
  std::string take(std::size_t n, int timeout_ms = 10000) {
    while (in_.size() < n) {
      if (!fill(timeout_ms))
        throw std::runtime_error("connection ended before " + std::to_string(n) + " bytes");
    }
    std::string out = in_.substr(0, n);
    in_.erase(0, n);
    return out;
  }
  // line() takes up to and including the next CRLF, returning it without.
  std::string line(int timeout_ms = 10000) {
    std::size_t at;
    while ((at = in_.find("\r\n")) == std::string::npos) {
      if (!fill(timeout_ms)) throw std::runtime_error("connection ended inside a line");
    }
    std::string out = in_.substr(0, at);
    in_.erase(0, at + 2);
    return out;
  }

  struct Response {
    int status = 0;
    std::vector<std::pair<std::string, std::string>> fields;
    std::string body;
    bool chunked = false;
    std::vector<std::string> chunks;  // a chunked body's chunks, as sent
    std::string field(std::string_view name) const {
      for (const auto& [n, v] : fields) {
        if (iequal(n, name)) return v;
      }
      return {};
    }
    bool has(std::string_view name) const {
      for (const auto& [n, v] : fields) {
        if (iequal(n, name)) return true;
      }
      return false;
    }
    int count(std::string_view name) const {
      int c = 0;
      for (const auto& [n, v] : fields) c += iequal(n, name);
      return c;
    }
  };

  // head() reads a status line and the fields.
  Response head() {
    Response r;
    const std::string status = line();
    if (status.compare(0, 9, "HTTP/1.1 ") != 0)
      throw std::runtime_error("bad status line " + status);
    r.status = std::stoi(status.substr(9, 3));
    for (std::string l = line(); !l.empty(); l = line()) {
      const std::size_t colon = l.find(':');
      std::string value = l.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      r.fields.emplace_back(l.substr(0, colon), value);
    }
    return r;
  }

  // read_response() reads one whole response; no_body: to a HEAD, or a
  // status without content.
  Response read_response(bool no_body = false) {
    Response r = head();
    if (no_body || r.status == 204 || r.status == 304 || r.status < 200) return r;
    if (iequal(r.field("Transfer-Encoding"), "chunked")) {
      r.chunked = true;
      for (;;) {
        const std::size_t size = std::stoul(line(), nullptr, 16);
        if (size == 0) {
          line();
          break;
        }
        r.chunks.push_back(take(size));
        r.body += r.chunks.back();
        line();
      }
    } else if (r.has("Content-Length")) {
      r.body = take(std::stoul(r.field("Content-Length")));
    } else {
      while (fill()) {
      }
      r.body = std::exchange(in_, std::string());
    }
    return r;
  }

  // next_chunk() reads one chunk of a chunked body after head(): its data,
  // or nullopt-like "" with last set at the terminating chunk.
  std::string next_chunk(bool& last, int timeout_ms = 10000) {
    const std::size_t size = std::stoul(line(timeout_ms), nullptr, 16);
    last = size == 0;
    if (last) {
      line(timeout_ms);
      return {};
    }
    std::string data = take(size, timeout_ms);
    line(timeout_ms);
    return data;
  }

  static bool iequal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(a[i])) !=
          std::tolower(static_cast<unsigned char>(b[i])))
        return false;
    }
    return true;
  }

 private:
  int fd_ = -1;
  std::string in_;
  bool eof_ = false;
};

// leave_once_waiting() sends GET target on a new connection to port, waits
// until waiting (a count the target's handler increments on entry) passes
// the value it had, then closes the connection: a client that leaves while
// its handler waits. False if the handler was not reached within 20 s (a
// hang guard, not a timing).
inline bool leave_once_waiting(int port, const std::string& target,
                               const std::atomic<int>& waiting) {
  RawClient c(port);
  const int before = waiting.load();
  c.send("GET " + target + " HTTP/1.1\r\nHost: h\r\n\r\n");
  for (int i = 0; i < 2000 && waiting.load() == before; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return waiting.load() != before;
}

}  // namespace cogo_test
