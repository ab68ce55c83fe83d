// blocking_socket.h: what the thread-per-connection model needs of plain
// blocking sockets: a listener, an accept loop with EMFILE back-off, and
// threads with a chosen stack size.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <string>

namespace cogo::http {

// blocking_listen() opens a blocking listening socket; throws a
// std::system_error naming the address and the fix.
int blocking_listen(const std::string& address, bool reuse_port);
std::string local_address_of(int fd);
std::string peer_address_of(int fd);
// spawn_thread() starts a detached thread with the given stack size.
bool spawn_thread(std::size_t stack_bytes, std::function<void()> fn);
// thread_accept_loop() accepts on lfd until it is shut down (SHUT_RDWR wakes
// a blocked accept) or stopping is set, calling on_conn(fd) for each
// connection (TCP_NODELAY on). EMFILE/ENFILE: logs once and backs off.
void thread_accept_loop(int lfd, const std::atomic<bool>& stopping,
                        const std::function<void(int)>& on_conn);

}  // namespace cogo::http
