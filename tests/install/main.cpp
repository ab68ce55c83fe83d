// main.cpp: a user's first server, built against the installed package
// (tests/install/run.sh). Includes <cogo/http.h> and nothing else of cogo;
// the client is plain POSIX. Serves one route on a free port, asks it once
// from a blocking section, and exits 0 when the answer is right.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cogo/http.h>

#include <cstdio>
#include <string>

namespace {

// get() sends one request to 127.0.0.1:port and returns the whole answer.
std::string get(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    const std::string req = "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    if (write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
      char buf[4096];
      for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
    }
  }
  close(fd);
  return out;
}

}  // namespace

int main() {
  return cogo::run([]() -> int {
    cogo::http::ServerOptions options;
    options.listen = {{"127.0.0.1:0"}};
    options.handle_signals = false;
    cogo::http::Server server(options);
    server.router().get("/hello", [](cogo::http::Request&, cogo::http::Response& res) {
      res.text(200, "hello from an installed cogo");
    });
    server.listen();
    const std::string addr = server.addresses().at(0);
    const int port = std::stoi(addr.substr(addr.rfind(':') + 1));
    std::string answer;
    cogo::go([&] {
      answer = cogo::blocking([&] { return get(port); });
      server.shutdown();
    });
    server.serve();
    const bool ok = answer.rfind("HTTP/1.1 200 OK\r\n", 0) == 0 &&
                    answer.find("\r\n\r\nhello from an installed cogo") != std::string::npos;
    std::printf("%s\n", ok ? "ok" : ("unexpected answer: " + answer).c_str());
    return ok ? 0 : 1;
  });
}
