// range_fuzz: the static file middleware's Range parsing (RFC 9110 14.1,
// 14.2; middleware/src/byte_range.*), checked against the ABNF read a second
// time here, independently, with exact (unbounded) decimal positions.
//
// Input (fuzz_input.h): the payload is the Range field, one line per '\n'
// (several lines: several Range fields). Control: bytes 0-2 the file's
// length (little-endian; no control bytes: 10000), byte 3 bit 0 a length
// near 2^64 instead (a huge file: positions near the top of uint64), byte 4
// max_ranges (0: the middleware's default, 32).
//
// Properties:
//  - the outcome is the one the grammar gives: a field that is not exactly
//    one line, has no '=' or a unit other than "bytes" (case-insensitive)
//    is ignored (14.2: MUST ignore an unknown unit), and so is any Range
//    for an empty file; a range-set that is not 1#range-spec (5.6.1 list,
//    empty elements skipped), has an int-range with last-pos < first-pos
//    (14.1.2: invalid), more than max_ranges members, or no satisfiable
//    member (first-pos < length, suffix-length > 0) is 416; else 206;
//  - a 206's ranges lie within the file (first <= last < length);
//  - they are the satisfiable members, each clipped to the file, in the
//    request's order (14.6) — unless two of them overlap or lie closer than
//    kCoalesceGap bytes, and then they are coalesced (15.3.7): sorted,
//    disjoint, kCoalesceGap apart, covering every requested byte, each
//    starting and ending on a requested byte, and never adding a run of
//    kCoalesceGap or more unrequested bytes;
//  - whichever way, a representation's bytes taken range by range are the
//    requested bytes: every byte asked for is sent at least once.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "byte_range.h"
#include "fuzz_input.h"
#include "http_reference.h"

