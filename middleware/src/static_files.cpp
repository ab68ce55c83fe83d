// static_files.cpp: serve_dir() (cogo/middleware/static_files.h says what it
// answers). The request path becomes a relative path (clean_path), which is
// opened beneath the root (open_beneath), negotiated against precompressed
// siblings, validated (conditional.h), ranged (byte_range.h) and sent as a
// file body (Response::write_file: sendfile on a plain socket).
#include "cogo/middleware/static_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "accept_encoding.h"
#include "byte_range.h"
#include "cogo/http/date.h"
#include "cogo/http/field.h"
#include "cogo/http/request.h"
#include "cogo/http/response.h"
#include "cogo/runtime.h"
#include "conditional.h"
#include "media_type.h"
#include "mime_types.h"

namespace cogo::middleware {
namespace {

// Fd: an owned file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  ~Fd() { reset(); }
  int get() const noexcept { return fd_; }
  int release() noexcept { return std::exchange(fd_, -1); }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  void reset() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// CleanPath: where a request path leads below the root.
struct CleanPath {
  int status = 0;        // 0: fine; else 400 or 404
  std::string relative;  // "a/b.txt", "" for the root itself
};

// clean_path() turns the raw (still %-encoded) path below the root into a
// relative file path, one segment at a time (see static_files.h).
CleanPath clean_path(std::string_view raw, bool hidden_files) {
  CleanPath out;
  std::vector<std::string> segments;
  while (!raw.empty()) {
    const std::size_t slash = raw.find('/');
    const std::string_view seg = raw.substr(0, slash);
    raw = slash == std::string_view::npos ? std::string_view() : raw.substr(slash + 1);
    std::string name;
    for (std::size_t i = 0; i < seg.size(); ++i) {
      char c = seg[i];
      if (c == '%') {
        const int hi = i + 2 < seg.size() ? hex_digit(seg[i + 1]) : -1;
        const int lo = hi >= 0 ? hex_digit(seg[i + 2]) : -1;
        if (hi < 0 || lo < 0) {
          out.status = 400;  // a malformed escape
          return out;
        }
        c = static_cast<char>(hi * 16 + lo);
        i += 2;
      }
      if (c == '/' || c == '\0') {
        out.status = 400;  // an encoded slash or NUL: no such name exists
        return out;
      }
      name.push_back(c);
    }
    if (name.empty() || name == ".") continue;
    if (name == "..") {
      if (segments.empty()) {
        out.status = 400;  // above the root
        return out;
      }
      segments.pop_back();
      continue;
    }
    segments.push_back(std::move(name));
  }
  for (const std::string& s : segments) {
    if (!hidden_files && s[0] == '.') {
      out.status = 404;
      return out;
    }
    if (!out.relative.empty()) out.relative.push_back('/');
    out.relative += s;
  }
  return out;
}

// raw_below_route() is the part of the request's raw path that the route's
// "*name" matched ("css/a.css" for /static/*path and /static/css/a.css),
// or nullopt when the route has no catch-all.
std::optional<std::string_view> raw_below_route(std::string_view route, std::string_view raw) {
  const std::size_t star = route.find("/*");
  if (star == std::string_view::npos) return std::nullopt;
  std::size_t segments = 0;
  for (std::size_t i = 0; i < star; ++i) segments += route[i] == '/';
  if (!raw.empty() && raw[0] == '/') raw.remove_prefix(1);
  for (std::size_t i = 0; i < segments; ++i) {
    const std::size_t slash = raw.find('/');
    raw = slash == std::string_view::npos ? std::string_view() : raw.substr(slash + 1);
  }
  return raw;
}

// Sibling: a precompressed coding and its file suffix.
struct Sibling {
  std::string coding;  // "br"
  std::string suffix;  // ".br"
};

std::atomic<bool> g_have_openat2{true};
std::atomic<bool> g_have_resolve_cached{true};

// Dir: one serve_dir's settings and its open root.
struct Dir {
  StaticOptions options;
  std::string root;       // as given
  std::string root_real;  // realpath, for the check without openat2
  Fd root_fd;             // O_PATH | O_DIRECTORY
  std::shared_ptr<const detail::MimeTypes> mime;
  std::optional<detail::MediaTypePatterns> vary_types;
  std::vector<Sibling> siblings;
  std::vector<std::string_view> sibling_names;

