// coarse_clock.h: steady_clock::now() at the kernel tick's resolution (1-4
// ms behind at most; same clock, CLOCK_MONOTONIC, read without touching the
// clock source). Deadlines of seconds need no better, and the server sets
// some for every request.
#pragma once

#include <time.h>

#include <chrono>

namespace cogo::http::detail {

inline std::chrono::steady_clock::time_point coarse_now() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return std::chrono::steady_clock::time_point(
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(
          std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec)));
}

// The most coarse_now() can lag behind steady_clock::now() (a tick at
// CONFIG_HZ=100, with room).
inline constexpr std::chrono::milliseconds kCoarseLag{20};

}  // namespace cogo::http::detail
