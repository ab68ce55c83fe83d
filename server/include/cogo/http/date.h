// cogo/http/date.h: HTTP-date (RFC 9110 5.6.7), the format of Date,
// Last-Modified, If-Modified-Since, If-Unmodified-Since and If-Range.
//
//   std::string lm = cogo::http::format_http_date(st.st_mtime);  // "Sun, 06 Nov 1994 08:49:37 GMT"
//   std::optional<std::time_t> t = cogo::http::parse_http_date(req.header("If-Modified-Since"));
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace cogo::http {

// format_http_date() is seconds (since the epoch, UTC) as an IMF-fixdate,
// the only form a sender may generate.
std::string format_http_date(std::time_t seconds);

// parse_http_date() reads any of the three forms a recipient must accept
// (5.6.7): IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), the obsolete
// RFC 850 form ("Sunday, 06-Nov-94 08:49:37 GMT": a two-digit year more
// than 50 years ahead is the latest past year with those digits) and
// asctime ("Sun Nov  6 08:49:37 1994"). Case-sensitive, as the grammar is;
// surrounding whitespace is allowed. nullopt when text is none of them (a
// list of dates, a bad month, second 61, ...).
std::optional<std::time_t> parse_http_date(std::string_view text);

}  // namespace cogo::http
