// procs.cpp: what the runtime reads from its environment at start-up —
// GOMAXPROCS (COGO_MAXPROCS, GOMAXPROCS, else the CPUs this process may use:
// os.h's cpu_count(), affinity mask and cgroup CPU quota) and the goroutine
// stack size (COGO_STACK_SIZE).
#include <cerrno>
#include <cstdlib>

#include "cogo/detail/os.h"
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
  return cpu_count();
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

}  // namespace cogo::detail
