// websocket_reference.h: the WebSocket rules written a second time, from
// RFC 6455 and RFC 7692, for the websocket_frame and websocket_handshake
// targets to check the server against. Nothing here calls the server's
// code: not its frame parser, its UTF-8 validator, its base64 or its
// extension grammar (zlib and OpenSSL's SHA-1 are the only shared parts).
//
//  - check_utf8(): RFC 3629's UTF8-octets, on a prefix: valid and complete,
//    a valid prefix that ends inside a sequence which can still complete,
//    or invalid (at the first byte that no completion makes valid).
//  - base64_encode() / base64_decode() (RFC 4648 4) and accept_key()
//    (RFC 6455 4.2.2 item 5.4).
//  - parse_extension_list(): RFC 6455 9.1's grammar (quoted values must
//    unescape to a token; implied *LWS around separators; at least one
//    element, RFC 9110 5.6.1).
//  - DeflateAgreement / check_deflate_response(): RFC 7692 7.1, whether a
//    response accepts one of the client's offers as the RFC allows.
//  - receive(): a server receiving client frames (RFC 6455 5.1-5.6, 7.1.7,
//    7.4; RFC 7692 6, 7.2.2): the messages a reader gets, the pings it
//    answers, and how the connection ends.
//  - parse_server_frames(): what a server wrote, read as a client reads it.
//  - split_response_head(): the first final response head of an output.
#pragma once

#include <openssl/sha.h>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http_reference.h"

namespace cogo_fuzz::ws {

// ------------------------------------------------------------------ UTF-8

enum class Utf8 { complete, partial, invalid };

// check_utf8() reads s as UTF-8 (RFC 3629 3-4): every sequence decodes to a
// code point in its length's range, not a surrogate, at most U+10FFFF. A
// sequence cut short at the end is partial when some continuation bytes
// would make it valid: the code points it can still become, [lo, hi],
// meet the allowed ones.
inline Utf8 check_utf8(std::string_view s) {
  static const std::uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      ++i;
      continue;
    }
    int len;
    std::uint32_t cp;
    if ((b & 0xE0) == 0xC0) {
      len = 2;
      cp = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
      len = 3;
      cp = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
      len = 4;
      cp = b & 0x07;
    } else {
      return Utf8::invalid;
    }
    const std::size_t have = std::min<std::size_t>(static_cast<std::size_t>(len), s.size() - i);
    for (std::size_t k = 1; k < have; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) return Utf8::invalid;
      cp = (cp << 6) | (c & 0x3F);
    }
    const int missing = len - static_cast<int>(have);
    const std::uint32_t lo = cp << (6 * missing);
    const std::uint32_t hi = lo | ((1u << (6 * missing)) - 1);
    auto meets = [lo, hi](std::uint32_t a, std::uint32_t b) {
      return std::max(lo, a) <= std::min(hi, b);
    };
    if (!meets(kMin[len], 0xD7FF) && !meets(std::max<std::uint32_t>(kMin[len], 0xE000), 0x10FFFF))
      return Utf8::invalid;
    if (missing > 0) return Utf8::partial;
    i += static_cast<std::size_t>(len);
  }
  return Utf8::complete;
}

// ----------------------------------------------------------------- base64

inline constexpr std::string_view kBase64 =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

