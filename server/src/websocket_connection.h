// websocket_connection.h: Connection, one accepted WebSocket at work — the
// Receiver (websocket_receiver.h) driven over the upgraded stream, the
// writers, the keep-alive pings and the close handshake. The public
// WebSocket, Sender and Writer (cogo/websocket.h) are handles to it.
//
// Who touches what:
//   - one reader (the goroutine in read()/read_some(), or close() draining
//     when nobody reads; read_mu_ tells them apart) owns the Receiver, the
//     read buffer, the keep-alive timers and the outcome;
//   - writers (any goroutine) serialise data messages on message_mu_ (held
//     from a message's first frame to its last) and frames on frame_mu_
//     (held for one frame: pongs and closes pass between the frames of a
//     fragmented message); the compressor is guarded by message_mu_.
//
// The close handshake (RFC 6455 7), state_ (an atomic; moved under
// frame_mu_, except by the reader's own end of the connection):
//   open     --close(), a protocol failure of the peer (after the close frame),
//              read_timeout, a cancel (1001)-->               closing
//   open     --the peer's close (answered at once), end of input, a
//              broken write or stream, no pong in time-->     closed
//   closing  --the peer's close, close_timeout, end of input-->  closed
// Data frames go out only while open (5.5.1: nothing after a close frame);
// a failure of the peer (7.1.7) sends the close frame and closes the TCP
// connection without waiting. closed is final; the reader's last read()
// reports how it ended (code, reason, by whom).
//
// The read buffer holds only what arrived and is not consumed, and is given
// back whenever the reader waits with nothing pending: an idle connection
// holds no buffer. Bytes are first read into a per-thread scratch buffer.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "cogo/http/stream.h"
#include "cogo/mutex.h"
#include "cogo/websocket.h"
#include "websocket_deflate.h"
#include "websocket_receiver.h"
#include "websocket_utf8.h"

namespace cogo::websocket::detail {

// Settings: what a connection keeps of its Options.
struct Settings {
  std::uint64_t max_message = 0;
  std::uint64_t max_frame = 0;
  std::size_t write_frame = 0;
  std::chrono::milliseconds read_timeout{0};
  std::chrono::milliseconds write_timeout{0};
  std::chrono::milliseconds ping_interval{0};
  std::chrono::milliseconds pong_timeout{0};
  std::chrono::milliseconds close_timeout{0};
  std::size_t deflate_min_size = 0;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using Clock = std::chrono::steady_clock;

  // Connection() takes over stream (valid until detach()); buffered is
  // what arrived behind the handshake.
  Connection(http::Stream* stream, std::string_view buffered, const Settings& settings,
             const DeflateParams& deflate, std::string subprotocol);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // The reader's calls (WebSocket::read, read_some).
  bool read(Message& m);
  WebSocket::Piece read_some(void* buf, std::size_t size);

  // The writers' calls (Sender, Writer).
  void write_message(Kind kind, std::string_view data);
  void begin_message();  // locks message_mu_ for a Writer
  void write_part(Kind kind, std::string_view data, bool last);
  void end_message() noexcept;  // unlocks it
  void ping(std::string_view payload);
  void close(std::uint16_t code, std::string_view reason);
  bool open() const noexcept { return state_.load(std::memory_order_acquire) == kOpen; }

  // close_on_release() is the owner's goodbye: a close handshake with code
  // unless the connection is closed already (1001 if a wait was cancelled).
  void close_on_release(std::uint16_t code) noexcept;
  // detach() stops every use of the stream (the handler is returning):
  // a writer parked on a full socket is woken, later writes throw Error.
  void detach() noexcept;

  const std::string& subprotocol() const noexcept { return subprotocol_; }
  bool compressed() const noexcept { return rx_.deflate().enabled; }

 private:
  static constexpr std::uint8_t kOpen = 0;
  static constexpr std::uint8_t kClosing = 1;
  static constexpr std::uint8_t kClosed = 2;