namespace {

using cogo::middleware::detail::ByteRange;
using cogo::middleware::detail::kCoalesceGap;
using cogo::middleware::detail::RangeOutcome;
using cogo_fuzz::printable;

constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();

std::string_view ows_trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Decimal: an exact non-negative integer written in digits (leading zeros
// dropped), compared by length then text; as_u64() saturates.
struct Decimal {
  std::string_view d;
  explicit Decimal(std::string_view s) : d(s) {
    while (d.size() > 1 && d.front() == '0') d.remove_prefix(1);
  }
  bool operator<(const Decimal& o) const {
    return d.size() != o.d.size() ? d.size() < o.d.size() : d < o.d;
  }
  std::uint64_t as_u64() const {
    if (d.size() > 20) return kMax;
    unsigned __int128 v = 0;
    for (char c : d) v = v * 10 + static_cast<unsigned>(c - '0');
    return v > kMax ? kMax : static_cast<std::uint64_t>(v);
  }
};

const char* name(RangeOutcome o) {
  switch (o) {
    case RangeOutcome::ignore:
      return "ignore";
    case RangeOutcome::unsatisfiable:
      return "unsatisfiable";
    case RangeOutcome::partial:
      return "partial";
  }
  return "?";
}

// reference() is 14.1/14.2 as the middleware documents its choices; the
// satisfiable members clipped, in order, go to wanted.
RangeOutcome reference(const std::vector<std::string_view>& lines, std::uint64_t length,
                       std::size_t max_ranges, std::vector<ByteRange>& wanted) {
  wanted.clear();
  if (lines.size() != 1) return RangeOutcome::ignore;
  const std::string_view v = ows_trim(lines[0]);
  const std::size_t eq = v.find('=');
  if (eq == std::string_view::npos || !cogo_fuzz::ascii_iequals(v.substr(0, eq), "bytes"))
    return RangeOutcome::ignore;
  if (length == 0) return RangeOutcome::ignore;
  // 1#range-spec, empty elements allowed and skipped (5.6.1).
  std::vector<std::string_view> members;
  std::string_view set = v.substr(eq + 1);
  std::size_t start = 0;
  for (std::size_t i = 0; i <= set.size(); ++i) {
    if (i == set.size() || set[i] == ',') {
      const std::string_view m = ows_trim(set.substr(start, i - start));
      if (!m.empty()) members.push_back(m);
      start = i + 1;
    }
  }
  if (members.empty() || members.size() > max_ranges) return RangeOutcome::unsatisfiable;
  for (std::string_view m : members) {
    const std::size_t dash = m.find('-');
    if (dash == std::string_view::npos) return RangeOutcome::unsatisfiable;
    const std::string_view a = m.substr(0, dash), b = m.substr(dash + 1);
    if (a.empty()) {  // suffix-range = "-" suffix-length
      if (!all_digits(b)) return RangeOutcome::unsatisfiable;
      const Decimal n(b);
      if (n.d == "0") continue;  // 14.1.3: a zero suffix is unsatisfiable
      const std::uint64_t nv = n.as_u64();
      wanted.push_back({nv >= length ? 0 : length - nv, length - 1});
      continue;
    }
    if (!all_digits(a) || (!b.empty() && !all_digits(b))) return RangeOutcome::unsatisfiable;
    const Decimal first(a);
    if (!b.empty() && Decimal(b) < first) return RangeOutcome::unsatisfiable;  // 14.1.2
    const std::uint64_t f = first.as_u64();
    if (first.d.size() > 20 || f >= length) continue;  // 14.1.1: not satisfiable
    const std::uint64_t l = b.empty() ? length - 1 : std::min(Decimal(b).as_u64(), length - 1);
    wanted.push_back({f, l});
  }
  return wanted.empty() ? RangeOutcome::unsatisfiable : RangeOutcome::partial;
}

// gap() is the number of bytes strictly between a and b (a before b), or -1
// when they overlap or touch.
std::int64_t gap_between(const ByteRange& a, const ByteRange& b) {
  if (b.first <= a.last) return -1;
  const std::uint64_t g = b.first - a.last - 1;
  return g > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())
             ? std::numeric_limits<std::int64_t>::max()
             : static_cast<std::int64_t>(g);
}

// merged() is the union of rs as sorted disjoint ranges (touching ones
// joined).
std::vector<ByteRange> merged(std::vector<ByteRange> rs) {
  std::sort(rs.begin(), rs.end(), [](const ByteRange& a, const ByteRange& b) {
    return a.first != b.first ? a.first < b.first : a.last < b.last;
  });
  std::vector<ByteRange> out;
  for (const ByteRange& r : rs) {
    if (!out.empty() && (r.first <= out.back().last || r.first - out.back().last == 1)) {
      out.back().last = std::max(out.back().last, r.last);
    } else {
      out.push_back(r);
    }
  }
  return out;
}

bool covered(const std::vector<ByteRange>& union_sorted, std::uint64_t pos) {
  for (const ByteRange& r : union_sorted) {
    if (r.first <= pos && pos <= r.last) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cogo_fuzz::FuzzInput in(data, size);
  std::uint64_t length = 10000;
  std::size_t max_ranges = 32;
  if (in.control_left()) {
    length = in.next();
    length |= static_cast<std::uint64_t>(in.next()) << 8;
    length |= static_cast<std::uint64_t>(in.next()) << 16;
    if (in.next() & 1) length = kMax - length;
    if (const std::uint8_t m = in.next(); m != 0) max_ranges = m;
  }
  std::vector<std::string_view> lines;
  std::string_view payload = in.payload();
  for (;;) {
    const std::size_t nl = payload.find('\n');
    lines.push_back(payload.substr(0, nl));
    if (nl == std::string_view::npos) break;
    payload.remove_prefix(nl + 1);
  }

  std::vector<ByteRange> got, wanted;
  const RangeOutcome outcome =
      cogo::middleware::detail::resolve_ranges(lines, length, max_ranges, got);
  const RangeOutcome expected = reference(lines, length, max_ranges, wanted);
  FUZZ_CHECK(outcome == expected, "Range \"%s\" on %llu bytes (max %zu): %s, the grammar says %s",
             printable(in.payload()).c_str(), static_cast<unsigned long long>(length), max_ranges,
             name(outcome), name(expected));
  if (outcome != RangeOutcome::partial) return 0;

  FUZZ_CHECK(!got.empty(), "a 206 with no range");
  for (const ByteRange& r : got) {
    FUZZ_CHECK(r.first <= r.last && r.last < length, "range %llu-%llu outside %llu bytes",
               static_cast<unsigned long long>(r.first), static_cast<unsigned long long>(r.last),
               static_cast<unsigned long long>(length));
  }
  // Were any two requested ranges close enough to coalesce?
  bool close = false;
  for (std::size_t i = 0; i < wanted.size(); ++i) {
    for (std::size_t j = i + 1; j < wanted.size(); ++j) {
      const ByteRange& a = wanted[i].first <= wanted[j].first ? wanted[i] : wanted[j];
      const ByteRange& b = wanted[i].first <= wanted[j].first ? wanted[j] : wanted[i];
      const std::int64_t g = gap_between(a, b);
      if (g < static_cast<std::int64_t>(kCoalesceGap)) close = true;
    }
  }
  if (!close) {
    // 14.6: the request's order, each range as asked (clipped).
    FUZZ_CHECK(got.size() == wanted.size(), "%zu ranges for %zu requested, none close", got.size(),
               wanted.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      FUZZ_CHECK(got[i].first == wanted[i].first && got[i].last == wanted[i].last,
                 "range %zu is %llu-%llu, asked %llu-%llu", i,
                 static_cast<unsigned long long>(got[i].first),
                 static_cast<unsigned long long>(got[i].last),
                 static_cast<unsigned long long>(wanted[i].first),
                 static_cast<unsigned long long>(wanted[i].last));
    }
    return 0;
  }
  // 15.3.7: coalesced. Sorted, kCoalesceGap apart.
  for (std::size_t i = 1; i < got.size(); ++i) {
    const std::int64_t g = gap_between(got[i - 1], got[i]);
    FUZZ_CHECK(g >= static_cast<std::int64_t>(kCoalesceGap),
               "coalesced ranges %zu and %zu are %lld bytes apart", i - 1, i,
               static_cast<long long>(g));
  }
  const std::vector<ByteRange> asked = merged(wanted);
  // Every requested byte is sent: each union piece lies inside one range.
  for (const ByteRange& a : asked) {
    const bool inside = std::any_of(got.begin(), got.end(), [&](const ByteRange& r) {
      return r.first <= a.first && a.last <= r.last;
    });
    FUZZ_CHECK(inside, "requested bytes %llu-%llu not sent whole",
               static_cast<unsigned long long>(a.first), static_cast<unsigned long long>(a.last));
  }
  // Each range starts and ends on requested bytes, and the unrequested runs
  // inside it (the gaps between union pieces) are shorter than the gap.
  for (const ByteRange& r : got) {
    FUZZ_CHECK(covered(asked, r.first) && covered(asked, r.last),
               "range %llu-%llu starts or ends on bytes nobody asked for",
               static_cast<unsigned long long>(r.first), static_cast<unsigned long long>(r.last));
    const ByteRange* prev = nullptr;
    for (const ByteRange& a : asked) {
      if (a.last < r.first || a.first > r.last) continue;
      if (prev != nullptr) {
        FUZZ_CHECK(gap_between(*prev, a) < static_cast<std::int64_t>(kCoalesceGap),
                   "range %llu-%llu adds %lld unrequested bytes in a row",
                   static_cast<unsigned long long>(r.first),
                   static_cast<unsigned long long>(r.last),
                   static_cast<long long>(gap_between(*prev, a)));
      }
      prev = &a;
    }
  }
  return 0;
}