inline std::string base64_encode(std::string_view in) {
  std::string out;
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const std::uint32_t v = (std::uint32_t{static_cast<unsigned char>(in[i])} << 16) |
                            (std::uint32_t{static_cast<unsigned char>(in[i + 1])} << 8) |
                            static_cast<unsigned char>(in[i + 2]);
    for (int k = 3; k >= 0; --k) out.push_back(kBase64[(v >> (6 * k)) & 63]);
  }
  const std::size_t rest = in.size() - i;
  if (rest > 0) {
    std::uint32_t v = std::uint32_t{static_cast<unsigned char>(in[i])} << 16;
    if (rest == 2) v |= std::uint32_t{static_cast<unsigned char>(in[i + 1])} << 8;
    out.push_back(kBase64[(v >> 18) & 63]);
    out.push_back(kBase64[(v >> 12) & 63]);
    out.push_back(rest == 2 ? kBase64[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

// base64_decode() decodes RFC 4648 4's alphabet with padding; nullopt when s
// is not base64 (length, alphabet, padding). Pad bits that are not zero are
// accepted (4648 3.5 lets a decoder accept them; a key with them still
// "when decoded, is 16 bytes").
inline std::optional<std::string> base64_decode(std::string_view s) {
  if (s.size() % 4 != 0) return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < s.size(); i += 4) {
    const bool last = i + 4 == s.size();
    std::uint32_t v = 0;
    int pads = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s[i + static_cast<std::size_t>(k)];
      if (c == '=') {
        if (!last || k < 2) return std::nullopt;
        ++pads;
        v <<= 6;
        continue;
      }
      if (pads > 0) return std::nullopt;  // data after padding
      const std::size_t at = kBase64.find(c);
      if (at == std::string_view::npos) return std::nullopt;
      v = (v << 6) | static_cast<std::uint32_t>(at);
    }
    out.push_back(static_cast<char>(v >> 16));
    if (pads < 2) out.push_back(static_cast<char>((v >> 8) & 0xFF));
    if (pads < 1) out.push_back(static_cast<char>(v & 0xFF));
  }
  return out;
}

// accept_key() is RFC 6455 4.2.2 item 5.4: base64(SHA-1(key + GUID)).
inline std::string accept_key(std::string_view key) {
  const std::string text = std::string(key) + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  return base64_encode(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

// ------------------------------------------------ lists and extensions

inline bool is_tchar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}
inline bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar);
}

// list_elements() splits a field value of RFC 9110 5.6.1's #list of tokens
// (no quoted strings: Upgrade, Connection, Sec-WebSocket-Protocol) into its
// elements, OWS trimmed, empty ones dropped.
inline std::vector<std::string> list_elements(std::string_view v) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= v.size(); ++i) {
    if (i == v.size() || v[i] == ',') {
      std::string e = trim_ows(v.substr(start, i - start));
      if (!e.empty()) out.push_back(std::move(e));
      start = i + 1;
    }
  }
  return out;
}

struct ExtParam {
  std::string name;
  std::string value;
  bool has_value = false;
};
struct Extension {
  std::string name;
  std::vector<ExtParam> params;
};

// parse_extension_list() appends the extensions of one field value to out;
// false when the value is not RFC 6455 9.1's
//   extension-list = 1#extension
//   extension = extension-token *( ";" extension-param )
//   extension-param = token [ "=" (token | quoted-string) ]
// (the value of a quoted-string, unescaped, must be a token too), with
// implied *LWS (OWS here) between the items. Empty list elements are
// skipped (RFC 9110 5.6.1.2); the caller checks that one element exists.
inline bool parse_extension_list(std::string_view v, std::vector<Extension>& out) {
  std::size_t i = 0;
  auto ows = [&] {
    while (i < v.size() && (v[i] == ' ' || v[i] == '\t')) ++i;
  };
  auto token = [&](std::string& t) {
    const std::size_t b = i;
    while (i < v.size() && is_tchar(v[i])) ++i;
    t.assign(v.substr(b, i - b));
    return !t.empty();
  };
  bool expect_element = true;  // after a comma (or at the start)
  for (;;) {
    ows();
    if (i == v.size()) return true;
    if (v[i] == ',') {
      ++i;
      expect_element = true;
      continue;
    }
    if (!expect_element) return false;
    Extension e;
    if (!token(e.name)) return false;
    for (;;) {
      ows();
      if (i == v.size() || v[i] == ',') break;
      if (v[i] != ';') return false;
      ++i;
      ows();
      ExtParam p;
      if (!token(p.name)) return false;
      ows();
      if (i < v.size() && v[i] == '=') {
        ++i;
        ows();
        p.has_value = true;
        if (i < v.size() && v[i] == '"') {
          ++i;
          bool closed = false;
          while (i < v.size()) {
            const auto c = static_cast<unsigned char>(v[i++]);
            if (c == '"') {
              closed = true;
              break;
            }
            if (c == '\\') {
              if (i == v.size()) return false;
              const auto q = static_cast<unsigned char>(v[i++]);
              if (q != '\t' && q < 0x20) return false;  // quoted-pair: HTAB / SP / VCHAR / obs-text
              if (q == 0x7f) return false;
              p.value.push_back(static_cast<char>(q));
              continue;
            }
            // qdtext: HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
            if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
            p.value.push_back(static_cast<char>(c));
          }
          if (!closed || !is_token(p.value)) return false;
        } else if (!token(p.value)) {
          return false;
        }
      }
      e.params.push_back(std::move(p));
    }
    out.push_back(std::move(e));
    expect_element = false;
  }
}

