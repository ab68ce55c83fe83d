// http_date.cpp: HTTP-date (cogo/http/date.h) and the Date header's cached
// value (http_date.h).
#include "http_date.h"

#include <ctime>

#include "cogo/http/date.h"
#include "text.h"

namespace cogo::http {

namespace {

constexpr char kDays[] = "SunMonTueWedThuFriSat";
constexpr char kMonths[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
constexpr const char* kLongDays[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                     "Thursday", "Friday", "Saturday"};

void format_date(std::time_t seconds, char* out) {
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

// Scanner: a cursor over the text with the grammar's pieces.
struct Scanner {
  std::string_view s;
  bool ok = true;

  bool literal(std::string_view lit) {
    if (!ok || s.substr(0, lit.size()) != lit) return ok = false;
    s.remove_prefix(lit.size());
    return true;
  }
  // digits() reads exactly n digits.
  int digits(int n) {
    int v = 0;
    for (int i = 0; i < n; ++i) {
      if (!ok || s.empty() || s[0] < '0' || s[0] > '9') {
        ok = false;
        return 0;
      }
      v = v * 10 + (s[0] - '0');
      s.remove_prefix(1);
    }
    return v;
  }
  // month(), short_day(), long_day() match a name of the grammar.
  int month() {
    for (int i = 0; i < 12; ++i) {
      if (s.substr(0, 3) == std::string_view(kMonths + i * 3, 3)) {
        s.remove_prefix(3);
        return i;
      }
    }
    ok = false;
    return 0;
  }
  bool short_day() {
    for (int i = 0; i < 7; ++i) {
      if (s.substr(0, 3) == std::string_view(kDays + i * 3, 3)) {
        s.remove_prefix(3);
        return true;
      }
    }
    return ok = false;
  }
  bool long_day() {
    for (const char* d : kLongDays) {
      const std::string_view name(d);
      if (s.substr(0, name.size()) == name) {
        s.remove_prefix(name.size());
        return true;
      }
    }
    return ok = false;
  }
  // time_of_day() reads "HH:MM:SS".
  void time_of_day(std::tm& tm) {
    tm.tm_hour = digits(2);
    literal(":");
    tm.tm_min = digits(2);
    literal(":");
    tm.tm_sec = digits(2);
  }
};

std::optional<std::time_t> to_time(std::tm& tm) {
  static constexpr int kDaysIn[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (tm.tm_mday < 1 || tm.tm_mday > kDaysIn[tm.tm_mon] || tm.tm_hour > 23 || tm.tm_min > 59 ||
      tm.tm_sec > 60) {
    return std::nullopt;
  }
  const int year = tm.tm_year + 1900;
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (tm.tm_mon == 1 && tm.tm_mday == 29 && !leap) return std::nullopt;
  if (tm.tm_sec == 60) tm.tm_sec = 59;  // a leap second: the second before it
  return timegm(&tm);
}

}  // namespace

std::string format_http_date(std::time_t seconds) {
  char text[29];
  format_date(seconds, text);
  return std::string(text, sizeof text);
}

std::optional<std::time_t> parse_http_date(std::string_view text) {
  text = detail::trim_whitespace(text);
  std::tm tm{};
  // IMF-fixdate: day-name "," SP date1 SP time-of-day SP GMT
  {
    Scanner in{text};
    in.short_day();
    in.literal(", ");
    tm.tm_mday = in.digits(2);
    in.literal(" ");
    tm.tm_mon = in.month();
    in.literal(" ");
    tm.tm_year = in.digits(4) - 1900;
    in.literal(" ");
    in.time_of_day(tm);
    in.literal(" GMT");
    if (in.ok && in.s.empty()) return to_time(tm);
  }
  // rfc850-date: day-name-l "," SP date2 SP time-of-day SP GMT
  {
    tm = {};
    Scanner in{text};
    in.long_day();
    in.literal(", ");
    tm.tm_mday = in.digits(2);
    in.literal("-");
    tm.tm_mon = in.month();
    in.literal("-");
    const int yy = in.digits(2);
    in.literal(" ");
    in.time_of_day(tm);
    in.literal(" GMT");
    if (in.ok && in.s.empty()) {
      // 5.6.7: more than 50 years ahead means the latest such year past.
      std::time_t now = std::time(nullptr);
      std::tm today;
      gmtime_r(&now, &today);
      const int this_year = today.tm_year + 1900;
      int year = this_year - this_year % 100 + yy;
      if (year > this_year + 50) year -= 100;
      tm.tm_year = year - 1900;
      return to_time(tm);
    }
  }
  // asctime-date: day-name SP date3 SP time-of-day SP year, date3 being
  // month SP ( 2DIGIT / ( SP DIGIT ) )
  {
    tm = {};
    Scanner in{text};
    in.short_day();
    in.literal(" ");
    tm.tm_mon = in.month();
    in.literal(" ");
    if (in.ok && !in.s.empty() && in.s[0] == ' ') {
      in.s.remove_prefix(1);
      tm.tm_mday = in.digits(1);
    } else {
      tm.tm_mday = in.digits(2);
    }
    in.literal(" ");
    in.time_of_day(tm);
    in.literal(" ");
    tm.tm_year = in.digits(4) - 1900;
    if (in.ok && in.s.empty()) return to_time(tm);
  }
  return std::nullopt;
}

namespace detail {

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

}  // namespace detail

}  // namespace cogo::http
