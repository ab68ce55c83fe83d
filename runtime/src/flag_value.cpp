// flag_value.cpp: the value grammar of cogo/flag_value.h.
#include "cogo/flag_value.h"

#include <cctype>
#include <charconv>

namespace cogo {

namespace {

[[noreturn]] void bad(std::string_view flag, std::string_view text, std::string_view expected) {
  std::string m(flag);
  m += ": '";
  m += text;
  m += "' is not ";
  m += expected;
  throw FlagError(m);
}

}  // namespace

std::chrono::nanoseconds parse_duration(std::string_view flag, std::string_view text) {
  constexpr std::string_view kExpected =
      "a duration; use a number with ns, us, ms, s, m or h (e.g. 10s, 250ms), or 0";
  if (text == "0") return std::chrono::nanoseconds(0);
  double v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  const std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  double scale = 0;
  if (unit == "ns") scale = 1;
  if (unit == "us") scale = 1e3;
  if (unit == "ms") scale = 1e6;
  if (unit == "s") scale = 1e9;
  if (unit == "m") scale = 60e9;
  if (unit == "h") scale = 3600e9;
  // At most 1,000,000 hours, 3.6e18 ns: the int64 conversion below is then
  // defined (it was 3.6e21, three orders past INT64_MAX; found by
  // tests/fuzz/flag_value_fuzz under UBSan: "22525525h").
  if (ec != std::errc() || end == text.data() || scale == 0 || !(v >= 0) || v * scale > 3.6e18) {
    bad(flag, text, kExpected);
  }
  return std::chrono::nanoseconds(static_cast<int64_t>(v * scale));
}

std::size_t parse_size(std::string_view flag, std::string_view text) {
  constexpr std::string_view kExpected =
      "a size; use bytes or a number with K, M or G (e.g. 8K, 1M)";
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  const std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  uint64_t scale = 0;
  if (unit.empty() || unit == "B") scale = 1;
  if (unit == "K" || unit == "k" || unit == "KB" || unit == "KiB") scale = uint64_t{1} << 10;
  if (unit == "M" || unit == "MB" || unit == "MiB") scale = uint64_t{1} << 20;
  if (unit == "G" || unit == "GB" || unit == "GiB") scale = uint64_t{1} << 30;
  if (ec != std::errc() || end == text.data() || scale == 0 || v == 0 ||
      v > (uint64_t{1} << 40) / scale) {
    bad(flag, text, kExpected);
  }
  return static_cast<std::size_t>(v * scale);
}

int64_t parse_count(std::string_view flag, std::string_view text) {
  constexpr std::string_view kExpected = "a count (e.g. 2000, 100k)";
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  const std::string_view suffix(end, static_cast<std::size_t>(text.data() + text.size() - end));
  int64_t scale = 0;
  if (suffix.empty()) scale = 1;
  if (suffix == "k" || suffix == "K") scale = 1000;
  if (suffix == "M") scale = 1000000;
  if (ec != std::errc() || end == text.data() || scale == 0 || v < 0 ||
      v > INT64_C(1000000000000000) / scale) {
    bad(flag, text, kExpected);
  }
  return v * scale;
}

int64_t parse_int(std::string_view flag, std::string_view text, int64_t lo, int64_t hi) {
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || v < lo || v > hi) {
    bad(flag, text, "a whole number from " + std::to_string(lo) + " to " + std::to_string(hi));
  }
  return v;
}

std::vector<std::string> parse_list(std::string_view text) {
  const auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  std::vector<std::string> items;
  while (true) {
    const auto comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    while (!item.empty() && space(item.front())) item.remove_prefix(1);
    while (!item.empty() && space(item.back())) item.remove_suffix(1);
    if (!item.empty()) items.emplace_back(item);
    if (comma == std::string_view::npos) return items;
    text.remove_prefix(comma + 1);
  }
}

}  // namespace cogo
