// permits.h: Semaphore, N permits for the middlewares that bound work in
// flight (concurrency_limit, basic_auth's password checks). Private to
// cogo_middleware. Permits are values in a buffered cogo::Chan, so a wait
// parks a goroutine (or blocks a plain thread), is FIFO, and is a
// cancellation point: a request whose client leaves stops waiting.
#pragma once

#include <chrono>
#include <cstddef>

#include "cogo/chan.h"

namespace cogo::middleware::detail {

class Semaphore {
 public:
  explicit Semaphore(std::size_t permits) : permits_(permits) {
    for (std::size_t i = 0; i < permits; ++i) permits_.try_send(char{0});
  }
  // try_acquire() takes a permit if one is free now.
  bool try_acquire() const { return permits_.try_recv().has_value(); }
  // acquire_for() waits up to d for a permit; false when none came. Throws
  // cogo::Cancelled when the current context is done while it waits.
  bool acquire_for(std::chrono::nanoseconds d) const {
    if (try_acquire()) return true;
    if (d.count() <= 0) return false;
    bool got = false;
    cogo::select(cogo::on_recv(permits_, [&] { got = true; }), cogo::on_timeout(d));
    return got;
  }
  // acquire() waits for a permit as long as it takes (cancellation aside).
  void acquire() const { (void)permits_.recv(); }
  // release() gives a permit back; never waits.
  void release() const { permits_.try_send(char{0}); }

 private:
  cogo::Chan<char> permits_;
};

}  // namespace cogo::middleware::detail
