// cogo/middleware/static_files.h: serve_dir(), a handler serving the files
// under a directory — GET and HEAD, validators and conditional requests,
// byte ranges, precompressed siblings, sendfile(2).
//
//   // as a catch-all route: GET /static/css/site.css -> /var/www/css/site.css
//   server.router().get("/static/*path", cogo::middleware::serve_dir("/var/www"));
//   // mounted: the same, for every method (others get 405)
//   server.router().mount("/static", cogo::middleware::serve_dir("/var/www"));
//   // anywhere else (the server's only handler): strip a prefix
//   cogo::http::Handler files =
//       cogo::middleware::serve_dir("/var/www", {.strip_prefix = "/static"});
//
// Which file: the request's path below the route's "*" (a mount's route is
// "<prefix>/*"; or below strip_prefix, or all of it), taken from the raw
// target and decoded one segment at a time: "." and empty segments are
// dropped, ".." removes the one before it. Refused with 400: a ".." that
// would climb above the root, an encoded '/' or NUL inside a segment (%2F,
// %00), a malformed %-escape.
// 404: no such file, a name starting with '.' (unless hidden_files), a
// symlink whose target lies outside the root (unless follow_symlinks: the
// file is opened with openat2's RESOLVE_BENEATH), anything but a regular
// file or directory. 405 with Allow: GET, HEAD for other methods.
//
// A directory: its URL without the trailing '/' redirects there (301, a
// relative Location, the query kept); with it, the index file if there is
// one, else a listing when list_directories (HTML, every name escaped),
// else 403.
//
// A file, with the fields a 200 carries:
//   Content-Type      from the extension by Debian's media-types table
//                     (/etc/mime.types), "; charset=utf-8" for text/*;
//                     default_type when unknown
//   ETag              "size-mtime" (hex, nanoseconds): strong, but weak
//                     (W/) while the file changed in the last second, since
//                     another change within the file system's timestamp
//                     granularity could keep it (RFC 9110 8.8.3)
//   Last-Modified     the modification time, once its second is over (so
//                     every date sent is a strong validator, 8.8.2.2);
//                     never later than Date
//   Accept-Ranges     bytes
//   Cache-Control     cache_control, when set
//   Vary              Accept-Encoding when precompressed siblings are on and
//                     one was served or the type is in vary_types
//   Content-Encoding  br / zstd / gzip when a sibling x.br / x.zst / x.gz is
//                     served (nginx's gzip_static): the client accepts it
//                     (Accept-Encoding, q-values) and it is a regular file;
//                     its own ETag and Last-Modified apply
// and the body with sendfile(2) on plain connections (small files leave
// with the head in one write; TLS reads and writes). A read that would wait
// for the disk, and an open that would (RESOLVE_CACHED), run in a blocking
// section: the other goroutines keep their P.
//
// Conditional requests, RFC 9110 13.2.2's order: If-Match false -> 412,
// else If-Unmodified-Since earlier than the file -> 412; If-None-Match
// matching -> 304 (412 for other methods), else If-Modified-Since not
// earlier -> 304. A 304 carries ETag, Vary, Cache-Control (and
// Last-Modified only without an ETag), no body (15.4.5).
//
// Ranges (GET only; HEAD and other methods ignore Range, 14.2): one range
// -> 206 with Content-Range: bytes a-b/size; several -> 206
// multipart/byteranges, each part with Content-Type and Content-Range, in
// the request's order unless they overlap or nearly touch (then merged,
// 15.3.7); none satisfiable, a malformed range set, or more than max_ranges
// -> 416 with Content-Range: bytes */size; another unit -> 200. If-Range
// (a strong ETag, or a date equal to Last-Modified) keeps the range, else
// 200 with the whole file; a 206 answering an If-Range leaves out
// Content-Type and Last-Modified (15.3.7).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "cogo/http/handler.h"
#include "cogo/middleware/compress.h"

namespace cogo::middleware {

struct StaticOptions {
  // index: what a directory's URL serves; empty: none.
  std::string index = "index.html";
  // list_directories: an HTML listing for a directory without an index.
  bool list_directories = false;
  // follow_symlinks: follow symlinks wherever they lead; by default only
  // those that resolve inside the root (relative ones) are followed.
  bool follow_symlinks = false;
  // hidden_files: serve names starting with '.' (.env, .git/...).
  bool hidden_files = false;
  // precompressed: the sibling codings looked for, in the server's order
  // of preference: "br" (x.br), "zstd" (x.zst), "gzip" (x.gz). Empty: off.
  std::vector<std::string> precompressed = {"br", "zstd", "gzip"};
  // cache_control: the Cache-Control of files (and their 304s); empty: none.
  std::string cache_control;
  // mime_types: the media type table.
  std::string mime_types = "/etc/mime.types";
  // default_type: the Content-Type of files the table does not know.
  std::string default_type = "application/octet-stream";
  // charset: appended to text/* types ("; charset=utf-8"); empty: none.
  std::string charset = "utf-8";
  // vary_types: types whose files get Vary: Accept-Encoding whenever
  // precompressed siblings are on (the types one precompresses).
  std::vector<std::string> vary_types = compressible_media_types();
  // max_ranges: more ranges in one request get 416 (15.5.17).
  std::size_t max_ranges = 32;
  // strip_prefix: when the handler is not reached through a "*" route or
  // a mount, the part of req.raw_path() above the root ("/static"); a path
  // without it: 404.
  std::string strip_prefix;
};

// serve_dir() throws std::invalid_argument naming the problem when root is
// not a directory it can open, the media type table cannot be read, or an
// option is malformed (a precompressed coding other than br, zstd, gzip).
http::Handler serve_dir(std::string root, StaticOptions options = {});

}  // namespace cogo::middleware
