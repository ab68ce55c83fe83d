// tls_test.cpp: TlsContext and TlsStream against real clients.
//
// Certificates are made in the test with the openssl CLI. Servers run in the
// goroutine model (cogo::run with 1 and with 2 Ps, net::listen, a goroutine
// per connection) and in the thread model (a thread per connection over a
// plain socket), and are driven by curl, `openssl s_client`, Python's ssl
// module, raw sockets, and an in-process OpenSSL client for the cases that
// need exact control (try_read around a TLS 1.3 KeyUpdate, half close).
// No test asserts a duration: time limits only keep a broken build from
// hanging.
#include "cogo/http/tls.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cogo/http/http1_session.h"
#include "cogo/http/request.h"
#include "cogo/http/response.h"
#include "cogo/net.h"
#include "cogo/runtime.h"
#include "gtest/gtest.h"
#include "net_test_util.h"

namespace {

using namespace std::chrono_literals;
using cogo::http::ConstBuffer;
using cogo::http::Stream;
using cogo::http::TimeoutError;
using cogo::http::TlsConfig;
using cogo::http::TlsContext;
using cogo::http::TlsError;
using cogo::http::TlsStream;
using nettest::wait_until;

// ---------------------------------------------------------------------------
// Files and processes

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Scratch: the test binary's temporary directory, removed at exit (the
// string is never destroyed: the atexit handler runs after static destructors).
const std::string& scratch() {
  static const std::string& dir = *[] {
    char tmpl[] = "/tmp/cogo-tls-test-XXXXXX";
    const char* d = ::mkdtemp(tmpl);
    if (d == nullptr) std::abort();
    auto* path = new std::string(d);
    std::atexit([] { (void)std::system(("rm -rf " + scratch()).c_str()); });
    return path;
  }();
  return dir;
}

struct Output {
  int status = -1;  // exit status; -1 if it did not exit normally
  std::string out;
  std::string err;
};

// shell() runs script with sh in the scratch directory (killed after a
// minute: only a broken build gets there) and collects its output.
Output shell(const std::string& script) {
  static std::atomic<int> seq{0};
  const std::string base = scratch() + "/cmd" + std::to_string(seq++);
  write_file(base + ".sh", "cd " + scratch() + " || exit 99\n" + script + "\n");
  const std::string cmd = "timeout 60 sh " + base + ".sh >" + base + ".out 2>" + base + ".err";
  const int raw = std::system(cmd.c_str());
  Output o;
  o.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  o.out = read_file(base + ".out");
  o.err = read_file(base + ".err");
  return o;
}

// Certificates, made once per process.
struct Certs {
  std::string ec_cert, ec_key;         // self-signed P-256
  std::string rsa_cert, rsa_key;       // self-signed RSA 2048
  std::string other_key;               // matches neither certificate
  std::string encrypted_key;           // needs a password
  std::string root, chain, chain_key;  // root -> intermediate -> leaf; chain = leaf + intermediate
};

const Certs& certs() {
  static const Certs c = [] {
    const Output o = shell(R"(set -e
EC="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1"
openssl req -x509 $EC -nodes -days 1 -subj /CN=localhost -keyout ec_key.pem -out ec_cert.pem
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -keyout rsa_key.pem -out rsa_cert.pem
openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:prime256v1 -out other_key.pem
openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:prime256v1 -aes-128-cbc -pass pass:secret -out enc_key.pem
openssl req -x509 $EC -nodes -days 1 -subj /CN=cogo-test-root -keyout root_key.pem -out root.pem
openssl req $EC -nodes -subj /CN=cogo-test-intermediate -keyout inter_key.pem -out inter.csr
printf 'basicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign\n' >inter.ext
openssl x509 -req -in inter.csr -CA root.pem -CAkey root_key.pem -CAcreateserial -days 1 -extfile inter.ext -out inter.pem
openssl req $EC -nodes -subj /CN=localhost -keyout leaf_key.pem -out leaf.csr
printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:false\n' >leaf.ext
openssl x509 -req -in leaf.csr -CA inter.pem -CAkey inter_key.pem -CAcreateserial -days 1 -extfile leaf.ext -out leaf.pem
cat leaf.pem inter.pem >chain.pem
)");
    if (o.status != 0) {
      std::fprintf(stderr, "making certificates failed (%d):\n%s\n", o.status, o.err.c_str());
      std::abort();
    }
    const std::string d = scratch() + "/";
    return Certs{d + "ec_cert.pem", d + "ec_key.pem",    d + "rsa_cert.pem",
                 d + "rsa_key.pem", d + "other_key.pem", d + "enc_key.pem",
                 d + "root.pem",    d + "chain.pem",     d + "leaf_key.pem"};
  }();
  return c;
}

TlsContext ec_context(std::chrono::milliseconds handshake_timeout = 10s) {
  return TlsContext(TlsConfig{certs().ec_cert, certs().ec_key, handshake_timeout});
}

std::string pattern(std::size_t size, unsigned seed) {
  std::string s(size, '\0');
  std::mt19937 rng(seed);
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// ---------------------------------------------------------------------------
// Servers in both models

enum class Model { goroutine_1p, goroutine_2p, thread };
enum class Service {
  echo,  // raw byte echo until the client's end of stream, then shutdown_write
  http,  // Http1Session: GET / -> "hello <version> <alpn>", POST /echo -> the body
};

std::string model_name(const ::testing::TestParamInfo<Model>& info) {
  switch (info.param) {
    case Model::goroutine_1p:
      return "Goroutine1P";
    case Model::goroutine_2p:
      return "Goroutine2P";
    case Model::thread:
      return "Thread";
  }
  return "?";
}

// Stats: what the server's connections saw.
struct Stats {
  std::atomic<int> accepted{0};
  std::atomic<int> handshakes{0};
  std::atomic<int> timeouts{0};
  std::atomic<int> tls_errors{0};
  std::atomic<int> other_errors{0};
  std::atomic<int> finished{0};
  std::mutex mu;
  std::vector<std::string> versions;  // per handshake: "TLSv1.3 http/1.1"
  std::vector<std::string> errors;    // what() of every exception

  void note(std::vector<std::string>& list, std::string s) {
    std::lock_guard<std::mutex> lock(mu);
    list.push_back(std::move(s));
  }
  std::string all(std::vector<std::string>& list) {
    std::lock_guard<std::mutex> lock(mu);
    std::string out;
    for (const auto& s : list) out += s + "\n";
    return out;
  }
};

// serve_tls() is one connection's life, the same in both models (the caller
// counts it finished once the socket is closed).
void serve_tls(TlsStream& stream, Service service, Stats& stats) {
  try {
    stream.handshake();
    stats.handshakes++;
    stats.note(stats.versions, std::string(stream.version()) + " " + std::string(stream.alpn()));
    if (service == Service::echo) {
      std::vector<char> buf(64 * 1024);
      while (std::size_t n = stream.read(buf.data(), buf.size())) stream.write_all(buf.data(), n);
      stream.shutdown_write();
    } else {
      cogo::http::Handler handler = [&stream](cogo::http::Request& req, cogo::http::Response& res) {
        if (req.path() == "/echo") {
          res.write(req.body());
          return;
        }
        res.text(200, "hello " + std::string(stream.version()) + " " + std::string(stream.alpn()));
      };
      cogo::http::HttpOptions options;
      cogo::http::serve_http1(stream, handler, options);
    }
  } catch (const TimeoutError& e) {
    stats.timeouts++;
    stats.note(stats.errors, e.what());
  } catch (const TlsError& e) {
    stats.tls_errors++;
    stats.note(stats.errors, e.what());
  } catch (const std::exception& e) {
    stats.other_errors++;
    stats.note(stats.errors, e.what());
  }
}

// TestServer listens on 127.0.0.1 and serves every connection with
// serve_tls() in the chosen model until it is destroyed.
class TestServer {
 public:
  TestServer(Model model, Service service, TlsContext ctx)
      : model_(model), service_(service), ctx_(std::move(ctx)) {
    if (model == Model::thread) {
      start_threads();
    } else {
      start_goroutines(model == Model::goroutine_1p ? 1 : 2);
    }
  }
  ~TestServer() { stop(); }
  TestServer(const TestServer&) = delete;

  int port() const { return port_; }
  Stats& stats() { return stats_; }

  void stop() {
    if (stopped_) return;
    stopped_ = true;
    if (model_ == Model::thread) {
      ::shutdown(listen_fd_, SHUT_RDWR);  // wakes accept() with EINVAL
      acceptor_.join();
      ::close(listen_fd_);
      std::lock_guard<std::mutex> lock(threads_mu_);
      for (auto& t : threads_) t.join();
    } else {
      while (listener_.load() == nullptr) std::this_thread::sleep_for(1ms);
      listener_.load()->close();
      closed_ = true;
      runtime_.join();
    }
    // Every connection ended: none outlived the server.
    EXPECT_EQ(stats_.finished.load(), stats_.accepted.load());
  }

 private:
  void start_threads() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listen_fd_, 128) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      throw std::system_error(errno, std::generic_category(), "test server listen");
    }
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] {
      for (;;) {
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) {
          if (errno == EINTR || errno == ECONNABORTED) continue;
          return;  // shut down
        }
        stats_.accepted++;
        std::lock_guard<std::mutex> lock(threads_mu_);
        threads_.emplace_back([this, fd] {
          {
            TlsStream stream(ctx_, fd);  // owns fd
            serve_tls(stream, service_, stats_);
          }
          stats_.finished++;
        });
      }
    });
  }

  void start_goroutines(int procs) {
    ::setenv("COGO_MAXPROCS", std::to_string(procs).c_str(), 1);
    std::atomic<int> port{0};
    runtime_ = std::thread([this, &port] {
      cogo::run([this, &port] {
        cogo::net::Listener ln = cogo::net::listen("127.0.0.1:0");
        listener_ = &ln;
        port = ln.address().port();
        for (;;) {
          std::error_code ec;
          cogo::net::Conn conn = ln.accept(ec);
          if (ec) {
            if (!cogo::net::is_closed(ec)) ADD_FAILURE() << "accept: " << ec.message();
            break;
          }
          stats_.accepted++;
          cogo::go([this, conn = std::move(conn)]() mutable {
            {
              TlsStream stream(ctx_, conn);
              serve_tls(stream, service_, stats_);
            }
            conn.close();
            stats_.finished++;
          });
        }
        // ln must outlive the close() that woke us, which runs on stop()'s thread;
        // and main returning would end the other goroutines mid-connection.
        wait_until([this] { return closed_.load(); });
        wait_until([this] { return stats_.finished.load() == stats_.accepted.load(); });
      });
    });
    while (port.load() == 0) std::this_thread::sleep_for(1ms);
    port_ = port.load();
  }

  Model model_;
  Service service_;
  TlsContext ctx_;
  Stats stats_;
  int port_ = 0;
  bool stopped_ = false;
  // goroutine model
  std::thread runtime_;
  std::atomic<cogo::net::Listener*> listener_{nullptr};
  std::atomic<bool> closed_{false};  // stop() is done with *listener_
  // thread model
  int listen_fd_ = -1;
  std::thread acceptor_;
  std::mutex threads_mu_;
  std::vector<std::thread> threads_;
};

