// cogo/detail/os.h: everything cogo asks of the operating system beyond
// sockets and stacks, in one place (Go's os_linux.go): the futex every
// sleeping thread waits on, the monotonic clock, the CPU count, the
// open-files limit and the SIGPIPE policy. One implementation per OS
// (src/os_linux.cpp), picked by CMake; nothing else in the runtime, the
// netpoller or the server makes these system calls.
//
// Internal to cogo's layers (cogo_runtime_private), never a user's include.
#pragma once

#include <atomic>
#include <cstdint>

namespace cogo::detail {

// nanotime() is the runtime's clock: CLOCK_MONOTONIC in ns, the clock of
// std::chrono::steady_clock, of timers, deadlines and futex_sleep. Usable
// with no runtime running. (Two other clocks exist on purpose: the server's
// coarse_clock.h reads CLOCK_MONOTONIC_COARSE, the same clock at the kernel
// tick's resolution for per-request stamps, and its Date header reads the
// wall clock.)
int64_t nanotime() noexcept;

// futex_sleep() sleeps while *word == expected, until futex_wake(), a
// signal, or the absolute nanotime() deadline (deadline_ns < 0: none).
// Returns false only when the deadline passed. May return spuriously: every
// caller loops on *word. Thread-private futexes (one process).
bool futex_sleep(std::atomic<uint32_t>* word, uint32_t expected, int64_t deadline_ns) noexcept;
// futex_wake() wakes up to n threads sleeping on word. Async-signal safe.
// word may be stale memory by now (its sleeper saw the change and left): a
// wake there is harmless, since every sleeper re-checks its word.
void futex_wake(std::atomic<uint32_t>* word, int n) noexcept;

// osyield() gives the CPU to another thread (sched_yield): a spin that has
// waited long enough.
void osyield() noexcept;

// cpu_count() is the number of CPUs this process may use: its affinity
// mask, capped by a cgroup v2/v1 CPU quota (rounded up). At least 1.
int cpu_count() noexcept;

// raise_fd_limit() raises the soft RLIMIT_NOFILE to the hard limit (as Go
// does at start-up) and returns the soft limit now in force (0 if unknown).
uint64_t raise_fd_limit() noexcept;

// ignore_sigpipe() is cogo's one SIGPIPE policy. Every socket write cogo
// makes itself carries MSG_NOSIGNAL (the netpoller, the thread model's
// streams, the TLS BIO), so a peer that is gone is an EPIPE, never a
// signal. What MSG_NOSIGNAL cannot cover — a pipe written with write(2), a
// library writing to a socket itself — is covered by ignoring SIGPIPE, but
// only while its disposition is still the default: a handler (or SIG_IGN)
// the program installed is kept. Called when the runtime starts and when the
// netpoller starts (sockets used without a runtime). Idempotent.
void ignore_sigpipe() noexcept;

}  // namespace cogo::detail
