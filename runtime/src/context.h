// context.h: the context-switch contract. Everything the scheduler knows of
// how a stack is switched is here: make a context on a fresh stack, jump to a
// context passing one pointer, and the sanitizer bookkeeping around a jump.
// Boost.Context's fcontext (hand-written assembly per platform) is the one
// implementation; no OS type leaks past this file.
#pragma once

#include <boost/context/detail/fcontext.hpp>
#include <cstddef>

#if defined(COGO_SANITIZE_THREAD)
#include <sanitizer/tsan_interface.h>
#endif
#if defined(COGO_SANITIZE_ADDRESS)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

namespace cogo::detail {

using Context = boost::context::detail::fcontext_t;
using ContextEntry = void (*)(boost::context::detail::transfer_t);

struct Transfer {
  Context from;  // the context that jumped to us, now suspended
  void* data;    // the pointer it passed
};

// make_context() prepares a context that starts entry() on the stack whose
// highest address is top.
inline Context make_context(void* top, std::size_t size, ContextEntry entry) {
  return boost::context::detail::make_fcontext(top, size, entry);
}

// jump() suspends the running context and resumes `to`, handing it data.
// Returns when somebody jumps back to us. Always inlined, as are the
// switch hooks below: see "Switching under TSan".
[[gnu::always_inline]] inline Transfer jump(Context to, void* data) {
  boost::context::detail::transfer_t t = boost::context::detail::jump_fcontext(to, data);
  return Transfer{t.fctx, t.data};
}

// Sanitizers must be told about every stack switch (TSan fibers, ASan fake
// stacks), or they report false positives.
struct SanitizerFiber {
  void* tsan = nullptr;        // TSan fiber of the goroutine
  void* asan_fake = nullptr;   // ASan fake stack saved while switched out
};
struct SanitizerThread {
  void* tsan = nullptr;              // TSan fiber of the thread's own stack (g0)
  const void* bottom = nullptr;      // g0 stack bounds, learnt on the first switch
  std::size_t size = 0;
  void* asan_fake = nullptr;
};

void san_fiber_create(SanitizerFiber& f);
void san_fiber_destroy(SanitizerFiber& f);
// san_fiber_renew() gives a reused goroutine a fresh TSan fiber: the old
// one's shadow stack still holds the frames its last life never returned
// from (g_entry, switch_to_g0), two more per life until it overflows.
void san_fiber_renew(SanitizerFiber& f);
void san_thread_init(SanitizerThread& t);

// Switching under TSan. TSan keeps a shadow stack of call frames per fiber:
// every instrumented function pushes on entry and pops on exit onto the
// fiber current at that moment. A function that calls __tsan_switch_to_fiber
// and then returns pops the *new* fiber's stack: out of line, the hook that
// enters a goroutine popped one frame too many off it — below the start of a
// fresh fiber's shadow stack, where the next frame was written (SIGSEGV in
// __tsan_func_entry from g_entry once that page was unmapped: clang-14 -O1,
// http_connection_test). So the hooks and jump() are inlined into execute()
// and switch_to_g0(), which enter and leave on the same fiber: execute() is
// entered on g0 and returns there after the goroutine switched back, and
// switch_to_g0() likewise on the goroutine's fiber.

// Around a jump from g0 into a goroutine whose stack is [lo, lo+size).
[[gnu::always_inline]] inline void san_before_enter_g([[maybe_unused]] SanitizerThread& t,
                                                      [[maybe_unused]] SanitizerFiber& f,
                                                      [[maybe_unused]] const void* lo,
                                                      [[maybe_unused]] std::size_t size) {
#if defined(COGO_SANITIZE_ADDRESS)
  __sanitizer_start_switch_fiber(&t.asan_fake, lo, size);
#endif
#if defined(COGO_SANITIZE_THREAD)
  __tsan_switch_to_fiber(f.tsan, 0);
#endif
}
[[gnu::always_inline]] inline void san_after_return_to_g0([[maybe_unused]] SanitizerThread& t) {
#if defined(COGO_SANITIZE_ADDRESS)
  __sanitizer_finish_switch_fiber(t.asan_fake, nullptr, nullptr);
#endif
}
// Around a jump from a goroutine to g0; `exiting` when the goroutine is done.
[[gnu::always_inline]] inline void san_before_leave_g([[maybe_unused]] SanitizerThread& t,
                                                      [[maybe_unused]] SanitizerFiber& f,
                                                      [[maybe_unused]] bool exiting) {
#if defined(COGO_SANITIZE_ADDRESS)
  __sanitizer_start_switch_fiber(exiting ? nullptr : &f.asan_fake, t.bottom, t.size);
#endif
#if defined(COGO_SANITIZE_THREAD)
  __tsan_switch_to_fiber(t.tsan, 0);
#endif
}
[[gnu::always_inline]] inline void san_after_resume_g([[maybe_unused]] SanitizerThread& t,
                                                      [[maybe_unused]] SanitizerFiber& f) {
#if defined(COGO_SANITIZE_ADDRESS)
  __sanitizer_finish_switch_fiber(f.asan_fake, &t.bottom, &t.size);
#endif
}
[[gnu::always_inline]] inline void san_first_entry([[maybe_unused]] SanitizerThread& t) {
#if defined(COGO_SANITIZE_ADDRESS)
  __sanitizer_finish_switch_fiber(nullptr, &t.bottom, &t.size);
#endif
}
// san_stack_reset() forgets what ASan knew of a stack's frames: a goroutine
// dropped at exit never unwound, and its redzones must not outlive it.
void san_stack_reset(const void* lo, std::size_t size);

}  // namespace cogo::detail
