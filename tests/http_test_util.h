// http_test_util.h: helpers shared by the HTTP engine tests: a connection
// served on a thread over a real socketpair / loopback TCP socket, a raw
// client that speaks bytes, and a minimal HTTP/1.1 response reader.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <condition_variable>
#include <gtest/gtest.h>
#include <vector>

#include "cogo/chan.h"
#include "cogo/http/conn_stream.h"
#include "cogo/http/http1_session.h"
#include "cogo/http/fd_stream.h"
#include "cogo/http/handler.h"
#include "cogo/http/options.h"
#include "cogo/http/request.h"
#include "cogo/http/response.h"
#include "cogo/net.h"
#include "cogo/runtime.h"
#include "cogo/wait_group.h"

namespace cogo::http::testing {

// EngineModel: where ServedPair and TcpServer run the engine — on a
// std::thread over FdStream (the thread model), or on goroutines over the
// netpoller (ConnStream) with 1 or 2 Ps.
enum class EngineModel { thread, goroutine_1p, goroutine_2p };

// engine_model() is the model of the test running now (EngineTest sets it).
inline EngineModel& engine_model() {
  static EngineModel model = EngineModel::thread;
  return model;
}

// TestRuntime: a cogo runtime on its own thread whose main goroutine runs
// each submitted task as a goroutine, and on destruction waits for them.
class TestRuntime {
 public:
  explicit TestRuntime(int procs) {
    ::setenv("COGO_MAXPROCS", std::to_string(procs).c_str(), 1);
    thread_ = std::thread([this] {
      cogo::run([this] {
        cogo::WaitGroup running;
        while (auto task = tasks_.recv()) {
          running.add(1);
          cogo::go([&running, t = std::move(*task)] {
            t();
            running.done();
          });
        }
        running.wait();
      });
    });
  }
  ~TestRuntime() {
    tasks_.close();
    thread_.join();
  }
  // go() runs fn on a goroutine of this runtime. Any thread.
  void go(std::function<void()> fn) { tasks_.send(std::move(fn)); }

 private:
  cogo::Chan<std::function<void()>> tasks_{16};
  std::thread thread_;
};

inline std::unique_ptr<TestRuntime>& test_runtime() {
  static std::unique_ptr<TestRuntime> runtime;
  return runtime;
}

// EngineTest: the fixture of an engine test run in every EngineModel:
//   class MyEngineTest : public EngineTest {};
//   INSTANTIATE_TEST_SUITE_P(Models, MyEngineTest, kEngineModels, engine_model_name);
class EngineTest : public ::testing::TestWithParam<EngineModel> {
 protected:
  void SetUp() override {
    engine_model() = GetParam();
    if (GetParam() != EngineModel::thread) {
      test_runtime() = std::make_unique<TestRuntime>(GetParam() == EngineModel::goroutine_1p ? 1 : 2);
    }
  }
  void TearDown() override {
    test_runtime().reset();
    engine_model() = EngineModel::thread;
  }
};

inline const auto kEngineModels = ::testing::Values(EngineModel::thread, EngineModel::goroutine_1p,
                                                    EngineModel::goroutine_2p);
inline std::string engine_model_name(const ::testing::TestParamInfo<EngineModel>& info) {
  switch (info.param) {
    case EngineModel::thread:
      return "thread";
    case EngineModel::goroutine_1p:
      return "goroutine_1P";
    case EngineModel::goroutine_2p:
      return "goroutine_2P";
  }
  return "unknown";
}

// Done: a flag a goroutine or thread sets once and a plain thread waits for.
class Done {
 public:
  void set() {
    std::lock_guard<std::mutex> lk(mu_);
    done_ = true;
    cv_.notify_all();
  }
  void wait() {
    std::unique_lock<std::mutex> lk(mu_);
    cv_.wait(lk, [this] { return done_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
};

// CountingStream forwards to a Stream and counts the write calls (a call to
// writev_all() is one write however many buffers it carries).
class CountingStream final : public Stream {
 public:
  explicit CountingStream(Stream& inner) : inner_(inner) {}
  std::size_t read(void* buf, std::size_t size) override { return inner_.read(buf, size); }
  std::ptrdiff_t try_read(void* buf, std::size_t size) override {
    return inner_.try_read(buf, size);
  }
  void write_all(const void* data, std::size_t size) override {
    ++writes;
    inner_.write_all(data, size);
  }
  void writev_all(std::span<const ConstBuffer> buffers) override {
    ++writes;
    inner_.writev_all(buffers);
  }
  void wait_readable() override { inner_.wait_readable(); }
  void set_read_deadline(Deadline d) override { inner_.set_read_deadline(d); }
  void set_write_deadline(Deadline d) override { inner_.set_write_deadline(d); }
  void shutdown_write() override { inner_.shutdown_write(); }
  std::atomic<int> writes{0};

 private:
  Stream& inner_;
};

// Client is the test's end of a connection: raw bytes in and out.
class Client {
 public:
  explicit Client(int fd) : fd_(fd) {}
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }
  Client(const Client&) = delete;
  int fd() const { return fd_; }

  void send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0) throw std::runtime_error(std::string("client send: ") + std::strerror(errno));
      data.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  void shutdown_write() { ::shutdown(fd_, SHUT_WR); }

  // read_some() waits up to timeout_ms for bytes: "" means EOF or timeout
  // (eof() tells which).
  std::string read_some(int timeout_ms = 10000) {
    if (!buffered_.empty()) return std::exchange(buffered_, std::string());
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return {};
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      eof_ = true;
      return {};
    }
    return std::string(buf, static_cast<std::size_t>(n));
  }
  bool eof() const { return eof_; }

