// thread_model.h: the thread-per-connection model, shared by the HTTP and
// the echo servers: blocking listeners, one accept thread per listener, one
// OS thread per connection, the set of live connection fds, and its part of
// a graceful shutdown.
//
// A connection's fd belongs to the model, not to the serve function: the
// model adds it to the live set before the connection thread starts and,
// after serve returns (plain or TLS alike: both borrow the fd), retire()
// erases it from the set *before* closing it. Closing first would let
// accept() hand the same number to a new connection, which the erase would
// then drop from the set (a graceful shutdown would never wake it) or,
// worse, a shutdown_live() in between would cut it. thread_model_test's
// ThreadModelServer.FdErasedFromTheLiveSetIsStillOpenAndTheConnections
// checks the order through a real TLS handshake with the live-set hook
// below.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "cogo/net/listener_policy.h"

namespace cogo::server_detail {

class Shutdown;

class ThreadModel {
 public:
  // Serve runs on the connection's own thread; fd is a connected blocking
  // socket it borrows (it must not close it); listener is the index of the
  // listener in listen() order.
  using Serve = std::function<void(int fd, std::size_t listener)>;

  ThreadModel() = default;
  ThreadModel(const ThreadModel&) = delete;
  ThreadModel& operator=(const ThreadModel&) = delete;
  // ~ThreadModel() closes the listeners. Precondition: join_acceptors() ran
  // if start() did, and no connection thread is still running.
  ~ThreadModel();

  // listen() opens a blocking listener on address and returns where it
  // listens; throws a std::system_error naming the address and the fix.
  std::string listen(const std::string& address, bool reuse_port);

  // start() starts one accept thread per listener. Each accepted connection
  // is counted in shutdown (connection_opened/closed) and served by serve on
  // a thread with a stack of stack_bytes. serve and shutdown must outlive the
  // connection threads (wait for shutdown.wait_connections()).
  void start(Serve serve, Shutdown& shutdown, std::size_t stack_bytes);

  // stop_accepting() wakes and ends the accept threads. Any thread.
  void stop_accepting();
  // join_acceptors() waits for the accept threads (giving the P away).
  void join_acceptors();
  // shutdown_live() calls ::shutdown(fd, how) on every live connection but
  // those in except (sorted): SHUT_RD makes a thread waiting for a next
  // request see end of input (a request in flight still writes its
  // response); SHUT_RDWR cuts all.
  void shutdown_live(int how, const std::vector<int>& except = {});
  // listen_fds() are the listening sockets, in listen() order.
  const std::vector<int>& listen_fds() const { return listen_fds_; }
  // live_connections() is the size of the live set (tests).
  std::size_t live_connections() const;

  // LiveSetHook: a test seam, process-wide. When set, it is called under
  // the live set's lock with each connection's fd as the fd enters the set
  // (inserted: just accepted) and as it leaves it (erased: in retire(),
  // after the erase and before the close, so the fd is then still open and
  // still that connection's socket). Null by default: a load and a branch
  // per connection. Set it before the connections it watches are accepted.
  enum class LiveSetEvent { inserted, erased };
  using LiveSetHook = void (*)(LiveSetEvent event, int fd);
  static void set_live_set_hook(LiveSetHook hook) noexcept;

 private:
  void run_connection(int fd, std::size_t listener, Shutdown& shutdown);
  // retire() is the one place a connection's fd leaves the model: erased
  // from the live set (and the hook called), then closed, in that order.
  void retire(int fd);

  std::vector<int> listen_fds_;  // written by listen() before start(); then read-only
  // One per listener (the netpoller's listener policy): out of descriptors,
  // an accept thread backs off; stop_accepting() cuts the sleep short.
  std::vector<std::unique_ptr<net::detail::AcceptBackoff>> backoffs_;  // as listen_fds_
  std::vector<std::thread> acceptors_;  // owned by the thread calling start()/join_acceptors()
  std::atomic<bool> stopping_{false};
  Serve serve_;  // set by start() before any thread runs it
  mutable std::mutex mu_;
  std::unordered_set<int> live_;  // guarded by mu_
};

}  // namespace cogo::server_detail
