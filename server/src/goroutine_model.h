// goroutine_model.h: the listening half of the goroutine-per-connection
// model, shared by the HTTP and the echo servers: netpoller listeners and one
// accept-loop goroutine per listener. What a connection does once accepted
// is the server's (goroutine_conn.h for HTTP).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "cogo/net.h"
#include "cogo/wait_group.h"

namespace cogo::server_detail {

class Shutdown;

class GoroutineModel {
 public:
  // OnConn runs on the accept loop's goroutine for each accepted connection
  // (after shutdown.connection_opened()); it must hand the connection on
  // quickly, usually with cogo::go, and call connection_closed() when done.
  using OnConn = std::function<void(net::Conn conn, std::size_t listener)>;

  // listen() opens a listener on address and returns where it listens.
  std::string listen(const std::string& address, bool reuse_port);
  // start() spawns one accept goroutine per listener. Must run inside
  // cogo::run; on_conn and shutdown must outlive join_acceptors().
  void start(OnConn on_conn, Shutdown& shutdown);
  // stop_accepting() closes the listeners, which ends the loops. Any thread;
  // precondition: shutdown.request() was called (a loop tells a closed
  // listener from an accept error by it).
  void stop_accepting();
  // listen_fds() are the listening sockets, in listen() order.
  std::vector<int> listen_fds() const;
  // join_acceptors() waits until every accept loop has returned.
  void join_acceptors() { loops_.wait(); }

 private:
  std::vector<net::Listener> listeners_;  // filled by listen() before start(); then fixed
  OnConn on_conn_;                        // set by start() before any loop runs
  WaitGroup loops_;                       // the accept loops still running
};

}  // namespace cogo::server_detail
