// temp_dir.h: TempDir, a fresh directory under /tmp that the destructor
// removes with all it holds, for the tests that write files (logs, user
// files):
//   cogo_test::TempDir dir("cogo_access_log");
//   const auto file = dir.path / "access.log";
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>

namespace cogo_test {

class TempDir {
 public:
  // TempDir() makes /tmp/<prefix>_XXXXXX.
  explicit TempDir(const std::string& prefix) {
    std::string tmpl = "/tmp/" + prefix + "_XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp " + tmpl);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::filesystem::path path;
};

}  // namespace cogo_test