  // read_all() reads until the server closes (or timeout).
  std::string read_all(int timeout_ms = 10000) {
    std::string out = std::exchange(buffered_, std::string());
    for (;;) {
      std::string part = read_some(timeout_ms);
      if (part.empty()) return out;
      out += part;
    }
  }

  // closed_by_peer() waits until the server closes its end (EOF or reset),
  // discarding anything that arrives first.
  bool closed_by_peer(int timeout_ms = 10000) {
    for (;;) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, timeout_ms) <= 0) return false;
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return true;
    }
  }

  struct Response {
    int status = 0;
    std::string reason;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    bool chunked = false;
    std::string header(std::string_view name) const {
      for (auto& [n, v] : headers) {
        if (iequals(n, name)) return v;
      }
      return {};
    }
    bool has_header(std::string_view name) const {
      for (auto& [n, v] : headers) {
        if (iequals(n, name)) return true;
      }
      return false;
    }
  };

  // read_response() reads one response. head_request: no body follows.
  Response read_response(bool head_request = false, int timeout_ms = 10000) {
    Response r;
    std::string head = read_until("\r\n\r\n", timeout_ms);
    std::size_t line_end = head.find("\r\n");
    std::string status_line = head.substr(0, line_end);
    if (status_line.size() < 12 || status_line.compare(0, 9, "HTTP/1.1 ") != 0) {
      throw std::runtime_error("bad status line: [" + status_line + "]");
    }
    r.status = std::stoi(status_line.substr(9, 3));
    r.reason = status_line.substr(13);
    std::size_t pos = line_end + 2;
    while (pos < head.size() - 2) {
      std::size_t end = head.find("\r\n", pos);
      std::string line = head.substr(pos, end - pos);
      std::size_t colon = line.find(':');
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      r.headers.emplace_back(line.substr(0, colon), value);
      pos = end + 2;
    }
    if (head_request || r.status == 204 || r.status == 304 || r.status / 100 == 1) return r;
    if (iequals(r.header("Transfer-Encoding"), "chunked")) {
      r.chunked = true;
      for (;;) {
        std::string size_line = read_until("\r\n", timeout_ms);
        std::size_t size = std::stoul(size_line, nullptr, 16);
        if (size == 0) {
          read_until("\r\n", timeout_ms);  // no trailers from this server
          break;
        }
        r.body += read_exact(size, timeout_ms);
        read_exact(2, timeout_ms);
      }
    } else if (r.has_header("Content-Length")) {
      r.body = read_exact(std::stoul(r.header("Content-Length")), timeout_ms);
    } else {
      r.body = read_all(timeout_ms);
    }
    return r;
  }

  std::string read_until(std::string_view delimiter, int timeout_ms = 10000) {
    for (;;) {
      std::size_t at = buffered_.find(delimiter);
      if (at != std::string::npos) {
        std::string out = buffered_.substr(0, at + delimiter.size());
        buffered_.erase(0, at + delimiter.size());
        return out;
      }
      fill(timeout_ms);
    }
  }
  std::string read_exact(std::size_t n, int timeout_ms = 10000) {
    while (buffered_.size() < n) fill(timeout_ms);
    std::string out = buffered_.substr(0, n);
    buffered_.erase(0, n);
    return out;
  }

 private:
  void fill(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0)
      throw std::runtime_error("client: timed out waiting for the response");
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      eof_ = true;
      throw std::runtime_error("client: connection closed mid-response; got [" + buffered_ + "]");
    }
    buffered_.append(buf, static_cast<std::size_t>(n));
  }

  int fd_;
  std::string buffered_;
  bool eof_ = false;
};

