// cogo-scale N: parks N goroutines on channels and reports what they cost —
// one JSON line with goroutines, rss_kib, pte_kib, kib_per_goroutine (growth
// of VmRSS + VmPTE over the baseline, divided by N), spawn_ns_per_goroutine
// and wake_ns_per_goroutine. Exits 0 only if all N finished.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "cogo/chan.h"
#include "cogo/runtime.h"
#include "cogo/sync.h"

namespace {

long status_kib(const char* field) {
  std::ifstream f("/proc/self/status");
  std::string line;
  const size_t n = std::strlen(field);
  while (std::getline(f, line)) {
    if (line.compare(0, n, field) == 0 && line.size() > n && line[n] == ':') {
      return std::strtol(line.c_str() + n + 1, nullptr, 10);
    }
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  char* end = nullptr;
  const long n = argc > 1 ? std::strtol(argv[1], &end, 10) : 0;
  if (argc != 2 || n <= 0 || (end && *end)) {
    std::fprintf(stderr, "usage: cogo-scale N   (N: goroutines to park, e.g. 1000000)\n");
    return 2;
  }
  return cogo::run([n]() -> int {
    using clock = std::chrono::steady_clock;
    // One channel per 1,000 goroutines: closing it wakes them all.
    const long groups = (n + 999) / 1000;
    std::vector<cogo::Chan<int>> gates;
    gates.reserve(static_cast<size_t>(groups));
    for (long i = 0; i < groups; i++) gates.emplace_back(0);
    cogo::WaitGroup parked, finished;
    parked.add(static_cast<int>(n));
    finished.add(static_cast<int>(n));

    const long rss0 = status_kib("VmRSS"), pte0 = status_kib("VmPTE");
    auto t0 = clock::now();
    for (long i = 0; i < n; i++) {
      cogo::Chan<int> gate = gates[static_cast<size_t>(i / 1000)];
      cogo::go([gate, &parked, &finished]() mutable {
        parked.done();
        gate.recv();  // parks until the gate closes
        finished.done();
      });
    }
    parked.wait();
    auto t1 = clock::now();
    // Let the last goroutines reach recv() and park.
    cogo::sleep_for(std::chrono::milliseconds(200));
    const long rss1 = status_kib("VmRSS"), pte1 = status_kib("VmPTE");

    auto t2 = clock::now();
    for (auto& g : gates) g.close();
    finished.wait();
    auto t3 = clock::now();

    const double spawn_ns = std::chrono::duration<double, std::nano>(t1 - t0).count() / n;
    const double wake_ns = std::chrono::duration<double, std::nano>(t3 - t2).count() / n;
    const double per = static_cast<double>((rss1 + pte1) - (rss0 + pte0)) / n;
    std::printf(
        "{\"goroutines\": %ld, \"gomaxprocs\": %d, \"rss_kib\": %ld, \"pte_kib\": %ld, "
        "\"kib_per_goroutine\": %.2f, \"spawn_ns_per_goroutine\": %.0f, "
        "\"wake_ns_per_goroutine\": %.0f}\n",
        n, cogo::gomaxprocs(), rss1, pte1, per, spawn_ns, wake_ns);
    return 0;
  });
}
