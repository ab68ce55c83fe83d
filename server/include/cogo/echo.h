// cogo/echo.h: a raw TCP echo server — the smallest blocking-style program
// on the runtime: one goroutine (or thread) per connection, read then write.
//
//   cogo::run([] {
//     cogo::echo::EchoServer echo({"127.0.0.1:7000"}, cogo::Model::goroutine);
//     echo.serve();  // until echo.shutdown()
//   });
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cogo/model.h"

namespace cogo::echo {

class EchoServer {
 public:
  // EchoServer() listens on every address of listen ("127.0.0.1:0" picks a
  // port) in model; SO_REUSEPORT with reuse_port.
  EchoServer(std::vector<std::string> listen, Model model, bool reuse_port = false);
  ~EchoServer();
  EchoServer(const EchoServer&) = delete;
  EchoServer& operator=(const EchoServer&) = delete;

  // listen() opens the listeners now (serve() does it if needed); throws a
  // std::system_error naming the address and the fix.
  void listen();
  // addresses() is where the listeners listen, in the order given.
  std::vector<std::string> addresses() const;
  // serve() echoes until shutdown(), then closes every connection and
  // returns once they are all gone. Must run on a goroutine.
  void serve();
  // shutdown() asks serve() to stop. Any thread.
  void shutdown();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace cogo::echo
