// cogo/http/stream.h: the byte stream the HTTP engine talks to.
//
// The engine never touches a socket directly. It reads and writes through a
// Stream in blocking style, so the same engine runs over a goroutine's netpoll
// connection (a blocking call parks the goroutine), a thread's blocking socket
// (FdStream) or a TLS session layered over either.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>

#include "cogo/http/error.h"
#include "cogo/net.h"

namespace cogo::http {

// Deadline is an absolute point on the monotonic clock; no_deadline (the
// netpoller's kNoDeadline, the latest time point) disables it.
using Deadline = net::Clock::time_point;
inline constexpr Deadline no_deadline = net::kNoDeadline;

// ConstBuffer is one piece of a gathered write (the layout of POSIX iovec):
// the netpoller's, so a gathered write reaches net::Conn as it is.
using net::ConstBuffer;

// TimeoutError is what a Stream throws when a read or write deadline passes.
// It is distinct from other I/O errors so the engine can answer 408 to a slow
// request head or body and close an idle connection silently.
// (cogo/http/error.h, public: a handler may see it from Request::read()).

// Stream is a connected, full-duplex byte stream. One engine call uses it from
// one thread or goroutine at a time, so implementations need no locking
// beyond this: after an upgrade (cogo/http/upgrade.h) one reader and one
// writer may use it at once, so the read side (read, try_read,
// wait_readable, the read deadline) and the write side (writes, the write
// deadline, shutdown_write) share no unguarded state.
//
// Errors: a passed deadline throws TimeoutError; any other failure (reset,
// broken pipe) throws std::system_error. End of input is not an error.
class Stream {
 public:
  // would_block is try_read()'s answer when no input is ready.
  static constexpr std::ptrdiff_t would_block = -1;

  virtual ~Stream() = default;

  // read() blocks until input is available (or the read deadline passes) and
  // returns how many bytes it stored in buf (1..size), or 0 at end of input.
  virtual std::size_t read(void* buf, std::size_t size) = 0;

  // try_read() never blocks or parks: it returns the bytes read (> 0), 0 at
  // end of input, or would_block. The engine uses it to learn that a
  // keep-alive connection has nothing more to say, so it can let go of the
  // connection's buffers (and, under the netpoller, of its goroutine).
  virtual std::ptrdiff_t try_read(void* buf, std::size_t size) = 0;

  // wait_readable() waits until input may be ready (or the read deadline
  // passes: TimeoutError), moving no byte: a reader that holds no buffer
  // while it waits (an upgraded WebSocket in read()) then calls try_read().
  // It may return spuriously. The default cannot wait (std::logic_error).
  virtual void wait_readable();

  // write_all() writes all of data, blocking as needed (or until the write
  // deadline passes).
  virtual void write_all(const void* data, std::size_t size) = 0;

  // writev_all() writes the buffers in order as if concatenated; a socket
  // does this in one system call when the kernel buffer has room. The default
  // calls write_all() once per buffer.
  virtual void writev_all(std::span<const ConstBuffer> buffers);

  // send_file() writes length bytes of the regular file fd from offset,
  // blocking as needed (under the write deadline), like write_all(). The
  // default reads the file in pieces (a read that would wait for the disk
  // in a blocking section: file_io.h) and writes them; a plain socket sends
  // with sendfile(2) instead. Throws as write_all() does, and
  // std::system_error (EIO) if the file ends first.
  virtual void send_file(int fd, std::uint64_t offset, std::uint64_t length);

  // set_read_deadline() bounds every following read(); no_deadline clears it.
  virtual void set_read_deadline(Deadline deadline) = 0;
  // set_write_deadline() bounds every following write; no_deadline clears it.
  virtual void set_write_deadline(Deadline deadline) = 0;

  // shutdown_write() sends end-of-stream to the peer while input can still
  // be read: the engine does this before it drains and closes a connection,
  // so that unread input does not turn the close into a reset that destroys
  // the response in flight. The default does nothing.
  virtual void shutdown_write() {}

  // input_drained() is true when the last read took everything the source
  // held (a short read of a socket): try_read() would say would_block, and a
  // readiness-driven caller learns of new input from the poller. The engine
  // then goes idle without that read. The default, false, always asks.
  virtual bool input_drained() const noexcept { return false; }

  // native_fd() is the socket under the stream, for the hang-up watch (-1:
  // none, nothing is watched).
  virtual int native_fd() const noexcept { return -1; }

  // secure() tells whether the stream is TLS (the request's scheme is https).
  virtual bool secure() const noexcept { return false; }
};

}  // namespace cogo::http