// Raw TCP clients.
int tcp_connect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    throw std::system_error(errno, std::generic_category(), "test connect");
  }
  return fd;
}

// read_until_close() reads until EOF or a reset; false if the server still
// had not closed after the limit.
bool read_until_close(int fd, std::string& got, std::chrono::milliseconds limit = 30s) {
  const auto give_up = std::chrono::steady_clock::now() + limit;
  char buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (std::chrono::steady_clock::now() > give_up) return false;
    if (::poll(&p, 1, 100) <= 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0) return true;
    if (n < 0) return errno == ECONNRESET;
    got.append(buf, static_cast<std::size_t>(n));
  }
}

class Tls : public ::testing::TestWithParam<Model> {};
INSTANTIATE_TEST_SUITE_P(Models, Tls,
                         ::testing::Values(Model::goroutine_1p, Model::goroutine_2p, Model::thread),
                         model_name);

// ---------------------------------------------------------------------------
// Real clients

TEST_P(Tls, CurlSpeaksTls12AndTls13WithAlpnHttp11) {
  TestServer server(GetParam(), Service::http, ec_context());
  const std::string url = "https://127.0.0.1:" + std::to_string(server.port()) + "/";
  for (const std::string version : {"1.2", "1.3"}) {
    SCOPED_TRACE("TLS " + version);
    const Output o = shell("curl -sS -v -k --tlsv" + version + " --tls-max " + version + " " + url);
    ASSERT_EQ(o.status, 0) << o.err;
    EXPECT_EQ(o.out, "hello TLSv" + version + " http/1.1");
    EXPECT_TRUE(contains(o.err, "SSL connection using TLSv" + version)) << o.err;
    EXPECT_TRUE(contains(o.err, "ALPN: server accepted http/1.1")) << o.err;
  }
  EXPECT_EQ(server.stats().handshakes.load(), 2);
  server.stop();
  EXPECT_EQ(server.stats().all(server.stats().versions), "TLSv1.2 http/1.1\nTLSv1.3 http/1.1\n");
}

