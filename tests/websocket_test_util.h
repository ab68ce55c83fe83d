// websocket_test_util.h: what the WebSocket tests share — a raw client that
// speaks frames byte by byte (so it can break every rule on purpose), a
// permessage-deflate codec of its own (zlib, written from RFC 7692 alone),
// and a fixture running a real cogo::http::Server in each connection model
// (goroutines on 1 and 2 Ps, a thread per connection).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cogo/http.h"
#include "cogo/websocket.h"
#include "gtest/gtest.h"
#include "support/serve_with_client.h"

namespace ws_test {

using namespace std::chrono_literals;

// Frame: one frame as the client sees it.
struct Frame {
  bool fin = true;
  bool rsv1 = false;
  bool rsv2 = false;
  bool rsv3 = false;
  std::uint8_t opcode = 0;
  bool masked = false;
  std::string payload;
  // close_code() of a close frame (1005 when it has none).
  std::uint16_t close_code() const {
    if (payload.size() < 2) return 1005;
    return static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                      static_cast<unsigned char>(payload[1]));
  }
  std::string close_reason() const { return payload.size() > 2 ? payload.substr(2) : ""; }
};

// build_frame() is a client frame: masked (unless told), its length in the
// shortest form unless length_form forces 16 (126) or 64 (127) bits.
inline std::string build_frame(std::uint8_t opcode, std::string_view payload, bool fin = true,
                               bool rsv1 = false, bool mask = true, int length_form = 0,
                               std::uint8_t rsv23 = 0) {
  std::string f;
  f.push_back(static_cast<char>((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | rsv23 | (opcode & 0x0F)));
  const std::uint64_t n = payload.size();
  const unsigned char m = mask ? 0x80 : 0;
  if ((n < 126 && length_form == 0) || length_form == 7) {
    f.push_back(static_cast<char>(m | n));
  } else if ((n <= 0xFFFF && length_form == 0) || length_form == 16) {
    f.push_back(static_cast<char>(m | 126));
    f.push_back(static_cast<char>(n >> 8));
    f.push_back(static_cast<char>(n));
  } else {
    f.push_back(static_cast<char>(m | 127));
    for (int i = 7; i >= 0; --i) f.push_back(static_cast<char>(n >> (8 * i)));
  }
  if (!mask) return f + std::string(payload);
  static std::mt19937 rng(12345);
  unsigned char key[4];
  for (auto& k : key) k = static_cast<unsigned char>(rng());
  f.append(reinterpret_cast<const char*>(key), 4);
  for (std::size_t i = 0; i < payload.size(); ++i)
    f.push_back(static_cast<char>(payload[i] ^ key[i % 4]));
  return f;
}

inline std::string close_payload(std::uint16_t code, std::string_view reason = {}) {
  std::string p;
  p.push_back(static_cast<char>(code >> 8));
  p.push_back(static_cast<char>(code & 0xFF));
  p.append(reason);
  return p;
}

// Deflate: one direction of permessage-deflate, from RFC 7692 7.2.
class Deflate {
 public:
  explicit Deflate(int window_bits = 15, bool context_takeover = true)
      : takeover_(context_takeover) {
    deflateInit2(&z_, 6, Z_DEFLATED, -window_bits, 8, Z_DEFAULT_STRATEGY);
  }
  ~Deflate() { deflateEnd(&z_); }
  Deflate(const Deflate&) = delete;
  // compress() is a message's payload: sync flush, 00 00 ff ff removed.
  std::string compress(std::string_view in) {
    std::string out(in.size() + 1024, '\0');
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z_.avail_in = static_cast<uInt>(in.size());
    z_.next_out = reinterpret_cast<Bytef*>(out.data());
    z_.avail_out = static_cast<uInt>(out.size());
    deflate(&z_, Z_SYNC_FLUSH);
    out.resize(out.size() - z_.avail_out);
    if (out.size() >= 4 && out.compare(out.size() - 4, 4, std::string("\0\0\xff\xff", 4)) == 0) {
      out.resize(out.size() - 4);
    }
    if (!takeover_) deflateReset(&z_);
    return out;
  }

 private:
  z_stream z_{};
  bool takeover_;
};

class Inflate {
 public:
  explicit Inflate(bool context_takeover = true) : takeover_(context_takeover) {
    inflateInit2(&z_, -15);
  }
  ~Inflate() { inflateEnd(&z_); }
  Inflate(const Inflate&) = delete;
  // decompress() is a message from its payload (the tail appended back);
  // nullopt when it does not inflate.
  std::optional<std::string> decompress(std::string payload) {
    payload.append("\0\0\xff\xff", 4);
    std::string out;
    z_.next_in = reinterpret_cast<Bytef*>(payload.data());
    z_.avail_in = static_cast<uInt>(payload.size());
    char buf[65536];
    for (;;) {
      z_.next_out = reinterpret_cast<Bytef*>(buf);
      z_.avail_out = sizeof buf;
      const int r = inflate(&z_, Z_SYNC_FLUSH);
      out.append(buf, sizeof buf - z_.avail_out);
      if (r != Z_OK && r != Z_BUF_ERROR && r != Z_STREAM_END) return std::nullopt;
      if (z_.avail_in == 0 && z_.avail_out != 0) break;
    }
    if (!takeover_) inflateReset(&z_);
    return out;
  }

 private:
  z_stream z_{};
  bool takeover_;
};

// Client: a raw WebSocket client over a blocking loopback socket.
class Client {
 public:
  Client() = default;
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }
  Client(const Client&) = delete;

  // connect() opens a TCP connection to 127.0.0.1:port.
  void connect(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      throw std::runtime_error("connect failed");
    }
  }
  int fd() const { return fd_; }

  // request() is an opening handshake for path with the usual fields, the
  // key, and extra (each "Name: value\r\n").
  static std::string request(std::string_view path, std::string_view extra = {},
                             std::string_view key = "dGhlIHNhbXBsZSBub25jZQ==") {
    std::string r = "GET " + std::string(path) +
                    " HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Key: " +
                    std::string(key) + "\r\nSec-WebSocket-Version: 13\r\n";
    r += extra;
    return r + "\r\n";
  }

  // handshake() sends raw and reads the response head; status() and
  // header() tell what came. Bytes behind the head stay buffered.
  void handshake(const std::string& raw) {
    send(raw);
    head_ = read_until("\r\n\r\n");
  }
  // open() connects and completes a handshake for path (asserting 101).
  void open(int port, std::string_view path = "/echo", std::string_view extra = {}) {
    connect(port);
    handshake(request(path, extra));
    if (status() != 101) throw std::runtime_error("handshake refused: " + head_);
  }
  int status() const { return head_.size() >= 12 ? std::stoi(head_.substr(9, 3)) : -1; }
  const std::string& head() const { return head_; }
  std::string header(std::string_view name) const {
    std::size_t pos = head_.find("\r\n");
    while (pos != std::string::npos && pos + 2 < head_.size()) {
      const std::size_t end = head_.find("\r\n", pos + 2);
      const std::string line = head_.substr(pos + 2, end - pos - 2);
      const std::size_t colon = line.find(':');
      if (colon != std::string::npos && cogo::http::iequals(line.substr(0, colon), name)) {
        std::string v = line.substr(colon + 1);
        while (!v.empty() && v.front() == ' ') v.erase(0, 1);
        return v;
      }
      pos = end;
    }
    return {};
  }
  bool has_header(std::string_view name) const { return !header(name).empty(); }
  // body() reads a Content-Length body behind an error response.
  std::string body() {
    const std::string len = header("Content-Length");
    return len.empty() ? std::string() : read_exact(std::stoul(len));
  }

  void send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error("send failed");
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  // send_frame() sends one client frame (see build_frame).
  void send_frame(std::uint8_t opcode, std::string_view payload, bool fin = true,
                  bool rsv1 = false) {
    send(build_frame(opcode, payload, fin, rsv1));
  }
  void text(std::string_view s) { send_frame(0x1, s); }
  void binary(std::string_view s) { send_frame(0x2, s); }
  void close(std::uint16_t code, std::string_view reason = {}) {
    send_frame(0x8, close_payload(code, reason));
  }

  // read_frame() reads one server frame (nullopt on EOF or timeout).
  std::optional<Frame> read_frame(int timeout_ms = 20000) {
    try {
      const std::string h = read_exact(2, timeout_ms);
      Frame f;
      const auto b0 = static_cast<unsigned char>(h[0]);
      const auto b1 = static_cast<unsigned char>(h[1]);
      f.fin = b0 & 0x80;
      f.rsv1 = b0 & 0x40;
      f.rsv2 = b0 & 0x20;
      f.rsv3 = b0 & 0x10;
      f.opcode = b0 & 0x0F;
      f.masked = b1 & 0x80;
      std::uint64_t n = b1 & 0x7F;
      if (n == 126) {
        const std::string e = read_exact(2, timeout_ms);
        n = (static_cast<unsigned char>(e[0]) << 8) | static_cast<unsigned char>(e[1]);
      } else if (n == 127) {
        const std::string e = read_exact(8, timeout_ms);
        n = 0;
        for (char c : e) n = (n << 8) | static_cast<unsigned char>(c);
      }
      if (f.masked) read_exact(4, timeout_ms);
      f.payload = read_exact(static_cast<std::size_t>(n), timeout_ms);
      return f;
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  // read_message() reads frames until a whole data message (control frames
  // other than close are skipped); nullopt on a close or EOF (last_close()
  // then holds the close frame, if any).
  std::optional<Frame> read_message(int timeout_ms = 20000) {
    std::optional<Frame> msg;
    for (;;) {
      auto f = read_frame(timeout_ms);
      if (!f) return std::nullopt;
      if (f->opcode == 0x8) {
        last_close_ = f;
        return std::nullopt;
      }
      if (f->opcode >= 0x8) continue;
      if (!msg) {
        msg = f;
      } else {
        msg->payload += f->payload;
      }
      if (f->fin) {
        msg->fin = true;
        return msg;
      }
    }
  }
  const std::optional<Frame>& last_close() const { return last_close_; }

  // expect_close() reads until a close frame and returns its code (0 when
  // none came before EOF).
  std::uint16_t expect_close(int timeout_ms = 20000) {
    for (;;) {
      auto f = read_frame(timeout_ms);
      if (!f) return 0;
      if (f->opcode == 0x8) {
        last_close_ = f;
        return f->close_code();
      }
    }
  }
  // eof() waits until the server closes the TCP connection (true), or the
  // timeout passes (false). Bytes that arrive meanwhile are dropped.
  bool eof(int timeout_ms = 20000) {
    buffered_.clear();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      const int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            deadline - std::chrono::steady_clock::now())
                                            .count());
      if (left <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, left) <= 0) return false;
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return true;
    }
  }
  void shutdown_write() { ::shutdown(fd_, SHUT_WR); }

  std::string read_exact(std::size_t n, int timeout_ms = 20000) {
    while (buffered_.size() < n) fill(timeout_ms);
    std::string out = buffered_.substr(0, n);
    buffered_.erase(0, n);
    return out;
  }
  std::string read_until(std::string_view delim, int timeout_ms = 20000) {
    for (;;) {
      const std::size_t at = buffered_.find(delim);
      if (at != std::string::npos) {
        std::string out = buffered_.substr(0, at + delim.size());
        buffered_.erase(0, at + delim.size());
        return out;
      }
      fill(timeout_ms);
    }
  }

 private:
  void fill(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) throw std::runtime_error("client: timed out");
    char buf[65536];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) throw std::runtime_error("client: connection closed");
    buffered_.append(buf, static_cast<std::size_t>(n));
  }

  int fd_ = -1;
  std::string head_;
  std::string buffered_;
  std::optional<Frame> last_close_;
};

