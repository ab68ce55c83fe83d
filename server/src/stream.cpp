// stream.cpp: Stream's default gathered write and file send.
#include "cogo/http/stream.h"

#include <algorithm>
#include <memory>
#include <stdexcept>

#include "file_io.h"

namespace cogo::http {

void Stream::writev_all(std::span<const ConstBuffer> buffers) {
  for (const ConstBuffer& b : buffers) write_all(b.data, b.size);
}

void Stream::send_file(int fd, std::uint64_t offset, std::uint64_t length) {
  // A buffer per call, not per thread: a goroutine may park in write_all()
  // and resume on another thread while this one serves someone else.
  constexpr std::uint64_t kPiece = 64 * 1024;
  const std::size_t size = static_cast<std::size_t>(std::min(length, kPiece));
  std::unique_ptr<char[]> buf(new char[size]);
  while (length > 0) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(length, size));
    detail::read_file_exact(fd, buf.get(), n, offset);
    write_all(buf.get(), n);
    offset += n;
    length -= n;
  }
}

void Stream::wait_readable() {
  throw std::logic_error("http: this stream cannot wait for input without reading");
}

}  // namespace cogo::http
