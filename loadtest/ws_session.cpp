// ws_session.cpp: WsSession (see ws_session.h).
#include "loadtest/ws_session.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <zlib.h>

#include <cstring>

namespace cogo::load {

namespace {

constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
constexpr std::size_t kMaxHandshake = 16 * 1024;
// The largest answer accepted: the message sent (or a control frame's).
constexpr std::size_t kSlack = 1024;

std::string base64(const unsigned char* p, int n) {
  std::string out(4 * ((static_cast<std::size_t>(n) + 2) / 3) + 1, '\0');
  const int m = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), p, n);
  out.resize(static_cast<std::size_t>(m));
  return out;
}

bool iequals_prefix(std::string_view line, std::string_view name) {
  if (line.size() < name.size()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(line[i])) !=
        std::tolower(static_cast<unsigned char>(name[i]))) {
      return false;
    }
  }
  return true;
}

// header_value() is the value of field name in a response head, or "".
std::string header_value(std::string_view head, std::string_view name) {
  std::size_t pos = head.find("\r\n");
  while (pos != std::string_view::npos && pos + 2 < head.size()) {
    const std::size_t end = head.find("\r\n", pos + 2);
    const std::string_view line = head.substr(pos + 2, end - pos - 2);
    if (iequals_prefix(line, name) && line.size() > name.size() && line[name.size()] == ':') {
      std::string_view v = line.substr(name.size() + 1);
      while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      return std::string(v);
    }
    pos = end;
  }
  return {};
}

}  // namespace

// Codec: permessage-deflate both ways, with context takeover (RFC 7692 7.2).
struct WsSession::Codec {
  z_stream out{};
  z_stream in{};
  Codec() {
    deflateInit2(&out, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
    inflateInit2(&in, -15);
  }
  ~Codec() {
    deflateEnd(&out);
    inflateEnd(&in);
  }
  // compress() is a message's payload (sync flush, tail removed).
  void compress(const std::string& msg, std::string& payload) {
    payload.resize(msg.size() + msg.size() / 8 + 64);
    out.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(msg.data()));
    out.avail_in = static_cast<uInt>(msg.size());
    out.next_out = reinterpret_cast<Bytef*>(payload.data());
    out.avail_out = static_cast<uInt>(payload.size());
    deflate(&out, Z_SYNC_FLUSH);
    payload.resize(payload.size() - out.avail_out);
    if (payload.size() >= 4) payload.resize(payload.size() - 4);  // 00 00 ff ff
  }
  // decompress() inflates a message's payload; false if it does not.
  bool decompress(std::string& payload, std::string& msg, std::size_t limit) {
    payload.append("\0\0\xff\xff", 4);
    msg.resize(limit);
    in.next_in = reinterpret_cast<Bytef*>(payload.data());
    in.avail_in = static_cast<uInt>(payload.size());
    in.next_out = reinterpret_cast<Bytef*>(msg.data());
    in.avail_out = static_cast<uInt>(msg.size());
    const int r = inflate(&in, Z_SYNC_FLUSH);
    msg.resize(msg.size() - in.avail_out);
    return (r == Z_OK || r == Z_BUF_ERROR) && in.avail_in == 0;
  }
};

WsSession::WsSession(const Options& o, uint64_t seed)
    : o_(o), rng_(seed * 0x9E3779B97F4A7C15ull + 1) {
  message_.resize(o.message_size);
  for (std::size_t i = 0; i < message_.size(); ++i) {
    // Printable ASCII (valid text), varied enough to make compression work.
    message_[i] = static_cast<char>('a' + (next_mask() % 26));
  }
  unsigned char k[16];
  for (int i = 0; i < 16; i += 4) {
    const uint32_t m = next_mask();
    std::memcpy(k + i, &m, 4);
  }
  key_ = base64(k, 16);
}

WsSession::~WsSession() = default;

uint32_t WsSession::next_mask() noexcept {
  rng_ ^= rng_ << 13;
  rng_ ^= rng_ >> 7;
  rng_ ^= rng_ << 17;
  return static_cast<uint32_t>(rng_ >> 16);
}

bool WsSession::fill(net::Conn& c, std::size_t want, std::string& error) {
  char buf[4096];
  while (in_.size() < want) {
    std::error_code ec;
    const std::size_t n = c.read(buf, sizeof buf, ec);
    if (ec) {
      error = net::is_eof(ec) ? "the server closed the connection" : ec.message();
      return false;
    }
    bytes_read_ += static_cast<int64_t>(n);
    in_.append(buf, n);
  }
  return true;
}

bool WsSession::handshake(net::Conn& c, std::string& error) {
  std::string req = "GET " + o_.target.path + " HTTP/1.1\r\nHost: " + o_.target.host_header() +
                    "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key_ +
                    "\r\nSec-WebSocket-Version: 13\r\nUser-Agent: cogo-load\r\n";
  if (o_.deflate) req += "Sec-WebSocket-Extensions: permessage-deflate\r\n";
  for (const auto& h : o_.headers) req += h + "\r\n";
  req += "\r\n";
  std::error_code ec;
  c.write_all(req.data(), req.size(), ec);
  if (ec) {
    error = ec.message();
    return false;
  }
  std::size_t end;
  while ((end = in_.find("\r\n\r\n")) == std::string::npos) {
    if (in_.size() > kMaxHandshake) {
      error = "handshake response too large";
      return false;
    }
    if (!fill(c, in_.size() + 1, error)) return false;
  }
  const std::string head = in_.substr(0, end + 4);
  in_.erase(0, end + 4);
  if (head.compare(0, 12, "HTTP/1.1 101") != 0) {
    error = "handshake refused: " + head.substr(0, head.find("\r\n"));
    return false;
  }
  // RFC 6455 4.1: the accept value must be this key's.
  unsigned char digest[SHA_DIGEST_LENGTH];
  const std::string text = key_ + std::string(kGuid);
  SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  if (header_value(head, "Sec-WebSocket-Accept") != base64(digest, SHA_DIGEST_LENGTH)) {
    error = "handshake: wrong Sec-WebSocket-Accept";
    return false;
  }
  const std::string ext = header_value(head, "Sec-WebSocket-Extensions");
  if (ext.find("permessage-deflate") != std::string::npos) {
    if (!o_.deflate) {
      error = "handshake: an extension that was not offered";
      return false;
    }
    codec_ = std::make_unique<Codec>();
  }
  in_.shrink_to_fit();
  return true;
}

