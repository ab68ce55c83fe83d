// flag_value_fuzz: the value grammar of cogo/flag_value.h (durations, sizes,
// counts, bounded integers) that cogo-server, cogo-load and a user's binary
// read flags and COGO_* variables with.
//
// The payload is the text; control byte 0 picks the parser (and, for
// parse_int, bytes 1-2 the bounds).
//
// Properties: each parser either returns a value inside its documented
// range or throws FlagError (nothing else) whose message names the flag and
// quotes the text; a value written back in its plainest form ("<n>ns",
// "<n>") parses to the same value; plain digits mean exactly their decimal
// value; a unit scales exactly.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "cogo/flag_value.h"
#include "fuzz_input.h"
#include "http_reference.h"

namespace {

using cogo_fuzz::printable;
constexpr std::string_view kFlag = "--fuzz-flag";

void check_message(const cogo::FlagError& e, std::string_view text) {
  const std::string what = e.what();
  const std::string prefix = std::string(kFlag) + ": '" + std::string(text) + "'";
  FUZZ_CHECK(what.compare(0, prefix.size(), prefix) == 0,
             "message %s does not name the flag and text", printable(what).c_str());
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// exact() is the value of a decimal digit string (long double: no overflow).
long double exact(std::string_view digits) {
  long double v = 0;
  for (char c : digits) v = v * 10 + (c - '0');
  return v;
}

template <class F>
bool parses(std::string_view text, F&& f) {
  try {
    f(text);
    return true;
  } catch (const cogo::FlagError& e) {
    check_message(e, text);
    return false;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cogo_fuzz::FuzzInput in(data, size);
  const std::uint8_t which = in.next() & 3;
  const std::string_view text = in.payload();
  // Flags come from argv and the environment: C strings, never with a NUL.
  if (text.find('\0') != std::string_view::npos) return 0;
  if (which == 0) {
    std::chrono::nanoseconds d{};
    if (!parses(text, [&](std::string_view t) { d = cogo::parse_duration(kFlag, t); })) return 0;
    FUZZ_CHECK(d.count() >= 0, "negative duration from %s", printable(text).c_str());
    FUZZ_CHECK(d.count() <= INT64_C(3'600'000'000'000'000'000), "%s: more than 1,000,000 hours",
               printable(text).c_str());
    const std::string back = std::to_string(d.count()) + "ns";
    FUZZ_CHECK(cogo::parse_duration(kFlag, back) == d, "%s does not read back", back.c_str());
    // "<digits><unit>": exactly digits times the unit (to double precision).
    static const std::pair<std::string_view, long double> units[] = {
        {"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
    for (const auto& [unit, scale] : units) {
      if (text.size() > unit.size() && text.substr(text.size() - unit.size()) == unit &&
          all_digits(text.substr(0, text.size() - unit.size()))) {
        const long double want = exact(text.substr(0, text.size() - unit.size())) * scale;
        const long double got = static_cast<long double>(d.count());
        FUZZ_CHECK(got <= want * (1 + 1e-15L) + 1 && got >= want * (1 - 1e-15L) - 1,
                   "%s read as %lld ns", printable(text).c_str(),
                   static_cast<long long>(d.count()));
        break;
      }
    }
  } else if (which == 1) {
    std::size_t v = 0;
    if (!parses(text, [&](std::string_view t) { v = cogo::parse_size(kFlag, t); })) return 0;
    FUZZ_CHECK(v > 0 && v <= (std::size_t{1} << 40), "size %zu from %s", v,
               printable(text).c_str());
    FUZZ_CHECK(cogo::parse_size(kFlag, std::to_string(v)) == v, "%zu does not read back", v);
    if (all_digits(text))
      FUZZ_CHECK(exact(text) == static_cast<long double>(v), "%s read as %zu",
                 printable(text).c_str(), v);
    if (text.size() > 1 && (text.back() == 'K' || text.back() == 'k') &&
        all_digits(text.substr(0, text.size() - 1))) {
      FUZZ_CHECK(exact(text.substr(0, text.size() - 1)) * 1024 == static_cast<long double>(v),
                 "%s read as %zu", printable(text).c_str(), v);
    }
  } else if (which == 2) {
    int64_t v = 0;
    if (!parses(text, [&](std::string_view t) { v = cogo::parse_count(kFlag, t); })) return 0;
    FUZZ_CHECK(v >= 0 && v <= INT64_C(1'000'000'000'000'000), "count %lld from %s",
               static_cast<long long>(v), printable(text).c_str());
    FUZZ_CHECK(cogo::parse_count(kFlag, std::to_string(v)) == v, "%lld does not read back",
               static_cast<long long>(v));
    if (all_digits(text))
      FUZZ_CHECK(exact(text) == static_cast<long double>(v), "%s read as %lld",
                 printable(text).c_str(), static_cast<long long>(v));
  } else {
    const int64_t lo = static_cast<int8_t>(in.next()) * INT64_C(1000003);
    const int64_t hi = lo + static_cast<int64_t>(in.next()) * INT64_C(999983);
    int64_t v = 0;
    if (!parses(text, [&](std::string_view t) { v = cogo::parse_int(kFlag, t, lo, hi); })) return 0;
    FUZZ_CHECK(v >= lo && v <= hi, "%lld outside [%lld, %lld]", static_cast<long long>(v),
               static_cast<long long>(lo), static_cast<long long>(hi));
    FUZZ_CHECK(cogo::parse_int(kFlag, std::to_string(v), lo, hi) == v, "%lld does not read back",
               static_cast<long long>(v));
    const bool negative = !text.empty() && text.front() == '-';
    const std::string_view digits = negative ? text.substr(1) : text;
    FUZZ_CHECK(all_digits(digits), "%s accepted as a whole number", printable(text).c_str());
    FUZZ_CHECK((negative ? -exact(digits) : exact(digits)) == static_cast<long double>(v),
               "%s read as %lld", printable(text).c_str(), static_cast<long long>(v));
  }
  return 0;
}