  // open_beneath() opens path below the root (flags added to O_RDONLY):
  // through openat2 with RESOLVE_BENEATH unless follow_symlinks, trying
  // RESOLVE_CACHED first on a goroutine so that a lookup that would wait for
  // the disk runs in a blocking section. Returns the fd or -errno.
  int open_beneath(const std::string& path, int flags) const {
    const char* p = path.empty() ? "." : path.c_str();
    open_how how{};
    how.flags = static_cast<std::uint64_t>(O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | flags);
    how.resolve = RESOLVE_NO_MAGICLINKS | (options.follow_symlinks ? 0 : RESOLVE_BENEATH);
    if (g_have_openat2.load(std::memory_order_relaxed)) {
      auto call = [&](std::uint64_t resolve) {
        open_how h = how;
        h.resolve |= resolve;
        const long fd = ::syscall(SYS_openat2, root_fd.get(), p, &h, sizeof h);
        return fd >= 0 ? static_cast<int>(fd) : -errno;
      };
      int fd = -EAGAIN;
      if (cogo::in_goroutine() && g_have_resolve_cached.load(std::memory_order_relaxed)) {
        fd = call(RESOLVE_CACHED);
        if (fd == -EINVAL) {
          g_have_resolve_cached.store(false, std::memory_order_relaxed);  // before Linux 5.12
          fd = -EAGAIN;
        }
        if (fd == -EAGAIN) fd = cogo::blocking([&] { return call(0); });
      } else {
        fd = call(0);
      }
      if (fd != -ENOSYS) return fd;
      g_have_openat2.store(false, std::memory_order_relaxed);  // before Linux 5.6
    }
    // Without openat2: open, then check where the descriptor really is.
    auto open_and_check = [&] {
      const int fd = ::openat(root_fd.get(), p, static_cast<int>(how.flags));
      if (fd < 0) return -errno;
      if (options.follow_symlinks) return fd;
      char link[64];
      std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
      char real[PATH_MAX + 1];
      const ssize_t n = ::readlink(link, real, PATH_MAX);
      const std::string_view where(real, n > 0 ? static_cast<std::size_t>(n) : 0);
      if (where == root_real ||
          (where.size() > root_real.size() && where.substr(0, root_real.size()) == root_real &&
           where[root_real.size()] == '/')) {
        return fd;
      }
      ::close(fd);
      return -EXDEV;
    };
    return cogo::in_goroutine() ? cogo::blocking(open_and_check) : open_and_check();
  }
};

// status_of_errno() maps an open failure to a status.
int status_of_errno(int err) {
  switch (err) {
    case EACCES:
    case EPERM:
      return 403;
    case EMFILE:
    case ENFILE:
    case ENOMEM:
      return 503;
    default:
      return 404;  // ENOENT, ENOTDIR, EXDEV (outside the root), ELOOP, ENAMETOOLONG
  }
}

void answer(http::Response& res, int status) {
  switch (status) {
    case 400:
      res.text(400, "400 Bad Request: invalid path\n");
      break;
    case 403:
      res.text(403, "403 Forbidden\n");
      break;
    case 404:
      res.text(404, "404 Not Found\n");
      break;
    case 503:
      res.set_header("Retry-After", "1");
      res.text(503, "503 Service Unavailable: out of file descriptors\n");
      break;
    default:
      res.text(status, "error\n");
  }
}

void append_hex(std::string& out, std::uint64_t v) {
  char buf[20];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, 16);
  (void)ec;
  out.append(buf, static_cast<std::size_t>(end - buf));
}

std::string decimal(std::uint64_t v) {
  return std::to_string(v);
}

[[gnu::noinline]] std::string boundary() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string b;
  append_hex(b, rng());
  append_hex(b, rng());
  return b;
}

std::string html_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

// href_escape() percent-encodes every byte but RFC 3986's unreserved ones:
// a name with ':' or '?' stays a relative path.
std::string href_escape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

