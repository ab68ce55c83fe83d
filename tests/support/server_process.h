// server_process.h: the real cogo-server binary, for the tests that drive it
// from outside (server_test, load_test). Offers:
//   server_binary()  the path of the built cogo-server;
//   run_command()    a shell command's stdout and wait status;
//   ServerProcess    cogo-server started with flags, its stdout and stderr
//                    captured, its ports read from the "listening on"
//                    start-up line;
//   connect_to(), send_all(), read_until_close()
//                    a raw loopback TCP client, one blocking fd.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <functional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace cogo_test {

// server_binary() is the cogo-server built next to the tests.
inline const std::string& server_binary() {
  static const std::string path = std::string(COGO_BIN_DIR) + "/cogo-server";
  return path;
}

// run_command() runs cmd with the shell and returns its stdout; *status, when
// given, receives the wait status from pclose().
inline std::string run_command(const std::string& cmd, int* status = nullptr) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int st = pclose(p);
  if (status) *status = st;
  return out;
}

// ServerProcess: cogo-server started with args (argv[1..]); its output is
// read through a pipe. Unless expect_listen is false, the constructor waits
// (up to 20 s) for the whole "listening on" start-up line, so that port()
// can read it. The destructor kills the process if stop() did not reap it.
class ServerProcess {
 public:
  explicit ServerProcess(std::vector<std::string> args, bool expect_listen = true) {
    // argv is built before fork(): the child only dups and execs.
    args.insert(args.begin(), server_binary());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int out[2];
    EXPECT_EQ(pipe(out), 0);
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], 1);
      dup2(out[1], 2);
      close(out[0]);
      close(out[1]);
      execv(server_binary().c_str(), argv.data());
      _exit(127);
    }
    close(out[1]);
    fd_ = out[0];
    if (expect_listen) {
      read_until([this] {
        const size_t at = output_.find("listening on");
        return at != std::string::npos && output_.find('\n', at) != std::string::npos;
      });
    }
  }
  ~ServerProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) close(fd_);
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // wait_for() reads output until it contains text (or the process ends).
  bool wait_for(const std::string& text, int timeout_ms = 20000) {
    return read_until([&] { return output_.find(text) != std::string::npos; }, timeout_ms);
  }

  // port() is the port of the n-th address in the start-up line; -1 if there
  // is no start-up line or no n-th address.
  int port(int n = 0) const {
    const size_t at = output_.find("listening on");
    if (at == std::string::npos) return -1;
    const std::string line = output_.substr(at);
    const std::regex re(":([0-9]+) \\(");
    auto it = std::sregex_iterator(line.begin(), line.end(), re);
    for (int i = 0; i < n && it != std::sregex_iterator(); i++) ++it;
    return it == std::sregex_iterator() ? -1 : std::stoi((*it)[1]);
  }

  // stop() sends sig and returns the exit status (-1 if it did not exit).
  int stop(int sig = SIGTERM) {
    kill(pid_, sig);
    int st = 0;
    for (int i = 0; i < 2000; i++) {
      pid_t r = waitpid(pid_, &st, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        wait_for("\x01", 200);  // drain what is left
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }
  const std::string& output() const { return output_; }
  pid_t pid() const { return pid_; }

 private:
  // read_until() reads output until done() holds, the process closes its end
  // or timeout_ms pass; returns done().
  bool read_until(const std::function<bool()>& done, int timeout_ms = 20000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (!done()) {
      int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      deadline - std::chrono::steady_clock::now())
                                      .count());
      if (left <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, left) <= 0) return false;
      char buf[4096];
      ssize_t n = read(fd_, buf, sizeof buf);
      if (n <= 0) return done();
      output_.append(buf, static_cast<size_t>(n));
    }
    return true;
  }

  pid_t pid_ = -1;
  int fd_ = -1;
  std::string output_;
};

// connect_to() opens a blocking TCP connection to 127.0.0.1:port; -1 if
// nothing accepts it.
inline int connect_to(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// send_all() sends all of s; a failed send fails the test.
inline void send_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    ASSERT_GT(n, 0);
    off += static_cast<size_t>(n);
  }
}

// read_until_close() reads until EOF (or 10 s without bytes).
inline std::string read_until_close(int fd) {
  std::string out;
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 10000) <= 0) break;
    char buf[8192];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

}  // namespace cogo_test
