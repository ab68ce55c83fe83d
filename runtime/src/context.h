// context.h: the context-switch contract. Everything the scheduler knows of
// how a stack is switched is here: make a context on a fresh stack, jump to a
// context passing one pointer, and the sanitizer bookkeeping around a jump.
// Boost.Context's fcontext (hand-written assembly per platform) is the one
// implementation; no OS type leaks past this file.
#pragma once

#include <boost/context/detail/fcontext.hpp>
#include <cstddef>

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
// Returns when somebody jumps back to us.
inline Transfer jump(Context to, void* data) {
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
void san_thread_init(SanitizerThread& t);
// Around a jump from g0 into a goroutine whose stack is [lo, lo+size).
void san_before_enter_g(SanitizerThread& t, SanitizerFiber& f, const void* lo, std::size_t size);
void san_after_return_to_g0(SanitizerThread& t);
// Around a jump from a goroutine to g0; `exiting` when the goroutine is done.
void san_before_leave_g(SanitizerThread& t, SanitizerFiber& f, bool exiting);
void san_after_resume_g(SanitizerThread& t, SanitizerFiber& f);
void san_first_entry(SanitizerThread& t);
// san_stack_reset() forgets what ASan knew of a stack's frames: a goroutine
// dropped at exit never unwound, and its redzones must not outlive it.
void san_stack_reset(const void* lo, std::size_t size);

}  // namespace cogo::detail
