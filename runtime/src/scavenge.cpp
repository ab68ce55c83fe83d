// scavenge.cpp: giving freed heap back to the OS (the part of Go's
// scavenger that the C library leaves undone), called by sysmon.
//
// glibc keeps memory freed into its arenas (one per thread that ever
// allocated, so one per M) for reuse, and trims only a free block at the
// very top of a heap. After a burst — a thousand uploads, a flood of
// connections — the freed buffers sit between live blocks and the
// process's RSS stays at the burst's height. malloc_trim(0) walks every
// arena and gives the free pages in the middle back (MADV_DONTNEED).
//
// It walks under each arena's lock, so it runs rarely and only when it is
// worth it: at most every kScavengeIntervalNs, and only when mallinfo2()
// counts at least kScavengeMinFree bytes free in the arenas. A server at a
// steady load keeps little free (its buffers are in use or reused at
// once) and is never trimmed; a server after a burst is, once.
#include <malloc.h>

#include <cstddef>
#include <cstdint>

#include "runtime2.h"

namespace cogo::detail {

namespace {
constexpr int64_t kScavengeIntervalNs = 5'000'000'000;   // 5 s
constexpr std::size_t kScavengeMinFree = 16u << 20;      // 16 MiB free in the arenas
int64_t g_last_scavenge = 0;                             // sysmon only
}  // namespace

void scavenge_heap(int64_t now) {
  if (now - g_last_scavenge < kScavengeIntervalNs) return;
  g_last_scavenge = now;
#if defined(__GLIBC__)
  const struct mallinfo2 mi = mallinfo2();
  if (mi.fordblks >= kScavengeMinFree) malloc_trim(0);
#endif
}

}  // namespace cogo::detail
