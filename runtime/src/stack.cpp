// stack.cpp: chunked goroutine stack reservations with guard pages.
#include "stack.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <vector>

#include "runtime2.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

namespace cogo::detail {
namespace {

constexpr std::size_t kStacksPerChunk = 64;
constexpr std::size_t kGuard = 16 * 1024;  // costs no memory: a large frame rarely jumps it

struct Chunk {
  char* base;
  std::size_t bytes;
};

std::mutex g_lock;                 // guards everything below
std::vector<Chunk> g_chunks;
char* g_next = nullptr;            // next free slot in the newest chunk
std::size_t g_left = 0;            // slots left in it
std::size_t g_size = 256 * 1024;   // usable bytes per stack
uint64_t g_allocated = 0;
int g_guard_mode = 0;              // 0 unknown, 1 madvise, 2 mprotect, 3 none

std::size_t page_size() {
  static const std::size_t p = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return p;
}

void install_guard(char* guard_lo) {
  if (g_guard_mode <= 1) {
    if (madvise(guard_lo, kGuard, MADV_GUARD_INSTALL) == 0) {
      g_guard_mode = 1;
      return;
    }
    g_guard_mode = 2;  // EINVAL: a kernel before 6.13
  }
  if (g_guard_mode == 2) {
    if (mprotect(guard_lo, kGuard, PROT_NONE) == 0) return;
    std::fprintf(stderr,
                 "cogo runtime: cannot install stack guard pages (%s); vm.max_map_count is "
                 "probably exhausted — stacks run without guards from now on\n",
                 std::strerror(errno));
    g_guard_mode = 3;
  }
}

}  // namespace

void stack_configure(std::size_t size) {
  std::lock_guard<std::mutex> lk(g_lock);
  const std::size_t page = page_size();
  g_size = (size + page - 1) / page * page;
  g_next = nullptr;
  g_left = 0;  // the current chunk holds stacks of the old size
}

std::size_t stack_size() { return g_size; }
std::size_t stack_guard_size() { return kGuard; }

Stack stack_alloc() {
  std::lock_guard<std::mutex> lk(g_lock);
  const std::size_t slot = g_size + kGuard;
  if (g_left == 0) {
    const std::size_t bytes = slot * kStacksPerChunk;
    void* mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (mem == MAP_FAILED) {
      fatal("cannot reserve %zu bytes for goroutine stacks: %s (lower COGO_STACK_SIZE or "
            "raise vm.max_map_count / the address-space limit)",
            bytes, std::strerror(errno));
    }
    // Stacks touch one page each at first; huge pages would commit 2 MiB.
    madvise(mem, bytes, MADV_NOHUGEPAGE);
    g_chunks.push_back(Chunk{static_cast<char*>(mem), bytes});
    g_next = static_cast<char*>(mem);
    g_left = kStacksPerChunk;
  }
  char* guard_lo = g_next;
  g_next += slot;
  --g_left;
  ++g_allocated;
  install_guard(guard_lo);
  return Stack{guard_lo + kGuard, g_size};
}

void stack_release_memory(const Stack& s) {
  if (s) madvise(s.lo, s.size, MADV_DONTNEED);
}

void stack_free_all() {
  std::lock_guard<std::mutex> lk(g_lock);
  for (const Chunk& c : g_chunks) munmap(c.base, c.bytes);
  g_chunks.clear();
  g_next = nullptr;
  g_left = 0;
  g_allocated = 0;
}

uint64_t stacks_allocated() {
  std::lock_guard<std::mutex> lk(g_lock);
  return g_allocated;
}

bool stack_guard_hit(const Stack& s, const void* addr) {
  const char* a = static_cast<const char*>(addr);
  return s && a < s.lo && a >= s.lo - kGuard;
}

}  // namespace cogo::detail
