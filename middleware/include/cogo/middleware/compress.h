// cogo/middleware/compress.h: response compression — br (libbrotli), zstd
// (libzstd), gzip and deflate (zlib) — chosen by the request's
// Accept-Encoding.
//
//   server.use(cogo::middleware::compress());                    // br, zstd, gzip
//   server.use(cogo::middleware::compress({.encodings = {"gzip"}, .gzip_level = 6}));
//
// What it reads: Accept-Encoding (RFC 9110 12.5.3: q-values, q=0 excludes,
// "*", "identity", "x-gzip" as "gzip"); the response's status,
// Content-Type, Content-Encoding, Content-Range, Cache-Control and ETag.
//
// What it does to a response:
// - compresses it when all of these hold: the status has a body and is not
//   206, there is no Content-Range and no Content-Encoding (a body is never
//   compressed twice, nor a range of one), Cache-Control has no
//   no-transform, Content-Type is one of `types`, and a body the handler
//   left buffered has at least min_size bytes (a streamed one is assumed
//   large). Such a response is "eligible";
// - every eligible response gets Vary: Accept-Encoding (once), compressed or
//   not, so that caches keep the variants apart;
// - the coding is the client's highest q among `encodings`, ties broken by
//   their order; identity when none is acceptable (and when identity is
//   excluded too: RFC 9110 12.1 lets a server disregard the field rather
//   than answer 406);
// - a compressed response gets Content-Encoding, its framing recomputed (a
//   whole body: Content-Length of the compressed bytes; a streamed one:
//   chunked), a strong ETag made weak (W/"..."), Accept-Ranges removed
//   (ranges would be of the identity representation);
// - a response the handler streams with flush() is compressed as it goes:
//   each flush() emits everything written so far in decodable form (a sync
//   flush), so it reaches the client at once;
// - HEAD: the head a GET would get (Content-Encoding, Vary, weak ETag)
//   without Content-Length, whose value only compressing would tell
//   (RFC 9110 9.3.2, 8.6); nothing is compressed;
// - 304: when the request's If-None-Match holds W/"x" for the 304's strong
//   ETag "x" (the client revalidates a 200 this middleware compressed), the
//   304 says W/"x" and Vary: Accept-Encoding, as that 200 did (RFC 9110
//   15.4.5); otherwise it is left alone.
// Bounded work: at most max_streams responses are compressed at once in the
// process (default 64 per P); the next ones go out as they are (with Vary).
// Compressor state is pooled per thread and reused, input is compressed as
// it is written, and an output beyond max_buffered_response_bytes streams.
//
// Put it outside the handlers whose output it compresses, inside the access
// log (which then logs the compressed size).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "cogo/http/handler.h"

namespace cogo::middleware {

// compressible_media_types() is the default CompressOptions::types: text/*,
// JSON, JavaScript, XML, WebAssembly, SVG, uncompressed fonts and icons, and
// every "+json" and "+xml" type.
std::vector<std::string> compressible_media_types();

struct CompressOptions {
  // encodings: the content codings offered, in the server's order of
  // preference: "br", "zstd", "gzip", "deflate".
  std::vector<std::string> encodings = {"br", "zstd", "gzip"};
  int gzip_level = 6;      // gzip and deflate: 1 (fast) .. 9 (small)
  int brotli_quality = 4;  // 0 .. 11 (11 is for precompressing, not per request)
  int zstd_level = 3;      // 1 .. 19
  // min_size: a buffered body smaller than this goes out as it is.
  std::size_t min_size = 1024;
  // types: media types worth compressing, matched without parameters and
  // ignoring case: "text/html", "text/*" (a whole top-level type), or
  // "*/*+json" (a structured-syntax suffix).
  std::vector<std::string> types = compressible_media_types();
  // max_streams: responses compressed at once in the process; 0: 64 per P.
  std::size_t max_streams = 0;
};

// compress() throws std::invalid_argument naming the option for an unknown
// or repeated coding, an empty encodings list, a level out of range, or a
// malformed type pattern.
http::Middleware compress(CompressOptions options = {});

}  // namespace cogo::middleware
