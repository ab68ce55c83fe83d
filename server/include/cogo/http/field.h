// cogo/http/field.h: a name/value pair viewed in place (header field, query
// or path parameter).
#pragma once

#include <string_view>

namespace cogo::http {

struct Field {
  std::string_view name;
  std::string_view value;
};

// iequals() compares two ASCII strings ignoring case (header names).
bool iequals(std::string_view a, std::string_view b) noexcept;

}  // namespace cogo::http