// list_directory() answers with an HTML listing of dir (already open).
void list_directory(const Dir& d, http::Request& req, http::Response& res, Fd dir, bool at_root) {
  struct Entry {
    std::string name;
    bool directory;
  };
  std::vector<Entry> entries;
  auto read_entries = [&] {
    DIR* stream = ::fdopendir(dir.release());
    if (stream == nullptr) return false;
    while (const dirent* e = ::readdir(stream)) {
      const std::string_view name = e->d_name;
      if (name == "." || name == "..") continue;
      if (!d.options.hidden_files && name[0] == '.') continue;
      bool directory = e->d_type == DT_DIR;
      if (e->d_type == DT_LNK || e->d_type == DT_UNKNOWN) {
        struct stat st {};
        directory = ::fstatat(::dirfd(stream), e->d_name, &st, 0) == 0 && S_ISDIR(st.st_mode);
      }
      entries.push_back({std::string(name), directory});
    }
    ::closedir(stream);
    return true;
  };
  // Reading a directory is file-system metadata I/O: keep it off the P.
  const bool ok = cogo::in_goroutine() ? cogo::blocking(read_entries) : read_entries();
  if (!ok) {
    answer(res, 403);
    return;
  }
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.name < b.name; });
  const std::string title = "Index of " + html_escape(req.path());
  std::string html = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + title +
                     "</title></head>\n<body><h1>" + title + "</h1>\n<ul>\n";
  if (!at_root) html += "<li><a href=\"../\">../</a></li>\n";
  for (const Entry& e : entries) {
    const std::string slash = e.directory ? "/" : "";
    html += "<li><a href=\"" + href_escape(e.name) + slash + "\">" + html_escape(e.name) + slash +
            "</a></li>\n";
  }
  html += "</ul></body></html>\n";
  res.set_status(200);
  res.set_header("Content-Type", "text/html; charset=utf-8");
  res.write(html);
}

// Representation: the file chosen to answer (the identity file or a
// precompressed sibling) and its validators.
struct Representation {
  Fd fd;
  struct stat st {};
  std::string coding;  // empty: identity
  std::string etag;
  std::optional<std::time_t> last_modified;  // sent as Last-Modified
};

void describe(Representation& r) {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  const timespec m = r.st.st_mtim;
  // Strong once the file has been still for a second (see the header).
  const bool settled =
      m.tv_sec + 1 < now.tv_sec || (m.tv_sec + 1 == now.tv_sec && m.tv_nsec <= now.tv_nsec);
  r.etag = settled ? "\"" : "W/\"";
  append_hex(r.etag, static_cast<std::uint64_t>(r.st.st_size));
  r.etag.push_back('-');
  append_hex(r.etag, static_cast<std::uint64_t>(m.tv_sec) * 1'000'000'000u +
                         static_cast<std::uint64_t>(m.tv_nsec));
  r.etag.push_back('"');
  // Last-Modified once its second is over: no later change can carry the
  // same date, which makes it a strong validator (8.8.2.2), and it is never
  // later than Date (8.8.2.1).
  if (m.tv_sec < now.tv_sec) r.last_modified = m.tv_sec;
}

std::string content_type_of(const Dir& d, std::string_view name) {
  std::string type(d.mime->lookup(name));
  if (type.empty()) type = d.options.default_type;
  if (!d.options.charset.empty() && type.compare(0, 5, "text/") == 0) {
    type += "; charset=" + d.options.charset;
  }
  return type;
}