// Model: where the server runs connections.
struct Model {
  cogo::Model model;
  int procs;
  const char* name;
};
inline const auto kModels = ::testing::Values(Model{cogo::Model::goroutine, 1, "goroutine_1P"},
                                              Model{cogo::Model::goroutine, 2, "goroutine_2P"},
                                              Model{cogo::Model::thread, 2, "thread"});
inline std::string model_name(const ::testing::TestParamInfo<Model>& info) {
  return info.param.name;
}

// echo() is the echo handler: every message back until the connection ends.
inline void echo(cogo::websocket::WebSocket& ws) {
  cogo::websocket::Message m;
  while (ws.read(m)) ws.write(m.kind, m.data);
}

// ServerTest: each case runs a Server with GET /echo (accept with
// options_, then echo) and routes of its own, and a client on a plain
// thread.
class ServerTest : public ::testing::TestWithParam<Model> {
 protected:
  cogo::http::ServerOptions server_options() {
    cogo::http::ServerOptions o;
    o.listen = {{"127.0.0.1:0"}};
    o.model = GetParam().model;
    o.handle_signals = false;
    o.shutdown_grace = std::chrono::seconds(10);
    return o;
  }
  // run() serves, runs client(port, server) on a plain thread, then shuts
  // the server down.
  void run(const std::function<void(int, cogo::http::Server&)>& client,
           const std::function<void(cogo::http::Server&)>& setup = {},
           std::optional<cogo::http::ServerOptions> so = std::nullopt) {
    cogo_test::serve_with_client(
        GetParam().procs, so ? *so : server_options(),
        [&](cogo::http::Server& server) {
          server.router().get("/echo", [this](cogo::http::Request& req, cogo::http::Response& res) {
            auto ws = cogo::websocket::accept(req, res, options_);
            if (ws) echo(ws);
          });
          if (setup) setup(server);
        },
        client);
  }
  cogo::websocket::Options options_;
};

// wait_until() polls pred for up to 20 s (a hang guard, not a timing).
template <class P>
bool wait_until(P pred) {
  for (int i = 0; i < 2000; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

}  // namespace ws_test
