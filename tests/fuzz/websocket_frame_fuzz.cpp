// websocket_frame_fuzz: the WebSocket frame reader — bytes a client sends
// after an accepted opening handshake, through the real server path: the
// Http1Session answers the handshake (cogo::websocket::accept(), or
// serve() and its deferred upgrade), then Connection reads the frames from
// the same MemoryStream (reads end at points the fuzzer chooses, the first
// ones may share a read with the head) and its Receiver applies the rules;
// the handler reads with read() or read_some() and may echo each message.
// permessage-deflate is offered in some inputs (RFC 7692), with the
// parameters the control bytes choose.
//
// Input (fuzz_input.h): the payload is the client's frames. Control:
//   byte 0: bits 0-2 limits (max_message, max_frame, write_frame; index 0
//           the defaults), bit 3 read_some() instead of read(), bit 4 echo
//           each message, bit 5 serve() instead of accept(), bit 6 "plain":
//           the target masks each frame's payload with the frame's own key
//           (so the fuzzer's text and DEFLATE data reach the server as
//           written, whatever the key), bit 7 serve_ready() instead of serve().
//   byte 1: permessage-deflate: bit 0 offer it, bit 1 the offer says
//           client_no_context_takeover, bit 2 the server wants
//           client_no_context_takeover, bit 3 server_no_context_takeover;
//           bits 4-7 the offer's client_max_window_bits: 0 none, 1 without
//           a value, 2-7 without a value and the server asks for 6 + v
//           (8..13), 8-15 that value.
//   byte 2: read_some()'s buffer size - 1.
//   then: one byte per read (bits 0-6 its length, 0: all the rest).
//
// Properties, against websocket_reference.h's receive() — RFC 6455 and
// RFC 7692 written again, the payloads unmasked and inflated (zlib) there:
//  - the messages the handler gets are the reference's, in order, each
//    with its kind (read_some(): pieces within the buffer, one kind each,
//    concatenated to the same messages);
//  - the connection ends as the reference says: the peer's close (its code,
//    1005 for none, and reason), a failure with the code RFC 6455 7.4.1
//    gives the rule broken (1002 protocol, 1007 data, 1009 size), or 1006
//    at the end of input;
//  - the server's frames are well formed (unmasked, no RSV2/3, shortest
//    lengths, RSV1 only on a compressed message's first frame) and are, in
//    order: a pong with each ping's payload, each message echoed (inflated
//    by the reference with the server's agreed context takeover), then the
//    close — the peer's code echoed (none for none), or the failure's code
//    with a UTF-8 reason; nothing at the end of input, nothing after a close;
//  - the 101 carries the RFC's Sec-WebSocket-Accept, and an extension
//    answer that accepts the offer under RFC 7692 7.1.
#include <spdlog/spdlog.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "cogo/http/http1_session.h"
#include "cogo/http/memory_stream.h"
#include "cogo/http/request.h"
#include "cogo/http/response.h"
#include "cogo/websocket.h"
#include "fuzz_input.h"
#include "http_reference.h"
#include "websocket_reference.h"

