// os_linux.cpp: the runtime's OS layer for Linux (see cogo/detail/os.h).
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "cogo/detail/os.h"

namespace cogo::detail {

int64_t nanotime() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

bool futex_sleep(std::atomic<uint32_t>* word, uint32_t expected, int64_t deadline_ns) noexcept {
  timespec ts;
  timespec* tsp = nullptr;
  if (deadline_ns >= 0) {
    ts.tv_sec = static_cast<time_t>(deadline_ns / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(deadline_ns % 1'000'000'000);
    tsp = &ts;
  }
  // FUTEX_WAIT_BITSET takes an absolute deadline on CLOCK_MONOTONIC (the
  // nanotime clock), so a spurious return does not stretch the wait.
  const long r = syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT_BITSET_PRIVATE,
                         expected, tsp, nullptr, FUTEX_BITSET_MATCH_ANY);
  if (r == -1 && errno == ETIMEDOUT) return false;
  if (r == -1 && errno != EAGAIN && errno != EINTR) {
    std::fprintf(stderr, "cogo runtime: futex wait failed (errno %d)\n", errno);
    std::abort();
  }
  return true;
}

void futex_wake(std::atomic<uint32_t>* word, int n) noexcept {
  // An address whose sleeper has left (its stack popped) yields a harmless
  // wake-up of nobody, or EFAULT if it was unmapped: both are fine.
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE_PRIVATE, n, nullptr, nullptr, 0);
}

void osyield() noexcept {
  sched_yield();
}

namespace {

// cgroup_cpu_limit() is the CPU quota of the process's cgroup, rounded up
// (0: none). cgroup v2's cpu.max ("max 100000" or "200000 100000"), else
// v1's cfs quota and period.
int cgroup_cpu_limit() {
  std::ifstream v2("/sys/fs/cgroup/cpu.max");
  std::string quota, period;
  if (v2 >> quota >> period) {
    if (quota == "max") return 0;
    const double q = std::atof(quota.c_str()), p = std::atof(period.c_str());
    if (q > 0 && p > 0) return static_cast<int>(std::ceil(q / p));
    return 0;
  }
  std::ifstream q1("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"),
      p1("/sys/fs/cgroup/cpu/cpu.cfs_period_us");
  long long q = 0, p = 0;
  if ((q1 >> q) && (p1 >> p) && q > 0 && p > 0) {
    return static_cast<int>(std::ceil(static_cast<double>(q) / static_cast<double>(p)));
  }
  return 0;
}

}  // namespace

int cpu_count() noexcept {
  int n = 1;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
  const int quota = cgroup_cpu_limit();
  if (quota > 0 && quota < n) n = quota;
  return n < 1 ? 1 : n;
}

uint64_t raise_fd_limit() noexcept {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit want = rl;
    want.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &want) == 0) rl = want;
  }
  return rl.rlim_cur;
}

void ignore_sigpipe() noexcept {
  struct sigaction old {};
  if (sigaction(SIGPIPE, nullptr, &old) != 0) return;
  if ((old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL) return;  // the program's choice
  struct sigaction ign {};
  ign.sa_handler = SIG_IGN;
  sigemptyset(&ign.sa_mask);
  sigaction(SIGPIPE, &ign, nullptr);
}

}  // namespace cogo::detail
