// mime_types.cpp: see mime_types.h.
#include "mime_types.h"

#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>

namespace cogo::middleware::detail {

namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

}  // namespace

std::shared_ptr<const MimeTypes> MimeTypes::load(const std::string& path) {
  static std::mutex mu;
  static std::map<std::string, std::weak_ptr<const MimeTypes>> cache;
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = cache.find(path); it != cache.end()) {
    if (auto table = it->second.lock()) return table;
  }
  std::ifstream in(path);
  if (!in) {
    throw std::invalid_argument("serve_dir: cannot read the media type table " + path +
                                " (apt-get install media-types, or set mime_types)");
  }
  auto table = std::make_shared<MimeTypes>();
  std::string line;
  while (std::getline(in, line)) {
    if (const std::size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream words(line);
    std::string type, ext;
    if (!(words >> type) || type.find('/') == std::string::npos) continue;
    while (words >> ext) {
      for (char& c : ext) c = lower(c);
      table->types_.emplace(ext, type);  // the first mapping of an extension wins
    }
  }
  cache[path] = table;
  return table;
}

std::string_view MimeTypes::lookup(std::string_view file_name) const {
  const std::size_t slash = file_name.rfind('/');
  if (slash != std::string_view::npos) file_name.remove_prefix(slash + 1);
  const std::size_t dot = file_name.rfind('.');
  if (dot == std::string_view::npos || dot + 1 == file_name.size()) return {};
  std::string ext(file_name.substr(dot + 1));
  for (char& c : ext) c = lower(c);
  const auto it = types_.find(ext);
  return it == types_.end() ? std::string_view() : std::string_view(it->second);
}

}  // namespace cogo::middleware::detail
