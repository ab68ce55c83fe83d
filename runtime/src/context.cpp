// context.cpp: sanitizer bookkeeping around stack switches (no-ops in normal
// builds).
#include "context.h"

#if defined(COGO_SANITIZE_THREAD)
#include <sanitizer/tsan_interface.h>
#endif
#if defined(COGO_SANITIZE_ADDRESS)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

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

void san_thread_init([[maybe_unused]] SanitizerThread& t) {
#if defined(COGO_SANITIZE_THREAD)
  t.tsan = __tsan_get_current_fiber();
#endif
}

void san_before_enter_g([[maybe_unused]] SanitizerThread& t, [[maybe_unused]] SanitizerFiber& f,
                        [[maybe_unused]] const void* lo, [[maybe_unused]] std::size_t size) {
#if defined(COGO_SANITIZE_ADDRESS)
  __sanitizer_start_switch_fiber(&t.asan_fake, lo, size);
#endif
#if defined(COGO_SANITIZE_THREAD)
  __tsan_switch_to_fiber(f.tsan, 0);
#endif
}

void san_after_return_to_g0([[maybe_unused]] SanitizerThread& t) {
#if defined(COGO_SANITIZE_ADDRESS)
  __sanitizer_finish_switch_fiber(t.asan_fake, nullptr, nullptr);
#endif
}

void san_before_leave_g([[maybe_unused]] SanitizerThread& t, [[maybe_unused]] SanitizerFiber& f,
                        [[maybe_unused]] bool exiting) {
#if defined(COGO_SANITIZE_ADDRESS)
  __sanitizer_start_switch_fiber(exiting ? nullptr : &f.asan_fake, t.bottom, t.size);
#endif
#if defined(COGO_SANITIZE_THREAD)
  __tsan_switch_to_fiber(t.tsan, 0);
#endif
}

void san_after_resume_g([[maybe_unused]] SanitizerThread& t, [[maybe_unused]] SanitizerFiber& f) {
#if defined(COGO_SANITIZE_ADDRESS)
  __sanitizer_finish_switch_fiber(f.asan_fake, &t.bottom, &t.size);
#endif
}

void san_first_entry([[maybe_unused]] SanitizerThread& t) {
#if defined(COGO_SANITIZE_ADDRESS)
  __sanitizer_finish_switch_fiber(nullptr, &t.bottom, &t.size);
#endif
}

void san_stack_reset([[maybe_unused]] const void* lo, [[maybe_unused]] std::size_t size) {
#if defined(COGO_SANITIZE_ADDRESS)
  __asan_unpoison_memory_region(lo, size);
#endif
}

}  // namespace cogo::detail
