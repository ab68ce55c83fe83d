// conn_stream.cpp: Stream over net::Conn. Errors become the engine's
// exceptions: a passed deadline is TimeoutError, end of input is a 0 read.
//
// Boundary reads and first write attempts use net::Conn's try_read and
// try_writev, which never park; only what would block goes through the
// parking calls, under the deadline, which is handed to the poller then.
#include "cogo/http/conn_stream.h"

#include <vector>

#include "cogo/cancel.h"

namespace cogo::http {
namespace {

[[noreturn]] void raise(const std::error_code& ec, const char* op) {
  cogo::throw_if_cancelled(ec);
  if (net::is_timeout(ec)) throw TimeoutError(op);
  throw std::system_error(ec, op);
}

}  // namespace

void ConnStream::apply_read_deadline(Deadline deadline) {
  want_rd_ = set_rd_ = deadline;
  conn_->set_read_deadline(deadline);
}

void ConnStream::sync_read_deadline() {
  if (want_rd_ == set_rd_) return;
  set_rd_ = want_rd_;
  conn_->set_read_deadline(want_rd_);
}

void ConnStream::sync_write_deadline() {
  if (want_wd_ == set_wd_) return;
  set_wd_ = want_wd_;
  conn_->set_write_deadline(want_wd_);
}

std::size_t ConnStream::read(void* buf, std::size_t size) {
  if (want_rd_ != set_rd_) {
    // The deadline changed: try without it first, arm it only to park.
    const std::ptrdiff_t n = try_read(buf, size);
    if (n != would_block) return static_cast<std::size_t>(n);
    sync_read_deadline();
  }
  std::error_code ec;
  const std::size_t n = conn_->read(buf, size, ec);
  if (ec) {
    if (net::is_eof(ec)) return 0;
    raise(ec, "read");
  }
  drained_ = n < size;
  return n;
}

std::ptrdiff_t ConnStream::try_read(void* buf, std::size_t size) {
  std::error_code ec;
  const std::size_t n = conn_->try_read(buf, size, ec);
  if (!ec) {
    drained_ = n < size;
    return static_cast<std::ptrdiff_t>(n);
  }
  if (ec == std::errc::resource_unavailable_try_again) {
    drained_ = true;
    return would_block;
  }
  drained_ = false;
  if (net::is_eof(ec)) return 0;
  raise(ec, "read");
}

void ConnStream::write_all(const void* data, std::size_t size) {
  const ConstBuffer one{data, size};
  writev_all(std::span<const ConstBuffer>(&one, 1));
}

void ConnStream::writev_all(std::span<const ConstBuffer> buffers) {
  std::span<const net::ConstBuffer> pending = buffers;
  std::error_code ec;
  std::size_t done = conn_->try_writev(pending, ec);
  if (!ec) return;
  if (ec != std::errc::resource_unavailable_try_again) raise(ec, "write");
  // The socket buffer is full: the rest waits in the poller, under the write
  // deadline. Skip what went out.
  std::vector<net::ConstBuffer> rest;
  for (const net::ConstBuffer& b : pending) {
    if (done >= b.size) {
      done -= b.size;
      continue;
    }
    rest.push_back(net::ConstBuffer{static_cast<const char*>(b.data) + done, b.size - done});
    done = 0;
  }
  sync_write_deadline();
  conn_->writev(rest, ec);
  if (ec) raise(ec, "write");
}

void ConnStream::shutdown_write() {
  std::error_code ec;
  conn_->close_write(ec);
}

}  // namespace cogo::http
