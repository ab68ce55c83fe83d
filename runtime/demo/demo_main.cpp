// cogo-demo: a tour of the runtime until the server exists — goroutines
// spawned, channels, a WaitGroup, sleeping goroutines, and the counters.
#include <chrono>
#include <cstdio>

#include "cogo/chan.h"
#include "cogo/introspect.h"
#include "cogo/runtime.h"
#include "cogo/sync.h"

int main() {
  return cogo::run([] {
    using namespace std::chrono_literals;
    std::printf("cogo runtime demo: GOMAXPROCS=%d\n", cogo::gomaxprocs());

    // 100,000 goroutines each send one number; main sums them.
    constexpr int kN = 100000;
    cogo::Chan<long> results(1024);
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 1; i <= kN; i++) {
      cogo::go([results, i]() mutable { results.send(i); });
    }
    long sum = 0;
    for (int i = 0; i < kN; i++) sum += *results.recv();
    auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0);
    std::printf("%d goroutines sent 1..%d, sum %ld (expected %ld) in %.1f ms\n", kN, kN, sum,
                static_cast<long>(kN) * (kN + 1) / 2, ms.count());

    // 10,000 goroutines sleep 100 ms at once: they cost no thread.
    cogo::WaitGroup wg;
    wg.add(10000);
    t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 10000; i++) {
      cogo::go([&wg] {
        cogo::sleep_for(100ms);
        wg.done();
      });
    }
    wg.wait();
    ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0);
    auto st = cogo::stats();
    std::printf("10,000 goroutines slept 100 ms concurrently: %.1f ms wall, %llu OS threads\n",
                ms.count(), static_cast<unsigned long long>(st.threads));
    std::printf("context switches %llu, parks %llu, steals %llu\n",
                static_cast<unsigned long long>(st.context_switches),
                static_cast<unsigned long long>(st.parks),
                static_cast<unsigned long long>(st.steals));
    return sum == static_cast<long>(kN) * (kN + 1) / 2 ? 0 : 1;
  });
}
