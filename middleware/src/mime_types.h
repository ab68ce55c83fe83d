// mime_types.h: file extension -> media type, read from a mime.types table
// (Debian's media-types package: /etc/mime.types, "type/subtype ext ext...",
// '#' comments).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

namespace cogo::middleware::detail {

class MimeTypes {
 public:
  // load() reads path (cached: every serve_dir naming the same file shares
  // one table). Throws std::invalid_argument naming the file when it
  // cannot be read.
  static std::shared_ptr<const MimeTypes> load(const std::string& path);

  // lookup() is the media type of a file name by its extension (the text
  // after the last '.', compared without case), or empty when unknown.
  std::string_view lookup(std::string_view file_name) const;

  std::size_t size() const noexcept { return types_.size(); }

 private:
  std::unordered_map<std::string, std::string> types_;  // lowercase extension -> type
};

}  // namespace cogo::middleware::detail
