// http_date.h: the Date header value, formatted once a second.
#pragma once

#include <string_view>

namespace cogo::http::detail {

// http_date_now() is the current time as an IMF-fixdate ("Sun, 06 Nov 1994
// 08:49:37 GMT"), reformatted at most once a second per thread. The view
// points into a thread-local cache: use it before anything that may park.
std::string_view http_date_now() noexcept;

}  // namespace cogo::http::detail