// serve_file() answers a GET or HEAD for the regular file at path (open as
// file, stat'ed as st).
void serve_file(const Dir& d, http::Request& req, http::Response& res, const std::string& path,
                Fd file, const struct stat& st) {
  const std::string content_type = content_type_of(d, path);
  Representation rep;
  rep.fd = std::move(file);
  rep.st = st;
  // A precompressed sibling the client accepts, best first (12.5.3).
  bool vary = false;
  if (!d.siblings.empty()) {
    vary = d.vary_types->matches(content_type);
    if (req.has_header("Accept-Encoding")) {
      std::vector<std::string_view> offered = d.sibling_names;
      std::vector<const Sibling*> candidates;
      for (const Sibling& s : d.siblings) candidates.push_back(&s);
      while (!offered.empty()) {
        const int choice = detail::negotiate_request(req, offered);
        if (choice < 0) break;
        const Sibling& s = *candidates[static_cast<std::size_t>(choice)];
        const int fd = d.open_beneath(path + s.suffix, 0);
        struct stat sst {};
        if (fd >= 0 && ::fstat(fd, &sst) == 0 && S_ISREG(sst.st_mode)) {
          rep.fd = Fd(fd);
          rep.st = sst;
          rep.coding = s.coding;
          vary = true;
          break;
        }
        if (fd >= 0) ::close(fd);
        offered.erase(offered.begin() + choice);
        candidates.erase(candidates.begin() + choice);
      }
    }
  }
  describe(rep);
  const auto size = static_cast<std::uint64_t>(rep.st.st_size);

  // Preconditions (13.2.2), then the range (14.2).
  const std::vector<std::string_view> if_match = req.headers("If-Match");
  const std::vector<std::string_view> if_none_match = req.headers("If-None-Match");
  const std::vector<std::string_view> if_modified_since = req.headers("If-Modified-Since");
  const std::vector<std::string_view> if_unmodified_since = req.headers("If-Unmodified-Since");
  const std::vector<std::string_view> if_range = req.headers("If-Range");
  const std::vector<std::string_view> range = req.headers("Range");
  detail::ConditionalFields fields;
  fields.method = req.method();
  fields.if_match = if_match;
  fields.if_none_match = if_none_match;
  fields.if_modified_since = if_modified_since;
  fields.if_unmodified_since = if_unmodified_since;
  fields.if_range = if_range;
  fields.has_range = !range.empty();
  detail::Validators validators;
  validators.etag = rep.etag;
  validators.modified = rep.st.st_mtim.tv_sec;
  validators.modified_strong = rep.last_modified.has_value();
  const detail::Evaluation e = detail::evaluate_preconditions(fields, validators);

  // The fields every answer about this representation carries (15.4.5,
  // 15.3.7: ETag, Vary, Cache-Control).
  res.set_header("ETag", rep.etag);
  if (vary) res.set_header("Vary", "Accept-Encoding");
  if (!d.options.cache_control.empty()) res.set_header("Cache-Control", d.options.cache_control);

  if (e.result == detail::Precondition::not_modified) {
    res.set_status(304);
    return;
  }
  if (e.result == detail::Precondition::failed) {
    res.text(412, "412 Precondition Failed\n");
    return;
  }
  res.set_header("Accept-Ranges", "bytes");
  if (!rep.coding.empty()) res.set_header("Content-Encoding", rep.coding);

  std::vector<detail::ByteRange> ranges;
  const detail::RangeOutcome outcome =
      e.honour_range ? detail::resolve_ranges(range, size, d.options.max_ranges, ranges)
                     : detail::RangeOutcome::ignore;
  if (outcome == detail::RangeOutcome::unsatisfiable) {
    res.set_header("Content-Range", "bytes */" + decimal(size));  // 14.4, 15.5.17
    res.text(416, "416 Range Not Satisfiable\n");
    return;
  }
  // A 206 answering If-Range leaves out the representation fields the
  // client already has (15.3.7); every other answer carries them.
  const bool partial = outcome == detail::RangeOutcome::partial;
  if (!(partial && !if_range.empty())) {
    if (rep.last_modified)
      res.set_header("Last-Modified", http::format_http_date(*rep.last_modified));
  }
  if (!partial) {
    res.set_status(200);
    res.set_header("Content-Type", content_type);
    res.write_file(rep.fd.release(), 0, size);
    return;
  }
  res.set_status(206);
  if (ranges.size() == 1) {
    const detail::ByteRange& r = ranges[0];
    if (if_range.empty()) res.set_header("Content-Type", content_type);
    res.set_header("Content-Range",
                   "bytes " + decimal(r.first) + "-" + decimal(r.last) + "/" + decimal(size));
    res.write_file(rep.fd.release(), r.first, r.length());
    return;
  }
  // multipart/byteranges (14.6): each part with its Content-Type (and the
  // sibling's Content-Encoding, which the multipart body itself does not
  // have) and Content-Range; no Content-Range in the head (15.3.7).
  const std::string b = boundary();
  res.remove_header("Content-Encoding");
  res.set_header("Content-Type", "multipart/byteranges; boundary=" + b);
  const int fd = rep.fd.release();
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    const detail::ByteRange& r = ranges[i];
    std::string part =
        (i == 0 ? "--" : "\r\n--") + b + "\r\nContent-Type: " + content_type + "\r\n";
    if (!rep.coding.empty()) part += "Content-Encoding: " + rep.coding + "\r\n";
    part += "Content-Range: bytes " + decimal(r.first) + "-" + decimal(r.last) + "/" +
            decimal(size) + "\r\n\r\n";
    res.write(part);
    res.write_file(fd, r.first, r.length());
  }
  res.write("\r\n--" + b + "--\r\n");
}

