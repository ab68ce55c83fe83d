// encoder.h: the compressors behind middleware::compress — gzip and deflate
// (zlib), br (libbrotli), zstd (libzstd) — behind one streaming interface,
// and the per-thread pool that reuses their state.
//
// Reuse matters: a deflate state is ~270 KiB of tables that deflateInit2
// allocates and clears, a zstd context a similar amount; both can be reset
// for the next stream at a fraction of that (deflateReset, ZSTD_CCtx_reset).
// Each thread keeps a few idle encoders per (coding, level); a goroutine
// that moved threads while streaming gives its encoder back to the pool of
// the thread it ends on. Brotli 1.0 has no reset: its state is made per
// stream (it allocates its tables lazily, sized by the size hint).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "cogo/http/body_filter.h"

namespace cogo::middleware::detail {

enum class Coding : std::uint8_t { gzip, deflate, br, zstd };
inline constexpr int kCodings = 4;

// coding_from_name() maps "gzip", "deflate", "br", "zstd" (lowercase).
std::optional<Coding> coding_from_name(std::string_view name) noexcept;
std::string_view coding_name(Coding coding) noexcept;
// level_range() is the valid levels of a coding (gzip/deflate 1..9, br
// 0..11, zstd 1..19).
std::pair<int, int> level_range(Coding coding) noexcept;

// Encoder: one compressed stream.
class Encoder {
 public:
  virtual ~Encoder() = default;
  // start() begins a stream; size_hint is the whole input's length when
  // known (0: unknown), which lets zstd record it and brotli size its window.
  virtual void start(std::uint64_t size_hint) = 0;
  // encode() compresses in, appending to out. Mode::flush makes everything
  // so far decodable (deflate's Z_SYNC_FLUSH, BROTLI_OPERATION_FLUSH,
  // ZSTD_e_flush); Mode::finish ends the stream. Throws std::runtime_error
  // if the library fails.
  virtual void encode(std::string_view in, std::string& out, http::BodyFilter::Mode mode) = 0;

  Coding coding() const noexcept { return coding_; }
  int level() const noexcept { return level_; }

 protected:
  Encoder(Coding coding, int level) : coding_(coding), level_(level) {}

 private:
  Coding coding_;
  int level_;
};

// EncoderPool: encoders lent per thread. acquire() starts a stream on an
// idle encoder of (coding, level), or a new one; release() takes it back
// (kept while the thread holds fewer than kIdlePerThread of that kind).
struct EncoderDeleter {
  void operator()(Encoder* e) const noexcept;
};
using EncoderLease = std::unique_ptr<Encoder, EncoderDeleter>;
EncoderLease acquire_encoder(Coding coding, int level, std::uint64_t size_hint);

}  // namespace cogo::middleware::detail
