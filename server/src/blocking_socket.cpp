// blocking_socket.cpp: blocking sockets and threads for the thread model.
#include "blocking_socket.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <system_error>
#include <thread>

#include "cogo/net.h"
#include "spdlog/spdlog.h"

namespace cogo::http {

// A blocking listening socket for the thread model.
int blocking_listen(const std::string& address, bool reuse_port) {
  net::Address a = net::Address::parse(address);
  const int family = a.family() == net::Address::Family::ipv6   ? AF_INET6
                     : a.family() == net::Address::Family::ipv4 ? AF_INET
                                                                : AF_UNIX;
  int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "listen " + address);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (reuse_port) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (::bind(fd, static_cast<const sockaddr*>(a.sockaddr_data()), a.sockaddr_size()) != 0 ||
      ::listen(fd, SOMAXCONN) != 0) {
    const int err = errno;
    ::close(fd);
    std::string hint;
    if (err == EACCES) hint = " — use a port above 1024 or run with CAP_NET_BIND_SERVICE";
    if (err == EADDRINUSE) hint = " — another process listens there; pick another port";
    throw std::system_error(err, std::generic_category(), "listen " + address + hint);
  }
  return fd;
}

std::string local_address_of(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
  return net::Address::from_sockaddr(&ss, len).to_string();
}

std::string peer_address_of(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
  return net::Address::from_sockaddr(&ss, len).to_string();
}

// spawn_thread() starts a detached thread with a given stack size.
bool spawn_thread(std::size_t stack_bytes, std::function<void()> fn) {
  auto* heap_fn = new std::function<void()>(std::move(fn));
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, stack_bytes);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t tid;
  int rc = pthread_create(
      &tid, &attr,
      [](void* p) -> void* {
        std::unique_ptr<std::function<void()>> f(static_cast<std::function<void()>*>(p));
        (*f)();
        return nullptr;
      },
      heap_fn);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    delete heap_fn;
    return false;
  }
  return true;
}

void thread_accept_loop(int lfd, const std::atomic<bool>& stopping,
                        const std::function<void(int)>& on_conn) {
  std::chrono::milliseconds backoff{5};
  bool logged = false;
  while (!stopping.load()) {
    int fd = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        if (!logged) {
          spdlog::error("accept: {} — serving existing connections, retrying with back-off",
                        std::strerror(errno));
          logged = true;
        }
        std::this_thread::sleep_for(backoff);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
        continue;
      }
      return;  // EINVAL after shutdown(), or a real error
    }
    backoff = std::chrono::milliseconds(5);
    logged = false;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    on_conn(fd);
  }
}


}  // namespace cogo::http
