// cpu_relax.h: COGO_CPU_RELAX(), the CPU's spin-wait hint (x86 PAUSE) for the
// runtime's spin loops (SpinLock, Mutex, the scheduler's spinning M); a no-op
// where there is none.
#pragma once

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define COGO_CPU_RELAX() _mm_pause()
#else
#define COGO_CPU_RELAX() ((void)0)
#endif
