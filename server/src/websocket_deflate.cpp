// websocket_deflate.cpp: permessage-deflate negotiation and zlib streams
// (see websocket_deflate.h).
#include "websocket_deflate.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <stdexcept>

#include "cogo/detail/opaque.h"
#include "cogo/http/field.h"
#include "text.h"

namespace cogo::websocket::detail {

namespace {

bool is_tchar(char c) noexcept {
  return http::detail::is_token_char(static_cast<unsigned char>(c));
}

struct Param {
  std::string_view name;
  std::string value;
  bool has_value = false;
};

struct Extension {
  std::string_view name;
  std::vector<Param> params;
};

// parse_extensions() reads one Sec-WebSocket-Extensions value (RFC 6455
// 9.1): #( token *( ";" token [ "=" ( token / quoted-string ) ] ) ), with
// optional whitespace around the separators and empty list elements
// allowed (RFC 9110 5.6.1); a quoted-string's value, unescaped, must be a
// token too (9.1). False when the syntax is broken. The caller checks that
// the field lines hold one extension at least (1#).
bool parse_extensions(std::string_view v, std::vector<Extension>& out) {
  std::size_t i = 0;
  auto skip_ows = [&] {
    while (i < v.size() && (v[i] == ' ' || v[i] == '\t')) ++i;
  };
  auto token = [&](std::string_view& t) {
    const std::size_t b = i;
    while (i < v.size() && is_tchar(v[i])) ++i;
    t = v.substr(b, i - b);
    return !t.empty();
  };
  for (;;) {
    skip_ows();
    if (i == v.size()) return true;
    if (v[i] == ',') {
      ++i;
      continue;
    }
    Extension e;
    if (!token(e.name)) return false;
    for (;;) {
      skip_ows();
      if (i == v.size() || v[i] == ',') break;
      if (v[i] != ';') return false;
      ++i;
      skip_ows();
      Param p;
      if (!token(p.name)) return false;
      skip_ows();
      if (i < v.size() && v[i] == '=') {
        ++i;
        skip_ows();
        p.has_value = true;
        if (i < v.size() && v[i] == '"') {
          ++i;
          for (;;) {
            if (i == v.size()) return false;
            char c = v[i++];
            if (c == '"') break;
            if (c == '\\') {
              if (i == v.size()) return false;
              c = v[i++];
            }
            p.value.push_back(c);
          }
        } else {
          std::string_view t;
          if (!token(t)) return false;
          p.value.assign(t);
        }
        // 9.1: "the value after quoted-string unescaping MUST conform to the
        // 'token' ABNF" (the websocket_handshake fuzz target's seed
        // finding_extensions_quoted_not_token got a 101).
        if (p.value.empty() || !std::all_of(p.value.begin(), p.value.end(), is_tchar)) return false;
      }
      e.params.push_back(std::move(p));
    }
    out.push_back(std::move(e));
    if (i < v.size()) ++i;  // the comma
  }
}

// window_bits() reads a window size: a decimal 8..15 without leading zeros
// (RFC 7692 7.1.2.1, 7.1.2.2); 0 when it is not one.
int window_bits(std::string_view v) noexcept {
  if (v.size() == 1 && (v[0] == '8' || v[0] == '9')) return v[0] - '0';
  if (v.size() == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5') return 10 + (v[1] - '0');
  return 0;
}

struct Offer {
  bool server_no_context_takeover = false;
  bool client_no_context_takeover = false;
  int server_max_window_bits = 0;  // 0: not offered
  bool client_max_window_bits = false;
  int client_max_window_bits_value = 0;  // 0: offered without a value
};

// read_offer() applies RFC 7692 5.1 and 7.1: false (decline) for an unknown
// parameter, a duplicate, or an invalid value.
bool read_offer(const Extension& e, Offer& o) {
  bool seen[4] = {};
  for (const Param& p : e.params) {
    int which;
    if (http::iequals(p.name, "server_no_context_takeover")) {
      which = 0;
    } else if (http::iequals(p.name, "client_no_context_takeover")) {
      which = 1;
    } else if (http::iequals(p.name, "server_max_window_bits")) {
      which = 2;
    } else if (http::iequals(p.name, "client_max_window_bits")) {
      which = 3;
    } else {
      return false;
    }
    if (seen[which]) return false;
    seen[which] = true;
    switch (which) {
      case 0:
        if (p.has_value) return false;
        o.server_no_context_takeover = true;
        break;
      case 1:
        if (p.has_value) return false;
        o.client_no_context_takeover = true;
        break;
      case 2:
        if (!p.has_value || (o.server_max_window_bits = window_bits(p.value)) == 0) return false;
        break;
      case 3:
        o.client_max_window_bits = true;
        if (p.has_value && (o.client_max_window_bits_value = window_bits(p.value)) == 0)
          return false;
        break;
    }
  }
  return true;
}

}  // namespace

DeflateNegotiation negotiate_deflate(const std::vector<std::string_view>& values,
                                     const Deflate& opts) {
  DeflateNegotiation n;
  std::vector<Extension> exts;
  for (std::string_view v : values) {
    if (!parse_extensions(v, exts)) {
      n.malformed = true;
      return n;
    }
  }
  // 1#extension: field lines with no extension at all ("Sec-WebSocket-
  // Extensions: ," got a 101: the fuzz target's seed finding_extensions_empty).
  if (!values.empty() && exts.empty()) {
    n.malformed = true;
    return n;
  }
  if (!opts.enabled) return n;
  for (const Extension& e : exts) {
    if (!http::iequals(e.name, "permessage-deflate")) continue;
    Offer o;
    if (!read_offer(e, o)) continue;
    int sw = std::clamp(opts.server_max_window_bits, 9, 15);
    if (o.server_max_window_bits != 0) {
      if (o.server_max_window_bits < 9) continue;  // zlib's raw deflate has no 8-bit window
      sw = std::min(sw, o.server_max_window_bits);
    }
    int cw = 15;
    const int client_offered =
        o.client_max_window_bits_value != 0 ? o.client_max_window_bits_value : 15;
    if (o.client_max_window_bits)
      cw = std::min(std::clamp(opts.client_max_window_bits, 8, 15), client_offered);
    DeflateParams& p = n.params;
    p.enabled = true;
    p.server_window_bits = sw;
    p.client_window_bits = cw;
    p.server_no_context_takeover = o.server_no_context_takeover || opts.server_no_context_takeover;
    p.client_no_context_takeover = o.client_no_context_takeover || opts.client_no_context_takeover;
    p.level = std::clamp(opts.level, 1, 9);
    p.mem_level = std::clamp(opts.mem_level, 1, 9);
    n.response = "permessage-deflate";
    if (p.server_no_context_takeover) n.response += "; server_no_context_takeover";
    if (p.client_no_context_takeover) n.response += "; client_no_context_takeover";
    if (o.server_max_window_bits != 0)
      n.response += "; server_max_window_bits=" + std::to_string(sw);
    // 7.1.2.2: the offer's value is only a hint; without the parameter in
    // the answer the client may use a 32 KiB window, so a smaller one is
    // always said (an offer of 10 answered without it, then a message
    // reaching back 2,000 bytes, failed with 1007: the websocket_frame
    // fuzz target's seed finding_window_hint_not_binding).
    if (o.client_max_window_bits && cw < 15) {
      n.response += "; client_max_window_bits=" + std::to_string(cw);
    }
    return n;
  }
  return n;
}

// ---------------------------------------------------------------------------
// Deflater

struct Deflater::State {
  z_stream z{};
  DeflateParams params;
};

Deflater::Deflater(const DeflateParams& p) : s_(std::make_unique<State>()) {
  s_->params = p;
  if (deflateInit2(&s_->z, p.level, Z_DEFLATED, -p.server_window_bits, p.mem_level,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::bad_alloc();
  }
}

Deflater::~Deflater() {
  deflateEnd(&s_->z);
}

bool Deflater::matches(const DeflateParams& p) const noexcept {
  const DeflateParams& q = s_->params;
  return p.server_window_bits == q.server_window_bits && p.level == q.level &&
         p.mem_level == q.mem_level;
}

void Deflater::compress(const char* data, std::size_t n, std::string& out, bool last) {
  z_stream& z = s_->z;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
  z.avail_in = static_cast<uInt>(n);
  const int flush = last ? Z_SYNC_FLUSH : Z_NO_FLUSH;
  std::size_t room = std::max<std::size_t>(n + n / 8 + 64, 256);
  for (;;) {
    const std::size_t old = out.size();
    out.resize(old + room);
    z.next_out = reinterpret_cast<Bytef*>(out.data() + old);
    z.avail_out = static_cast<uInt>(room);
    const int r = ::deflate(&z, flush);
    out.resize(old + room - z.avail_out);
    if (r != Z_OK && r != Z_BUF_ERROR) throw std::runtime_error("websocket: deflate failed");
    if (z.avail_out != 0 && z.avail_in == 0) break;
    room *= 2;
  }
  if (!last) return;
  // RFC 7692 7.2.1: the sync flush ends with an empty stored block,
  // 00 00 ff ff, which the sender removes.
  static const unsigned char kTail[4] = {0x00, 0x00, 0xff, 0xff};
  if (out.size() >= 4 && std::memcmp(out.data() + out.size() - 4, kTail, 4) == 0)
    out.resize(out.size() - 4);
  if (s_->params.server_no_context_takeover) deflateReset(&z);
}

// ---------------------------------------------------------------------------
// Inflater

struct Inflater::State {
  z_stream z{};
  DeflateParams params;
};

Inflater::Inflater(const DeflateParams& p) : s_(std::make_unique<State>()) {
  s_->params = p;
  if (inflateInit2(&s_->z, -p.client_window_bits) != Z_OK) throw std::bad_alloc();
}

Inflater::~Inflater() {
  inflateEnd(&s_->z);
}

bool Inflater::matches(const DeflateParams& p) const noexcept {
  return p.client_window_bits == s_->params.client_window_bits;
}

void Inflater::reset() noexcept {
  inflateReset(&s_->z);
}

Inflater::Result Inflater::inflate(const unsigned char* in, std::size_t n, unsigned char* out,
                                   std::size_t room) noexcept {
  z_stream& z = s_->z;
  z.next_in = const_cast<Bytef*>(in);
  z.avail_in = static_cast<uInt>(std::min<std::size_t>(n, 1u << 30));
  z.next_out = out;
  z.avail_out = static_cast<uInt>(std::min<std::size_t>(room, 1u << 30));
  const uInt in0 = z.avail_in;
  const uInt out0 = z.avail_out;
  const int r = ::inflate(&z, Z_SYNC_FLUSH);
  Result res{Status::ok, in0 - z.avail_in, out0 - z.avail_out};
  if (r == Z_STREAM_END) {
    // A final block (BFINAL): the stream is over; whatever follows in the
    // message starts a new one.
    inflateReset(&z);
  } else if (r != Z_OK && r != Z_BUF_ERROR) {
    res.status = Status::error;
  }
  return res;
}

std::atomic<std::size_t>& compressing_connections() noexcept {
  static std::atomic<std::size_t> n{0};
  return n;
}

// ---------------------------------------------------------------------------
// Per-thread caches (no context takeover: one instance serves every
// connection of a thread, a message at a time). Reached only from these
// non-inlined functions, which never park, so a goroutine that moved
// threads uses its new thread's cache.

namespace {

constexpr std::size_t kCacheCap = 4;

struct Caches {
  std::vector<std::unique_ptr<Deflater>> deflaters;
  std::vector<std::unique_ptr<Inflater>> inflaters;
};

// Opaque (opaque.h): callers take it after a park, never before one.
COGO_OPAQUE Caches& thread_caches() {
  thread_local Caches caches;
  return *cogo::detail::opaque(&caches);
}

}  // namespace

[[gnu::noinline]] std::unique_ptr<Deflater> take_deflater(const DeflateParams& p) {
  auto& v = thread_caches().deflaters;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i]->matches(p)) {
      std::unique_ptr<Deflater> d = std::move(v[i]);
      v.erase(v.begin() + static_cast<std::ptrdiff_t>(i));
      return d;
    }
  }
  return std::make_unique<Deflater>(p);
}

[[gnu::noinline]] void give_deflater(std::unique_ptr<Deflater> d) noexcept {
  auto& v = thread_caches().deflaters;
  if (v.size() >= kCacheCap) return;
  try {
    v.push_back(std::move(d));
  } catch (...) {
  }
}

[[gnu::noinline]] std::unique_ptr<Inflater> take_inflater(const DeflateParams& p) {
  auto& v = thread_caches().inflaters;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i]->matches(p)) {
      std::unique_ptr<Inflater> d = std::move(v[i]);
      v.erase(v.begin() + static_cast<std::ptrdiff_t>(i));
      return d;
    }
  }
  return std::make_unique<Inflater>(p);
}

[[gnu::noinline]] void give_inflater(std::unique_ptr<Inflater> i) noexcept {
  auto& v = thread_caches().inflaters;
  if (v.size() >= kCacheCap) return;
  try {
    v.push_back(std::move(i));
  } catch (...) {
  }
}

}  // namespace cogo::websocket::detail
