// encoder.cpp: the gzip/deflate, br and zstd encoders and their per-thread
// pool (encoder.h says why they are pooled).
#include "encoder.h"

#include <brotli/encode.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <memory>
#include <new>
#include <stdexcept>
#include <vector>

namespace cogo::middleware::detail {

namespace {

using Mode = http::BodyFilter::Mode;

// Idle encoders a thread keeps per coding.
constexpr std::size_t kIdlePerThread = 4;

// grow() appends room bytes to out for a compressor to fill; returns where.
char* grow(std::string& out, std::size_t room) {
  const std::size_t old = out.size();
  out.resize(old + room);
  return out.data() + old;
}

// first_room() sizes the first output piece for n input bytes: text
// compresses to a quarter or less, and later pieces double.
std::size_t first_room(std::size_t n) {
  return std::clamp<std::size_t>(n / 4 + 256, 1024, 256 * 1024);
}

class ZlibEncoder final : public Encoder {
 public:
  ZlibEncoder(Coding coding, int level) : Encoder(coding, level) {
    // windowBits 15 (32 KiB), +16 for the gzip wrapper; "deflate" is the
    // zlib format (RFC 9110 8.4.1.2), not raw deflate.
    const int window_bits = coding == Coding::gzip ? 15 + 16 : 15;
    if (deflateInit2(&z_, level, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
      throw std::bad_alloc();
    }
  }
  ~ZlibEncoder() override { deflateEnd(&z_); }

  void start(std::uint64_t) override {
    if (used_) deflateReset(&z_);
    used_ = true;
  }

  // encode() deflates into the encoder's scratch buffer and appends each
  // piece to out: no zero-filled room in out to grow and trim (that zeroing
  // cost a gzip64k response ~29,000 instructions, 12% of cogo's own).
  void encode(std::string_view in, std::string& out, Mode mode) override {
    const int flush = mode == Mode::more    ? Z_NO_FLUSH
                      : mode == Mode::flush ? Z_SYNC_FLUSH
                                            : Z_FINISH;
    // avail_in is 32-bit: feed a huge input in pieces.
    constexpr std::size_t kMaxIn = 1u << 30;
    while (true) {
      const std::size_t take = std::min(in.size(), kMaxIn);
      const bool last = take == in.size();
      z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
      z_.avail_in = static_cast<uInt>(take);
      const int f = last ? flush : Z_NO_FLUSH;
      for (;;) {
        z_.next_out = reinterpret_cast<Bytef*>(scratch_.get());
        z_.avail_out = static_cast<uInt>(kScratch);
        const int r = deflate(&z_, f);
        if (r == Z_STREAM_ERROR) throw std::runtime_error("compress: deflate failed");
        out.append(scratch_.get(), kScratch - z_.avail_out);
        if (f == Z_FINISH) {
          if (r == Z_STREAM_END) break;
        } else if (z_.avail_out != 0 && z_.avail_in == 0) {
          break;
        }
      }
      in.remove_prefix(take);
      if (last) return;
    }
  }

 private:
  // kScratch: deflate's output space per call.
  static constexpr std::size_t kScratch = 32 * 1024;
  std::unique_ptr<char[]> scratch_{new char[kScratch]};
  z_stream z_{};
  bool used_ = false;
};

class BrotliEncoder final : public Encoder {
 public:
  BrotliEncoder(Coding coding, int level) : Encoder(coding, level) {}
  ~BrotliEncoder() override {
    if (state_ != nullptr) BrotliEncoderDestroyInstance(state_);
  }

  void start(std::uint64_t size_hint) override {
    if (state_ != nullptr) BrotliEncoderDestroyInstance(state_);
    state_ = BrotliEncoderCreateInstance(nullptr, nullptr, nullptr);
    if (state_ == nullptr) throw std::bad_alloc();
    BrotliEncoderSetParameter(state_, BROTLI_PARAM_QUALITY, static_cast<std::uint32_t>(level()));
    // The window: big enough for the body when its size is known (no
    // larger: the ring buffer is allocated at this size), else 512 KiB.
    std::uint32_t lgwin = 19;
    if (size_hint > 0) {
      lgwin = BROTLI_MIN_WINDOW_BITS;
      while (lgwin < BROTLI_MAX_WINDOW_BITS && (std::uint64_t{1} << lgwin) < size_hint) ++lgwin;
      BrotliEncoderSetParameter(
          state_, BROTLI_PARAM_SIZE_HINT,
          static_cast<std::uint32_t>(std::min<std::uint64_t>(size_hint, 1u << 30)));
    }
    BrotliEncoderSetParameter(state_, BROTLI_PARAM_LGWIN, lgwin);
  }

  void encode(std::string_view in, std::string& out, Mode mode) override {
    const BrotliEncoderOperation op = mode == Mode::more    ? BROTLI_OPERATION_PROCESS
                                      : mode == Mode::flush ? BROTLI_OPERATION_FLUSH
                                                            : BROTLI_OPERATION_FINISH;
    std::size_t avail_in = in.size();
    const auto* next_in = reinterpret_cast<const std::uint8_t*>(in.data());
    std::size_t room = first_room(in.size());
    for (;;) {
      const std::size_t before = out.size();
      auto* next_out = reinterpret_cast<std::uint8_t*>(grow(out, room));
      std::size_t avail_out = room;
      const BROTLI_BOOL ok = BrotliEncoderCompressStream(state_, op, &avail_in, &next_in,
                                                         &avail_out, &next_out, nullptr);
      out.resize(before + room - avail_out);
      if (!ok) throw std::runtime_error("compress: brotli failed");
      if (avail_in == 0 && !BrotliEncoderHasMoreOutput(state_) &&
          (op != BROTLI_OPERATION_FINISH || BrotliEncoderIsFinished(state_))) {
        break;
      }
      room = std::min<std::size_t>(room * 2, 1 << 20);
    }
  }