TEST_P(Tls, CurlKeepAliveAndOneMebibyteRoundTrip) {
  TestServer server(GetParam(), Service::http, ec_context());
  const std::string base = "https://127.0.0.1:" + std::to_string(server.port());
  const std::string in = scratch() + "/curl_in_" + std::to_string(static_cast<int>(GetParam()));
  write_file(in, pattern(1 << 20, 7));
  // Three requests on one connection: small GET, 1 MiB up and back, GET.
  const Output o =
      shell("curl -sS -v -k " + base + "/ -o small.out --next -k --data-binary @" + in + " " +
            base + "/echo -o " + in + ".back --next -k " + base + "/ -o small2.out");
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_TRUE(read_file(in + ".back") == read_file(in)) << "the 1 MiB body came back changed";
  EXPECT_EQ(read_file(scratch() + "/small.out"), "hello TLSv1.3 http/1.1");
  EXPECT_EQ(read_file(scratch() + "/small2.out"), "hello TLSv1.3 http/1.1");
  EXPECT_TRUE(contains(o.err, "Re-using existing connection")) << o.err;
  EXPECT_EQ(server.stats().handshakes.load(), 1) << o.err;
}

TEST_P(Tls, OpensslSClientGetsAnAnswerAndClose) {
  TestServer server(GetParam(), Service::http, ec_context());
  for (const std::string flag : {"-tls1_2", "-tls1_3"}) {
    SCOPED_TRACE(flag);
    const Output o = shell(
        "printf 'GET / HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' | "
        "openssl s_client -connect 127.0.0.1:" +
        std::to_string(server.port()) + " -alpn http/1.1 -ign_eof " + flag);
    ASSERT_EQ(o.status, 0) << o.out << o.err;
    EXPECT_TRUE(contains(o.out, "ALPN protocol: http/1.1")) << o.out;
    EXPECT_TRUE(contains(o.out, "HTTP/1.1 200 OK")) << o.out;
    EXPECT_TRUE(
        contains(o.out, flag == "-tls1_2" ? "hello TLSv1.2 http/1.1" : "hello TLSv1.3 http/1.1"))
        << o.out;
  }
}

