// conn_stream.cpp: Stream over net::Conn. Errors become the engine's
// exceptions: a passed deadline is TimeoutError, end of input is a 0 read.
#include "cogo/http/conn_stream.h"

#include <sys/socket.h>

#include <cerrno>

namespace cogo::http {
namespace {

[[noreturn]] void raise(const std::error_code& ec, const char* op) {
  if (net::is_timeout(ec)) throw TimeoutError(op);
  throw std::system_error(ec, op);
}

net::Clock::time_point to_net(Deadline d) {
  return d == no_deadline ? net::kNoDeadline : d;
}

}  // namespace

std::size_t ConnStream::read(void* buf, std::size_t size) {
  std::error_code ec;
  std::size_t n = conn_->read(buf, size, ec);
  if (!ec) return n;
  if (net::is_eof(ec)) return 0;
  raise(ec, "read");
}

std::ptrdiff_t ConnStream::try_read(void* buf, std::size_t size) {
  // The fd is non-blocking; reading it directly never parks. The poll
  // descriptor stays consistent: a later read() that sees EAGAIN parks as usual.
  for (;;) {
    ssize_t n = ::recv(conn_->native_handle(), buf, size, MSG_DONTWAIT);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return would_block;
    throw std::system_error(errno, std::generic_category(), "read");
  }
}

void ConnStream::write_all(const void* data, std::size_t size) {
  std::error_code ec;
  conn_->write_all(data, size, ec);
  if (ec) raise(ec, "write");
}

void ConnStream::writev_all(std::span<const ConstBuffer> buffers) {
  static_assert(sizeof(ConstBuffer) == sizeof(net::ConstBuffer));
  std::error_code ec;
  conn_->writev(std::span<const net::ConstBuffer>(
                    reinterpret_cast<const net::ConstBuffer*>(buffers.data()), buffers.size()),
                ec);
  if (ec) raise(ec, "write");
}

void ConnStream::set_read_deadline(Deadline deadline) {
  conn_->set_read_deadline(to_net(deadline));
}

void ConnStream::set_write_deadline(Deadline deadline) {
  conn_->set_write_deadline(to_net(deadline));
}

void ConnStream::shutdown_write() {
  std::error_code ec;
  conn_->close_write(ec);
}

}  // namespace cogo::http