// ---------------------------------------------- permessage-deflate (7.1)

// window_value() is a *_max_window_bits value: 8..15 in decimal without
// leading zeros (RFC 7692 7.1.2); 0 when it is not one.
inline int window_value(std::string_view v) {
  if (v.empty() || v.size() > 2 || v[0] == '0') return 0;
  int n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return 0;
    n = n * 10 + (c - '0');
  }
  return n >= 8 && n <= 15 ? n : 0;
}

// DeflateParams: one permessage-deflate offer or response, read.
struct DeflateParams {
  bool valid = false;  // known parameters, no duplicates, good values
  bool server_no_context_takeover = false;
  bool client_no_context_takeover = false;
  int server_max_window_bits = 0;  // 0: absent
  bool client_max_window_bits = false;
  int client_max_window_bits_value = 0;  // 0: without a value
};

// read_deflate_params() reads an extension's parameters (RFC 7692 7.1: an
// offer or a response with an unknown parameter, a duplicate, or a bad
// value is invalid). In a response client_max_window_bits needs its value.
inline DeflateParams read_deflate_params(const Extension& e, bool response) {
  DeflateParams d;
  bool seen[4] = {};
  for (const ExtParam& p : e.params) {
    const std::string n = ascii_lower(p.name);
    int which = n == "server_no_context_takeover"   ? 0
                : n == "client_no_context_takeover" ? 1
                : n == "server_max_window_bits"     ? 2
                : n == "client_max_window_bits"     ? 3
                                                    : -1;
    if (which < 0 || seen[which]) return d;
    seen[which] = true;
    switch (which) {
      case 0:
        if (p.has_value) return d;
        d.server_no_context_takeover = true;
        break;
      case 1:
        if (p.has_value) return d;
        d.client_no_context_takeover = true;
        break;
      case 2:
        if (!p.has_value || (d.server_max_window_bits = window_value(p.value)) == 0) return d;
        break;
      case 3:
        d.client_max_window_bits = true;
        if (p.has_value && (d.client_max_window_bits_value = window_value(p.value)) == 0) return d;
        if (response && !p.has_value) return d;
        break;
    }
  }
  d.valid = true;
  return d;
}

// response_accepts() tells whether response r is one RFC 7692 7.1 lets a
// server send to accept offer o.
inline bool response_accepts(const DeflateParams& o, const DeflateParams& r) {
  if (!o.valid || !r.valid) return false;
  // 7.1.1.1: an offered server_no_context_takeover is accepted by answering it.
  if (o.server_no_context_takeover && !r.server_no_context_takeover) return false;
  // 7.1.2.1: an offered server_max_window_bits is answered with the same or
  // a smaller value.
  if (o.server_max_window_bits != 0 &&
      (r.server_max_window_bits == 0 || r.server_max_window_bits > o.server_max_window_bits))
    return false;
  // 7.1.2.2: client_max_window_bits only when offered, no more than its value.
  if (r.client_max_window_bits) {
    if (!o.client_max_window_bits) return false;
    if (o.client_max_window_bits_value != 0 &&
        r.client_max_window_bits_value > o.client_max_window_bits_value)
      return false;
  }
  return true;
}

// ------------------------------------------------- client frames (6455)

