// byte_range.cpp: see byte_range.h. Section numbers are RFC 9110's.
#include "byte_range.h"

#include <algorithm>
#include <limits>
#include <optional>

#include "cogo/http/field.h"
#include "field_text.h"

namespace cogo::middleware::detail {

namespace {

// digits() reads 1*DIGIT, saturating at the largest uint64 (a position
// beyond any file is simply unsatisfiable); nullopt for anything else.
std::optional<std::uint64_t> digits(std::string_view s) noexcept {
  if (s.empty()) return std::nullopt;
  std::uint64_t v = 0;
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto d = static_cast<std::uint64_t>(c - '0');
    v = v > (kMax - d) / 10 ? kMax : v * 10 + d;
  }
  return v;
}

// less_decimal() tells whether the digits a (1*DIGIT) stand for a smaller
// number than the digits b, however many there are: 14.1.2's "last-pos less
// than first-pos" compared exactly, not between saturated values (a
// first-pos of 2^64 and a last-pos of 2^64-1 is an invalid range-spec).
bool less_decimal(std::string_view a, std::string_view b) noexcept {
  while (a.size() > 1 && a.front() == '0') a.remove_prefix(1);
  while (b.size() > 1 && b.front() == '0') b.remove_prefix(1);
  return a.size() != b.size() ? a.size() < b.size() : a < b;
}

}  // namespace

RangeOutcome resolve_ranges(std::span<const std::string_view> values, std::uint64_t length,
                            std::size_t max_ranges, std::vector<ByteRange>& ranges) {
  ranges.clear();
  if (values.size() != 1) return RangeOutcome::ignore;  // Range is not a list field
  std::string_view v = trim_ows(values[0]);
  const std::size_t eq = v.find('=');
  // 14.1: range-unit = token, compared case-insensitively; other units are
  // ignored (14.2: MUST).
  if (eq == std::string_view::npos || !http::iequals(v.substr(0, eq), "bytes")) {
    return RangeOutcome::ignore;
  }
  if (length == 0) return RangeOutcome::ignore;  // 14.2: nothing to range over
  std::string_view set = v.substr(eq + 1);
  std::size_t specs = 0;
  bool any_member = false;
  while (true) {
    const std::size_t comma = set.find(',');
    const std::string_view spec = trim_ows(set.substr(0, comma));
    if (!spec.empty()) {
      any_member = true;
      if (++specs > max_ranges) return RangeOutcome::unsatisfiable;  // 15.5.17: excessive
      const std::size_t dash = spec.find('-');
      if (dash == std::string_view::npos) return RangeOutcome::unsatisfiable;  // invalid
      const std::string_view first_text = spec.substr(0, dash);
      const std::string_view last_text = spec.substr(dash + 1);
      if (first_text.empty()) {
        // suffix-range: the last n bytes; n = 0 is unsatisfiable.
        const std::optional<std::uint64_t> n = digits(last_text);
        if (!n) return RangeOutcome::unsatisfiable;
        if (*n > 0) ranges.push_back({*n >= length ? 0 : length - *n, length - 1});
      } else {
        const std::optional<std::uint64_t> first = digits(first_text);
        if (!first) return RangeOutcome::unsatisfiable;
        std::uint64_t last = length - 1;
        if (!last_text.empty()) {
          const std::optional<std::uint64_t> l = digits(last_text);
          // 14.1.2: a last-pos below first-pos makes the spec invalid.
          if (!l || less_decimal(last_text, first_text)) return RangeOutcome::unsatisfiable;
          last = std::min(*l, length - 1);
        }
        if (*first < length) ranges.push_back({*first, last});
      }
    }
    if (comma == std::string_view::npos) break;
    set.remove_prefix(comma + 1);
  }
  if (!any_member) return RangeOutcome::unsatisfiable;  // range-set = 1#range-spec
  if (ranges.empty()) return RangeOutcome::unsatisfiable;
  // 15.3.7: coalesce when any two overlap or nearly touch.
  bool close = false;
  for (std::size_t i = 0; i < ranges.size() && !close; ++i) {
    for (std::size_t j = i + 1; j < ranges.size() && !close; ++j) {
      const ByteRange& a = ranges[i].first <= ranges[j].first ? ranges[i] : ranges[j];
      const ByteRange& b = ranges[i].first <= ranges[j].first ? ranges[j] : ranges[i];
      close = b.first <= a.last || b.first - a.last - 1 < kCoalesceGap;
    }
  }
  if (close) {
    std::sort(ranges.begin(), ranges.end(),
              [](const ByteRange& a, const ByteRange& b) { return a.first < b.first; });
    std::vector<ByteRange> merged;
    for (const ByteRange& r : ranges) {
      if (!merged.empty() &&
          (r.first <= merged.back().last || r.first - merged.back().last - 1 < kCoalesceGap)) {
        merged.back().last = std::max(merged.back().last, r.last);
      } else {
        merged.push_back(r);
      }
    }
    ranges.swap(merged);
  }
  return RangeOutcome::partial;
}

}  // namespace cogo::middleware::detail
