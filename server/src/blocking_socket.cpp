// blocking_socket.cpp: blocking sockets and threads for the thread model.
#include "blocking_socket.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "cogo/net.h"
#include "cogo/net/listener_policy.h"

namespace cogo::http {

// A blocking listening socket for the thread model.
int blocking_listen(const std::string& address, bool reuse_port) {
  net::Address a = net::Address::parse(address);
  const int family = a.family() == net::Address::Family::ipv6   ? AF_INET6
                     : a.family() == net::Address::Family::ipv4 ? AF_INET
                                                                : AF_UNIX;
  int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw net::detail::listen_error(address, errno);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (reuse_port) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (::bind(fd, static_cast<const sockaddr*>(a.sockaddr_data()), a.sockaddr_size()) != 0 ||
      ::listen(fd, SOMAXCONN) != 0) {
    const int err = errno;
    ::close(fd);
    throw net::detail::listen_error(address, err);
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
                        net::detail::AcceptBackoff& backoff,
                        const std::function<void(int)>& on_conn) {
  while (!stopping.load()) {
    int fd = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      if (err == EINTR || err == ECONNABORTED) continue;
      if (net::detail::AcceptBackoff::out_of_resources(err)) {
        if (backoff.wait(err) == cogo::detail::Sleeper::Woken::deadline) continue;
        return;  // stop_accepting() (or the thread's context) ended the wait
      }
      return;  // EINVAL after shutdown(), or a real error
    }
    backoff.accepted();
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    on_conn(fd);
  }
}


}  // namespace cogo::http