// ServedPair is one connection over a socketpair, its server end served by
// serve_http1() on a thread over FdStream or, in a goroutine EngineModel, on
// a goroutine over the netpoller. The destructor closes the client end and
// waits for the server end.
class ServedPair {
 public:
  ServedPair(Handler handler, HttpOptions options = {}, bool counting = false, bool start = true)
      : handler_(std::move(handler)), options_(options), counting_(counting) {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) throw std::runtime_error("socketpair");
    client_ = std::make_unique<Client>(fds[0]);
    server_fd_ = fds[1];
    if (start) this->start();
  }
  // start() begins serving (tests that want bytes queued before the server's
  // first read construct with start = false).
  void start() {
    if (engine_model() != EngineModel::thread) {
      started_ = true;
      test_runtime()->go([this] {
        {
          net::Conn conn = net::Conn::adopt(server_fd_);
          ConnStream stream(conn);
          if (counting_) {
            CountingStream counted(stream);
            serve_http1(counted, handler_, options_, "test-peer");
            writes = counted.writes.load();
          } else {
            serve_http1(stream, handler_, options_, "test-peer");
          }
          finished = true;
        }
        served_.set();
      });
      return;
    }
    thread_ = std::thread([this] {
      FdStream stream(server_fd_);
      if (counting_) {
        CountingStream counted(stream);
        serve_http1(counted, handler_, options_, "test-peer");
        writes = counted.writes.load();
      } else {
        serve_http1(stream, handler_, options_, "test-peer");
      }
      finished = true;
    });
  }
  ~ServedPair() {
    client_.reset();
    join();
  }
  Client& client() { return *client_; }
  // join() waits for the server side to finish serving.
  void join() {
    if (thread_.joinable()) thread_.join();
    if (started_) {
      served_.wait();
      started_ = false;
    }
  }
  std::atomic<bool> finished{false};
  std::atomic<int> writes{0};

 private:
  Handler handler_;
  HttpOptions options_;
  bool counting_;
  int server_fd_ = -1;
  std::unique_ptr<Client> client_;
  std::thread thread_;
  bool started_ = false;  // serving on a goroutine; served_ tells when it is done
  Done served_;
};

