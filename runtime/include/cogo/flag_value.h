// cogo/flag_value.h: the grammar of the values cogo's command lines and
// COGO_* variables take — durations, byte sizes, counts, bounded integers,
// comma-separated lists —
// shared by cogo-server, cogo-load and a user's own binary, so "10s" or "8K"
// means the same everywhere and a bad value is reported the same way.
//
//   auto idle = cogo::parse_duration("--idle-timeout", "90s");   // 90'000'000'000ns
//   auto max = cogo::parse_size("--max-body-bytes", "8M");       // 8'388'608
//
// Every parser throws FlagError naming the flag, the text and what it takes:
//   --idle-timeout: '10' is not a duration; use a number with ns, us, ms, s,
//   m or h (e.g. 10s, 250ms), or 0
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "cogo/error.h"

namespace cogo {

// FlagError: a bad flag or value; what() names the flag and what it expects.
// One of the cogo::Error family; code() is errc::invalid_argument.
class FlagError : public Error {
 public:
  explicit FlagError(std::string what)
      : Error(std::make_error_code(std::errc::invalid_argument), std::move(what)) {}
};

// parse_duration() reads a non-negative decimal number with a unit: ns, us,
// ms, s, m or h ("250ms", "1.5s", "2m"); a bare "0" is zero (callers use it
// for "disabled"). At most 1,000,000 hours.
std::chrono::nanoseconds parse_duration(std::string_view flag, std::string_view text);

// parse_size() reads a positive byte count, plain or with a binary unit:
// "8192", "512B", "8K" / "8k" / "8KB" / "8KiB", "1M", "1G" (1024-based).
std::size_t parse_size(std::string_view flag, std::string_view text);

// parse_count() reads a non-negative count, plain or with a decimal suffix:
// "2000", "100k" / "100K", "1M" (1000-based), at most 10^15.
int64_t parse_count(std::string_view flag, std::string_view text);

// parse_int() reads a whole number from lo to hi.
int64_t parse_int(std::string_view flag, std::string_view text, int64_t lo, int64_t hi);

// parse_list() splits a comma-separated list ("br, zstd,gzip"): each item
// trimmed of spaces, empty items dropped. It never throws.
std::vector<std::string> parse_list(std::string_view text);

}  // namespace cogo
