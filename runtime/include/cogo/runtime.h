// cogo/runtime.h: goroutines and the M:N scheduler that runs them.
//
//   int main() {
//     return cogo::run([] {
//       cogo::go([] { ... blocking-style code ... });
//       return 0;
//     });
//   }
//
// Every call here also works off a goroutine (on a plain thread): there it
// blocks the thread, so the same handler code runs unchanged in a
// thread-per-connection model.
#pragma once

#include <chrono>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "cogo/detail/task.h"

namespace cogo {

namespace detail {
void run_main(Task main_fn);
}  // namespace detail

// run() starts the runtime on the calling thread, runs main_fn as the main
// goroutine and returns its exit code (main_fn may return int or void; void
// means 0). When main_fn returns, every other goroutine stops with it (Go's
// main-goroutine rule): their stacks are released without unwinding. There
// must be no runtime already running in this process (else std::logic_error);
// run() may be called again after it returns.
template <class F>
int run(F&& main_fn) {
  int exit_code = 0;
  detail::run_main(detail::Task([&exit_code, fn = std::forward<F>(main_fn)]() mutable {
                     if constexpr (std::is_void_v<std::invoke_result_t<decltype(fn)&>>) {
                       fn();
                     } else {
                       exit_code = static_cast<int>(fn());
                     }
                   }));
  return exit_code;
}

// go() spawns a goroutine running fn. Callable from a goroutine or from any
// thread while the runtime runs; throws std::logic_error otherwise. An
// exception escaping fn ends the program with the goroutine's id and what().
void go(detail::Task fn);

// yield() lets other goroutines run; the caller is requeued on the global
// run queue (Go's Gosched). Off a goroutine: std::this_thread::yield().
void yield();

// sleep_until() parks the calling goroutine (or blocks the thread) until t.
void sleep_until(std::chrono::steady_clock::time_point t);
template <class Rep, class Period>
void sleep_for(std::chrono::duration<Rep, Period> d) {
  sleep_until(std::chrono::steady_clock::now() +
              std::chrono::duration_cast<std::chrono::steady_clock::duration>(d));
}

// in_goroutine() tells whether the caller runs on a goroutine.
bool in_goroutine();
// goroutine_id() is the caller's goroutine id, or 0 off a goroutine.
uint64_t goroutine_id();
// running() tells whether a runtime is running in this process.
bool running();
// gomaxprocs() is the number of Ps: COGO_MAXPROCS, else GOMAXPROCS, else the
// CPUs this process may use (affinity mask and cgroup quota).
int gomaxprocs();

namespace detail {
void enter_blocking();
void exit_blocking();
// check_cancelled_after_blocking() throws cogo::Cancelled when the current
// context is done (cogo/cancel.h): blocking() itself cannot be interrupted.
void check_cancelled_after_blocking();
}  // namespace detail

// blocking() runs fn, a call that blocks the OS thread (file I/O,
// getaddrinfo, a blocking client library), without stalling the other
// goroutines: the caller's P is handed to another M while fn runs, and one is
// taken back afterwards. Off a goroutine it just calls fn. fn is not
// interrupted by cancellation; when it returns and the current context is
// done, blocking() throws cogo::Cancelled instead of returning.
template <class F>
auto blocking(F&& fn) -> std::invoke_result_t<F&&> {
  struct Guard {
    Guard() { detail::enter_blocking(); }
    ~Guard() { detail::exit_blocking(); }
  };
  if constexpr (std::is_void_v<std::invoke_result_t<F&&>>) {
    {
      Guard guard;
      std::forward<F>(fn)();
    }
    detail::check_cancelled_after_blocking();
  } else {
    auto result = [&] {
      Guard guard;
      return std::forward<F>(fn)();
    }();
    detail::check_cancelled_after_blocking();
    return result;
  }
}

}  // namespace cogo
