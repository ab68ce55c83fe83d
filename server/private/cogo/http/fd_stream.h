// cogo/http/fd_stream.h: a Stream over a blocking socket file descriptor.
//
// This is the stream of the thread-per-connection model (one OS thread blocks
// in each call) and of the engine's tests. Deadlines are mapped onto the
// socket's SO_RCVTIMEO / SO_SNDTIMEO, which are only updated when the wanted
// timeout moved noticeably, so a keep-alive loop costs one system call per
// read rather than a poll() plus a read().
#pragma once

#include "cogo/http/stream.h"

namespace cogo::http {

class FdStream final : public Stream {
 public:
  // FdStream() takes ownership of fd, a connected stream socket, and puts it
  // into blocking mode.
  explicit FdStream(int fd);
  ~FdStream() override;
  FdStream(const FdStream&) = delete;
  FdStream& operator=(const FdStream&) = delete;

  std::size_t read(void* buf, std::size_t size) override;
  std::ptrdiff_t try_read(void* buf, std::size_t size) override;
  void wait_readable() override;
  void write_all(const void* data, std::size_t size) override;
  void writev_all(std::span<const ConstBuffer> buffers) override;
  // send_file() uses sendfile(2) on the blocking socket (a disk wait blocks
  // only this connection's thread).
  void send_file(int fd, std::uint64_t offset, std::uint64_t length) override;
  void set_read_deadline(Deadline deadline) override { read_deadline_ = deadline; }
  void set_write_deadline(Deadline deadline) override { write_deadline_ = deadline; }
  void shutdown_write() override;
  int native_fd() const noexcept override { return fd_; }

  // fd() is the socket; release() gives up ownership of it and returns it.
  int fd() const noexcept { return fd_; }
  int release() noexcept;

 private:
  void arm(int option, Deadline deadline, long& armed_us);

  int fd_;
  Deadline read_deadline_ = no_deadline;
  Deadline write_deadline_ = no_deadline;
  long rcv_timeout_us_ = 0;  // SO_RCVTIMEO currently set on fd_ (0 = none)
  long snd_timeout_us_ = 0;  // SO_SNDTIMEO currently set on fd_ (0 = none)
};

}  // namespace cogo::http