// TcpServer serves each accepted loopback connection on its own thread (the
// shape of the thread-per-connection model) or, in a goroutine EngineModel,
// its own goroutine over the netpoller, for clients like Python's
// http.client that need a TCP port.
class TcpServer {
 public:
  explicit TcpServer(Handler handler, HttpOptions options = {})
      : handler_(std::move(handler)), options_(options) {
    if (engine_model() != EngineModel::thread) {
      start_goroutines();
      return;
    }
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 64) != 0) {
      throw std::runtime_error("TcpServer: bind/listen failed");
    }
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~TcpServer() {
    if (goroutines_) {
      stop_goroutines();
      return;
    }
    stopping_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    acceptor_.join();
    ::close(listen_fd_);
    {
      std::lock_guard lock(mutex_);
      for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : workers_) t.join();
  }
  int port() const { return port_; }
  int accepted() const { return accepted_.load(); }

  // connect() opens a client connection to the server.
  std::unique_ptr<Client> connect() const {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
      throw std::runtime_error("connect");
    return std::make_unique<Client>(fd);
  }

 private:
  void start_goroutines() {
    goroutines_ = true;
    Done listening;
    test_runtime()->go([this, &listening] {
      listener_ = net::listen("127.0.0.1:0");  // inside the runtime: the poller is up
      port_ = listener_.address().port();
      listening.set();
      for (;;) {
        std::error_code ec;
        net::Conn conn = listener_.accept(ec);
        if (ec) {
          if (stopping_ || net::is_closed(ec)) break;
          continue;
        }
        ++accepted_;
        {
          std::lock_guard lock(mutex_);
          ++live_;
        }
        cogo::go([this, c = std::move(conn)]() mutable {
          {
            std::lock_guard lock(mutex_);
            open_conns_.push_back(&c);
          }
          ConnStream stream(c);
          serve_http1(stream, handler_, options_, c.remote_address().to_string());
          std::lock_guard lock(mutex_);
          std::erase(open_conns_, &c);
          c.close();
          if (--live_ == 0) all_closed_.notify_all();
        });
      }
      accept_done_.set();
    });
    listening.wait();
  }
  void stop_goroutines() {
    stopping_ = true;
    listener_.close();
    accept_done_.wait();
    std::unique_lock lock(mutex_);
    for (net::Conn* c : open_conns_) ::shutdown(c->native_handle(), SHUT_RDWR);
    all_closed_.wait(lock, [this] { return live_ == 0; });
  }

  void accept_loop() {
    for (;;) {
      sockaddr_in peer{};
      socklen_t len = sizeof peer;
      int fd = ::accept(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &len);
      if (fd < 0) {
        if (stopping_) return;
        continue;
      }
      ++accepted_;
      char ip[INET_ADDRSTRLEN];
      ::inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
      std::string remote = std::string(ip) + ":" + std::to_string(ntohs(peer.sin_port));
      std::lock_guard lock(mutex_);
      open_fds_.push_back(fd);
      workers_.emplace_back([this, fd, remote] {
        FdStream stream(fd);
        serve_http1(stream, handler_, options_, remote);
        std::lock_guard lock(mutex_);
        std::erase(open_fds_, fd);
        stream.release();
        ::close(fd);
      });
    }
  }

  Handler handler_;
  HttpOptions options_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  std::thread acceptor_;
  std::mutex mutex_;
  std::vector<int> open_fds_;
  std::vector<std::thread> workers_;
  // Goroutine models: the listener, the open connections (guarded by
  // mutex_), how many are being served (guarded by mutex_).
  bool goroutines_ = false;
  net::Listener listener_;
  Done accept_done_;
  std::vector<net::Conn*> open_conns_;
  int live_ = 0;
  std::condition_variable all_closed_;
};

// run_python() runs a Python 3 script with argument arg and returns its
// stdout; exit_code receives the status.
inline std::string run_python(const std::string& script, const std::string& arg, int* exit_code) {
  char path[] = "/tmp/cogo_http_test_XXXXXX.py";
  int fd = ::mkstemps(path, 3);
  if (fd < 0) throw std::runtime_error("mkstemps");
  if (::write(fd, script.data(), script.size()) != static_cast<ssize_t>(script.size())) {
    throw std::runtime_error("write script");
  }
  ::close(fd);
  std::string command = "python3 " + std::string(path) + " " + arg + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  int status = ::pclose(pipe);
  *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  ::unlink(path);
  return out;
}

}  // namespace cogo::http::testing
