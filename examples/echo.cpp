// echo.cpp: the example in cogo/echo.h — a TCP echo server until SIGTERM.
#include <cogo/cogo.h>
#include <cogo/echo.h>

int main() {
  return cogo::run([] {
    cogo::echo::EchoServer echo({"127.0.0.1:7000"}, cogo::Model::goroutine);
    cogo::StopSignalHook hook([&echo] { echo.shutdown(); });
    echo.serve();  // until echo.shutdown()
  });
}