// The Python client: echo service, byte-exact round trips in lock step
// (send a piece, read it back), then a resumed session.
const char* const kPythonEcho = R"(
import hashlib, socket, ssl, sys
port, version, size = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
v = ssl.TLSVersion.TLSv1_2 if version == "1.2" else ssl.TLSVersion.TLSv1_3
ctx.minimum_version = ctx.maximum_version = v
ctx.set_alpn_protocols(["http/1.1"])

def connect(session=None):
    return ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), session=session)

data = bytes((i * 7 + (i >> 9)) & 0xFF for i in range(size))
s = connect()
back = bytearray()
piece = 65536
for off in range(0, size, piece):
    chunk = data[off:off + piece]
    s.sendall(chunk)
    want = len(back) + len(chunk)
    while len(back) < want:
        got = s.recv(want - len(back))
        if not got:
            sys.exit("early EOF after %d bytes" % len(back))
        back += got
ok = bytes(back) == data
print(s.version(), s.selected_alpn_protocol(), "ok" if ok else "MISMATCH", len(back))
session = s.session
s.unwrap()  # close_notify both ways: the server's read sees the end
s.close()
s2 = connect(session)
s2.sendall(b"again")
print("resumed" if s2.session_reused else "full", s2.recv(5).decode())
s2.close()
)";

TEST_P(Tls, PythonEchoSmallAndOneMebibyteTls12AndTls13) {
  TestServer server(GetParam(), Service::echo, ec_context());
  write_file(scratch() + "/echo.py", kPythonEcho);
  for (const std::string version : {"1.2", "1.3"}) {
    for (const int size : {5, 1 << 20}) {
      SCOPED_TRACE("TLS " + version + ", " + std::to_string(size) + " bytes");
      const Output o = shell("python3 echo.py " + std::to_string(server.port()) + " " + version +
                             " " + std::to_string(size));
      ASSERT_EQ(o.status, 0) << o.out << o.err;
      EXPECT_EQ(o.out,
                "TLSv" + version + " http/1.1 ok " + std::to_string(size) + "\nresumed again\n");
    }
  }
  server.stop();
  EXPECT_EQ(server.stats().handshakes.load(), 8);
  EXPECT_EQ(server.stats().other_errors.load() + server.stats().tls_errors.load(), 0)
      << server.stats().all(server.stats().errors);
}