void serve(const Dir& d, http::Request& req, http::Response& res) {
  if (req.method() != "GET" && req.method() != "HEAD") {
    res.set_header("Allow", "GET, HEAD");
    res.text(405, "405 Method Not Allowed\n");
    return;
  }
  // Inside a mount, req.route() is the whole pattern ("/static/*",
  // "/api/files/*path") while raw_path() lacks the mount's prefix: the
  // route is matched against the whole raw path that came in.
  std::string whole_storage;
  std::string_view whole = req.raw_path();
  if (!req.mount_prefix().empty()) {
    whole_storage.assign(req.mount_prefix()).append(req.raw_path());
    whole = whole_storage;
  }
  std::string_view raw = req.raw_path();
  if (!d.options.strip_prefix.empty()) {
    if (raw.substr(0, d.options.strip_prefix.size()) != d.options.strip_prefix) {
      answer(res, 404);
      return;
    }
    raw.remove_prefix(d.options.strip_prefix.size());
  } else if (const auto below = raw_below_route(req.route(), whole)) {
    raw = *below;
  }
  const bool trailing_slash = !req.raw_path().empty() && req.raw_path().back() == '/';
  CleanPath path = clean_path(raw, d.options.hidden_files);
  if (path.status != 0) {
    answer(res, path.status);
    return;
  }
  Fd fd(d.open_beneath(path.relative, 0));
  if (!fd) {
    answer(res, status_of_errno(-fd.release()));
    return;
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    answer(res, 404);
    return;
  }
  if (S_ISDIR(st.st_mode)) {
    if (!trailing_slash) {
      // The directory's own URL ends in '/': relative links in its index
      // then resolve inside it. A relative Location works under any prefix.
      std::string location(whole.substr(whole.rfind('/') + 1));
      location += "/";
      if (!req.raw_query().empty()) location += "?" + std::string(req.raw_query());
      res.set_header("Location", location);
      res.text(301, "301 Moved Permanently\n");
      return;
    }
    if (!d.options.index.empty()) {
      const std::string index_path =
          path.relative.empty() ? d.options.index : path.relative + "/" + d.options.index;
      Fd index(d.open_beneath(index_path, 0));
      struct stat ist {};
      if (index && ::fstat(index.get(), &ist) == 0 && S_ISREG(ist.st_mode)) {
        serve_file(d, req, res, index_path, std::move(index), ist);
        return;
      }
    }
    if (d.options.list_directories) {
      list_directory(d, req, res, std::move(fd), path.relative.empty());
      return;
    }
    answer(res, 403);
    return;
  }
  if (!S_ISREG(st.st_mode) || trailing_slash) {
    answer(res, 404);  // a device, a FIFO, a socket; a file asked for as a directory
    return;
  }
  serve_file(d, req, res, path.relative, std::move(fd), st);
}

}  // namespace

http::Handler serve_dir(std::string root, StaticOptions options) {
  auto d = std::make_shared<Dir>();
  d->root = root;
  const int fd = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    throw std::invalid_argument("serve_dir: cannot open the directory " + root + ": " +
                                std::strerror(errno));
  }
  d->root_fd = Fd(fd);
  char real[PATH_MAX];
  if (::realpath(root.c_str(), real) == nullptr) {
    throw std::invalid_argument("serve_dir: cannot resolve " + root + ": " + std::strerror(errno));
  }
  d->root_real = real;
  d->mime = detail::MimeTypes::load(options.mime_types);
  d->vary_types.emplace(options.vary_types, "serve_dir");
  for (const std::string& coding : options.precompressed) {
    std::string suffix;
    if (coding == "br") {
      suffix = ".br";
    } else if (coding == "zstd") {
      suffix = ".zst";
    } else if (coding == "gzip") {
      suffix = ".gz";
    } else {
      throw std::invalid_argument("serve_dir: precompressed coding \"" + coding +
                                  "\" is not one of br, zstd, gzip");
    }
    for (const Sibling& s : d->siblings) {
      if (s.coding == coding) {
        throw std::invalid_argument("serve_dir: precompressed coding \"" + coding +
                                    "\" is listed twice");
      }
    }
    d->siblings.push_back({coding, suffix});
  }
  for (const Sibling& s : d->siblings) d->sibling_names.push_back(s.coding);
  if (!options.strip_prefix.empty() &&
      (options.strip_prefix[0] != '/' || options.strip_prefix.back() == '/')) {
    throw std::invalid_argument("serve_dir: strip_prefix \"" + options.strip_prefix +
                                "\" must start with '/' and not end with one (e.g. /static)");
  }
  d->options = std::move(options);
  return [d](http::Request& req, http::Response& res) { serve(*d, req, res); };
}

}  // namespace cogo::middleware
