// cogo/websocket.h: WebSocket (RFC 6455) with permessage-deflate (RFC 7692),
// in blocking style: a handler accepts the upgrade, then reads and writes
// messages in a loop on its own goroutine (or thread).
//
//   router.get("/ws/echo", [](cogo::http::Request& req, cogo::http::Response& res) {
//     cogo::websocket::WebSocket ws = cogo::websocket::accept(req, res);
//     if (!ws) return;                         // not a valid handshake: answered 400/403/426
//     cogo::websocket::Message m;
//     while (ws.read(m)) ws.write(m.kind, m.data);   // read() is false once closed
//   });
//
// What the connection does by itself, while the handler waits in read():
// answers pings with pongs, validates every frame (masking, opcodes, reserved
// bits, fragmentation, control frame rules, UTF-8 of text incrementally and
// across fragments, close codes), enforces the size limits (compressed
// messages are measured as they inflate: a zip bomb is closed with 1009),
// sends keep-alive pings when asked to, and answers the peer's close. A
// protocol violation is answered with the close code RFC 6455 7.4.1 names
// (1002, 1007, 1009) and ends the connection; read() then reports it.
//
// Writes may come from several goroutines at once (a chat room's fan-out
// beside the connection's own reader): each message goes out whole, and a
// message written frame by frame (Writer) holds the others back until its
// last frame, while pongs and closes may still pass between its frames.
// Another goroutine should hold a Sender (ws.sender()), which stays safe to
// use after the handler returned (its writes then throw Error).
//
// Cancellation: read() and the writes are cancellation points (cogo/cancel.h).
// When the request's context is done — the server shuts down, a deadline the
// handler set passes — read() sends close 1001 (going away), waits for the
// peer's close (close_timeout at most) and throws cogo::Cancelled. A server
// shutting down cancels every WebSocket at its start, so each says 1001 and
// closes well within the grace period.
//
// The connection costs, idle in read(): the handler's goroutine stack (the
// pages it touched, usually one or two), ~1 KiB of state and no read buffer
// (the buffer is given back whenever read() waits with nothing pending).
// permessage-deflate adds zlib's state: see Deflate.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cogo/error.h"

namespace cogo::http {
class Request;
class Response;
}  // namespace cogo::http

namespace cogo::websocket {

// Close status codes (RFC 6455 7.4.1; 1012-1014 from the IANA registry).
namespace close_code {
inline constexpr std::uint16_t normal = 1000;
inline constexpr std::uint16_t going_away = 1001;
inline constexpr std::uint16_t protocol_error = 1002;
inline constexpr std::uint16_t unsupported_data = 1003;
inline constexpr std::uint16_t no_status = 1005;  // never on the wire: the close frame had no code
inline constexpr std::uint16_t abnormal = 1006;   // never on the wire: no close frame at all
inline constexpr std::uint16_t invalid_payload = 1007;
inline constexpr std::uint16_t policy_violation = 1008;
inline constexpr std::uint16_t message_too_big = 1009;
inline constexpr std::uint16_t mandatory_extension = 1010;
inline constexpr std::uint16_t internal_error = 1011;
inline constexpr std::uint16_t service_restart = 1012;
inline constexpr std::uint16_t try_again_later = 1013;
inline constexpr std::uint16_t bad_gateway = 1014;
}  // namespace close_code

// Deflate: permessage-deflate (RFC 7692), negotiated per connection when the
// client offers it and enabled is true. What it costs per connection (zlib's
// own figures, allocated at the first compressed message each way):
//   compressing (server):   (1 << (server_max_window_bits + 2)) + (1 << (mem_level + 9))
//                           bytes: 256 KiB at 15/8, 8 KiB at 9/1
//   decompressing (client): (1 << client_max_window_bits) + ~7 KiB: 39 KiB at 15
// held for the connection's life with context takeover (the default: better
// ratios for streams of similar messages). With server_no_context_takeover
// the compressor is per thread, not per connection; with
// client_no_context_takeover the decompressor is held only while a message
// arrives. max_connections caps how many connections compress at once.
struct Deflate {
  bool enabled = false;
  // The window the server compresses with (9..15; a client asking for 8 is
  // declined: zlib cannot make raw deflate streams with a 256-byte window).
  int server_max_window_bits = 15;
  // The window asked of the client, when its offer allows asking (8..15).
  int client_max_window_bits = 15;
  // Forget the compression context after each message (server side; the
  // client may ask for it too), or ask the client to.
  bool server_no_context_takeover = false;
  bool client_no_context_takeover = false;
  int level = 6;      // zlib level 1..9
  int mem_level = 8;  // zlib memLevel 1..9 (the compressor's hash table)
  // Messages shorter than this go uncompressed (RFC 7692 allows either).
  std::size_t min_size = 0;
  // At most this many connections of the process negotiate compression at
  // once; later ones are served uncompressed. 0: no cap.
  std::size_t max_connections = 0;
};

// Options of accept(). The defaults suit a public endpoint.
struct Options {
  // Subprotocols the server speaks, preferred first: the first of these the
  // client offers (Sec-WebSocket-Protocol) is chosen. Empty: none.
  std::vector<std::string> subprotocols;
  // Origins allowed to connect (exact, case-insensitive, e.g.
  // "https://example.com"); empty: any. A browser sends Origin; a refused
  // one is answered 403 (RFC 6455 4.2.2). check_origin, when set, decides
  // instead.
  std::vector<std::string> origins;
  std::function<bool(std::string_view origin)> check_origin;