inline bool valid_close_code(std::uint32_t code) {
  // 7.4.1 defines 1000-1003 and 1007-1011 to send; 1004 is reserved, 1005,
  // 1006 and 1015 never go on the wire (7.4.1); 1012-1014 are IANA's
  // (7.4.2's registry); 1016-2999 are reserved for this protocol's future,
  // 3000-4999 for libraries, frameworks and applications (7.4.2).
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

struct RefMessage {
  bool text = false;
  std::string data;
  bool compressed = false;
};

struct Reception {
  std::vector<RefMessage> messages;  // delivered, in order
  // The server's frames, in the order it must write them: each ping's
  // payload (a pong) and each message's index (its echo, if echoing).
  struct Answer {
    bool pong = false;
    std::string payload;  // pong
    std::size_t message = 0;
  };
  std::vector<Answer> answers;
  enum class End { eof, peer_close, fail } end = End::eof;
  std::uint16_t code = 1006;  // peer_close: its code (1005 none); fail: the code to send
  std::string reason;         // peer_close: its reason
  const char* why = "";       // fail: the rule
};

struct ReceiveConfig {
  std::uint64_t max_message = 0;  // after inflation; none in stream mode
  std::uint64_t max_frame = 0;
  bool stream_mode = false;  // read_some(): no message limit
  bool deflate = false;      // permessage-deflate agreed
  int client_window_bits = 15;
  bool client_no_context_takeover = false;
};

// RefInflater: the receiver's DEFLATE context (RFC 7692 7.2.2): one raw
// stream for the connection (context takeover) or per message. A stream
// that ends (a block with BFINAL, 7.2.3.3's alternative to the empty
// stored block) is followed by a fresh one within the same message.
class RefInflater {
 public:
  explicit RefInflater(int window_bits) : bits_(window_bits) {
    if (inflateInit2(&z_, -bits_) != Z_OK) std::abort();
  }
  ~RefInflater() { inflateEnd(&z_); }
  RefInflater(const RefInflater&) = delete;
  RefInflater& operator=(const RefInflater&) = delete;
  void reset() { inflateReset(&z_); }
  // inflate() appends to out what in inflates to, at most room bytes;
  // false on a data error.
  bool inflate(std::string_view in, std::string& out, std::size_t room) {
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z_.avail_in = static_cast<uInt>(in.size());
    for (;;) {
      unsigned char buf[4096];
      const std::size_t want = std::min(sizeof buf, room);
      z_.next_out = buf;
      z_.avail_out = static_cast<uInt>(want);
      const uInt before_in = z_.avail_in;
      const int r = ::inflate(&z_, Z_SYNC_FLUSH);
      const std::size_t got = want - z_.avail_out;
      out.append(reinterpret_cast<char*>(buf), got);
      room -= got;
      if (r == Z_STREAM_END) {
        inflateReset(&z_);
        if (z_.avail_in == 0) return true;
        continue;
      }
      if (r != Z_OK && r != Z_BUF_ERROR) return false;
      if (room == 0) return true;  // the caller's limit: the rest is not looked at
      if (got == 0 && z_.avail_in == before_in) return true;  // needs more input
    }
  }

 private:
  z_stream z_{};
  int bits_;
};

// receive() applies RFC 6455's receiving rules to what a client sent (the
// masked bytes, as on the wire), as a server that reads until the
// connection ends. Where one frame breaks several rules the protocol error
// (1002) is reported before a size (1009): the header's own rules first.
inline Reception receive(std::string_view wire, const ReceiveConfig& cfg) {
  Reception r;
  std::optional<RefInflater> inflater;
  auto fail = [&r](std::uint16_t code, const char* why) {
    r.end = Reception::End::fail;
    r.code = code;
    r.why = why;
    return r;
  };
  bool in_message = false;
  RefMessage cur;
  std::string compressed;  // the current compressed message's payload so far
  std::string inflated;    // ... and what it inflated to
  std::size_t pos = 0;
  const auto n = wire.size();
  auto byte = [&wire](std::size_t i) { return static_cast<unsigned char>(wire[i]); };
  for (;;) {
    if (n - pos < 2) return r;  // eof (a header cut short or nothing more)
    const unsigned char b0 = byte(pos);
    const unsigned char b1 = byte(pos + 1);
    const bool fin = (b0 & 0x80) != 0;
    const bool rsv1 = (b0 & 0x40) != 0;
    const bool rsv23 = (b0 & 0x30) != 0;
    const unsigned op = b0 & 0x0F;
    const bool masked = (b1 & 0x80) != 0;
    const unsigned len7 = b1 & 0x7F;
    const std::size_t ext = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
    const std::size_t head = 2 + ext + (masked ? 4 : 0);
    if (n - pos < head) return r;
    std::uint64_t len = len7;
    if (len7 >= 126) {
      len = 0;
      for (std::size_t k = 0; k < ext; ++k) len = (len << 8) | byte(pos + 2 + k);
      // 5.2: the most significant bit of a 64-bit length MUST be 0, and
      // the minimal number of bytes MUST be used.
      if (ext == 8 && (len >> 63) != 0) return fail(1002, "64-bit length with the top bit");
      if ((ext == 2 && len < 126) || (ext == 8 && len < 65536))
        return fail(1002, "length not minimal");
    }
    const bool control = op >= 8;
    if (rsv23) return fail(1002, "RSV2/RSV3 without an extension");
    if ((op >= 3 && op <= 7) || op >= 11) return fail(1002, "reserved opcode");
    if (!masked) return fail(1002, "unmasked client frame");  // 5.1
    if (control) {
      if (!fin) return fail(1002, "fragmented control frame");  // 5.5
      if (len > 125) return fail(1002, "control frame over 125 bytes");
      if (rsv1) return fail(1002, "RSV1 on a control frame");  // RFC 7692 6.1: data only
    } else if (op == 0) {
      if (!in_message) return fail(1002, "continuation without a message");  // 5.4
      if (rsv1) return fail(1002, "RSV1 on a continuation frame");           // RFC 7692 6.1
    } else {
      if (in_message) return fail(1002, "new data frame inside a fragmented message");
      if (rsv1 && !cfg.deflate) return fail(1002, "RSV1 without permessage-deflate");
    }
    unsigned char mask[4];
    std::memcpy(mask, wire.data() + pos + 2 + ext, 4);
    const std::size_t body = pos + head;
    if (control) {
      if (n - body < len) return r;  // eof inside a control frame
      std::string payload(wire.substr(body, len));
      for (std::size_t k = 0; k < payload.size(); ++k) payload[k] ^= static_cast<char>(mask[k % 4]);
      pos = body + len;
      if (op == 0x9) {
        r.answers.push_back({true, payload, 0});
      } else if (op == 0x8) {
        // 5.5.1: empty, or a 2-byte code then a UTF-8 reason.
        if (payload.empty()) {
          r.end = Reception::End::peer_close;
          r.code = 1005;
          return r;
        }
        if (payload.size() == 1) return fail(1002, "close payload of one byte");
        const std::uint32_t code = (std::uint32_t{static_cast<unsigned char>(payload[0])} << 8) |
                                   static_cast<unsigned char>(payload[1]);
        if (!valid_close_code(code)) return fail(1002, "close code that may not be sent");
        if (check_utf8(std::string_view(payload).substr(2)) != Utf8::complete)
          return fail(1007, "close reason not UTF-8");
        r.end = Reception::End::peer_close;
        r.code = static_cast<std::uint16_t>(code);
        r.reason = payload.substr(2);
        return r;
      }
      continue;  // a pong: nothing to do
    }
    // A data frame.
    if (op != 0) {
      in_message = true;
      cur = RefMessage{op == 1, {}, rsv1};
      compressed.clear();
      inflated.clear();
      if (cur.compressed && (!inflater || cfg.client_no_context_takeover)) {
        inflater.emplace(cfg.client_window_bits);
      }
    }
    if (len > cfg.max_frame) return fail(1009, "frame over max_frame");
    if (!cur.compressed && !cfg.stream_mode && cur.data.size() + len > cfg.max_message)
      return fail(1009, "message over the limit");
    const std::size_t avail = static_cast<std::size_t>(std::min<std::uint64_t>(len, n - body));
    std::string payload(wire.substr(body, avail));
    for (std::size_t k = 0; k < payload.size(); ++k) payload[k] ^= static_cast<char>(mask[k % 4]);
    const bool whole = avail == len;
    const std::uint64_t limit =
        cfg.stream_mode ? std::numeric_limits<std::uint64_t>::max() : cfg.max_message;
    // inflate_more() inflates bytes into the message (limit + 1 at most:
    // enough to see it go over) and applies the checks in stream order.
    auto inflate_more = [&](std::string_view bytes) -> bool {
      // inflated.size() <= limit here: a message over it has failed.
      constexpr std::uint64_t kCap = std::uint64_t{1} << 26;
      const std::uint64_t left = limit - inflated.size();
      const std::size_t room = static_cast<std::size_t>(left >= kCap ? kCap : left + 1);
      std::string out;
      const bool ok = inflater->inflate(bytes, out, room);
      inflated += out;
      if (!ok) {
        fail(1007, "compressed data that does not inflate");
        return false;
      }
      if (cur.text && check_utf8(inflated) == Utf8::invalid) {
        fail(1007, "text not UTF-8");
        return false;
      }
      if (inflated.size() > limit) {
        fail(1009, "message inflates over the limit");
        return false;
      }
      return true;
    };
    if (!cur.compressed) {
      cur.data += payload;
      if (cur.text && check_utf8(cur.data) == Utf8::invalid) return fail(1007, "text not UTF-8");
    } else {
      compressed += payload;
      if (!inflate_more(payload)) return r;
    }
    if (!whole) return r;  // eof inside the payload
    pos = body + avail;
    if (!fin) continue;
    // The message is complete.
    if (cur.compressed) {
      static const char kTail[4] = {0x00, 0x00, '\xff', '\xff'};
      if (!inflate_more(std::string_view(kTail, 4))) return r;
      cur.data = inflated;
      if (cfg.client_no_context_takeover) inflater.reset();
    }
    if (cur.text && check_utf8(cur.data) != Utf8::complete)
      return fail(1007, "text ends inside a UTF-8 sequence");
    in_message = false;
    r.messages.push_back(cur);
    r.answers.push_back({false, {}, r.messages.size() - 1});
  }
}

// -------------------------------------------------- the server's frames

struct ServerFrame {
  bool fin = false;
  bool rsv1 = false;
  unsigned opcode = 0;
  std::string payload;
};

struct ServerFrames {
  std::vector<ServerFrame> frames;
  std::string error;  // not well-formed frames from a server (5.1, 5.2, 5.5)
};

inline ServerFrames parse_server_frames(std::string_view out, bool deflate) {
  ServerFrames s;
  std::size_t pos = 0;
  auto byte = [&out](std::size_t i) { return static_cast<unsigned char>(out[i]); };
  while (pos < out.size()) {
    if (out.size() - pos < 2) {
      s.error = "a frame header cut short";
      return s;
    }
    const unsigned char b0 = byte(pos);
    const unsigned char b1 = byte(pos + 1);
    ServerFrame f;
    f.fin = (b0 & 0x80) != 0;
    f.rsv1 = (b0 & 0x40) != 0;
    f.opcode = b0 & 0x0F;
    if ((b0 & 0x30) != 0) s.error = "RSV2/RSV3 set";
    if ((b1 & 0x80) != 0) s.error = "a masked frame from the server (5.1)";
    const unsigned len7 = b1 & 0x7F;
    const std::size_t ext = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
    if (out.size() - pos < 2 + ext) {
      s.error = "a frame header cut short";
      return s;
    }
    std::uint64_t len = len7;
    if (ext > 0) {
      len = 0;
      for (std::size_t k = 0; k < ext; ++k) len = (len << 8) | byte(pos + 2 + k);
      if ((ext == 2 && len < 126) || (ext == 8 && len < 65536) || (len >> 63) != 0)
        s.error = "a length not in its shortest form";
    }
    const std::size_t body = pos + 2 + ext;
    if (out.size() - body < len) {
      s.error = "a frame cut short";
      return s;
    }
    f.payload.assign(out.substr(body, len));
    pos = body + len;
    if (f.opcode >= 8 && (!f.fin || len > 125)) s.error = "a bad control frame";
    if (f.rsv1 && (!deflate || f.opcode == 0 || f.opcode >= 8)) s.error = "RSV1 where not allowed";
    if (f.opcode != 0 && f.opcode != 1 && f.opcode != 2 && f.opcode != 8 && f.opcode != 9 &&
        f.opcode != 10)
      s.error = "a reserved opcode";
    if (!s.error.empty()) return s;
    s.frames.push_back(std::move(f));
  }
  return s;
}

// ---------------------------------------------------- response heads

// ResponseHead: the first final response of an output, and where the
// bytes after its head start.
struct ResponseHead {
  bool found = false;
  RefResponse response;  // status and fields (body not read)
  std::size_t head_end = 0;
  std::size_t head_begin = 0;
  int interim = 0;  // 1xx responses before it
};

inline ResponseHead split_response_head(std::string_view out) {
  ResponseHead h;
  std::size_t at = 0;
  for (;;) {
    const std::size_t end = out.find("\r\n\r\n", at);
    if (end == std::string_view::npos) return h;
    const std::string_view head = out.substr(at, end + 4 - at);
    const RefResponses r = parse_responses(head, [](std::size_t) { return true; });
    if (r.error || r.messages.empty()) return h;
    if (r.messages[0].status >= 100 && r.messages[0].status < 200 && r.messages[0].status != 101) {
      ++h.interim;
      at = end + 4;
      continue;
    }
    h.found = true;
    h.response = r.messages[0];
    h.head_begin = at;
    h.head_end = end + 4;
    return h;
  }
}

}  // namespace cogo_fuzz::ws
