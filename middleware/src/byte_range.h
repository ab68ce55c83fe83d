// byte_range.h: the Range field's byte ranges (RFC 9110 14.1, 14.2) resolved
// against a representation's length — a pure function, no I/O, so serve_dir
// and a fuzz target call it alike.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace cogo::middleware::detail {

// ByteRange: bytes first..last of the representation, both included.
struct ByteRange {
  std::uint64_t first;
  std::uint64_t last;
  std::uint64_t length() const noexcept { return last - first + 1; }
};

enum class RangeOutcome {
  ignore,         // serve the whole representation (200): a unit other than
                  // bytes (14.2: MUST ignore), several Range lines, or an
                  // empty representation (14.2: MAY ignore)
  unsatisfiable,  // 416 with Content-Range: bytes */length (15.5.17): no range
                  // overlaps, the ranges-specifier is invalid (14.2: SHOULD
                  // 416), or more than max_ranges ranges were asked for
  partial,        // 206 with ranges: one (a single part) or more (multipart)
};

// resolve_ranges() parses the Range field's lines (values) for a
// representation of length bytes:
//   Range = ranges-specifier; ranges-specifier = range-unit "=" range-set
//   range-set = 1#range-spec; int-range = first-pos "-" [ last-pos ]
//   suffix-range = "-" suffix-length
// Each satisfiable range-spec becomes a ByteRange clipped to the
// representation (a last-pos past the end, or a suffix longer than it,
// means "to the end"); unsatisfiable ones are dropped. If ranges overlap or
// lie closer than kCoalesceGap bytes they are all sorted and merged (15.3.7:
// a server MAY coalesce, regardless of order); otherwise they keep the
// request's order (14.6: SHOULD).
inline constexpr std::uint64_t kCoalesceGap = 80;  // ~ the overhead of a part
RangeOutcome resolve_ranges(std::span<const std::string_view> values, std::uint64_t length,
                            std::size_t max_ranges, std::vector<ByteRange>& ranges);

}  // namespace cogo::middleware::detail
