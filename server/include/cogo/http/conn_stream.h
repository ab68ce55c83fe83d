// cogo/http/conn_stream.h: the HTTP engine's Stream over a netpoll
// connection — the goroutine model's stream. A read that would block parks
// the goroutine; the poller readies it when bytes arrive.
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
  void write_all(const void* data, std::size_t size) override;
  void writev_all(std::span<const ConstBuffer> buffers) override;
  void set_read_deadline(Deadline deadline) override;
  void set_write_deadline(Deadline deadline) override;
  void shutdown_write() override;

 private:
  net::Conn* conn_;
};

}  // namespace cogo::http
