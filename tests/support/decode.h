// decode.h: a response body decoded by Python's own zlib, brotli and
// zstandard (python3-brotli, python3-zstandard): an independent decoder for
// what the server's encoders produced.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "support/served_server.h"

namespace cogo_test {

// py_decode() decodes body in coding ("gzip", "deflate", "br", "zstd"),
// using scratch_dir for its two files.
inline std::string py_decode(const std::string& coding, const std::string& body,
                             const std::string& scratch_dir) {
  const std::string in = scratch_dir + "/decode.in", script = scratch_dir + "/decode.py";
  std::ofstream(in, std::ios::binary) << body;
  std::ofstream(script) << "import sys, zlib, brotli, zstandard\n"
                           "d = open(sys.argv[2], 'rb').read()\n"
                           "c = sys.argv[1]\n"
                           "if c == 'gzip': out = zlib.decompress(d, 31)\n"
                           "elif c == 'deflate': out = zlib.decompress(d)\n"
                           "elif c == 'br': out = brotli.decompress(d)\n"
                           "else: out = zstandard.ZstdDecompressor().decompressobj().decompress(d)\n"
                           "sys.stdout.buffer.write(out)\n";
  int st = 0;
  std::string out = sh("/usr/bin/python3 " + script + " " + coding + " " + in, &st);
  EXPECT_EQ(st, 0) << out;
  return out;
}

}  // namespace cogo_test