TEST_P(Tls, RsaCertificate) {
  TestServer server(GetParam(), Service::http,
                    TlsContext(TlsConfig{certs().rsa_cert, certs().rsa_key}));
  const Output o = shell("curl -sS -k --tlsv1.2 --tls-max 1.2 -v https://127.0.0.1:" +
                         std::to_string(server.port()) + "/");
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "hello TLSv1.2 http/1.1");
  EXPECT_TRUE(contains(o.err, "ECDHE-RSA")) << o.err;
}

TEST_P(Tls, ChainIsSentAndVerifiesAgainstTheRoot) {
  TestServer server(GetParam(), Service::http,
                    TlsContext(TlsConfig{certs().chain, certs().chain_key}));
  const std::string port = std::to_string(server.port());
  // Verification on, trusting only the root: works only if the server sends
  // the intermediate from the chain file.
  const Output o = shell("curl -sS --cacert " + certs().root + " --resolve localhost:" + port +
                         ":127.0.0.1 https://localhost:" + port + "/");
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "hello TLSv1.3 http/1.1");
}

// ---------------------------------------------------------------------------
// Misbehaving clients

TEST_P(Tls, ClientStallingInTheHandshakeIsCutOff) {
  TestServer server(GetParam(), Service::http, ec_context(300ms));
  // One connects and sends nothing; one sends half a ClientHello record.
  const int silent = tcp_connect(server.port());
  const int partial = tcp_connect(server.port());
  const char half_record[] = "\x16\x03\x01\x00\xc8\x01\x00";
  ASSERT_EQ(::send(partial, half_record, sizeof half_record - 1, 0), 7);
  std::string got;
  EXPECT_TRUE(read_until_close(silent, got)) << "a silent client was never cut off";
  EXPECT_TRUE(read_until_close(partial, got)) << "a stalled handshake was never cut off";
  ::close(silent);
  ::close(partial);
  ASSERT_TRUE(wait_until([&] { return server.stats().finished.load() == 2; }));
  EXPECT_EQ(server.stats().timeouts.load(), 2) << server.stats().all(server.stats().errors);
  EXPECT_TRUE(
      contains(server.stats().all(server.stats().errors), "tls handshake: deadline exceeded"));
  // The server goes on.
  const Output o = shell("curl -sS -k https://127.0.0.1:" + std::to_string(server.port()) + "/");
  EXPECT_EQ(o.out, "hello TLSv1.3 http/1.1") << o.err;
}

TEST_P(Tls, PlainHttpToTheTlsPortGetsA400AndAClose) {
  TestServer server(GetParam(), Service::http, ec_context());
  const int fd = tcp_connect(server.port());
  const std::string request = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
  ASSERT_EQ(::send(fd, request.data(), request.size(), 0), static_cast<ssize_t>(request.size()));
  std::string got;
  EXPECT_TRUE(read_until_close(fd, got));
  ::close(fd);
  EXPECT_TRUE(got.starts_with("HTTP/1.0 400 Bad Request\r\n")) << got;
  EXPECT_TRUE(contains(got, "HTTPS server")) << got;
  // Garbage that is neither TLS nor HTTP: closed, no crash.
  const int junk = tcp_connect(server.port());
  const std::string noise = pattern(300, 3);
  ASSERT_EQ(::send(junk, noise.data(), noise.size(), 0), 300);
  got.clear();
  EXPECT_TRUE(read_until_close(junk, got));
  ::close(junk);
  ASSERT_TRUE(wait_until([&] { return server.stats().finished.load() == 2; }));
  EXPECT_EQ(server.stats().tls_errors.load(), 2);
  const std::string errors = server.stats().all(server.stats().errors);
  EXPECT_TRUE(contains(errors, "tls handshake: the client sent plain HTTP to the TLS port"))
      << errors;
  // And TLS still works.
  const Output o = shell("curl -sS -k https://127.0.0.1:" + std::to_string(server.port()) + "/");
  EXPECT_EQ(o.out, "hello TLSv1.3 http/1.1") << o.err;
}