 private:
  BrotliEncoderState* state_ = nullptr;
};

class ZstdEncoder final : public Encoder {
 public:
  ZstdEncoder(Coding coding, int level) : Encoder(coding, level), ctx_(ZSTD_createCCtx()) {
    if (ctx_ == nullptr) throw std::bad_alloc();
    ZSTD_CCtx_setParameter(ctx_, ZSTD_c_compressionLevel, level);
  }
  ~ZstdEncoder() override { ZSTD_freeCCtx(ctx_); }

  void start(std::uint64_t size_hint) override {
    ZSTD_CCtx_reset(ctx_, ZSTD_reset_session_only);
    // Known size: recorded in the frame header, and the tables fit it.
    ZSTD_CCtx_setPledgedSrcSize(ctx_, size_hint > 0 ? size_hint : ZSTD_CONTENTSIZE_UNKNOWN);
  }

  void encode(std::string_view in, std::string& out, Mode mode) override {
    const ZSTD_EndDirective op = mode == Mode::more    ? ZSTD_e_continue
                                 : mode == Mode::flush ? ZSTD_e_flush
                                                       : ZSTD_e_end;
    ZSTD_inBuffer input{in.data(), in.size(), 0};
    std::size_t room = first_room(in.size());
    for (;;) {
      const std::size_t before = out.size();
      ZSTD_outBuffer output{grow(out, room), room, 0};
      const std::size_t left = ZSTD_compressStream2(ctx_, &output, &input, op);
      out.resize(before + output.pos);
      if (ZSTD_isError(left)) {
        throw std::runtime_error(std::string("compress: zstd: ") + ZSTD_getErrorName(left));
      }
      if (op == ZSTD_e_continue ? input.pos == input.size : left == 0) break;
      room = std::min<std::size_t>(room * 2, 1 << 20);
    }
  }

 private:
  ZSTD_CCtx* ctx_;
};

struct ThreadPool {
  std::vector<Encoder*> idle[kCodings];
  ~ThreadPool() {
    for (auto& list : idle) {
      for (Encoder* e : list) delete e;
    }
  }
};

[[gnu::noinline]] ThreadPool& thread_pool() {
  thread_local ThreadPool pool;
  return pool;
}

// take_idle() and put_idle() touch the thread's pool without parking in
// between (a goroutine may move to another thread when it parks).
[[gnu::noinline]] Encoder* take_idle(Coding coding, int level) {
  auto& list = thread_pool().idle[static_cast<int>(coding)];
  for (std::size_t i = list.size(); i-- > 0;) {
    if (list[i]->level() == level) {
      Encoder* e = list[i];
      list.erase(list.begin() + static_cast<std::ptrdiff_t>(i));
      return e;
    }
  }
  return nullptr;
}

[[gnu::noinline]] bool put_idle(Encoder* e) {
  if (e->coding() == Coding::br) return false;  // nothing to reuse
  auto& list = thread_pool().idle[static_cast<int>(e->coding())];
  if (list.size() >= kIdlePerThread) return false;
  list.push_back(e);
  return true;
}

}  // namespace

std::optional<Coding> coding_from_name(std::string_view name) noexcept {
  if (name == "gzip") return Coding::gzip;
  if (name == "deflate") return Coding::deflate;
  if (name == "br") return Coding::br;
  if (name == "zstd") return Coding::zstd;
  return std::nullopt;
}

std::string_view coding_name(Coding coding) noexcept {
  switch (coding) {
    case Coding::gzip:
      return "gzip";
    case Coding::deflate:
      return "deflate";
    case Coding::br:
      return "br";
    case Coding::zstd:
      return "zstd";
  }
  return "identity";
}

std::pair<int, int> level_range(Coding coding) noexcept {
  switch (coding) {
    case Coding::gzip:
    case Coding::deflate:
      return {1, 9};
    case Coding::br:
      return {0, 11};
    case Coding::zstd:
      return {1, 19};
  }
  return {0, 0};
}

void EncoderDeleter::operator()(Encoder* e) const noexcept {
  if (!put_idle(e)) delete e;
}

EncoderLease acquire_encoder(Coding coding, int level, std::uint64_t size_hint) {
  Encoder* e = take_idle(coding, level);
  if (e == nullptr) {
    switch (coding) {
      case Coding::gzip:
      case Coding::deflate:
        e = new ZlibEncoder(coding, level);
        break;
      case Coding::br:
        e = new BrotliEncoder(coding, level);
        break;
      case Coding::zstd:
        e = new ZstdEncoder(coding, level);
        break;
    }
  }
  EncoderLease lease(e);
  lease->start(size_hint);
  return lease;
}

}  // namespace cogo::middleware::detail
