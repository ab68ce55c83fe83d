// cogo/http/conn_stream.h: the HTTP engine's Stream over a netpoll
// connection — the goroutine model's stream. A read that would block parks
// the goroutine; the poller readies it when bytes arrive.
//
// Deadlines are lazy: set_read_deadline() and set_write_deadline() only
// record the wish, and a read or write hands it to the poller (which arms a
// timer) only when it is about to park. A request that arrives whole and a
// response that fits the socket buffer — nearly all of them — touch no timer.
#pragma once

#include "cogo/http/stream.h"
#include "cogo/net.h"

namespace cogo::http {

class ConnStream final : public Stream {
 public:
  // ConnStream() borrows conn, which must outlive it.
  explicit ConnStream(net::Conn& conn) noexcept : conn_(&conn) {}

  std::size_t read(void* buf, std::size_t size) override;
  std::ptrdiff_t try_read(void* buf, std::size_t size) override;
  void wait_readable() override;
  void write_all(const void* data, std::size_t size) override;
  void writev_all(std::span<const ConstBuffer> buffers) override;
  // send_file() uses sendfile(2): parks on a full socket like writev_all();
  // a range not in the page cache is sent in a blocking section.
  void send_file(int fd, std::uint64_t offset, std::uint64_t length) override;
  void set_read_deadline(Deadline deadline) override { want_rd_ = deadline; }
  void set_write_deadline(Deadline deadline) override { want_wd_ = deadline; }
  void shutdown_write() override;
  bool input_drained() const noexcept override { return drained_; }
  int native_fd() const noexcept override { return conn_->native_handle(); }

  // note_readable(): the poller reported new input since the last read, so
  // input_drained() no longer holds.
  void note_readable() noexcept { drained_ = false; }

  // apply_read_deadline() hands a read deadline to the poller now: the one a
  // connection waiting in net::Conn::await_readable() is woken by.
  void apply_read_deadline(Deadline deadline);
  // applied_read_deadline() is the read deadline the poller holds.
  Deadline applied_read_deadline() const noexcept { return set_rd_; }

 private:
  void sync_read_deadline();
  void sync_write_deadline();

  net::Conn* conn_;
  Deadline want_rd_ = no_deadline;  // what the engine asked for
  Deadline set_rd_ = no_deadline;   // what the poller holds
  Deadline want_wd_ = no_deadline;
  Deadline set_wd_ = no_deadline;
  bool drained_ = false;
};

}  // namespace cogo::http
