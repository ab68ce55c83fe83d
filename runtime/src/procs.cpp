// procs.cpp: what the runtime reads from its environment at start-up —
// GOMAXPROCS (COGO_MAXPROCS, GOMAXPROCS, else the CPUs this process may use:
// affinity mask and cgroup v2/v1 CPU quota), the goroutine stack size
// (COGO_STACK_SIZE) and the open-files limit (soft raised to hard, as Go does).
#include <sched.h>
#include <sys/resource.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "runtime2.h"

namespace cogo::detail {
namespace {

// parse_positive() reads a positive integer with an optional K/M/G suffix
// (powers of 1024) when `sized`. Returns -1 if malformed.
long long parse_positive(const char* s, bool sized) {
  if (s == nullptr || *s == '\0') return -1;
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(s, &end, 10);
  if (errno != 0 || end == s || v <= 0) return -1;
  if (sized && *end) {
    switch (*end) {
      case 'k': case 'K': v <<= 10; break;
      case 'm': case 'M': v <<= 20; break;
      case 'g': case 'G': v <<= 30; break;
      default: return -1;
    }
    ++end;
    if (*end == 'i') ++end;
    if (*end == 'B' || *end == 'b') ++end;
  }
  return *end ? -1 : v;
}

int cgroup_cpu_limit() {
  // cgroup v2: "max 100000" or "200000 100000"
  std::ifstream v2("/sys/fs/cgroup/cpu.max");
  std::string quota, period;
  if (v2 >> quota >> period) {
    if (quota == "max") return 0;
    double q = std::atof(quota.c_str()), p = std::atof(period.c_str());
    if (q > 0 && p > 0) return static_cast<int>(std::ceil(q / p));
    return 0;
  }
  std::ifstream q1("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), p1("/sys/fs/cgroup/cpu/cpu.cfs_period_us");
  long long q = 0, p = 0;
  if ((q1 >> q) && (p1 >> p) && q > 0 && p > 0) {
    return static_cast<int>(std::ceil(static_cast<double>(q) / static_cast<double>(p)));
  }
  return 0;
}

}  // namespace

int detect_gomaxprocs() {
  for (const char* var : {"COGO_MAXPROCS", "GOMAXPROCS"}) {
    const char* s = std::getenv(var);
    if (s == nullptr || *s == '\0') continue;
    long long v = parse_positive(s, false);
    if (v <= 0 || v > 1024) {
      fatal("%s=%s is not a number of processors from 1 to 1024", var, s);
    }
    return static_cast<int>(v);
  }
  int n = 1;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
  const int quota = cgroup_cpu_limit();
  if (quota > 0 && quota < n) n = quota;
  return n < 1 ? 1 : n;
}

size_t detect_stack_size() {
  const char* s = std::getenv("COGO_STACK_SIZE");
  if (s == nullptr || *s == '\0') return 256 * 1024;
  long long v = parse_positive(s, true);
  if (v < 16 * 1024 || v > (1LL << 30)) {
    fatal("COGO_STACK_SIZE=%s is not a stack size from 16K to 1G (examples: 262144, 256K, 1M)",
          s);
  }
  return static_cast<size_t>(v);
}

void raise_fd_limit() {
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

}  // namespace cogo::detail