bool WsSession::send_frame(net::Conn& c, uint8_t opcode, bool rsv1, std::string_view payload,
                           std::string& error) {
  out_.clear();
  out_.push_back(static_cast<char>(0x80 | (rsv1 ? 0x40 : 0) | opcode));
  const uint64_t n = payload.size();
  if (n < 126) {
    out_.push_back(static_cast<char>(0x80 | n));
  } else if (n <= 0xFFFF) {
    out_.push_back(static_cast<char>(0x80 | 126));
    out_.push_back(static_cast<char>(n >> 8));
    out_.push_back(static_cast<char>(n));
  } else {
    out_.push_back(static_cast<char>(0x80 | 127));
    for (int i = 7; i >= 0; --i) out_.push_back(static_cast<char>(n >> (8 * i)));
  }
  const uint32_t m = next_mask();
  unsigned char mask[4];
  std::memcpy(mask, &m, 4);
  out_.append(reinterpret_cast<const char*>(mask), 4);
  const std::size_t at = out_.size();
  out_.append(payload);
  for (std::size_t i = 0; i < payload.size(); ++i)
    out_[at + i] = static_cast<char>(out_[at + i] ^ mask[i & 3]);
  std::error_code ec;
  c.write_all(out_.data(), out_.size(), ec);
  if (ec) {
    error = ec.message();
    return false;
  }
  return true;
}

bool WsSession::read_frame(net::Conn& c, Frame& f, std::string& error) {
  if (!fill(c, 2, error)) return false;
  const auto b0 = static_cast<unsigned char>(in_[0]);
  const auto b1 = static_cast<unsigned char>(in_[1]);
  if ((b1 & 0x80) != 0) {
    error = "a masked frame from the server";
    return false;
  }
  uint64_t n = b1 & 0x7F;
  std::size_t head = 2;
  if (n == 126) head = 4;
  if (n == 127) head = 10;
  if (!fill(c, head, error)) return false;
  if (n == 126)
    n = (uint64_t{static_cast<unsigned char>(in_[2])} << 8) | static_cast<unsigned char>(in_[3]);
  if (n == 127) {
    n = 0;
    for (int i = 2; i < 10; ++i)
      n = (n << 8) | static_cast<unsigned char>(in_[static_cast<std::size_t>(i)]);
  }
  if (n > message_.size() + kSlack) {
    error = "a frame larger than the message sent";
    return false;
  }
  if (!fill(c, head + n, error)) return false;
  f.fin = (b0 & 0x80) != 0;
  f.rsv1 = (b0 & 0x40) != 0;
  f.opcode = b0 & 0x0F;
  f.payload.assign(in_, head, n);
  in_.erase(0, head + n);
  return true;
}

bool WsSession::round_trip(net::Conn& c, bool ping, std::string& error) {
  if (ping) {
    ++pings_;
    char payload[8];
    std::memcpy(payload, &pings_, 8);
    if (!send_frame(c, 0x9, false, std::string_view(payload, 8), error)) return false;
  } else if (codec_) {
    std::string z;
    codec_->compress(message_, z);
    if (!send_frame(c, o_.binary ? 0x2 : 0x1, true, z, error)) return false;
  } else {
    if (!send_frame(c, o_.binary ? 0x2 : 0x1, false, message_, error)) return false;
  }
  std::string data;
  bool compressed = false;
  Frame f;
  for (;;) {
    if (!read_frame(c, f, error)) return false;
    switch (f.opcode) {
      case 0x9:  // the server's keep-alive ping
        if (!send_frame(c, 0xA, false, f.payload, error)) return false;
        continue;
      case 0xA:
        if (!ping) continue;  // not ours
        if (f.payload.size() != 8 || std::memcmp(f.payload.data(), &pings_, 8) != 0) {
          error = "a pong without the ping's payload";
          return false;
        }
        return true;
      case 0x8:
        error =
            "the server closed (code " +
            std::to_string(f.payload.size() >= 2 ? (static_cast<unsigned char>(f.payload[0]) << 8) |
                                                       static_cast<unsigned char>(f.payload[1])
                                                 : 1005) +
            ")";
        return false;
      case 0x0:
      case 0x1:
      case 0x2:
        if (ping) {
          error = "a message where a pong was due";
          return false;
        }
        if (f.opcode != 0) compressed = f.rsv1;
        data += f.payload;
        if (!f.fin) continue;
        if (compressed) {
          if (!codec_) {
            error = "a compressed message without permessage-deflate";
            return false;
          }
          std::string plain;
          if (!codec_->decompress(data, plain, message_.size() + 1)) {
            error = "an echo that does not inflate";
            return false;
          }
          data.swap(plain);
        }
        if (data != message_) {
          error = "an echo that differs from the message sent";
          return false;
        }
        return true;
      default:
        error = "a frame with opcode " + std::to_string(f.opcode);
        return false;
    }
  }
}

}  // namespace cogo::load
