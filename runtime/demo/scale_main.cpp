// cogo-scale N [--respawn]: parks N goroutines on channels and reports what
// they cost — one JSON line with goroutines, rss_kib, pte_kib,
// kib_per_goroutine (growth of VmRSS + VmPTE over the baseline, divided by
// N), spawn_ns_per_goroutine and wake_ns_per_goroutine. Exits 0 only if all N
// finished.
//
// Also in the line, to explain kib_per_goroutine:
//   vmas, max_map_count   mappings while N are parked (/proc/self/maps) and
//                         the kernel's cap on them (vm.max_map_count)
//   stack_pages_touched   resident pages per parked goroutine's stack, mean
//                         and max over a sample of up to 1,000 goroutines
//                         (/proc/self/pagemap)
//   stack_bytes_used_max  deepest byte a parked goroutine's call chain ever
//                         wrote (g_entry -> Task -> lambda -> Chan::recv ->
//                         park -> jump_fcontext), measured from the stack top
//                         as the lowest non-zero byte of its fresh stack
// With --respawn, a second round spawns, parks and wakes N goroutines again
// on the now pooled stacks and adds respawn_ns_per_goroutine: the spawn cost
// without the first-touch page faults of fresh stacks.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "cogo/chan.h"
#include "cogo/introspect.h"
#include "cogo/runtime.h"
#include "cogo/sync.h"

