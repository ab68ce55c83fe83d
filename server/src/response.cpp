#include "cogo/http/response.h"

#include <unistd.h>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>

#include "cogo/http/body_filter.h"
#include "exchange.h"
#include "file_io.h"
#include "text.h"

namespace cogo::http {

namespace {

// field_named() tells whether the "Name: value\r\n" line of fields at begin
// is called name. A name is a token (no ':'), and values hold no CR or LF
// (check_field): the name ends at begin + name.size() exactly when a ':'
// is there, so a field of another length costs one compare, not a search
// for its ':' and a case-folding compare (a gzip64k request scans its ~7
// fields a dozen times: set_header, header, remove_header). The callers
// first turn away a name with a ':' (no field has one in its name).
bool field_named(std::string_view fields, std::size_t begin, std::string_view name) noexcept {
  const std::size_t colon = begin + name.size();
  return colon < fields.size() && fields[colon] == ':' &&
         iequals(fields.substr(begin, name.size()), name);
}

}  // namespace

void Response::reset(detail::Exchange* exchange, bool discard_body, std::size_t max_buffered) {
  exchange_ = exchange;
  filter_ = nullptr;
  fields_.clear();
  body_.clear();
  if (unusual_ != 0) [[unlikely]]
    close_file();
  body_bytes_ = 0;
  removals_ = 0;
  max_buffered_ = max_buffered;
  status_ = 200;
  committed_ = false;
  discard_body_ = discard_body;
  close_ = has_server_ = has_date_ = filter_begun_ = false;
}

void Response::close_file() noexcept {
  if (file_fd_ >= 0) ::close(file_fd_);
  file_fd_ = -1;
  files_.clear();
  unusual_ = 0;
}

void Response::set_status(int status) {
  if (committed_) throw std::logic_error("http: set_status() after the response head was sent");
  if (status < 100 || status > 999) {
    throw std::invalid_argument("http: status " + std::to_string(status) +
                                " is not a 3-digit code");
  }
  status_ = status;
}

void Response::check_field(std::string_view name, std::string_view value) {
  if (committed_) throw std::logic_error("http: header change after the response head was sent");
  if (!detail::is_token(name)) {
    throw std::invalid_argument("http: header name \"" + std::string(name) +
                                "\" is empty or has a character outside RFC 9110 tokens");
  }
  // One pass over the value (find_first_of with a set of three calls
  // memchr on the set once per character of the value: 2,100 instructions
  // a gzip64k request's seven fields, under loadtest/gzip_ir.sh).
  bool bad = false;
  for (const char c : value) bad |= c == '\r' || c == '\n' || c == '\0';
  if (bad) {
    throw std::invalid_argument("http: value of header " + std::string(name) +
                                " contains CR, LF or NUL");
  }
  if (iequals(name, "Content-Length") || iequals(name, "Transfer-Encoding")) {
    throw std::invalid_argument("http: " + std::string(name) +
                                " is set by the server from the body; write the body instead");
  }
}

// connection_field() handles a Connection field: "close" is the one value a
// handler may ask for. Returns false for any other name.
bool Response::connection_field(std::string_view name, std::string_view value) {
  if (name.size() != 10 || !iequals(name, "Connection")) return false;
  if (!iequals(detail::trim_whitespace(value), "close")) {
    throw std::invalid_argument(
        "http: the only Connection header a handler may set is \"Connection: close\"");
  }
  close_ = true;
  return true;
}

void Response::set_header(std::string_view name, std::string_view value) {
  check_field(name, value);
  if (connection_field(name, value)) return;
  if (!fields_.empty()) remove_header(name);
  append_field(name, value);
}

void Response::add_header(std::string_view name, std::string_view value) {
  check_field(name, value);
  if (connection_field(name, value)) return;
  append_field(name, value);
}

void Response::append_field(std::string_view name, std::string_view value) {
  if (name.size() == 6 && iequals(name, "Server")) has_server_ = true;
  if (name.size() == 4 && iequals(name, "Date")) has_date_ = true;
  fields_.append(name);
  fields_.append(": ", 2);
  fields_.append(value);
  fields_.append("\r\n", 2);
}

void Response::set_content_type(std::string_view value) {
  if (committed_) throw std::logic_error("http: header change after the response head was sent");
  if (!fields_.empty()) remove_header("Content-Type");
  append_field("Content-Type", value);
}

void Response::remove_header(std::string_view name) {
  if (committed_) throw std::logic_error("http: header change after the response head was sent");
  if (name.find(':') != std::string_view::npos) return;
  std::size_t begin = 0;
  bool removed = false;
  while (begin < fields_.size()) {
    const std::size_t end = fields_.find("\r\n", begin) + 2;
    if (field_named(fields_, begin, name)) {
      fields_.erase(begin, end - begin);
      removed = true;
    } else {
      begin = end;
    }
  }
  if (!removed) return;
  ++removals_;
  if (iequals(name, "Server")) has_server_ = false;
  if (iequals(name, "Date")) has_date_ = false;
}

namespace {

// each_value() calls f with the value of every field named name in fields
// (the "Name: value\r\n" lines a Response holds) until f returns false.
template <class F>
void each_value(std::string_view fields, std::string_view name, F&& f) {
  if (name.find(':') != std::string_view::npos) return;
  std::size_t begin = 0;
  while (begin < fields.size()) {
    const std::size_t end = fields.find("\r\n", begin);
    if (field_named(fields, begin, name)) {
      const std::size_t value = begin + name.size() + 2;
      if (!f(fields.substr(value, end - value))) return;
    }
    begin = end + 2;
  }
}

}  // namespace

std::string_view Response::header(std::string_view name) const noexcept {
  std::string_view found;
  each_value(fields_, name, [&](std::string_view value) {
    found = value;
    return false;
  });
  return found;
}

std::vector<std::string_view> Response::headers(std::string_view name) const {
  std::vector<std::string_view> out;
  each_value(fields_, name, [&](std::string_view value) {
    out.push_back(value);
    return true;
  });
  return out;
}

void Response::reset_to(const Mark& m) {
  if (committed_) throw std::logic_error("http: reset_to() after the response head was sent");
  status_ = 200;
  body_.clear();
  body_bytes_ = 0;
  if (file_fd_ >= 0) close_file();  // the handler's write_file()
  if (removals_ != m.removals || m.fields_size > fields_.size()) {
    fields_.clear();
  } else {
    fields_.resize(m.fields_size);
  }
  // What is left may have lost a Server or Date field.
  has_server_ = has_date_ = false;
  const std::string_view fields = fields_;
  for (std::size_t begin = 0; begin < fields.size(); begin = fields.find("\r\n", begin) + 2) {
    const std::string_view name = fields.substr(begin, fields.find(':', begin) - begin);
    has_server_ = has_server_ || iequals(name, "Server");
    has_date_ = has_date_ || iequals(name, "Date");
  }
}

void Response::write(std::string_view data) {
  body_bytes_ += data.size();
  if (discard_body_) return;
  body_.append(data);
  if (body_.size() >= max_buffered_ && exchange_ != nullptr && file_fd_ < 0) {
    // Too much to hold: stream it. A filter sees it as more of the body,
    // not as a flush the handler asked for.
    if (filter_ != nullptr) run_filter(static_cast<int>(BodyFilter::Mode::more), false);
    exchange_->flush_response();
  }
}

void Response::write_file(int fd, std::uint64_t offset, std::uint64_t length) {
  if (committed_) {
    if (fd != file_fd_) ::close(fd);
    throw std::logic_error("http: write_file() after the response head was sent");
  }
  if (file_fd_ >= 0 && fd != file_fd_) {
    ::close(fd);
    throw std::logic_error("http: write_file() with a second file; a response sends ranges of one");
  }
  file_fd_ = fd;
  unusual_ |= kFileBody;
  body_bytes_ += length;
  if (discard_body_ || length == 0) return;
  files_.push_back(FilePiece{body_.size(), offset, length});
}

void Response::flush() {
  if (file_fd_ >= 0) {
    throw std::logic_error("http: flush() of a response with a file body; it is sent whole");
  }
  if (filter_ != nullptr) run_filter(static_cast<int>(BodyFilter::Mode::flush), false);
  exchange_->flush_response();
}

bool Response::set_body_filter(BodyFilter* filter) noexcept {
  if (filter_ != nullptr || committed_) return false;
  filter_ = filter;
  filter_begun_ = false;
  return true;
}

// run_filter() passes what is buffered through the filter (mode: a
// BodyFilter::Mode), calling its begin() first. whole_body: the handler is
// done and everything is buffered (finish_body_filter before the head).
void Response::run_filter(int mode, bool whole_body) {
  if (!filter_begun_) {
    filter_begun_ = true;
    if (!filter_->begin(*this, whole_body)) {
      filter_ = nullptr;
      return;
    }
    if (discard_body_) unusual_ |= kLengthUnknown;
  }
  if (discard_body_) return;
  if (!files_.empty()) {
    filter_file_body();  // only whole bodies have file pieces: never streamed
    return;
  }
  std::string in;
  in.swap(body_);
  body_.reserve(in.size() / 2 + 64);
  filter_->filter(in, body_, static_cast<BodyFilter::Mode>(mode));
  // From now on body_bytes_ counts what goes out (the transformed bytes).
  body_bytes_ = body_bytes_ - in.size() + body_.size();
}

// filter_file_body() is run_filter() for a whole body with file pieces
// (finish_body_filter only: a file body is never streamed): the text and the
// file's bytes pass through the filter in order, read a piece at a time.
// An output that outgrows max_buffered_ streams on (chunked), so a large
// file never sits in memory whole.
void Response::filter_file_body() {
  std::string text;
  text.swap(body_);
  std::vector<FilePiece> pieces;
  pieces.swap(files_);
  const int fd = file_fd_;
  struct CloseFd {
    int fd;
    ~CloseFd() { ::close(fd); }
  } close_fd{fd};
  file_fd_ = -1;
  unusual_ &= static_cast<std::uint8_t>(~kFileBody);
  body_bytes_ = 0;
  constexpr std::size_t kPiece = 64 * 1024;
  std::unique_ptr<char[]> buf(new char[kPiece]);
  auto pass = [&](std::string_view in) {
    const std::size_t before = body_.size();
    filter_->filter(in, body_, BodyFilter::Mode::more);
    body_bytes_ += body_.size() - before;
    if (body_.size() >= max_buffered_ && exchange_ != nullptr) exchange_->flush_response();
  };
  std::size_t text_at = 0;
  for (const FilePiece& piece : pieces) {
    if (piece.text_end > text_at)
      pass(std::string_view(text).substr(text_at, piece.text_end - text_at));
    text_at = piece.text_end;
    for (std::uint64_t done = 0; done < piece.length;) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(kPiece, piece.length - done));
      detail::read_file_exact(fd, buf.get(), n, piece.offset + done);
      pass(std::string_view(buf.get(), n));
      done += n;
    }
  }
  const std::size_t before = body_.size();
  filter_->filter(std::string_view(text).substr(text_at), body_, BodyFilter::Mode::finish);
  body_bytes_ += body_.size() - before;
}

void Response::finish_body_filter() {
  if (filter_ == nullptr) return;
  run_filter(static_cast<int>(BodyFilter::Mode::finish), !committed_);
  filter_ = nullptr;
}

void Response::replace_body(std::string_view body) {
  if (!committed_) {
    body_.clear();
    body_bytes_ = 0;
    if (file_fd_ >= 0) close_file();
  }
  write(body);
}

void Response::text(int status, std::string_view body) {
  set_status(status);
  set_content_type("text/plain; charset=utf-8");
  replace_body(body);
}

void Response::json(int status, std::string_view body) {
  set_status(status);
  set_content_type("application/json");
  replace_body(body);
}

}  // namespace cogo::http
