// websocket_handshake.cpp: the opening handshake (see websocket_handshake.h).
#include "websocket_handshake.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

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

std::string accept_key(std::string_view key) {
  std::string text(key);
  text.append(kGuid);
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  unsigned char encoded[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
  const int n = EVP_EncodeBlock(encoded, digest, SHA_DIGEST_LENGTH);
  return std::string(reinterpret_cast<const char*>(encoded), static_cast<std::size_t>(n));
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