namespace {

using namespace cogo::http;
namespace ws = cogo::websocket;
using cogo_fuzz::printable;

struct Limits {
  std::size_t message, frame, write_frame;
};
constexpr Limits kLimits[8] = {
    {16 * 1024 * 1024, 0, 64 * 1024},  // the defaults
    {125, 0, 64 * 1024},
    {64, 16, 7},
    {1, 0, 64 * 1024},
    {1000, 100, 100},
    {256, 4096, 1},  // a frame may be larger than a message: inflation decides
    {16, 0, 64 * 1024},
    {4096, 127, 3},
};
// Larger messages are not echoed: compressing megabytes of a zip bomb
// back would only slow the fuzzer down.
constexpr std::size_t kMaxEcho = 64 * 1024;

constexpr std::string_view kKey = "dGhlIHNhbXBsZSBub25jZQ==";

struct Got {
  bool called = false;
  std::vector<cogo_fuzz::ws::RefMessage> messages;
  std::vector<bool> echoed;
  std::uint16_t code = 0;
  bool by_peer = false;
  std::string reason;
};

void run_websocket(ws::WebSocket& sock, bool stream_mode, bool echo, std::size_t buf_size, Got& g) {
  auto deliver = [&](bool text, std::string data) {
    const bool e = echo && data.size() <= kMaxEcho;
    if (e) sock.write(text ? ws::Kind::text : ws::Kind::binary, data);
    g.messages.push_back({text, std::move(data), false});
    g.echoed.push_back(e);
  };
  ws::Message m;
  if (!stream_mode) {
    while (sock.read(m)) deliver(m.is_text(), m.data);
  } else {
    std::string buf(buf_size, '\0');
    std::string cur;
    bool in_message = false;
    ws::Kind kind = ws::Kind::binary;
    for (;;) {
      const ws::WebSocket::Piece p = sock.read_some(buf.data(), buf.size());
      FUZZ_CHECK(p.size <= buf.size(), "read_some() stored %zu bytes in %zu", p.size, buf.size());
      if (p.kind == ws::Kind::close) {
        FUZZ_CHECK(!sock.read(m), "read() after the close read a message");
        FUZZ_CHECK(p.size == std::min(buf.size(), m.data.size()) &&
                       std::memcmp(buf.data(), m.data.data(), p.size) == 0,
                   "read_some()'s close reason is not read()'s");
        break;
      }
      FUZZ_CHECK(!in_message || p.kind == kind, "a message's pieces changed kind");
      kind = p.kind;
      in_message = true;
      cur.append(buf.data(), p.size);
      if (p.last) {
        deliver(kind == ws::Kind::text, cur);
        cur.clear();
        in_message = false;
      }
    }
  }
  g.code = m.code;
  g.by_peer = m.by_peer;
  g.reason = m.data;
}

// mask_plain() masks each frame's payload with its own key, walking the
// frames as they are laid out (a header it cannot read ends the walk).
void mask_plain(std::string& w) {
  std::size_t pos = 0;
  while (w.size() - pos >= 2) {
    const auto b1 = static_cast<unsigned char>(w[pos + 1]);
    const unsigned len7 = b1 & 0x7F;
    const std::size_t ext = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
    const bool masked = (b1 & 0x80) != 0;
    const std::size_t head = 2 + ext + (masked ? 4 : 0);
    if (w.size() - pos < head) return;
    std::uint64_t len = len7;
    if (ext > 0) {
      len = 0;
      for (std::size_t k = 0; k < ext; ++k)
        len = (len << 8) | static_cast<unsigned char>(w[pos + 2 + k]);
    }
    const std::size_t body = pos + head;
    const std::size_t avail =
        static_cast<std::size_t>(std::min<std::uint64_t>(len, w.size() - body));
    if (masked) {
      for (std::size_t k = 0; k < avail; ++k) w[body + k] ^= w[pos + 2 + ext + (k & 3)];
    }
    if (avail < len) return;
    pos = body + avail;
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cogo_fuzz::FuzzInput in(data, size);
  const std::uint8_t config = in.next();
  const std::uint8_t dfl = in.next();
  const std::size_t buf_size = 1 + in.next();
  const Limits& limits = kLimits[config & 7];
  const bool stream_mode = (config & 0x08) != 0;
  const bool echo = (config & 0x10) != 0;
  const bool deferred = (config & 0x20) != 0;
  const bool plain = (config & 0x40) != 0;
  const bool readiness = (config & 0x80) != 0;

  ws::Options options;
  options.max_message_bytes = limits.message;
  options.max_frame_bytes = limits.frame;
  options.write_frame_bytes = limits.write_frame;
  options.deflate.enabled = true;
  options.deflate.client_no_context_takeover = (dfl & 0x04) != 0;
  options.deflate.server_no_context_takeover = (dfl & 0x08) != 0;

  std::string head =
      "GET /ws HTTP/1.1\r\nHost: fuzz\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: ";
  head.append(kKey).append("\r\nSec-WebSocket-Version: 13\r\n");
  std::string offer_text;
  if ((dfl & 1) != 0) {
    offer_text = "permessage-deflate";
    if ((dfl & 2) != 0) offer_text += "; client_no_context_takeover";
    const int cmw = dfl >> 4;
    if (cmw == 1 || (cmw >= 2 && cmw <= 7)) offer_text += "; client_max_window_bits";
    if (cmw >= 2 && cmw <= 7) options.deflate.client_max_window_bits = 6 + cmw;
    if (cmw >= 8) offer_text += "; client_max_window_bits=" + std::to_string(cmw);
    head.append("Sec-WebSocket-Extensions: ").append(offer_text).append("\r\n");
  }
  head.append("\r\n");

  std::string wire(in.payload());
  if (plain) mask_plain(wire);
  const std::string input = head + wire;

  Got got;
  Handler handler = [&](Request& req, Response& res) {
    got.called = true;
    if (deferred) {
      const bool ok = ws::serve(req, res, options, [&](ws::WebSocket& sock) {
        run_websocket(sock, stream_mode, echo, buf_size, got);
      });
      FUZZ_CHECK(ok, "serve() refused a valid handshake");
    } else {
      ws::WebSocket sock = ws::accept(req, res, options);
      FUZZ_CHECK(static_cast<bool>(sock), "accept() refused a valid handshake");
      run_websocket(sock, stream_mode, echo, buf_size, got);
    }
  };

  MemoryStream stream;
  std::size_t at = 0;
  while (at < input.size()) {
    const std::uint8_t b = in.next();
    const std::size_t len =
        (b & 0x7f) == 0 ? input.size() - at : std::min<std::size_t>(b & 0x7f, input.size() - at);
    stream.add(std::string_view(input).substr(at, len));
    at += len;
  }
  HttpOptions http_options;
  Http1Session session(handler, http_options, "192.0.2.1:1234");
  if (readiness) {
    if (session.serve_ready(stream) == Http1Session::State::upgraded) session.run_upgrade(stream);
  } else {
    session.serve(stream);
    if (session.upgraded()) session.run_upgrade(stream);
  }
  FUZZ_CHECK(got.called, "the handshake never reached the handler");

  // The 101 and what it agreed.
  const std::string& out = stream.output();
  const cogo_fuzz::ws::ResponseHead rh = cogo_fuzz::ws::split_response_head(out);
  FUZZ_CHECK(rh.found && rh.response.status == 101, "no 101: %s", printable(out, 400).c_str());
  FUZZ_CHECK(rh.response.field("Sec-WebSocket-Accept") == cogo_fuzz::ws::accept_key(kKey),
             "Sec-WebSocket-Accept %s", rh.response.field("Sec-WebSocket-Accept").c_str());
  cogo_fuzz::ws::DeflateParams agreed;
  const bool deflate = rh.response.has_field("Sec-WebSocket-Extensions");
  if (deflate) {
    std::vector<cogo_fuzz::ws::Extension> offered, answered;
    FUZZ_CHECK(cogo_fuzz::ws::parse_extension_list(offer_text, offered) && offered.size() == 1,
               "the target's offer does not parse");
    const std::string answer = rh.response.field("Sec-WebSocket-Extensions");
    FUZZ_CHECK(cogo_fuzz::ws::parse_extension_list(answer, answered) && answered.size() == 1 &&
                   answered[0].name == "permessage-deflate",
               "extension answer %s", answer.c_str());
    agreed = cogo_fuzz::ws::read_deflate_params(answered[0], true);
    FUZZ_CHECK(cogo_fuzz::ws::response_accepts(
                   cogo_fuzz::ws::read_deflate_params(offered[0], false), agreed),
               "answer %s does not accept the offer %s (RFC 7692 7.1)", answer.c_str(),
               offer_text.c_str());
    FUZZ_CHECK(!options.deflate.client_no_context_takeover || agreed.client_no_context_takeover,
               "the server wants client_no_context_takeover and did not say so");
    FUZZ_CHECK(!options.deflate.server_no_context_takeover || agreed.server_no_context_takeover,
               "the server keeps no context and did not say so");
  } else {
    FUZZ_CHECK(offer_text.empty(), "a valid offer %s was declined", offer_text.c_str());
  }

  // The reference's reading of the frames.
  cogo_fuzz::ws::ReceiveConfig cfg;
  cfg.max_message = limits.message;
  cfg.max_frame = limits.frame > 0 ? limits.frame : limits.message;
  cfg.stream_mode = stream_mode;
  cfg.deflate = deflate;
  // The reference inflates with a 32 KiB window, which reads whatever a
  // client may send when the answer has no client_max_window_bits (RFC
  // 7692 7.1.2.2: the offer's value is only a hint). With a smaller window
  // agreed, a client reaching back further breaks the agreement, and
  // whether zlib notices depends on how much output the server asks for
  // at once (a match inside the output buffer is allowed): such input may
  // end in 1007 early instead (window_slack below).
  const int window = agreed.client_max_window_bits ? agreed.client_max_window_bits_value : 15;
  cfg.client_window_bits = 15;
  cfg.client_no_context_takeover = agreed.client_no_context_takeover;
  const cogo_fuzz::ws::Reception ref = cogo_fuzz::ws::receive(wire, cfg);
  if (deflate && window < 15 && got.code == 1007 && !got.by_peer &&
      (ref.end != cogo_fuzz::ws::Reception::End::fail || ref.code != 1007 ||
       got.messages.size() != ref.messages.size())) {
    // window_slack: the server failed the connection on a reach beyond the
    // agreed window; what it delivered before is the reference's.
    FUZZ_CHECK(got.messages.size() <= ref.messages.size(), "more messages than the reference");
    for (std::size_t i = 0; i < got.messages.size(); ++i) {
      FUZZ_CHECK(got.messages[i].text == ref.messages[i].text &&
                     got.messages[i].data == ref.messages[i].data,
                 "message %zu differs before a failure of the window", i);
    }
    const cogo_fuzz::ws::ServerFrames sf =
        cogo_fuzz::ws::parse_server_frames(std::string_view(out).substr(rh.head_end), deflate);
    FUZZ_CHECK(sf.error.empty() && !sf.frames.empty() && sf.frames.back().opcode == 8,
               "a window failure without a close frame");
    return 0;
  }

  if (std::getenv("COGO_FUZZ_DEBUG") != nullptr) {
    std::fprintf(stderr, "wire: %s\noutput: %s\nref: %zu messages, end %d code %u (%s)\n",
                 printable(wire, 400).c_str(), printable(out.substr(rh.head_end), 400).c_str(),
                 ref.messages.size(), static_cast<int>(ref.end), ref.code, ref.why);
  }
  FUZZ_CHECK(got.messages.size() == ref.messages.size(),
             "%zu messages delivered, the reference %zu (end %d, %u: %s)", got.messages.size(),
             ref.messages.size(), static_cast<int>(ref.end), ref.code, ref.why);
  for (std::size_t i = 0; i < ref.messages.size(); ++i) {
    FUZZ_CHECK(got.messages[i].text == ref.messages[i].text &&
                   got.messages[i].data == ref.messages[i].data,
               "message %zu: %s %s, the reference %s %s", i,
               got.messages[i].text ? "text" : "binary", printable(got.messages[i].data).c_str(),
               ref.messages[i].text ? "text" : "binary", printable(ref.messages[i].data).c_str());
  }
  using End = cogo_fuzz::ws::Reception::End;
  switch (ref.end) {
    case End::eof:
      FUZZ_CHECK(got.code == 1006 && !got.by_peer, "end of input reported as %u (by peer %d)",
                 got.code, got.by_peer);
      break;
    case End::peer_close:
      FUZZ_CHECK(got.code == ref.code && got.by_peer && got.reason == ref.reason,
                 "the peer's close %u %s reported as %u %s (by peer %d)", ref.code,
                 printable(ref.reason).c_str(), got.code, printable(got.reason).c_str(),
                 got.by_peer);
      break;
    case End::fail:
      FUZZ_CHECK(got.code == ref.code && !got.by_peer,
                 "the reference fails with %u (%s), the server reported %u (by peer %d): %s",
                 ref.code, ref.why, got.code, got.by_peer, got.reason.c_str());
      break;
  }
  FUZZ_CHECK(ref.end == End::eof || stream.shut_down(),
             "the server did not close its side after the close (RFC 6455 7.1.1)");

  // The server's frames.
  const cogo_fuzz::ws::ServerFrames sf =
      cogo_fuzz::ws::parse_server_frames(std::string_view(out).substr(rh.head_end), deflate);
  FUZZ_CHECK(sf.error.empty(), "server frames: %s", sf.error.c_str());
  std::size_t k = 0;
  std::optional<cogo_fuzz::ws::RefInflater> server_inflater;
  for (const cogo_fuzz::ws::Reception::Answer& a : ref.answers) {
    if (a.pong) {
      FUZZ_CHECK(
          k < sf.frames.size() && sf.frames[k].opcode == 0xA && sf.frames[k].payload == a.payload,
          "frame %zu is not the pong of a ping", k);
      ++k;
      continue;
    }
    if (!got.echoed[a.message]) continue;
    const cogo_fuzz::ws::RefMessage& m = ref.messages[a.message];
    FUZZ_CHECK(k < sf.frames.size() && sf.frames[k].opcode == (m.text ? 1u : 2u),
               "frame %zu does not start the echo of message %zu", k, a.message);
    const bool compressed = sf.frames[k].rsv1;
    std::string payload;
    for (;;) {
      FUZZ_CHECK(k < sf.frames.size(), "the echo of message %zu is cut short", a.message);
      const cogo_fuzz::ws::ServerFrame& f = sf.frames[k++];
      FUZZ_CHECK(payload.empty() || f.opcode == 0 || f.opcode == (m.text ? 1u : 2u),
                 "an echo interrupted");
      payload += f.payload;
      if (f.fin) break;
    }
    std::string data = payload;
    if (compressed) {
      if (!server_inflater || agreed.server_no_context_takeover) server_inflater.emplace(15);
      data.clear();
      static const char kTail[4] = {0x00, 0x00, '\xff', '\xff'};
      FUZZ_CHECK(server_inflater->inflate(payload + std::string(kTail, 4), data, 1u << 26),
                 "the server's compressed echo of message %zu does not inflate", a.message);
    }
    FUZZ_CHECK(data == m.data, "message %zu echoed as %s", a.message, printable(data).c_str());
  }
  if (ref.end == End::eof) {
    FUZZ_CHECK(k == sf.frames.size(), "%zu frames after the echoes at the end of input",
               sf.frames.size() - k);
  } else {
    FUZZ_CHECK(k + 1 == sf.frames.size() && sf.frames[k].opcode == 8,
               "not one close frame after the echoes (%zu frames, %zu expected before it)",
               sf.frames.size(), k);
    const std::string& p = sf.frames[k].payload;
    if (ref.end == End::peer_close && ref.code == 1005) {
      FUZZ_CHECK(p.empty(), "a close without a code answered with a payload");
    } else {
      FUZZ_CHECK(p.size() >= 2, "a close answered without a code");
      const unsigned code =
          (static_cast<unsigned char>(p[0]) << 8) | static_cast<unsigned char>(p[1]);
      FUZZ_CHECK(code == ref.code, "close frame with %u, expected %u", code, ref.code);
      FUZZ_CHECK(
          cogo_fuzz::ws::check_utf8(std::string_view(p).substr(2)) == cogo_fuzz::ws::Utf8::complete,
          "a close reason that is not UTF-8");
    }
  }
  return 0;
}
