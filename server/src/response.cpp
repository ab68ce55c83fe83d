#include "cogo/http/response.h"

#include <stdexcept>
#include <string>

#include "exchange.h"
#include "text.h"

namespace cogo::http {

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

void Response::check_field(std::string_view name, std::string_view value) {
  if (committed_) throw std::logic_error("http: header change after the response head was sent");
  if (!detail::is_token(name)) {
    throw std::invalid_argument("http: header name \"" + std::string(name) +
                                "\" is empty or has a character outside RFC 9110 tokens");
  }
  if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
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
  const std::string_view fields = fields_;
  std::size_t begin = 0;
  while (begin < fields.size()) {
    const std::size_t end = fields.find("\r\n", begin);
    const std::size_t colon = fields.find(':', begin);
    if (iequals(fields.substr(begin, colon - begin), name))
      return fields.substr(colon + 2, end - colon - 2);
    begin = end + 2;
  }
  return {};
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
  set_content_type("text/plain; charset=utf-8");
  replace_body(body);
}

void Response::json(int status, std::string_view body) {
  set_status(status);
  set_content_type("application/json");
  replace_body(body);
}

}  // namespace cogo::http
