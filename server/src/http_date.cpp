#include "http_date.h"

#include <ctime>

namespace cogo::http::detail {

namespace {

void format_date(std::time_t seconds, char* out) {
  static constexpr char kDays[] = "SunMonTueWedThuFriSat";
  static constexpr char kMonths[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
  std::tm tm;
  gmtime_r(&seconds, &tm);
  auto two = [](char* p, int v) {
    p[0] = static_cast<char>('0' + v / 10);
    p[1] = static_cast<char>('0' + v % 10);
  };
  // "Sun, 06 Nov 1994 08:49:37 GMT"
  out[0] = kDays[tm.tm_wday * 3];
  out[1] = kDays[tm.tm_wday * 3 + 1];
  out[2] = kDays[tm.tm_wday * 3 + 2];
  out[3] = ',';
  out[4] = ' ';
  two(out + 5, tm.tm_mday);
  out[7] = ' ';
  out[8] = kMonths[tm.tm_mon * 3];
  out[9] = kMonths[tm.tm_mon * 3 + 1];
  out[10] = kMonths[tm.tm_mon * 3 + 2];
  out[11] = ' ';
  const int year = tm.tm_year + 1900;
  two(out + 12, year / 100);
  two(out + 14, year % 100);
  out[16] = ' ';
  two(out + 17, tm.tm_hour);
  out[19] = ':';
  two(out + 20, tm.tm_min);
  out[22] = ':';
  two(out + 23, tm.tm_sec);
  out[25] = ' ';
  out[26] = 'G';
  out[27] = 'M';
  out[28] = 'T';
}

}  // namespace

[[gnu::noinline]] std::string_view http_date_now() noexcept {
  struct Cache {
    std::time_t second = -1;
    char text[29];
  };
  thread_local Cache cache;
  timespec now;
  clock_gettime(CLOCK_REALTIME_COARSE, &now);
  if (now.tv_sec != cache.second) {
    format_date(now.tv_sec, cache.text);
    cache.second = now.tv_sec;
  }
  return std::string_view(cache.text, sizeof cache.text);
}

}  // namespace cogo::http::detail
