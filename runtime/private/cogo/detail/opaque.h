// opaque.h: thread_local accessors for code that runs in goroutines.
//
// A goroutine that parks may resume on another thread, but a C++ compiler
// assumes a function stays on one: clang 14 treats a thread_local's address
// as a constant within a function (LLVM learnt otherwise only in 16, with
// llvm.threadlocal.address), so it may compute it again after a call or keep
// it across one; GCC once hoisted a noinline accessor's call out of a loop,
// across a park. An accessor marked COGO_OPAQUE that returns opaque(&x) is
// called wherever the source calls it, and its result is never replaced by
// the address it computed.
//
// It does not make the pointer safe to keep across a park: the caller takes
// it after its last park and is done with it before the next (which is why
// net::Conn::try_read never parks, not even behind another reader).
#pragma once

// gcc says "opaque" with noipa. clang has no noipa (it ignores it with a
// warning); noinline plus the asm in the body make each call opaque there.
#if defined(__clang__)
#define COGO_OPAQUE __attribute__((noinline))
#else
#define COGO_OPAQUE __attribute__((noinline, noipa))
#endif

namespace cogo::detail {

// opaque(p) is p, but the optimiser cannot tell which address it is.
template <class T>
[[gnu::always_inline]] inline T* opaque(T* p) noexcept {
  asm volatile("" : "+r"(p));
  return p;
}

}  // namespace cogo::detail