TEST_P(Tls, ClientThatHangsUpMidHandshakeEndsQuietly) {
  TestServer server(GetParam(), Service::echo, ec_context());
  // A ClientHello and then a reset before the handshake completes.
  // One that completes and leaves at its stdin's end.
  (void)shell("echo | openssl s_client -connect 127.0.0.1:" + std::to_string(server.port()) +
              " -tls1_3 -no_ign_eof >/dev/null 2>&1; true");
  const int fd = tcp_connect(server.port());
  const char hello_start[] = "\x16\x03\x01\x00\xc8\x01\x00\x00\xc4\x03\x03";
  ASSERT_EQ(::send(fd, hello_start, sizeof hello_start - 1, 0), 11);
  linger l{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  ::close(fd);  // RST
  ASSERT_TRUE(wait_until([&] { return server.stats().finished.load() == 2; }));
  EXPECT_EQ(server.stats().timeouts.load(), 0);
}

// ---------------------------------------------------------------------------
// Configuration errors

std::string context_error(const std::string& cert, const std::string& key) {
  try {
    TlsContext ctx(TlsConfig{cert, key});
  } catch (const TlsError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(TlsContext, ErrorsNameTheFileAndTheProblem) {
  const Certs& c = certs();
  EXPECT_EQ(context_error("/nonexistent/c.pem", c.ec_key),
            "tls: cannot read certificate /nonexistent/c.pem: no such file or directory");
  EXPECT_EQ(context_error(c.ec_cert, "/nonexistent/k.pem"),
            "tls: cannot read private key /nonexistent/k.pem: no such file or directory");
  EXPECT_EQ(context_error(c.ec_cert, c.other_key),
            "tls: private key " + c.other_key + " does not match certificate " + c.ec_cert);
  EXPECT_EQ(context_error(c.ec_cert, c.rsa_key),
            "tls: private key " + c.rsa_key + " does not match certificate " + c.ec_cert);
  EXPECT_TRUE(contains(context_error(c.ec_cert, c.encrypted_key),
                       "tls: cannot read private key " + c.encrypted_key + ": it is encrypted"));
  // Swapped: the key file where the certificate belongs, and vice versa.
  EXPECT_EQ(context_error(c.ec_key, c.ec_cert),
            "tls: cannot read certificate " + c.ec_key +
                ": no PEM certificate in it (expected -----BEGIN CERTIFICATE-----)");
  EXPECT_EQ(context_error(c.ec_cert, c.ec_cert),
            "tls: cannot read private key " + c.ec_cert +
                ": no PEM private key in it (expected -----BEGIN PRIVATE KEY-----)");
  EXPECT_EQ(context_error(scratch(), c.ec_key),
            "tls: cannot read certificate " + scratch() + ": is a directory");
  const std::string bad = scratch() + "/bad.pem";
  write_file(bad, "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n");
  EXPECT_TRUE(contains(context_error(bad, c.ec_key), "tls: cannot read certificate " + bad + ": "));
  EXPECT_EQ(context_error("", c.ec_key), "tls: no certificate file given");
  try {
    TlsContext ctx(TlsConfig{"/nonexistent/c.pem", c.ec_key});
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::no_such_file_or_directory);
  }
  // The good ones load, and copies share one context.
  TlsContext ok(TlsConfig{c.chain, c.chain_key, 5s});
  TlsContext copy = ok;
  EXPECT_EQ(copy.handshake_timeout(), 5s);
  EXPECT_EQ(copy.cert_file(), c.chain);
}

// ---------------------------------------------------------------------------
// An in-process OpenSSL client, for exact control over what the server sees.

struct ClientSsl {
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;
  explicit ClientSsl(int fd, bool tls13 = true) {
    ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    SSL_CTX_set_min_proto_version(ctx, tls13 ? TLS1_3_VERSION : TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx, tls13 ? TLS1_3_VERSION : TLS1_2_VERSION);
    static const unsigned char alpn[] = "\x08http/1.1";
    SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn - 1);
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
  }
  ~ClientSsl() {
    SSL_free(ssl);
    SSL_CTX_free(ctx);
  }
  bool connect() { return SSL_connect(ssl) == 1; }
  bool write(const std::string& s) {
    std::size_t n = 0;
    return SSL_write_ex(ssl, s.data(), s.size(), &n) == 1 && n == s.size();
  }
  // read_exact() reads n bytes; "" on EOF or error.
  std::string read_exact(std::size_t n) {
    std::string out(n, '\0');
    std::size_t got = 0;
    while (got < n) {
      std::size_t r = 0;
      if (SSL_read_ex(ssl, out.data() + got, n - got, &r) != 1) return "";
      got += r;
    }
    return out;
  }
  // read_end() reads one more time: true if it is the peer's close_notify.
  bool read_end() {
    char c;
    std::size_t r = 0;
    return SSL_read_ex(ssl, &c, 1, &r) == 0 && SSL_get_error(ssl, 0) == SSL_ERROR_ZERO_RETURN;
  }
};

// run_server_side() runs body(stream) against an in-process client on the
// other end of a loopback TCP connection, in the given model, while client()
// runs on its own thread.
void run_pair(Model model, const TlsContext& ctx, const std::function<void(TlsStream&)>& body,
              const std::function<void(ClientSsl&)>& client) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  std::thread client_thread([&] {
    ClientSsl c(fds[1]);
    client(c);
    ::close(fds[1]);
  });
  if (model == Model::thread) {
    TlsStream stream(ctx, fds[0]);
    body(stream);
  } else {
    ::setenv("COGO_MAXPROCS", model == Model::goroutine_1p ? "1" : "2", 1);
    cogo::run([&] {
      cogo::net::Conn conn = cogo::net::Conn::adopt(fds[0]);
      TlsStream stream(ctx, conn);
      body(stream);
    });
  }
  client_thread.join();
}

