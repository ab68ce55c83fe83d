// context.cpp: sanitizer bookkeeping around stack switches (no-ops in normal
// builds).
#include "context.h"

namespace cogo::detail {

void san_fiber_create([[maybe_unused]] SanitizerFiber& f) {
#if defined(COGO_SANITIZE_THREAD)
  if (!f.tsan) f.tsan = __tsan_create_fiber(0);
#endif
}

void san_fiber_destroy([[maybe_unused]] SanitizerFiber& f) {
#if defined(COGO_SANITIZE_THREAD)
  if (f.tsan) __tsan_destroy_fiber(f.tsan);
  f.tsan = nullptr;
#endif
}

void san_fiber_renew([[maybe_unused]] SanitizerFiber& f) {
#if defined(COGO_SANITIZE_THREAD)
  san_fiber_destroy(f);
  san_fiber_create(f);
#endif
}

void san_thread_init([[maybe_unused]] SanitizerThread& t) {
#if defined(COGO_SANITIZE_THREAD)
  t.tsan = __tsan_get_current_fiber();
#endif
}

void san_stack_reset([[maybe_unused]] const void* lo, [[maybe_unused]] std::size_t size) {
#if defined(COGO_SANITIZE_ADDRESS)
  __asan_unpoison_memory_region(lo, size);
#endif
}

}  // namespace cogo::detail
