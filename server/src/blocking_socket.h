// blocking_socket.h: what the thread-per-connection model needs of plain
// blocking sockets: a listener, an accept loop, and threads with a chosen
// stack size. Their errors follow the netpoller's listener policy
// (cogo/net/listener_policy.h), as the goroutine model's do.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <string>

namespace cogo::net::detail {
class AcceptBackoff;
}

namespace cogo::http {

// blocking_listen() opens a blocking listening socket; throws net::Error
// naming the address and the fix (listen_error()).
int blocking_listen(const std::string& address, bool reuse_port);
std::string local_address_of(int fd);
std::string peer_address_of(int fd);
// spawn_thread() starts a detached thread with the given stack size.
bool spawn_thread(std::size_t stack_bytes, std::function<void()> fn);
// thread_accept_loop() accepts on lfd until it is shut down (SHUT_RDWR wakes
// a blocked accept) or stopping is set, calling on_conn(fd) for each
// connection (TCP_NODELAY on). Out of descriptors it waits on backoff
// (backoff.cancel() ends the loop).
void thread_accept_loop(int lfd, const std::atomic<bool>& stopping,
                        net::detail::AcceptBackoff& backoff,
                        const std::function<void(int)>& on_conn);

}  // namespace cogo::http
