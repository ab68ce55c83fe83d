#include "cogo/http/stream.h"

namespace cogo::http {

void Stream::writev_all(std::span<const ConstBuffer> buffers) {
  for (const ConstBuffer& b : buffers) write_all(b.data, b.size);
}

}  // namespace cogo::http
