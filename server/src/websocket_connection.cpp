// websocket_connection.cpp: Connection (see websocket_connection.h).
#include "websocket_connection.h"

#include <sys/socket.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <new>
#include <stdexcept>

#include "coarse_clock.h"
#include "cogo/cancel.h"
#include "cogo/detail/opaque.h"
#include "cogo/http/error.h"
#include "cogo/runtime.h"
#include "websocket_frame.h"

namespace cogo::websocket::detail {

namespace {

using Clock = std::chrono::steady_clock;
constexpr Clock::time_point kNever = Clock::time_point::max();

// Reads land here first: a connection keeps only what arrived, sized to
// it, and nothing while it waits. read_scratch() is called after every wait
// (the goroutine may be on another thread by then) and must not be treated
// as a constant (opaque.h): GCC once found it "const" and hoisted the call
// out of fill()'s loop, across the wait, and two connections then shared one
// thread's buffer. Between the call and the copy nothing parks (try_read).
constexpr std::size_t kScratchBytes = 16 * 1024;
// The smallest read buffer a connection allocates.
constexpr std::size_t kMinReadBuffer = 256;
// A message buffer grows by at least this much.
constexpr std::size_t kMinMessageRoom = 256;
// The compression buffer kept between messages at most.
constexpr std::size_t kKeepCompressed = 64 * 1024;

COGO_OPAQUE unsigned char* read_scratch() {
  thread_local unsigned char scratch[kScratchBytes];
  return cogo::detail::opaque(scratch + 0);
}

Clock::time_point after(std::chrono::milliseconds d) {
  return d.count() > 0 ? http::detail::coarse_now() + d : kNever;
}

std::int64_t to_ns(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

// Sink: where a receive loop puts message bytes.
struct Connection::Sink {
  enum class Mode : std::uint8_t { message, piece, discard };
  explicit Sink(Mode m) : mode(m) {}
  Mode mode;
  Message* message = nullptr;  // message: the data goes into message->data
  char* buf = nullptr;         // piece: the caller's buffer
  std::size_t size = 0;
  std::size_t len = 0;  // bytes produced so far
  WebSocket::Piece piece;
  std::unique_ptr<char[]> junk;  // discard: where discarded bytes go
};

Connection::Connection(http::Stream* stream, std::string_view buffered, const Settings& settings,
                       const DeflateParams& deflate, std::string subprotocol)
    : stream_(stream),
      s_(settings),
      subprotocol_(std::move(subprotocol)),
      rx_(Receiver::Config{settings.max_frame, deflate}),
      fd_(stream->native_fd()) {
  if (!buffered.empty())
    append_input(reinterpret_cast<const unsigned char*>(buffered.data()), buffered.size());
  last_rx_ = http::detail::coarse_now();
  ping_check_ = after(s_.ping_interval);
  if (rx_.deflate().enabled) compressing_connections().fetch_add(1, std::memory_order_relaxed);
}

Connection::~Connection() {
  release_read_buffer();
  give_back_deflater();
  if (rx_.deflate().enabled) compressing_connections().fetch_sub(1, std::memory_order_relaxed);
}

// ---------------------------------------------------------------------------
// Reading

void Connection::append_input(const unsigned char* p, std::size_t n) {
  if (rbegin_ == rend_) rbegin_ = rend_ = 0;
  if (rcap_ - rend_ < n) {
    if (rbegin_ > 0) {
      std::memmove(rbuf_, rbuf_ + rbegin_, rend_ - rbegin_);
      rend_ -= rbegin_;
      rbegin_ = 0;
    }
    if (rcap_ - rend_ < n) {
      const std::size_t cap = std::max({rend_ + n, rcap_ * 2, kMinReadBuffer});
      auto* q = static_cast<unsigned char*>(std::realloc(rbuf_, cap));
      if (q == nullptr) throw std::bad_alloc();
      rbuf_ = q;
      rcap_ = cap;
    }
  }
  std::memcpy(rbuf_ + rend_, p, n);
  rend_ += n;
}

void Connection::release_read_buffer() noexcept {
  std::free(rbuf_);
  rbuf_ = nullptr;
  rcap_ = rbegin_ = rend_ = 0;
}

Connection::Fill Connection::fill(std::size_t want, Clock::time_point call_deadline) {
  for (;;) {
    // Always ask the socket before waiting, even after a short read
    // (Stream::input_drained()): a peer's FIN that came in the same
    // readiness edge as its last bytes would otherwise never wake the wait.
    {
      unsigned char* scratch = read_scratch();  // after every wait: the thread may be another
      const std::ptrdiff_t n = stream_->try_read(scratch, kScratchBytes);
      if (n > 0) {
        append_input(scratch, static_cast<std::size_t>(n));
        last_rx_ = http::detail::coarse_now();
        if (rend_ - rbegin_ >= want) return Fill::got;
        continue;
      }
      if (n == 0) return Fill::eof;
    }
    // Nothing there: wait, holding no buffer unless a frame is half read.
    if (rbegin_ == rend_) release_read_buffer();
    Clock::time_point deadline = call_deadline;
    const std::uint8_t state = state_.load(std::memory_order_acquire);
    if (state == kClosing) {
      deadline = std::min(deadline, Clock::time_point(std::chrono::nanoseconds(close_due_.load())));
    }
    if (state == kOpen && s_.ping_interval.count() > 0) {
      deadline = std::min(deadline, awaiting_pong_ ? pong_due_ : ping_check_);
    }
    stream_->set_read_deadline(deadline);
    bool timed_out = false;
    try {
      stream_->wait_readable();
    } catch (const http::TimeoutError&) {
      timed_out = true;
    }
    if (timed_out) {
      const Clock::time_point now = Clock::now();
      if (state_.load(std::memory_order_acquire) == kClosing &&
          to_ns(now) >= close_due_.load(std::memory_order_relaxed)) {
        return Fill::close_timeout;
      }
      if (awaiting_pong_ && now >= pong_due_) return Fill::pong_timeout;
      if (s_.ping_interval.count() > 0 && !awaiting_pong_ && now >= ping_check_ &&
          state_.load(std::memory_order_acquire) == kOpen) {
        // Lazily re-armed: the check runs once per interval, and pings only
        // if nothing arrived for a whole interval.
        if (now - last_rx_ + http::detail::kCoarseLag >= s_.ping_interval) {
          ++ping_count_;
          char payload[8];
          std::memcpy(payload, &ping_count_, 8);
          send_control(static_cast<std::uint8_t>(Opcode::ping), std::string_view(payload, 8));
          awaiting_pong_ = true;
          pong_due_ = now + s_.pong_timeout;
        } else {
          ping_check_ = last_rx_ + s_.ping_interval;
        }
        continue;
      }
      if (now >= call_deadline) return Fill::read_timeout;
      // Woken a little early (the coarse clock): wait again.
    }
  }
}

void Connection::on_ping() {
  // RFC 6455 5.5.2, 5.5.3: a pong with the ping's payload, as soon as
  // practical; none once this side closed (5.5.1: the close is our last).
  if (state_.load(std::memory_order_acquire) != kOpen) return;
  send_control(static_cast<std::uint8_t>(Opcode::pong), rx_.control_payload());
}

void Connection::on_pong() {
  // RFC 6455 5.5.3: an unsolicited pong is ignored; ours carries the ping's
  // count.
  if (!awaiting_pong_) return;
  const std::string_view p = rx_.control_payload();
  if (p.size() == 8 && std::memcmp(p.data(), &ping_count_, 8) == 0) {
    awaiting_pong_ = false;
    ping_check_ = http::detail::coarse_now() + s_.ping_interval;
  }
}

void Connection::finish(std::uint16_t code, std::string_view reason, bool by_peer) noexcept {
  if (finished_) return;
  finished_ = true;
  outcome_code_ = code;
  std::uint16_t none = 0;
  closed_code_.compare_exchange_strong(none, code, std::memory_order_relaxed);
  outcome_by_peer_ = by_peer;
  try {
    outcome_reason_.assign(reason);
  } catch (...) {
  }
  {
    cogo::CancelShield shield;
    std::lock_guard<cogo::Mutex> g(frame_mu_);
    state_.store(kClosed, std::memory_order_release);
    // RFC 6455 7.1.1: the server closes the TCP connection first; its FIN
    // goes now, the close itself when the handler returns.
    if (stream_ != nullptr && !write_broken_.load()) {
      try {
        stream_->shutdown_write();
      } catch (...) {
      }
    }
  }
  release_read_buffer();
}

void Connection::report(Message& m) const {
  m.kind = Kind::close;
  m.data = outcome_reason_;
  m.code = outcome_code_;
  m.by_peer = outcome_by_peer_;
}

void Connection::on_cancelled() {
  // "A cancelled request closes with 1001": the close frame, the peer's
  // answer (close_timeout at most), then the Cancelled goes on.
  cancelled_.store(true);
  cogo::CancelShield shield;
  try {
    {
      std::lock_guard<cogo::Mutex> g(frame_mu_);
      if (state_.load() == kOpen && stream_ != nullptr && !write_broken_.load()) {
        send_close_locked(close_code::going_away, "going away");
        close_due_.store(to_ns(Clock::now() + s_.close_timeout));
        state_.store(kClosing, std::memory_order_release);
      }
    }
    if (!finished_ && state_.load() == kClosing) {
      Sink drain(Sink::Mode::discard);
      receive(drain);
    }
  } catch (...) {
  }
  finish(close_code::going_away, "going away", false);
}

Connection::Outcome Connection::receive(Sink& sink) {
  Clock::time_point call_deadline =
      sink.mode == Sink::Mode::message ? after(s_.read_timeout) : kNever;
  try {
    for (;;) {
      char* out;
      std::size_t room;
      std::uint64_t limit = std::numeric_limits<std::uint64_t>::max();
      switch (sink.mode) {
        case Sink::Mode::message: {
          std::string& d = sink.message->data;
          limit = s_.max_message;
          if (d.size() == sink.len && rx_.wants_output()) {
            // Room for the rest of the frame as far as it has arrived, else
            // double; never beyond the limit (+1, for an inflating message
            // to show that it goes over). Not the frame's whole length: that
            // is the client's word only, and a 14-byte header announcing
            // 16 MiB held 16 MiB of zeroed buffer while no payload came
            // (memset was the websocket_frame fuzz target's top cost).
            const std::uint64_t hint =
                std::min<std::uint64_t>(rx_.payload_hint(), rend_ - rbegin_);
            std::uint64_t target =
                sink.len + std::max<std::uint64_t>(hint, std::max(sink.len, kMinMessageRoom));
            target = std::min<std::uint64_t>(target, limit + 1);
            if (target <= sink.len) target = sink.len + 1;
            d.resize(static_cast<std::size_t>(target));
          }
          out = d.data() + sink.len;
          room = d.size() - sink.len;
          break;
        }
        case Sink::Mode::piece:
          out = sink.buf + sink.len;
          room = sink.size - sink.len;
          break;
        case Sink::Mode::discard:
        default:
          if (!sink.junk) sink.junk.reset(new char[4096]);
          out = sink.junk.get();
          room = 4096;
          sink.len = 0;
          break;
      }
      const Receiver::Step st = rx_.step(rbuf_ + rbegin_, rend_ - rbegin_, out, room, limit);
      rbegin_ += st.consumed;
      sink.len += st.produced;
      switch (st.event) {
        case Receiver::Event::data:
          if (sink.mode == Sink::Mode::piece && sink.len > 0) {
            sink.piece = WebSocket::Piece{rx_.message_kind(), sink.len, false};
            return Outcome::piece;
          }
          if (sink.mode == Sink::Mode::piece && room == 0) {
            sink.piece = WebSocket::Piece{rx_.message_kind(), 0, false};
            return Outcome::piece;
          }
          continue;
        case Receiver::Event::message_end:
          if (sink.mode == Sink::Mode::message) {
            sink.message->kind = rx_.message_kind();
            sink.message->data.resize(sink.len);
            return Outcome::message;
          }
          if (sink.mode == Sink::Mode::piece) {
            sink.piece = WebSocket::Piece{rx_.message_kind(), sink.len, true};
            return Outcome::piece;
          }
          continue;
        case Receiver::Event::ping:
          on_ping();
          continue;
        case Receiver::Event::pong:
          on_pong();
          continue;
        case Receiver::Event::close: {
          // RFC 6455 5.5.1: answer with a close, echoing the code; none for
          // a close without one (1005 is never sent).
          const std::uint16_t code = rx_.close_code();
          {
            std::lock_guard<cogo::Mutex> g(frame_mu_);
            if (state_.load() == kOpen && stream_ != nullptr && !write_broken_.load()) {
              try {
                send_close_locked(code == close_code::no_status ? 0 : code, {});
              } catch (const cogo::Cancelled&) {
                throw;
              } catch (...) {
              }
            }
          }
          finish(code, rx_.close_reason(), true);
          return Outcome::closed;
        }
        case Receiver::Event::fail: {
          // RFC 6455 7.1.7: fail the connection — a close frame with the
          // code (if this side has not closed yet), then the TCP close.
          const std::uint16_t code = rx_.fail_code();
          {
            std::lock_guard<cogo::Mutex> g(frame_mu_);
            if (state_.load() == kOpen && stream_ != nullptr && !write_broken_.load()) {
              try {
                send_close_locked(code, rx_.fail_reason());
              } catch (const cogo::Cancelled&) {
                throw;
              } catch (...) {
              }
            }
          }
          finish(code, rx_.fail_reason(), false);
          return Outcome::closed;
        }
        case Receiver::Event::need_more:
          break;
      }
      // need_more: read.
      switch (fill(rx_.want(), call_deadline)) {
        case Fill::got:
          continue;
        case Fill::eof:
          if (state_.load() == kClosing && to_ns(Clock::now()) >= close_due_.load()) {
            finish(closed_code_.load(), "no close frame from the peer in time", false);
          } else {
            finish(close_code::abnormal, "the connection ended without a close frame", false);
          }
          return Outcome::closed;
        case Fill::close_timeout:
          finish(closed_code_.load(), "no close frame from the peer in time", false);
          return Outcome::closed;
        case Fill::pong_timeout:
          finish(close_code::abnormal, "no pong to the keep-alive ping in time", false);
          return Outcome::closed;
        case Fill::read_timeout:
          // An idle reader: close with 1001 and report it once the peer
          // answered (or close_timeout passed).
          {
            std::lock_guard<cogo::Mutex> g(frame_mu_);
            if (state_.load() == kOpen && !write_broken_.load()) {
              send_close_locked(close_code::going_away, "read timeout");
              close_due_.store(to_ns(Clock::now() + s_.close_timeout));
              state_.store(kClosing, std::memory_order_release);
            }
          }
          sink.mode = Sink::Mode::discard;
          call_deadline = kNever;
          continue;
      }
    }
  } catch (const cogo::Cancelled&) {
    if (!cancelling_) {
      cancelling_ = true;
      on_cancelled();
    }
    throw;
  } catch (const std::exception& e) {
    // The stream failed (a reset, a write that timed out): nothing more can
    // be said on this connection.
    finish(close_code::abnormal, e.what(), false);
    return Outcome::closed;
  }
}

bool Connection::read(Message& m) {
  std::lock_guard<cogo::Mutex> g(read_mu_);
  if (finished_ || stream_ == nullptr) {
    report(m);
    return false;
  }
  Sink sink(Sink::Mode::message);
  sink.message = &m;
  m.data.clear();
  if (receive(sink) == Outcome::message) return true;
  report(m);
  return false;
}

WebSocket::Piece Connection::read_some(void* buf, std::size_t size) {
  std::lock_guard<cogo::Mutex> g(read_mu_);
  if (!finished_ && stream_ != nullptr) {
    Sink sink(Sink::Mode::piece);
    sink.buf = static_cast<char*>(buf);
    sink.size = size;
    if (receive(sink) == Outcome::piece) return sink.piece;
  }
  const std::size_t n = std::min(size, outcome_reason_.size());
  if (n > 0) std::memcpy(buf, outcome_reason_.data(), n);
  return WebSocket::Piece{Kind::close, n, true};
}

// ---------------------------------------------------------------------------
// Writing

void Connection::throw_closed() const {
  const std::uint8_t st = state_.load(std::memory_order_acquire);
  if (detaching_.load())
    throw Error(close_code::abnormal, "websocket: write after the connection ended");
  if (write_broken_.load())
    throw Error(close_code::abnormal, "websocket: write after a failed write");
  const std::uint16_t code = closed_code_.load(std::memory_order_relaxed);
  throw Error(code != 0 ? code : close_code::abnormal,
              st == kClosing ? "websocket: write after the close handshake began"
                             : "websocket: write after the connection closed");
}

void Connection::send_frame_locked(std::uint8_t opcode, bool fin, bool rsv1, const char* data,
                                   std::size_t n) {
  if (stream_ == nullptr || write_broken_.load() || detaching_.load()) throw_closed();
  struct Inside {
    std::atomic<int>& writing;
    explicit Inside(std::atomic<int>& w) : writing(w) { writing.fetch_add(1); }
    ~Inside() { writing.fetch_sub(1); }
  } inside(writing_);
  // detach() sets detaching_ before it looks at writing_: one of the two
  // sees the other.
  if (detaching_.load()) throw_closed();
  unsigned char head[kMaxHeaderBytes];
  const std::size_t hn = write_frame_header(head, opcode, fin, rsv1, n);
  const http::ConstBuffer pieces[2] = {{head, hn}, {data, n}};
  stream_->set_write_deadline(after(s_.write_timeout));
  try {
    stream_->writev_all(std::span<const http::ConstBuffer>(pieces, n > 0 ? 2 : 1));
  } catch (const cogo::Cancelled&) {
    write_broken_.store(true);  // part of the frame may be out
    cancelled_.store(true);
    throw;
  } catch (...) {
    write_broken_.store(true);
    throw;
  }
}

void Connection::send_close_locked(std::uint16_t code, std::string_view reason) {
  char payload[kMaxControlPayload];
  std::size_t n = 0;
  if (code != 0) {
    payload[0] = static_cast<char>(code >> 8);
    payload[1] = static_cast<char>(code & 0xFF);
    n = 2 + std::min<std::size_t>(reason.size(), kMaxControlPayload - 2);
    // Not for an empty reason: its data() may be null, and memcpy from null
    // is undefined even for 0 bytes (UBSan, websocket_test under ASan+UBSan).
    if (n > 2) std::memcpy(payload + 2, reason.data(), n - 2);
  }
  std::uint16_t none = 0;
  closed_code_.compare_exchange_strong(none, code != 0 ? code : close_code::no_status,
                                       std::memory_order_relaxed);
  send_frame_locked(static_cast<std::uint8_t>(Opcode::close), true, false, payload, n);
}

void Connection::send_control(std::uint8_t opcode, std::string_view payload) {
  std::lock_guard<cogo::Mutex> g(frame_mu_);
  send_frame_locked(opcode, true, false, payload.data(), payload.size());
}

Deflater& Connection::deflater() {
  if (!deflater_) {
    deflater_ = rx_.deflate().server_no_context_takeover
                    ? take_deflater(rx_.deflate())
                    : std::make_unique<Deflater>(rx_.deflate());
  }
  return *deflater_;
}

void Connection::give_back_deflater() noexcept {
  if (deflater_ && rx_.deflate().server_no_context_takeover) give_deflater(std::move(deflater_));
}

void Connection::write_message(Kind kind, std::string_view data) {
  if (kind == Kind::close)
    throw std::invalid_argument("websocket: write() of a close; use close()");
  if (kind == Kind::text && !valid_utf8(data.data(), data.size())) {
    throw std::invalid_argument("websocket: a text message must be UTF-8 (RFC 6455 5.6)");
  }
  std::lock_guard<cogo::Mutex> m(message_mu_);
  if (state_.load(std::memory_order_acquire) != kOpen) throw_closed();
  const char* p = data.data();
  std::size_t n = data.size();
  bool rsv1 = false;
  if (rx_.deflate().enabled && n > 0 && n >= s_.deflate_min_size) {
    compressed_.clear();
    deflater().compress(p, n, compressed_, true);
    give_back_deflater();
    p = compressed_.data();
    n = compressed_.size();
    rsv1 = true;
  }
  const std::uint8_t op =
      static_cast<std::uint8_t>(kind == Kind::text ? Opcode::text : Opcode::binary);
  const std::size_t frame = s_.write_frame > 0 ? s_.write_frame : n;
  bool first = true;
  do {
    const std::size_t k = std::min(n, frame);
    const bool last = k == n;
    {
      std::lock_guard<cogo::Mutex> g(frame_mu_);
      if (state_.load(std::memory_order_acquire) != kOpen) throw_closed();
      send_frame_locked(first ? op : static_cast<std::uint8_t>(Opcode::continuation), last,
                        first && rsv1, p, k);
    }
    p += k;
    n -= k;
    first = false;
  } while (n > 0);
  if (compressed_.capacity() > kKeepCompressed) std::string().swap(compressed_);
}

void Connection::begin_message() {
  message_mu_.lock();
  part_frames_ = 0;
  part_utf8_.reset();
  compressed_.clear();
}

void Connection::end_message() noexcept {
  message_mu_.unlock();
}

void Connection::write_part(Kind kind, std::string_view data, bool last) {
  if (kind == Kind::text &&
      (!part_utf8_.feed(data.data(), data.size()) || (last && !part_utf8_.complete()))) {
    throw std::invalid_argument("websocket: a text message must be UTF-8 (RFC 6455 5.6)");
  }
  if (state_.load(std::memory_order_acquire) != kOpen) throw_closed();
  const bool rsv1 = rx_.deflate().enabled;
  const char* p = data.data();
  std::size_t n = data.size();
  if (rsv1) {
    // The compressed stream's last 4 bytes stay behind until the message
    // ends: at its end they are the tail that RFC 7692 7.2.1 removes.
    deflater().compress(data.data(), data.size(), compressed_, last);
    p = compressed_.data();
    n = last ? compressed_.size() : (compressed_.size() > 4 ? compressed_.size() - 4 : 0);
  }
  if (n == 0 && !last) return;
  const std::uint8_t op =
      static_cast<std::uint8_t>(kind == Kind::text ? Opcode::text : Opcode::binary);
  const std::size_t frame = s_.write_frame > 0 ? s_.write_frame : n;
  std::size_t sent = 0;
  do {
    const std::size_t k = std::min(n - sent, frame);
    const bool fin = last && sent + k == n;
    {
      std::lock_guard<cogo::Mutex> g(frame_mu_);
      if (state_.load(std::memory_order_acquire) != kOpen) throw_closed();
      send_frame_locked(part_frames_ == 0 ? op : static_cast<std::uint8_t>(Opcode::continuation),
                        fin, rsv1 && part_frames_ == 0, p + sent, k);
    }
    ++part_frames_;
    sent += k;
  } while (sent < n);
  if (rsv1) compressed_.erase(0, n);
  if (last && rsv1) {
    give_back_deflater();
    if (compressed_.capacity() > kKeepCompressed) std::string().swap(compressed_);
  }
}

void Connection::ping(std::string_view payload) {
  if (payload.size() > kMaxControlPayload) {
    throw std::invalid_argument("websocket: a ping carries at most 125 bytes (RFC 6455 5.5)");
  }
  if (state_.load(std::memory_order_acquire) != kOpen) throw_closed();
  send_control(static_cast<std::uint8_t>(Opcode::ping), payload);
}

void Connection::close(std::uint16_t code, std::string_view reason) {
  if (!valid_close_code(code)) {
    throw std::invalid_argument("websocket: close code " + std::to_string(code) +
                                " may not be sent (RFC 6455 7.4: 1000-1003, 1007-1014, 3000-4999)");
  }
  if (reason.size() > kMaxControlPayload - 2 || !valid_utf8(reason.data(), reason.size())) {
    throw std::invalid_argument(
        "websocket: a close reason is at most 123 bytes of UTF-8 (RFC 6455 5.5.1)");
  }
  {
    std::lock_guard<cogo::Mutex> g(frame_mu_);
    if (state_.load() == kOpen && stream_ != nullptr && !write_broken_.load()) {
      send_close_locked(code, reason);
      close_due_.store(to_ns(Clock::now() + s_.close_timeout));
      state_.store(kClosing, std::memory_order_release);
    }
  }
  if (read_mu_.try_lock()) {
    // Nobody reads: wait for the peer's close here.
    std::lock_guard<cogo::Mutex> g(read_mu_, std::adopt_lock);
    if (!finished_ && stream_ != nullptr) {
      Sink drain(Sink::Mode::discard);
      receive(drain);
    }
    return;
  }
  // The reader waits in read(): it gets the peer's answer; if none comes,
  // the connection is cut at close_due (which wakes the reader).
  std::weak_ptr<Connection> self = weak_from_this();
  const auto due = Clock::time_point(std::chrono::nanoseconds(close_due_.load()));
  cogo::go_detached([self, due] {
    cogo::sleep_until(due);
    if (auto c = self.lock()) c->expire_close();
  });
}

void Connection::expire_close() noexcept {
  std::lock_guard<cogo::Mutex> g(frame_mu_);
  if (stream_ != nullptr && state_.load() == kClosing && fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

void Connection::close_on_release(std::uint16_t code) noexcept {
  if (finished_ || stream_ == nullptr) return;
  if (cancelled_.load()) code = close_code::going_away;
  cogo::CancelShield shield;
  try {
    close(code, {});
  } catch (...) {
  }
}

void Connection::detach() noexcept {
  detaching_.store(true);
  if (writing_.load() > 0 && fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);  // wake a parked writer
  cogo::CancelShield shield;
  std::lock_guard<cogo::Mutex> r(read_mu_);
  std::lock_guard<cogo::Mutex> g(frame_mu_);
  stream_ = nullptr;
  state_.store(kClosed, std::memory_order_release);
  release_read_buffer();
}

}  // namespace cogo::websocket::detail