  // What fill() found.
  enum class Fill : std::uint8_t { got, eof, close_timeout, pong_timeout, read_timeout };
  // How a receive loop ends (the reader's outcome, or a message).
  enum class Outcome : std::uint8_t { message, piece, closed };

  // The receive loop, for read() (into m), read_some() (into buf) and the
  // close handshake's drain (discard).
  struct Sink;
  Outcome receive(Sink& sink);
  Fill fill(std::size_t want, Clock::time_point call_deadline);
  void append_input(const unsigned char* p, std::size_t n);
  void release_read_buffer() noexcept;
  void expire_close() noexcept;
  void on_ping();
  void on_pong();
  void on_cancelled();
  // finish() records the outcome (code, reason, by whom), closes the
  // output, and makes state_ closed.
  void finish(std::uint16_t code, std::string_view reason, bool by_peer) noexcept;
  void report(Message& m) const;

  // Writing: frame_mu_ held.
  void send_frame_locked(std::uint8_t opcode, bool fin, bool rsv1, const char* data, std::size_t n);
  void send_close_locked(std::uint16_t code, std::string_view reason);
  void send_control(std::uint8_t opcode, std::string_view payload);
  [[noreturn]] void throw_closed() const;
  Deflater& deflater();
  void give_back_deflater() noexcept;

  // The fields go largest first within each group, without holes: a
  // Connection lives as long as its WebSocket, idle or not (issue 14's
  // 6 KiB per idle WebSocket). 600 bytes, 624 with make_shared's count and
  // malloc's header; it was 680 (704).
  http::Stream* stream_;  // null once detached (set under frame_mu_)
  const Settings s_;
  const std::string subprotocol_;

  // The reader's.
  cogo::Mutex read_mu_;  // held by whoever reads: read(), read_some(), a draining close()
  Receiver rx_;          // also keeps the DeflateParams: rx_.deflate()
  unsigned char* rbuf_ = nullptr;
  std::size_t rcap_ = 0;
  std::size_t rbegin_ = 0;
  std::size_t rend_ = 0;
  Clock::time_point last_rx_;     // coarse: when bytes last arrived
  Clock::time_point ping_check_;  // when to look whether a ping is due
  Clock::time_point pong_due_;    // awaiting_pong_: the pong's deadline
  std::uint64_t ping_count_ = 0;  // the payload of the last keep-alive ping
  std::string outcome_reason_;
  std::uint16_t outcome_code_ = 0;
  bool awaiting_pong_ = false;
  bool finished_ = false;    // the outcome below is final
  bool cancelling_ = false;  // on_cancelled() runs: no second one
  bool outcome_by_peer_ = false;
  // The writers' (here it fills the 2 bytes the reader's fields leave).
  std::atomic<std::uint16_t> closed_code_{0};  // the first close code sent or reported

  // The writers'.
  cogo::Mutex message_mu_;                  // one data message at a time
  cogo::Mutex frame_mu_;                    // one frame at a time
  std::atomic<std::int64_t> close_due_{0};  // closing: when to stop waiting (ns since epoch)
  std::unique_ptr<Deflater> deflater_;      // under message_mu_
  std::string compressed_;                  // under message_mu_: a compressed message
  std::size_t part_frames_ = 0;             // under message_mu_: frames a Writer sent
  int fd_;                                  // the stream's socket, for detach()'s wake-up
  std::atomic<int> writing_{0};             // writers inside a frame write
  std::atomic<std::uint8_t> state_{kOpen};
  std::atomic<bool> write_broken_{false};  // a frame went out in part: no more frames
  std::atomic<bool> detaching_{false};
  std::atomic<bool> cancelled_{false};  // a wait of this connection was cancelled
  Utf8Validator part_utf8_;             // under message_mu_: a text Writer's message
};

}  // namespace cogo::websocket::detail