  // A message larger than this (after decompression) is refused with close
  // 1009; so is a frame larger than max_frame_bytes (0: max_message_bytes).
  // read_some() streams messages of any size, frames still limited.
  std::size_t max_message_bytes = 16 * 1024 * 1024;
  std::size_t max_frame_bytes = 0;
  // Messages larger than this are sent as several frames, so that pongs and
  // closes can pass between them.
  std::size_t write_frame_bytes = 64 * 1024;

  // A read() that gets no whole message within this closes the connection
  // with 1001 (an idle peer) and then reports that close. 0: no limit.
  std::chrono::milliseconds read_timeout{0};
  // Each write: close without a handshake when it cannot finish in time.
  std::chrono::milliseconds write_timeout{30'000};
  // Keep-alive: a ping after ping_interval without any frame from the peer
  // (sent while read() waits); no pong within pong_timeout ends the
  // connection (read() reports 1006). 0: no pings.
  std::chrono::milliseconds ping_interval{0};
  std::chrono::milliseconds pong_timeout{10'000};
  // How long a close handshake waits for the peer's close frame before the
  // connection is closed anyway.
  std::chrono::milliseconds close_timeout{5'000};

  Deflate deflate;
};

// Kind: what a message (or a read_some() piece) is.
enum class Kind : std::uint8_t { text, binary, close };

// Message: one message read. For a close, data is the reason and code the
// status: the peer's (1005 when its close frame had none), or the one this
// side closed with (by_peer false): 1002, 1007, 1009 for the peer's protocol
// errors, 1001 for an idle timeout, 1006 when the connection ended without a
// close frame (the peer vanished, no pong, a write failed).
struct Message {
  Kind kind = Kind::close;
  std::string data;
  std::uint16_t code = 0;
  bool by_peer = false;
  bool is_text() const noexcept { return kind == Kind::text; }
  bool is_binary() const noexcept { return kind == Kind::binary; }
  bool is_close() const noexcept { return kind == Kind::close; }
  // true for a text or binary message: while (ws.read(m)) ...
  explicit operator bool() const noexcept { return kind != Kind::close; }
};

// Error: a write (or ping) on a connection that is closing or closed, or
// whose stream failed; code() is the close status, category "cogo.websocket".
class Error : public cogo::Error {
 public:
  Error(std::uint16_t code, std::string what);
  std::uint16_t close_status() const noexcept { return static_cast<std::uint16_t>(code().value()); }
};
const std::error_category& websocket_category() noexcept;

namespace detail {
class Connection;
}
class Writer;

// Sender: the writing half of a WebSocket, for other goroutines. Copyable;
// safe after the connection ended (writes throw Error). Thread-safe.
// Writes throw Error once the connection is closing or closed, and
// std::system_error or http::TimeoutError (write_timeout) when the socket
// fails under them; the connection then ends (read() reports 1006).
class Sender {
 public:
  Sender() = default;
  explicit operator bool() const noexcept { return c_ != nullptr; }
  // write_text() sends one text message (valid UTF-8, else
  // std::invalid_argument); write_binary() one binary message; write()
  // either.
  void write_text(std::string_view text);
  void write_binary(std::string_view data);
  void write(Kind kind, std::string_view data);
  // writer() starts a message written frame by frame (see Writer).
  Writer writer(Kind kind);
  // ping() sends a ping (at most 125 bytes of payload).
  void ping(std::string_view payload = {});
  // close() starts the close handshake with code (1000-1003, 1007-1014,
  // 3000-4999) and a reason of at most 123 bytes of UTF-8; a second call
  // does nothing. Called where no other goroutine is in read(), it also
  // waits (close_timeout at most) for the peer's close.
  void close(std::uint16_t code = close_code::normal, std::string_view reason = {});
  // open() tells whether messages may still be written.
  bool open() const noexcept;

 protected:
  std::shared_ptr<detail::Connection> c_;
};

// WebSocket: an accepted connection, owned by the handler that accepted it.
// Move-only. Destroying it while the connection is open closes it: 1000
// when the handler returned, 1001 when it unwinds a Cancelled, 1011 another
// exception. One goroutine reads; any number write (through sender()).
class WebSocket : public Sender {
 public:
  WebSocket() = default;
  WebSocket(WebSocket&&) noexcept = default;
  WebSocket& operator=(WebSocket&&) noexcept;
  ~WebSocket();

  // read() reads the next message into m (its buffer reused); false once
  // the connection is closed (m is then the close). read() without an
  // argument returns it. After the close, read() reports it again.
  bool read(Message& m);
  Message read();

  // Piece: what read_some() read.
  struct Piece {
    Kind kind = Kind::close;
    std::size_t size = 0;  // bytes stored (for a close: of the reason)
    bool last = false;     // the message ended with these bytes
  };
  // read_some() reads the next bytes of a message (frame by frame, as they
  // arrive, decompressed) into buf: for messages too large to hold. Only
  // max_frame_bytes applies. Do not mix with read() inside one message.
  Piece read_some(void* buf, std::size_t size);

  // sender() is a handle for other goroutines.
  Sender sender() const { return *this; }

  // subprotocol() is the subprotocol chosen ("" for none); compressed()
  // tells whether permessage-deflate was negotiated.
  std::string_view subprotocol() const noexcept;
  bool compressed() const noexcept;

  // Internal: a WebSocket over a Connection (accept(), serve()).
  explicit WebSocket(std::shared_ptr<detail::Connection> c) noexcept;

 private:
  void release() noexcept;
  int exceptions_ = 0;  // std::uncaught_exceptions() when accepted
};

// Writer: one message written frame by frame. Each write() sends a frame (or
// several, above write_frame_bytes); finish() sends the last. Other data
// messages wait until then; the destructor finishes a message left open.
class Writer {
 public:
  Writer(Writer&& o) noexcept;
  Writer& operator=(Writer&&) = delete;
  ~Writer();
  void write(std::string_view data);
  void finish(std::string_view data = {});

 private:
  friend class Sender;
  Writer(std::shared_ptr<detail::Connection> c, Kind kind);
  std::shared_ptr<detail::Connection> c_;
  Kind kind_;
  bool started_ = false;
  bool finished_ = false;
};

// accept() checks req as a WebSocket opening handshake (RFC 6455 4.2.1) and
// answers it: 101 and an open WebSocket; or, for a request that is not a
// valid handshake, the error status on res (400; 426 with
// Sec-WebSocket-Version: 13 for another version; 403 for a refused origin),
// the connection closing after it, and an empty WebSocket (false). The
// handler keeps its request (req, res, the HTTP engine and its buffers)
// for as long as it uses the WebSocket.
WebSocket accept(http::Request& req, http::Response& res, const Options& options = {});

// serve() is accept() for connections held long: it answers the handshake
// the same way (false when refused), and fn(ws) runs once the handler has
// returned and the HTTP request is over — on the connection's goroutine (or
// thread), with the HTTP engine and its buffers given back, under a context
// the server's shutdown cancels (cogo/http/upgrade.h's deferred upgrade).
// An idle WebSocket then costs its goroutine's stack page and about 1.5 KiB
// (accept(): about 3 KiB more). fn must not use req or res: copy what it
// needs (a path parameter, a header) into its captures.
//
//   router.get("/ws/echo", [](Request& req, Response& res) {
//     cogo::websocket::serve(req, res, {}, [](cogo::websocket::WebSocket& ws) {
//       cogo::websocket::Message m;
//       while (ws.read(m)) ws.write(m.kind, m.data);
//     });
//   });
using Serve = std::function<void(WebSocket& ws)>;
bool serve(http::Request& req, http::Response& res, const Options& options, Serve fn);

}  // namespace cogo::websocket
