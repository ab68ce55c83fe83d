// ip.cpp: ip.h's parsing, matching and printing, over inet_pton/inet_ntop.
#include "ip.h"

#include <arpa/inet.h>

#include <cstring>
#include <stdexcept>

namespace cogo::middleware::detail {

std::optional<Ip> parse_ip(std::string_view text) {
  char buf[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof buf) return std::nullopt;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  Ip ip;
  in_addr v4;
  if (inet_pton(AF_INET, buf, &v4) == 1) {
    ip.bytes[10] = ip.bytes[11] = 0xff;
    std::memcpy(ip.bytes.data() + 12, &v4, 4);
    ip.v4 = true;
    return ip;
  }
  in6_addr v6;
  if (inet_pton(AF_INET6, buf, &v6) == 1) {
    std::memcpy(ip.bytes.data(), &v6, 16);
    static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    ip.v4 = std::memcmp(ip.bytes.data(), kMapped, 12) == 0;
    return ip;
  }
  return std::nullopt;
}

std::string_view strip_port(std::string_view text) noexcept {
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    return close == std::string_view::npos ? text : text.substr(1, close - 1);
  }
  const std::size_t colon = text.find(':');
  // One colon: IPv4 (or a name) and a port; more: a bare IPv6 address.
  if (colon != std::string_view::npos && text.find(':', colon + 1) == std::string_view::npos)
    return text.substr(0, colon);
  return text;
}

std::optional<Ip> parse_host_port(std::string_view text) {
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':' || rest.size() == 1) return std::nullopt;
      for (char c : rest.substr(1)) {
        if (c < '0' || c > '9') return std::nullopt;
      }
    }
    return parse_ip(text.substr(1, close - 1));
  }
  const std::string_view host = strip_port(text);
  if (host.size() != text.size()) {
    const std::string_view port = text.substr(host.size() + 1);
    if (port.empty()) return std::nullopt;
    for (char c : port) {
      if (c < '0' || c > '9') return std::nullopt;
    }
  }
  return parse_ip(host);
}

std::string format_ip(const Ip& ip) {
  char buf[INET6_ADDRSTRLEN];
  if (ip.v4) {
    inet_ntop(AF_INET, ip.bytes.data() + 12, buf, sizeof buf);
  } else {
    inet_ntop(AF_INET6, ip.bytes.data(), buf, sizeof buf);
  }
  return buf;
}

bool Cidr::contains(const Ip& ip) const noexcept {
  int bits = prefix;
  for (std::size_t i = 0; i < 16 && bits > 0; ++i, bits -= 8) {
    const std::uint8_t mask = bits >= 8 ? 0xff : static_cast<std::uint8_t>(0xff << (8 - bits));
    if ((ip.bytes[i] & mask) != (base.bytes[i] & mask)) return false;
  }
  return true;
}

Cidr parse_cidr(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return std::invalid_argument("'" + std::string(text) + "' is not a CIDR range (" + why +
                                 "; e.g. 10.0.0.0/8, 192.0.2.7, fd00::/8)");
  };
  const std::size_t slash = text.find('/');
  const auto ip = parse_ip(text.substr(0, slash));
  if (!ip) throw bad("no IPv4 or IPv6 address before the '/'");
  Cidr c;
  c.base = *ip;
  const int width = ip->v4 ? 32 : 128;
  int bits = width;
  if (slash != std::string_view::npos) {
    const std::string_view len = text.substr(slash + 1);
    if (len.empty() || len.size() > 3) throw bad("the prefix length is not a number");
    bits = 0;
    for (char ch : len) {
      if (ch < '0' || ch > '9') throw bad("the prefix length is not a number");
      bits = bits * 10 + (ch - '0');
    }
    if (bits > width) throw bad("the prefix length passes " + std::to_string(width));
  }
  c.prefix = ip->v4 ? bits + 96 : bits;
  return c;
}

bool contains_any(const std::vector<Cidr>& ranges, const Ip& ip) noexcept {
  for (const Cidr& c : ranges) {
    if (c.contains(ip)) return true;
  }
  return false;
}

}  // namespace cogo::middleware::detail
