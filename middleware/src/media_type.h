// media_type.h: media type patterns ("text/html", "text/*", "*/*+json")
// matched against a Content-Type — which responses compress compresses, and
// which files serve_dir marks as varying by Accept-Encoding.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cogo::middleware::detail {

// MediaTypePatterns: a list of patterns, matched without parameters and
// ignoring case.
class MediaTypePatterns {
 public:
  // MediaTypePatterns() throws std::invalid_argument("<who>: type \"...\" is
  // not a media type pattern ...") for a malformed entry.
  MediaTypePatterns(const std::vector<std::string>& entries, const char* who);
  // matches() tells whether content_type ("text/html; charset=utf-8")
  // matches one of the patterns; an empty or malformed one never does.
  bool matches(std::string_view content_type) const;

 private:
  struct Pattern {
    enum class Kind { exact, any_subtype, suffix } kind;
    std::string type;     // "text" (exact, any_subtype)
    std::string subtype;  // "html" (exact), "+json" (suffix)
  };
  std::vector<Pattern> patterns_;
};

}  // namespace cogo::middleware::detail
