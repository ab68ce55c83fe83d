// stack.h: goroutine stacks. Fixed-size virtual reservations (MAP_NORESERVE:
// the kernel commits pages only when touched), carved from chunks so that
// thousands of stacks stay a handful of VMAs, each with a guard page below it.
// MADV_GUARD_INSTALL (Linux 6.13+) makes the guard without splitting the
// mapping, so vm.max_map_count (65530) does not cap the goroutine count;
// older kernels fall back to mprotect (one extra VMA per stack).
#pragma once

#include <cstddef>
#include <cstdint>

namespace cogo::detail {

struct Stack {
  char* lo = nullptr;   // lowest usable byte (the guard page is just below)
  std::size_t size = 0; // usable bytes
  char* top() const { return lo + size; }
  explicit operator bool() const { return lo != nullptr; }
};

// stack_configure() sets the size of stacks allocated from now on (rounded up
// to pages). Called by run() before any goroutine exists.
void stack_configure(std::size_t size);
std::size_t stack_size();
std::size_t stack_guard_size();
// stack_alloc() returns a fresh stack; aborts with a clear message if the
// address space or map count is exhausted.
Stack stack_alloc();
// stack_release_memory() gives a pooled stack's touched pages back to the OS,
// keeping the reservation (no VMA split).
void stack_release_memory(const Stack& s);
// stack_free_all() unmaps every chunk; every Stack becomes invalid. Called by
// run() at teardown.
void stack_free_all();
uint64_t stacks_allocated();
// stack_guard_hit() tells whether addr lies in the guard region below s (or
// within 64 KiB under it: a large frame can jump over one page).
bool stack_guard_hit(const Stack& s, const void* addr);

}  // namespace cogo::detail
