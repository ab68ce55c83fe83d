// media_type.cpp: see media_type.h.
#include "media_type.h"

#include <stdexcept>

#include "cogo/http/field.h"
#include "field_text.h"

namespace cogo::middleware::detail {

namespace {

bool iends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && http::iequals(s.substr(s.size() - suffix.size()), suffix);
}

}  // namespace

MediaTypePatterns::MediaTypePatterns(const std::vector<std::string>& entries, const char* who) {
  for (const std::string& entry : entries) {
    auto bad = [&] {
      return std::invalid_argument(std::string(who) + ": type \"" + entry +
                                   "\" is not a media type pattern (want \"type/subtype\", "
                                   "\"type/*\" or \"*/*+suffix\")");
    };
    const std::size_t slash = entry.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == entry.size()) throw bad();
    const std::string type = entry.substr(0, slash);
    const std::string subtype = entry.substr(slash + 1);
    if (type == "*") {
      if (subtype.size() < 4 || subtype.compare(0, 2, "*+") != 0) throw bad();
      patterns_.push_back({Pattern::Kind::suffix, "", subtype.substr(1)});
    } else if (type.find('*') != std::string::npos) {
      throw bad();
    } else if (subtype == "*") {
      patterns_.push_back({Pattern::Kind::any_subtype, type, ""});
    } else if (subtype.find('*') != std::string::npos) {
      throw bad();
    } else {
      patterns_.push_back({Pattern::Kind::exact, type, subtype});
    }
  }
}

bool MediaTypePatterns::matches(std::string_view content_type) const {
  const std::string_view media = trim_ows(content_type.substr(0, content_type.find(';')));
  const std::size_t slash = media.find('/');
  if (slash == std::string_view::npos) return false;
  const std::string_view type = media.substr(0, slash);
  const std::string_view subtype = media.substr(slash + 1);
  for (const Pattern& p : patterns_) {
    switch (p.kind) {
      case Pattern::Kind::exact:
        if (http::iequals(type, p.type) && http::iequals(subtype, p.subtype)) return true;
        break;
      case Pattern::Kind::any_subtype:
        if (http::iequals(type, p.type)) return true;
        break;
      case Pattern::Kind::suffix:
        if (iends_with(subtype, p.subtype)) return true;
        break;
    }
  }
  return false;
}

}  // namespace cogo::middleware::detail
