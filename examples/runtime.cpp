// runtime.cpp: the README's "The runtime in one example".
#include <cogo/cogo.h>

int main() {
  return cogo::run([] {                      // main goroutine; exit code returned
    cogo::Chan<int> results(16);             // buffered channel (0 = rendezvous)
    cogo::WaitGroup wg;
    for (int i = 0; i < 1000; i++) {
      wg.add(1);
      cogo::go([=, &wg]() mutable {          // one goroutine each
        cogo::sleep_for(std::chrono::milliseconds(10));   // parks, costs no thread
        results.send(i);
        wg.done();
      });
    }
    cogo::go([&] { wg.wait(); results.close(); });
    long sum = 0;
    while (auto v = results.recv()) sum += *v;   // nullopt once closed and drained
    return sum == 999 * 1000 / 2 ? 0 : 1;
  });
}
