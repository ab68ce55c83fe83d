// upgrade.cpp: cogo::http::upgrade() and Upgraded (cogo/http/upgrade.h) —
// the public face of Exchange::upgrade() and of the engine's Stream.
#include "cogo/http/upgrade.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "cogo/http/request.h"
#include "cogo/http/response.h"
#include "cogo/http/stream.h"
#include "exchange.h"
#include "upgraded_access.h"

namespace cogo::http {

Upgraded upgrade(Request& req, Response& res) {
  if (req.exchange_ == nullptr || res.exchange_ != req.exchange_) {
    throw std::logic_error("http: upgrade() outside the handler serving this request");
  }
  const detail::Exchange::Upgrade u = req.exchange_->upgrade({});
  Upgraded up;
  up.stream_ = u.stream;
  up.buffered_ = u.buffered;
  return up;
}

void upgrade(Request& req, Response& res, UpgradeHandler fn) {
  if (req.exchange_ == nullptr || res.exchange_ != req.exchange_) {
    throw std::logic_error("http: upgrade() outside the handler serving this request");
  }
  if (!fn) throw std::invalid_argument("http: upgrade() with an empty handler");
  req.exchange_->upgrade(std::move(fn));
}

namespace {

Stream& stream_of(Stream* s) {
  if (s == nullptr) throw std::logic_error("http: use of an empty Upgraded");
  return *s;
}

}  // namespace

std::size_t Upgraded::read(void* buf, std::size_t size) {
  Stream& s = stream_of(stream_);
  if (size == 0) return 0;
  if (!buffered_.empty()) {
    const std::size_t n = std::min(size, buffered_.size());
    std::memcpy(buf, buffered_.data(), n);
    buffered_.remove_prefix(n);
    return n;
  }
  return s.read(buf, size);
}

void Upgraded::write(const void* data, std::size_t size) {
  stream_of(stream_).write_all(data, size);
}

void Upgraded::set_read_deadline(Deadline deadline) {
  stream_of(stream_).set_read_deadline(deadline);
}

void Upgraded::set_write_deadline(Deadline deadline) {
  stream_of(stream_).set_write_deadline(deadline);
}

void Upgraded::close_write() {
  stream_of(stream_).shutdown_write();
}

bool Upgraded::secure() const noexcept {
  return stream_ != nullptr && stream_->secure();
}

}  // namespace cogo::http
