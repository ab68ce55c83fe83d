#include "cogo/http/request.h"

#include <algorithm>

#include "exchange.h"
#include "text.h"

namespace cogo::http {

const cogo::Context Request::background_context_{};

std::optional<std::uint64_t> Request::content_length() const noexcept {
  if (!has_content_length_) return std::nullopt;
  return content_length_;
}

std::string_view Request::header(std::string_view name) const noexcept {
  for (std::size_t i = 0; i < field_count_; ++i) {
    if (iequals(fields_[i].name, name)) return fields_[i].value;
  }
  return {};
}

bool Request::has_header(std::string_view name) const noexcept {
  for (std::size_t i = 0; i < field_count_; ++i) {
    if (iequals(fields_[i].name, name)) return true;
  }
  return false;
}

std::vector<std::string_view> Request::headers(std::string_view name) const {
  std::vector<std::string_view> values;
  for (std::size_t i = 0; i < field_count_; ++i) {
    if (iequals(fields_[i].name, name)) values.push_back(fields_[i].value);
  }
  return values;
}

std::string_view Request::param(std::string_view name) const noexcept {
  for (const Field& f : params_) {
    if (f.name == name) return f.value;
  }
  return {};
}

void Request::parse_query() const {
  query_.clear();
  query_storage_.clear();
  // Decoded text is never longer than the raw query: with this reserve the
  // views into query_storage_ stay valid while it fills.
  query_storage_.reserve(raw_query_.size());
  auto decoded = [this](std::string_view raw) -> std::string_view {
    if (!detail::needs_decoding(raw, true)) return raw;
    const std::size_t from = query_storage_.size();
    detail::percent_decode(raw, query_storage_, true, true);
    return std::string_view(query_storage_.data() + from, query_storage_.size() - from);
  };
  std::string_view rest = raw_query_;
  while (!rest.empty()) {
    const std::size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    const std::string_view name = decoded(pair.substr(0, eq));
    const std::string_view value =
        eq == std::string_view::npos ? std::string_view() : decoded(pair.substr(eq + 1));
    query_.push_back(Field{name, value});
  }
  query_parsed_ = true;
}

std::span<const Field> Request::query_params() const {
  if (!query_parsed_) parse_query();
  return query_;
}

std::string_view Request::query(std::string_view name) const {
  for (const Field& f : query_params()) {
    if (f.name == name) return f.value;
  }
  return {};
}

bool Request::has_query(std::string_view name) const {
  for (const Field& f : query_params()) {
    if (f.name == name) return true;
  }
  return false;
}

std::size_t Request::read(void* buf, std::size_t size) {
  return exchange_->read_body(buf, size);
}

void Request::set_remote_address(std::string_view address) {
  remote_storage_.assign(address);
  remote_address_ = remote_storage_;
}

void Request::limit_body(std::uint64_t n) noexcept { exchange_->limit_body(n); }

std::string Request::body() {
  std::string out;
  const std::uint64_t limit = exchange_->body_limit();
  if (has_content_length_)
    out.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(content_length_, limit)));
  std::size_t chunk = 16 * 1024;
  for (;;) {
    const std::size_t used = out.size();
    out.resize(used + chunk);
    const std::size_t n = read(out.data() + used, chunk);
    out.resize(used + n);
    if (n == 0) return out;
    if (chunk < 256 * 1024) chunk *= 2;
  }
}

}  // namespace cogo::http
