// conn_stream.cpp: Stream over net::Conn. Errors become the engine's
// exceptions: a passed deadline is TimeoutError, end of input is a 0 read.
//
// Boundary reads and first write attempts use net::Conn's try_read and
// try_writev, which never park; only what would block goes through the
// parking calls, under the deadline, which is handed to the poller then.
#include "cogo/http/conn_stream.h"

#include <sys/sendfile.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "cogo/cancel.h"
#include "cogo/runtime.h"
#include "file_io.h"

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

void ConnStream::wait_readable() {
  sync_read_deadline();
  std::error_code ec;
  conn_->wait_readable(ec);
  if (ec) raise(ec, "read");
  drained_ = false;
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

void ConnStream::send_file(int fd, std::uint64_t offset, std::uint64_t length) {
  // Checked against the page cache a piece at a time: a piece that is not
  // cached goes out in a blocking section (sendfile reads it from the disk
  // first), so the P serves other goroutines meanwhile.
  constexpr std::uint64_t kPiece = 4 * 1024 * 1024;
  detail::FileIoCounters& counters = detail::file_io_counters();
  const int sock = conn_->native_handle();
  std::uint64_t checked_end = offset;
  bool cached = true;
  while (length > 0) {
    if (offset >= checked_end) {
      const std::uint64_t piece = std::min(length, kPiece);
      cached = detail::file_range_cached(fd, offset, piece);
      checked_end = offset + piece;
    }
    const auto count = static_cast<std::size_t>(std::min(length, checked_end - offset));
    auto pos = static_cast<off_t>(offset);
    int err = 0;
    auto send = [&] {
      const ssize_t n = ::sendfile(sock, fd, &pos, count);
      err = n < 0 ? errno : 0;
      return n;
    };
    ssize_t n;
    if (cached) {
      n = send();
    } else {
      counters.blocking_sends.fetch_add(1, std::memory_order_relaxed);
      n = cogo::blocking(send);
    }
    counters.sendfile_calls.fetch_add(1, std::memory_order_relaxed);
    if (n > 0) {
      offset += static_cast<std::uint64_t>(n);
      length -= static_cast<std::uint64_t>(n);
      continue;
    }
    if (n == 0) {
      throw std::system_error(EIO, std::generic_category(),
                              "sendfile: the file is shorter than when the response began");
    }
    if (err == EINTR) continue;
    if (err != EAGAIN) raise(std::error_code(err, std::generic_category()), "write");
    // The socket buffer is full: wait for room in the poller, under the
    // write deadline, as writev_all() does.
    sync_write_deadline();
    std::error_code ec;
    conn_->wait_writable(ec);
    if (ec) raise(ec, "write");
  }
}

void ConnStream::shutdown_write() {
  std::error_code ec;
  conn_->close_write(ec);
}

}  // namespace cogo::http