namespace {

using Clock = std::chrono::steady_clock;

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

long count_lines(const char* path) {
  std::ifstream f(path);
  std::string line;
  long n = 0;
  while (std::getline(f, line)) n++;
  return n;
}

long read_long(const char* path) {
  std::ifstream f(path);
  long v = -1;
  f >> v;
  return v;
}

// StackProbe: where the sampled goroutines' stacks are, read back while they
// are parked.
struct StackProbe {
  double pages_mean = 0;
  long pages_max = 0;
  long bytes_used_max = 0;
};

// probe_stacks() looks at the stack around each sampled address (a local of a
// parked goroutine). A stack is [guard | usable], the next stack's guard right
// above our top, so the first non-present page at or above the sample is our
// top; pages_touched counts the present pages of the stack below it.
StackProbe probe_stacks(const std::vector<uintptr_t>& samples, size_t stack_bytes) {
  StackProbe r;
  const long page = sysconf(_SC_PAGESIZE);
  const long stack_pages = static_cast<long>(stack_bytes) / page;
  if (stack_pages <= 8) return r;
  int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return r;
  long total = 0, counted = 0;
  std::vector<uint64_t> ent(static_cast<size_t>(stack_pages + 8));
  for (uintptr_t a : samples) {
    if (a == 0) continue;
    const uintptr_t pg = a / static_cast<uintptr_t>(page);
    // Find the top: the first non-present page above the sample (<= 8 pages).
    if (pread(fd, ent.data(), 8 * sizeof(uint64_t), static_cast<off_t>(pg * 8)) !=
        static_cast<ssize_t>(8 * sizeof(uint64_t))) {
      continue;
    }
    long up = 0;
    while (up < 8 && (ent[static_cast<size_t>(up)] >> 63) != 0) up++;
    if (up == 0 || up == 8) continue;
    const uintptr_t top_pg = pg + static_cast<uintptr_t>(up);  // first page above the stack
    const uintptr_t lo_pg = top_pg - static_cast<uintptr_t>(stack_pages);
    if (pread(fd, ent.data(), static_cast<size_t>(stack_pages) * sizeof(uint64_t),
              static_cast<off_t>(lo_pg * 8)) !=
        static_cast<ssize_t>(static_cast<size_t>(stack_pages) * sizeof(uint64_t))) {
      continue;
    }
    long present = 0, lowest_present = -1;
    for (long i = 0; i < stack_pages; i++) {
      if ((ent[static_cast<size_t>(i)] >> 63) != 0) {
        present++;
        if (lowest_present < 0) lowest_present = i;
      }
    }
    // The deepest write: the lowest non-zero byte of the lowest present page
    // (a fresh stack page is all zeros until a frame writes to it).
    const char* lo = reinterpret_cast<const char*>((lo_pg + lowest_present) * page);
    const char* top = reinterpret_cast<const char*>(top_pg * page);
    const char* p = lo;
    while (p < top && *p == 0) p++;
    r.bytes_used_max = std::max(r.bytes_used_max, static_cast<long>(top - p));
    r.pages_max = std::max(r.pages_max, present);
    total += present;
    counted++;
  }
  close(fd);
  if (counted > 0) r.pages_mean = static_cast<double>(total) / static_cast<double>(counted);
  return r;
}

struct Round {
  double spawn_ns = 0, wake_ns = 0;
  long rss = 0, pte = 0, vmas = 0;
  bool all_finished = false;
  StackProbe probe;
};

// park_round() spawns n goroutines that park on channels (one channel per
// 1,000 goroutines), measures, then closes the channels to wake them all.
Round park_round(long n, bool probe) {
  Round r;
  const long groups = (n + 999) / 1000;
  std::vector<cogo::Chan<int>> gates;
  gates.reserve(static_cast<size_t>(groups));
  for (long i = 0; i < groups; i++) gates.emplace_back(0);
  cogo::WaitGroup parked, finished;
  std::atomic<long> ran{0};  // goroutines that got past their recv()
  parked.add(static_cast<int>(n));
  finished.add(static_cast<int>(n));
  const long stride = std::max(1L, n / 1000);
  std::vector<uintptr_t> samples(probe ? static_cast<size_t>((n + stride - 1) / stride) : 0);

  const auto t0 = Clock::now();
  for (long i = 0; i < n; i++) {
    cogo::Chan<int> gate = gates[static_cast<size_t>(i / 1000)];
    uintptr_t* sample = probe && i % stride == 0 ? &samples[static_cast<size_t>(i / stride)]
                                                 : nullptr;
    cogo::go([gate, sample, &parked, &finished, &ran] {
      if (sample) {
        volatile char here = 1;
        *sample = reinterpret_cast<uintptr_t>(&here);
      }
      parked.done();
      gate.recv();  // parks until the gate closes
      ran.fetch_add(1, std::memory_order_relaxed);
      finished.done();
    });
  }
  parked.wait();
  const auto t1 = Clock::now();
  // Let the last goroutines get from done() into recv() and park.
  cogo::sleep_for(std::chrono::milliseconds(200));
  r.rss = status_kib("VmRSS");
  r.pte = status_kib("VmPTE");
  r.vmas = count_lines("/proc/self/maps");
  if (probe) r.probe = probe_stacks(samples, cogo::stats().stack_size);

  const auto t2 = Clock::now();
  for (auto& g : gates) g.close();
  finished.wait();
  const auto t3 = Clock::now();
  r.all_finished = ran.load() == n;
  r.spawn_ns = std::chrono::duration<double, std::nano>(t1 - t0).count() / n;
  r.wake_ns = std::chrono::duration<double, std::nano>(t3 - t2).count() / n;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  char* end = nullptr;
  const long n = argc > 1 ? std::strtol(argv[1], &end, 10) : 0;
  const bool respawn = argc == 3 && std::strcmp(argv[2], "--respawn") == 0;
  if (argc < 2 || argc > 3 || (argc == 3 && !respawn) || n <= 0 || n > INT32_MAX ||
      (end && *end)) {
    std::fprintf(stderr,
                 "usage: cogo-scale N [--respawn]   (N: goroutines to park, e.g. 1000000)\n");
    return 2;
  }
  return cogo::run([n, respawn]() -> int {
    const long rss0 = status_kib("VmRSS"), pte0 = status_kib("VmPTE");
    const Round first = park_round(n, true);
    Round second;
    if (respawn) second = park_round(n, false);

    const double per = static_cast<double>((first.rss + first.pte) - (rss0 + pte0)) / n;
    std::printf(
        "{\"goroutines\": %ld, \"gomaxprocs\": %d, \"rss_kib\": %ld, \"pte_kib\": %ld, "
        "\"kib_per_goroutine\": %.2f, \"spawn_ns_per_goroutine\": %.0f, "
        "\"wake_ns_per_goroutine\": %.0f, \"vmas\": %ld, \"max_map_count\": %ld, "
        "\"stack_pages_touched_mean\": %.2f, \"stack_pages_touched_max\": %ld, "
        "\"stack_bytes_used_max\": %ld",
        n, cogo::gomaxprocs(), first.rss, first.pte, per, first.spawn_ns, first.wake_ns,
        first.vmas, read_long("/proc/sys/vm/max_map_count"), first.probe.pages_mean,
        first.probe.pages_max, first.probe.bytes_used_max);
    if (respawn) {
      std::printf(", \"respawn_ns_per_goroutine\": %.0f, \"rewake_ns_per_goroutine\": %.0f",
                  second.spawn_ns, second.wake_ns);
    }
    std::printf("}\n");
    std::fflush(stdout);
    return first.all_finished && (!respawn || second.all_finished) ? 0 : 1;
  });
}
