// websocket_receiver.h: Receiver, the receiving half of a server-side
// WebSocket connection without I/O: bytes in, message bytes and events out.
// It applies every rule RFC 6455 and RFC 7692 set on what a client sends,
// so it can be tested (and fuzzed) on bytes alone; websocket.cpp drives it
// with a socket.
//
// The frame rules (RFC 6455 5.1-5.5), each failing the connection with
// 1002 unless noted:
//   - client frames are masked (5.1, 5.3);
//   - RSV2/RSV3 are never set, RSV1 only on the first frame of a data
//     message when permessage-deflate was negotiated (5.2; RFC 7692 6.1);
//   - opcodes 3-7 and 11-15 are reserved (5.2);
//   - control frames carry at most 125 bytes and are never fragmented
//     (5.5); they may come between the frames of a fragmented message (5.4);
//   - a continuation with no message to continue, or a text/binary frame
//     inside a fragmented message (5.4);
//   - a length in its shortest form, and a 64-bit one with the top bit clear
//     (5.2);
//   - a frame over max_frame, or a message over the caller's limit, 1009
//     (10.4), known from the header where it can be: an uncompressed
//     message is refused before its payload is read, a compressed one as it
//     inflates (the zip bomb's case);
//   - text is UTF-8, checked as each byte arrives, across frames, and at the
//     message's end for a sequence cut short (8.1): 1007;
//   - a close frame's payload is empty or a code (1000-1003, 1007-1014,
//     3000-4999; 7.4) and a UTF-8 reason (5.5.1, 7.1.6): else 1002, 1007;
//   - compressed data that does not inflate: 1007.
//
// Phases (one frame at a time):
//   header        needs a frame header. A control frame is consumed whole
//                 (it waits until all of it is buffered: want()), then
//                 ping/pong/close is reported; a data frame's header moves to
//                 payload.
//   payload       a data frame's payload: unmasked (and inflated) into the
//                 caller's output as it comes. At its end: the next header,
//                 or, for a message's last frame, message_end (uncompressed)
//                 or inflate_tail.
//   inflate_tail  the compressed message's 00 00 ff ff (RFC 7692 7.2.2) and
//                 the output it still has; then message_end.
//   done          after close or fail: nothing more is read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "cogo/websocket.h"
#include "websocket_deflate.h"
#include "websocket_frame.h"
#include "websocket_utf8.h"

namespace cogo::websocket::detail {

class Receiver {
 public:
  struct Config {
    std::uint64_t max_frame = 16 * 1024 * 1024;
    DeflateParams deflate;  // deflate.enabled: permessage-deflate was negotiated
  };
  explicit Receiver(const Config& c) : config_(c) {}
  ~Receiver();
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  enum class Event : std::uint8_t {
    need_more,    // want() more input bytes (counted from the first unconsumed one)
    data,         // message bytes went to the output; more follow
    message_end,  // the message is complete (its last bytes are in the output)
    ping,         // control_payload()
    pong,         // control_payload()
    close,        // close_code() (1005: none), close_reason()
    fail,         // fail_code(), fail_reason(): fail the connection
  };
  struct Step {
    Event event;
    std::size_t consumed;  // input bytes used
    std::size_t produced;  // output bytes written
  };

  // step() reads from in[0, n) into out[0, room) until an event. Input not
  // consumed must be passed again, unchanged, at the start of the next call
  // (compressed payload is unmasked in place). message_limit bounds the
  // message in progress (1009 beyond). A data step with nothing produced
  // means the output is full: give room.
  Step step(unsigned char* in, std::size_t n, char* out, std::size_t room,
            std::uint64_t message_limit);

  std::size_t want() const noexcept { return want_; }
  // deflate() is what was agreed for permessage-deflate (enabled or not).
  const DeflateParams& deflate() const noexcept { return config_.deflate; }
  // in_message() tells whether a data message has begun and not ended;
  // message_kind() is its kind (or the last one's).
  bool in_message() const noexcept { return in_message_; }
  Kind message_kind() const noexcept { return kind_; }
  // message_bytes() is how many bytes of the current message were produced.
  std::uint64_t message_bytes() const noexcept { return message_bytes_; }
  // wants_output() tells whether the next step may produce message bytes
  // (a data frame's payload or a compressed message's end is under way):
  // a reader gives output room only then, and holds none while it waits
  // for the next frame.
  bool wants_output() const noexcept {
    return phase_ == Phase::payload || phase_ == Phase::inflate_tail;
  }
  // payload_hint() is how many more bytes the current uncompressed frame
  // will produce (0 when unknown): room to give at once.
  std::uint64_t payload_hint() const noexcept {
    return phase_ == Phase::payload && !compressed_ ? remaining_ : 0;
  }
  std::string_view control_payload() const noexcept {
    return {reinterpret_cast<const char*>(control_), control_size_};
  }
  std::uint16_t close_code() const noexcept { return close_code_; }
  std::string_view close_reason() const noexcept {
    return control_size_ > 2 ? control_payload().substr(2) : std::string_view();
  }
  std::uint16_t fail_code() const noexcept { return fail_code_; }
  const char* fail_reason() const noexcept { return fail_reason_; }

 private:
  enum class Phase : std::uint8_t { header, payload, inflate_tail, done };

  Step fail(std::uint16_t code, const char* reason, std::size_t consumed, std::size_t produced);
  Inflater& inflater();
  void end_compressed_message() noexcept;

  // Fields by size, largest first: a Receiver lives in every connection,
  // idle ones included, and the holes between mixed sizes were 32 bytes.
  const Config config_;  // const: writers read deflate() beside the reader
  std::size_t want_ = 2;

  // The data frame being read.
  std::uint64_t remaining_ = 0;  // payload bytes not consumed yet
  std::uint64_t frame_pos_ = 0;  // payload bytes consumed (the mask's phase)
  std::size_t unmasked_ = 0;     // compressed: input bytes at the front already unmasked

  // The data message being read.
  std::uint64_t message_bytes_ = 0;
  std::unique_ptr<Inflater> inflater_;  // with context takeover: for the connection's life

  // The failure; the close code.
  const char* fail_reason_ = "";
  std::uint16_t fail_code_ = 0;
  std::uint16_t close_code_ = 0;

  Utf8Validator utf8_;          // the data message's text so far
  unsigned char mask_[4] = {};  // the data frame's
  Phase phase_ = Phase::header;
  bool fin_ = false;             // the data frame's
  bool pending_output_ = false;  // compressed: the last inflate filled the output
  std::uint8_t tail_fed_ = 0;    // inflate_tail: bytes of 00 00 ff ff given to zlib
  bool in_message_ = false;      // a data message has begun and not ended
  bool compressed_ = false;      // ... and it is compressed
  Kind kind_ = Kind::binary;     // ... and its kind

  // The last control frame.
  std::uint8_t control_size_ = 0;
  unsigned char control_[kMaxControlPayload] = {};
};

// valid_close_code() tells whether code may appear in a close frame (RFC
// 6455 7.4.1, 7.4.2; 1012-1014 from the IANA registry).
inline bool valid_close_code(std::uint16_t code) noexcept {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

}  // namespace cogo::websocket::detail