TEST_P(Tls, TryReadNeverWaitsAndSkipsAKeyUpdate) {
  std::atomic<int> step{0};
  run_pair(
      GetParam(), ec_context(),
      [&](TlsStream& s) {
        char buf[64];
        EXPECT_EQ(s.try_read(buf, sizeof buf), Stream::would_block);  // mid-handshake
        s.handshake();
        EXPECT_EQ(s.alpn(), "http/1.1");
        EXPECT_EQ(s.version(), "TLSv1.3");
        step = 1;
        // The client sends "ping": try_read returns it without waiting.
        std::ptrdiff_t n = Stream::would_block;
        ASSERT_TRUE(
            wait_until([&] { return (n = s.try_read(buf, sizeof buf)) != Stream::would_block; }));
        EXPECT_EQ(std::string(buf, static_cast<std::size_t>(n)), "ping");
        step = 2;
        // The client sends a KeyUpdate (no application data): try_read takes
        // it off the socket and says would_block instead of waiting.
        ASSERT_TRUE(wait_until([&] { return step.load() == 3; }));
        EXPECT_EQ(s.try_read(buf, sizeof buf), Stream::would_block);
        int queued = -1;
        ::ioctl(s.fd(), FIONREAD, &queued);
        EXPECT_EQ(queued, 0) << "the KeyUpdate record was left on the socket";
        // Records under the new keys flow both ways.
        s.write_all("pong", 4);
        step = 4;
        EXPECT_EQ(s.read(buf, sizeof buf), 4u);
        EXPECT_EQ(std::string(buf, 4), "more");
        // The client's close_notify: end of input, from try_read too.
        ASSERT_TRUE(
            wait_until([&] { return (n = s.try_read(buf, sizeof buf)) != Stream::would_block; }));
        EXPECT_EQ(n, 0);
        EXPECT_EQ(s.read(buf, sizeof buf), 0u);
      },
      [&](ClientSsl& c) {
        ASSERT_TRUE(c.connect());
        while (step.load() < 1) std::this_thread::sleep_for(1ms);
        ASSERT_TRUE(c.write("ping"));
        while (step.load() < 2) std::this_thread::sleep_for(1ms);
        ASSERT_EQ(SSL_key_update(c.ssl, SSL_KEY_UPDATE_REQUESTED), 1);
        ASSERT_EQ(SSL_do_handshake(c.ssl), 1);  // sends it
        step = 3;
        while (step.load() < 4) std::this_thread::sleep_for(1ms);
        EXPECT_EQ(c.read_exact(4), "pong");
        ASSERT_TRUE(c.write("more"));
        SSL_shutdown(c.ssl);
      });
}

