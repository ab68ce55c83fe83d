// cogo/http/memory_stream.h: MemoryStream, a Stream over bytes in memory —
// the client's input scripted as pieces, the server's output collected — so
// a test or a fuzzer drives the real engine (Http1Session) with no socket:
// every read boundary, pause and end of input is chosen by the caller.
//
//   MemoryStream s;
//   s.add("GET / HTTP/1.1\r\nHo");          // one read returns at most this
//   s.add("st: a\r\n\r\n", /*pause=*/true);  // then try_read() would block
//   Http1Session(handler, options).serve_ready(s);   // idle at the pause
//   s.resume();                              // the next readable edge
//
// Input: read() returns the bytes of the current piece (as many as fit),
// never more than one piece per call, and skips pauses (a blocking read just
// waits). try_read() and input_drained() stop at a pause until resume().
// After the last piece, read() returns 0 (End::eof) or throws TimeoutError
// (End::timeout: the client went quiet); try_read() returns 0 or would_block.
// Output: everything written, in order, in output().
#pragma once

#include <algorithm>
#include <cstring>
#include <deque>
#include <string>
#include <string_view>

#include "cogo/http/stream.h"

namespace cogo::http {

class MemoryStream final : public Stream {
 public:
  enum class End { eof, timeout };

  // add() appends a piece of input; pause: after it, the client pauses
  // (try_read() would block until resume()).
  void add(std::string_view bytes, bool pause = false) {
    if (bytes.empty()) {  // a read never returns 0 bytes before the end
      if (pause && !pieces_.empty()) pieces_.back().pause = true;
      return;
    }
    pieces_.push_back(Piece{std::string(bytes), 0, pause});
  }
  // set_end() chooses what the input does after its last piece.
  void set_end(End end) noexcept { end_ = end; }
  // resume() ends the current pause: the next readable edge.
  void resume() noexcept { paused_ = false; }
  bool paused() const noexcept { return paused_; }
  // exhausted() tells whether every piece was read.
  bool exhausted() const noexcept { return pieces_.empty(); }
  // output() is every byte written so far.
  const std::string& output() const noexcept { return output_; }
  // shut_down() tells whether shutdown_write() was called.
  bool shut_down() const noexcept { return shut_down_; }

  std::size_t read(void* buf, std::size_t size) override {
    paused_ = false;
    if (pieces_.empty()) {
      if (end_ == End::timeout) throw TimeoutError("memory stream: read deadline passed");
      return 0;
    }
    return take(buf, size);
  }

  std::ptrdiff_t try_read(void* buf, std::size_t size) override {
    if (paused_) return would_block;
    if (pieces_.empty()) return end_ == End::eof ? 0 : would_block;
    return static_cast<std::ptrdiff_t>(take(buf, size));
  }

  void write_all(const void* data, std::size_t size) override {
    output_.append(static_cast<const char*>(data), size);
  }

  void set_read_deadline(Deadline) override {}
  void set_write_deadline(Deadline) override {}
  void shutdown_write() override { shut_down_ = true; }
  bool input_drained() const noexcept override { return paused_; }

 private:
  struct Piece {
    std::string bytes;
    std::size_t taken;
    bool pause;
  };

  std::size_t take(void* buf, std::size_t size) {
    Piece& p = pieces_.front();
    const std::size_t n = std::min(size, p.bytes.size() - p.taken);
    std::memcpy(buf, p.bytes.data() + p.taken, n);
    p.taken += n;
    if (p.taken == p.bytes.size()) {
      paused_ = p.pause;
      pieces_.pop_front();
    }
    return n;
  }

  std::deque<Piece> pieces_;
  std::string output_;
  End end_ = End::eof;
  bool paused_ = false;
  bool shut_down_ = false;
};

}  // namespace cogo::http
