#include "cogo/http/response.h"

#include <stdexcept>
#include <string>

#include "exchange.h"
#include "text.h"

namespace cogo::http {

namespace {

// for_each_line() calls fn(line_begin, line_end, name) for each
// "Name: value\r\n" line of fields; fn returns false to stop.
template <class Fn>
void for_each_line(const std::string& fields, Fn fn) {
  std::size_t begin = 0;
  while (begin < fields.size()) {
    const std::size_t end = fields.find("\r\n", begin) + 2;
    const std::size_t colon = fields.find(':', begin);
    if (!fn(begin, end, std::string_view(fields).substr(begin, colon - begin))) return;
    begin = end;
  }
}

}  // namespace

void Response::reset(detail::Exchange* exchange, bool discard_body, std::size_t max_buffered) {
  exchange_ = exchange;
  fields_.clear();
  body_.clear();
  body_bytes_ = 0;
  max_buffered_ = max_buffered;
  status_ = 200;
  committed_ = false;
  discard_body_ = discard_body;
  close_ = has_server_ = has_date_ = false;
}

void Response::set_status(int status) {
  if (committed_) throw std::logic_error("http: set_status() after the response head was sent");
  if (status < 100 || status > 999) {
    throw std::invalid_argument("http: status " + std::to_string(status) +
                                " is not a 3-digit code");
  }
  status_ = status;
}

void Response::check_field(std::string_view name, std::string_view value, bool setting) {
  if (committed_) throw std::logic_error("http: header change after the response head was sent");
  if (name.empty()) throw std::invalid_argument("http: empty header name");
  for (char c : name) {
    if (!detail::is_token_char(static_cast<unsigned char>(c))) {
      throw std::invalid_argument("http: header name \"" + std::string(name) +
                                  "\" has a character outside RFC 9110 tokens");
    }
  }
  for (char c : value) {
    if (c == '\r' || c == '\n' || c == '\0') {
      throw std::invalid_argument("http: value of header " + std::string(name) +
                                  " contains CR, LF or NUL");
    }
  }
  if (iequals(name, "Content-Length") || iequals(name, "Transfer-Encoding")) {
    throw std::invalid_argument("http: " + std::string(name) +
                                " is set by the server from the body; write the body instead");
  }
  if (iequals(name, "Connection") &&
      !(setting && iequals(detail::trim_whitespace(value), "close"))) {
    throw std::invalid_argument(
        "http: the only Connection header a handler may set is \"Connection: close\"");
  }
}

void Response::set_header(std::string_view name, std::string_view value) {
  check_field(name, value, true);
  if (iequals(name, "Connection")) {
    close_ = true;
    return;
  }
  remove_header(name);
  add_header(name, value);
}

void Response::add_header(std::string_view name, std::string_view value) {
  check_field(name, value, true);
  if (iequals(name, "Connection")) {
    close_ = true;
    return;
  }
  if (iequals(name, "Server")) has_server_ = true;
  if (iequals(name, "Date")) has_date_ = true;
  fields_.append(name);
  fields_.append(": ");
  fields_.append(value);
  fields_.append("\r\n");
}

void Response::remove_header(std::string_view name) {
  if (committed_) throw std::logic_error("http: header change after the response head was sent");
  std::size_t begin = 0;
  bool removed = false;
  while (begin < fields_.size()) {
    const std::size_t end = fields_.find("\r\n", begin) + 2;
    const std::size_t colon = fields_.find(':', begin);
    if (iequals(std::string_view(fields_).substr(begin, colon - begin), name)) {
      fields_.erase(begin, end - begin);
      removed = true;
    } else {
      begin = end;
    }
  }
  if (!removed) return;
  if (iequals(name, "Server")) has_server_ = false;
  if (iequals(name, "Date")) has_date_ = false;
}

std::string_view Response::header(std::string_view name) const noexcept {
  std::string_view found;
  for_each_line(fields_, [&](std::size_t begin, std::size_t end, std::string_view line_name) {
    if (!iequals(line_name, name)) return true;
    found = std::string_view(fields_).substr(begin + line_name.size() + 2,
                                             end - begin - line_name.size() - 4);
    return false;
  });
  return found;
}

void Response::write(std::string_view data) {
  body_bytes_ += data.size();
  if (discard_body_) return;
  body_.append(data);
  if (body_.size() >= max_buffered_ && exchange_ != nullptr) flush();
}

void Response::flush() {
  exchange_->flush_response();
}

void Response::replace_body(std::string_view body) {
  if (!committed_) {
    body_.clear();
    body_bytes_ = 0;
  }
  write(body);
}

void Response::text(int status, std::string_view body) {
  set_status(status);
  set_header("Content-Type", "text/plain; charset=utf-8");
  replace_body(body);
}

void Response::json(int status, std::string_view body) {
  set_status(status);
  set_header("Content-Type", "application/json");
  replace_body(body);
}

}  // namespace cogo::http