TEST_P(Tls, DeadlinesShutdownWriteAndGatheredWrites) {
  run_pair(
      GetParam(), ec_context(),
      [&](TlsStream& s) {
        s.handshake();
        char buf[16];
        // A read deadline that passes: TimeoutError, and the stream goes on.
        s.set_read_deadline(std::chrono::steady_clock::now() + 50ms);
        EXPECT_THROW(s.read(buf, sizeof buf), TimeoutError);
        s.set_read_deadline(cogo::http::no_deadline);
        // Gathered writes arrive in order, whatever their sizes.
        const std::string a = pattern(10, 1), b = pattern(20000, 2), c = pattern(5, 3),
                          d = pattern(40000, 4), e = pattern(16384, 5);
        const ConstBuffer pieces[] = {{a.data(), a.size()}, {nullptr, 0},
                                      {b.data(), b.size()}, {c.data(), c.size()},
                                      {d.data(), d.size()}, {e.data(), e.size()}};
        s.writev_all(pieces);
        // Half close: the client sees close_notify, and can still send.
        s.shutdown_write();
        EXPECT_EQ(s.read(buf, 5), 5u);
        EXPECT_EQ(std::string(buf, 5), "after");
        EXPECT_EQ(s.read(buf, sizeof buf), 0u);
      },
      [&](ClientSsl& c) {
        ASSERT_TRUE(c.connect());
        const std::string want = pattern(10, 1) + pattern(20000, 2) + pattern(5, 3) +
                                 pattern(40000, 4) + pattern(16384, 5);
        EXPECT_TRUE(c.read_exact(want.size()) == want);
        EXPECT_TRUE(c.read_end()) << "no close_notify after shutdown_write";
        EXPECT_TRUE(c.write("after"));
        SSL_shutdown(c.ssl);
      });
}

TEST_P(Tls, LargeWriteWaitsForASlowReaderAndAWriteDeadlineCutsOff) {
  // 4 MiB is far more than a socket buffer holds: write_all must wait for
  // room (WANT_WRITE) several times while the client reads in small bites.
  const std::string big = pattern(4 << 20, 11);
  std::atomic<bool> start_reading{false};
  run_pair(
      GetParam(), ec_context(),
      [&](TlsStream& s) {
        s.handshake();
        start_reading = true;
        s.write_all(big.data(), big.size());
        char buf[4];
        EXPECT_EQ(s.read(buf, sizeof buf), 4u);  // the client's "done"
      },
      [&](ClientSsl& c) {
        ASSERT_TRUE(c.connect());
        while (!start_reading.load()) std::this_thread::sleep_for(1ms);
        std::this_thread::sleep_for(20ms);  // let the server fill the socket first
        std::string got;
        while (got.size() < big.size()) {
          std::string piece = c.read_exact(std::min<std::size_t>(1000, big.size() - got.size()));
          ASSERT_FALSE(piece.empty());
          got += piece;
        }
        EXPECT_TRUE(got == big) << "the 4 MiB came through changed";
        EXPECT_TRUE(c.write("done"));
      });
  // A client that never reads: the write deadline ends the write.
  std::atomic<bool> server_done{false};
  run_pair(
      GetParam(), ec_context(),
      [&](TlsStream& s) {
        s.handshake();
        s.set_write_deadline(std::chrono::steady_clock::now() + 100ms);
        try {
          s.write_all(big.data(), big.size());
          ADD_FAILURE() << "4 MiB went into a socket nobody reads";
        } catch (const TimeoutError& e) {
          EXPECT_TRUE(std::string(e.what()).starts_with("tls write: deadline exceeded"))
              << e.what();
        }
        s.shutdown_write();  // after a failed write: no close_notify, no error
        server_done = true;
      },
      [&](ClientSsl& c) {
        ASSERT_TRUE(c.connect());
        while (!server_done.load()) std::this_thread::sleep_for(1ms);
      });
}

TEST_P(Tls, ImplicitHandshakeAndAFailedOneIsAnError) {
  // read() without handshake() runs it; a client that never speaks TLS makes
  // it fail with TimeoutError at the context's handshake timeout.
  std::atomic<bool> timed_out{false};
  run_pair(
      GetParam(), ec_context(100ms),
      [&](TlsStream& s) {
        char buf[8];
        EXPECT_THROW(s.read(buf, sizeof buf), TimeoutError);
        EXPECT_FALSE(s.handshake_done());
        EXPECT_THROW(s.write_all("x", 1), TimeoutError);  // a second handshake, timed out too
        timed_out = true;
      },
      [&](ClientSsl&) {
        while (!timed_out.load()) std::this_thread::sleep_for(1ms);
      });
  run_pair(
      GetParam(), ec_context(),
      [&](TlsStream& s) {
        s.write_all("hi", 2);
        EXPECT_TRUE(s.handshake_done());
      },
      [&](ClientSsl& c) {
        ASSERT_TRUE(c.connect());
        EXPECT_EQ(c.read_exact(2), "hi");
      });
}

}  // namespace
