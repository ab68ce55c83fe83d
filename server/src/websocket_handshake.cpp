// websocket_handshake.cpp: the opening handshake (see websocket_handshake.h).
#include "websocket_handshake.h"

#include <cstdint>
#include <cstring>
#include <vector>

#include "text.h"

namespace cogo::websocket::detail {

namespace {

// The GUID of RFC 6455 1.3.
constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

bool is_base64_char(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

// list_has() tells whether a comma-separated field value lists token,
// ignoring whitespace around the elements, and case unless exact.
bool list_has(std::string_view value, std::string_view token, bool exact = false) noexcept {
  while (!value.empty()) {
    const std::size_t comma = value.find(',');
    const std::string_view element = http::detail::trim_whitespace(value.substr(0, comma));
    if (exact ? element == token : http::iequals(element, token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

Handshake refuse(int status, std::string why) {
  Handshake h;
  h.status = status;
  h.error = std::move(why);
  return h;
}

}  // namespace

bool valid_key(std::string_view key) noexcept {
  if (key.size() != 24 || key[22] != '=' || key[23] != '=') return false;
  for (std::size_t i = 0; i < 22; ++i) {
    if (!is_base64_char(key[i])) return false;
  }
  return true;
}

// sha1() is FIPS 180-4's SHA-1, written here rather than taken from
// OpenSSL: OpenSSL 3's SHA1() fetches the algorithm from its default
// provider, and the first call initialises the provider machinery — 2 MiB
// of libcrypto pages and 136 KiB of heap in a server that may never speak
// TLS (210 bytes a connection in issue 14's 10,000 idle WebSockets). The
// handshake hashes 60 bytes, so speed is not the point, and SHA-1 guards
// nothing secret here (RFC 6455 10.3: it proves the server read the key).
std::array<unsigned char, 20> sha1(std::string_view data) noexcept {
  std::uint32_t h[5] = {0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u, 0xC3D2E1F0u};
  const auto rotl = [](std::uint32_t x, int n) { return (x << n) | (x >> (32 - n)); };
  const auto block = [&](const unsigned char* p) {
    std::uint32_t w[80];
    for (int i = 0; i < 16; ++i) {
      w[i] = (std::uint32_t{p[4 * i]} << 24) | (std::uint32_t{p[4 * i + 1]} << 16) |
             (std::uint32_t{p[4 * i + 2]} << 8) | std::uint32_t{p[4 * i + 3]};
    }
    for (int i = 16; i < 80; ++i) w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    std::uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; ++i) {
      std::uint32_t f, k;
      if (i < 20) {
        f = (b & c) | (~b & d);
        k = 0x5A827999u;
      } else if (i < 40) {
        f = b ^ c ^ d;
        k = 0x6ED9EBA1u;
      } else if (i < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8F1BBCDCu;
      } else {
        f = b ^ c ^ d;
        k = 0xCA62C1D6u;
      }
      const std::uint32_t t = rotl(a, 5) + f + e + k + w[i];
      e = d;
      d = c;
      c = rotl(b, 30);
      b = a;
      a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
  };
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  std::size_t n = data.size();
  const std::uint64_t bits = static_cast<std::uint64_t>(n) * 8;
  for (; n >= 64; p += 64, n -= 64) block(p);
  // The tail: the rest, 0x80, zeros, and the length in bits (big-endian) in
  // the last 8 bytes — of this block, or of one more when 9 bytes don't fit.
  unsigned char tail[128] = {};
  std::memcpy(tail, p, n);
  tail[n] = 0x80;
  const std::size_t len = n + 9 <= 64 ? 64 : 128;
  for (int i = 0; i < 8; ++i) tail[len - 1 - i] = static_cast<unsigned char>(bits >> (8 * i));
  block(tail);
  if (len == 128) block(tail + 64);
  std::array<unsigned char, 20> out;
  for (int i = 0; i < 5; ++i) {
    for (int j = 0; j < 4; ++j) out[4 * i + j] = static_cast<unsigned char>(h[i] >> (24 - 8 * j));
  }
  return out;
}

std::string accept_key(std::string_view key) {
  std::string text(key);
  text.append(kGuid);
  const std::array<unsigned char, 20> d = sha1(text);
  // Base64 (RFC 4648 4) of the 20 bytes: 6 groups of 3, then 2 bytes and "=".
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve(28);
  for (std::size_t i = 0; i < 20; i += 3) {
    const std::uint32_t v = (std::uint32_t{d[i]} << 16) | (std::uint32_t{d[i + 1]} << 8) |
                            (i + 2 < 20 ? std::uint32_t{d[i + 2]} : 0);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(i + 2 < 20 ? kAlphabet[v & 63] : '=');
  }
  return out;
}

Handshake check_handshake(std::string_view method, int version_major, int version_minor,
                          std::span<const http::Field> fields, const Options& options,
                          bool allow_deflate) {
  if (method != "GET") return refuse(400, "a WebSocket handshake is a GET request");
  if (version_major < 1 || (version_major == 1 && version_minor < 1)) {
    return refuse(400, "a WebSocket handshake needs HTTP/1.1");
  }
  bool upgrade = false;
  bool connection = false;
  int keys = 0;
  int versions = 0;
  std::string_view key;
  std::string_view version;
  std::string_view origin;
  std::vector<std::string_view> protocols;
  std::vector<std::string_view> extensions;
  for (const http::Field& f : fields) {
    if (http::iequals(f.name, "Upgrade")) {
      upgrade = upgrade || list_has(f.value, "websocket");
    } else if (http::iequals(f.name, "Connection")) {
      connection = connection || list_has(f.value, "upgrade");
    } else if (http::iequals(f.name, "Sec-WebSocket-Key")) {
      ++keys;
      key = http::detail::trim_whitespace(f.value);
    } else if (http::iequals(f.name, "Sec-WebSocket-Version")) {
      ++versions;
      version = http::detail::trim_whitespace(f.value);
    } else if (http::iequals(f.name, "Origin")) {
      origin = http::detail::trim_whitespace(f.value);
    } else if (http::iequals(f.name, "Sec-WebSocket-Protocol")) {
      protocols.push_back(f.value);
    } else if (http::iequals(f.name, "Sec-WebSocket-Extensions")) {
      extensions.push_back(f.value);
    }
  }
  if (!upgrade) return refuse(400, "not a WebSocket handshake: no \"Upgrade: websocket\"");
  if (!connection) return refuse(400, "not a WebSocket handshake: no \"Connection: Upgrade\"");
  if (keys != 1) return refuse(400, "a WebSocket handshake needs exactly one Sec-WebSocket-Key");
  if (!valid_key(key)) return refuse(400, "Sec-WebSocket-Key is not the base64 of 16 bytes");
  if (versions != 1)
    return refuse(400, "a WebSocket handshake needs exactly one Sec-WebSocket-Version");
  if (version != "13") return refuse(426, "this server speaks WebSocket version 13 only");
  if (options.check_origin) {
    if (!options.check_origin(origin)) return refuse(403, "origin not allowed");
  } else if (!options.origins.empty()) {
    bool allowed = false;
    for (const std::string& o : options.origins) allowed = allowed || http::iequals(o, origin);
    if (!allowed) return refuse(403, "origin not allowed");
  }
  Deflate deflate_options = options.deflate;
  deflate_options.enabled = deflate_options.enabled && allow_deflate;
  DeflateNegotiation negotiated = negotiate_deflate(extensions, deflate_options);
  if (negotiated.malformed) return refuse(400, "Sec-WebSocket-Extensions is malformed");

  Handshake h;
  h.status = 101;
  h.accept = accept_key(key);
  for (const std::string& mine : options.subprotocols) {
    for (std::string_view offered : protocols) {
      if (list_has(offered, mine, true)) {
        h.subprotocol = mine;
        break;
      }
    }
    if (!h.subprotocol.empty()) break;
  }
  h.deflate = negotiated.params;
  h.extensions = std::move(negotiated.response);
  return h;
}

}  // namespace cogo::websocket::detail
