// address.cpp: Address — parsing and printing IPv4, IPv6 and Unix-domain
// socket addresses.
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <charconv>
#include <cstddef>
#include <cstring>

#include "address_parse.h"
#include "cogo/net.h"
#include "errors.h"

namespace cogo::net {

static_assert(sizeof(sockaddr_un) <= 112 && sizeof(sockaddr_in6) <= 112,
              "Address storage too small for sockaddr_un");

namespace detail {

bool split_host_port(std::string_view text, std::string_view& host, std::string_view& port,
                     std::string& why) {
  if (text.starts_with('[')) {
    auto close = text.find(']');
    if (close == std::string_view::npos) {
      why = "missing ']' after an IPv6 address";
      return false;
    }
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.starts_with(':')) {
      why = "missing \":port\" after ']'";
      return false;
    }
    port = rest.substr(1);
    return true;
  }
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    why = "missing \":port\" (write host:port, [ipv6]:port or unix:/path)";
    return false;
  }
  host = text.substr(0, colon);
  if (host.find(':') != std::string_view::npos) {
    why = "an IPv6 address needs brackets: [::1]:80";
    return false;
  }
  port = text.substr(colon + 1);
  return true;
}

bool parse_port(std::string_view s, uint16_t& port, std::string& why) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size() || v > 65535) {
    why = "bad port \"" + std::string(s) + "\" (want 0-65535)";
    return false;
  }
  port = static_cast<uint16_t>(v);
  return true;
}

bool parse_ip(std::string_view host, uint16_t port, Address& out) {
  std::string h(host);
  sockaddr_in in{};
  if (h.empty()) h = "0.0.0.0";
  if (inet_pton(AF_INET, h.c_str(), &in.sin_addr) == 1) {
    in.sin_family = AF_INET;
    in.sin_port = htons(port);
    out = Address::from_sockaddr(&in, sizeof in);
    return true;
  }
  sockaddr_in6 in6{};
  std::string zone;
  if (auto pct = h.find('%'); pct != std::string::npos) {
    zone = h.substr(pct + 1);
    h.resize(pct);
  }
  if (inet_pton(AF_INET6, h.c_str(), &in6.sin6_addr) == 1) {
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(port);
    if (!zone.empty()) in6.sin6_scope_id = if_nametoindex(zone.c_str());
    out = Address::from_sockaddr(&in6, sizeof in6);
    return true;
  }
  return false;
}

bool parse_unix(std::string_view path, Address& out, std::string& why) {
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  if (path.empty()) {
    why = "empty Unix socket path";
    return false;
  }
  if (path.size() >= sizeof un.sun_path) {
    why = "Unix socket path longer than " + std::to_string(sizeof un.sun_path - 1) + " bytes";
    return false;
  }
  std::memcpy(un.sun_path, path.data(), path.size());
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
  if (path[0] == '@') {
    un.sun_path[0] = '\0';  // abstract namespace: no file, no trailing NUL
  } else {
    len += 1;
  }
  out = Address::from_sockaddr(&un, len);
  return true;
}

}  // namespace detail

Address Address::parse(std::string_view text) {
  Address a;
  std::string why;
  if (text.starts_with("unix:")) {
    if (detail::parse_unix(text.substr(5), a, why)) return a;
  } else {
    std::string_view host, port_text;
    uint16_t port = 0;
    if (detail::split_host_port(text, host, port_text, why) &&
        detail::parse_port(port_text, port, why)) {
      if (detail::parse_ip(host, port, a)) return a;
      why = "\"" + std::string(host) + "\" is not a numeric IP address";
    }
  }
  throw Error(std::error_code(EINVAL, std::system_category()),
              "address \"" + std::string(text) + "\": " + why);
}

Address Address::from_sockaddr(const void* sa, uint32_t size) {
  Address a;
  if (size > sizeof a.storage_) size = sizeof a.storage_;
  std::memcpy(a.storage_, sa, size);
  a.size_ = size;
  switch (reinterpret_cast<const sockaddr*>(a.storage_)->sa_family) {
    case AF_INET:
      a.family_ = Family::ipv4;
      break;
    case AF_INET6:
      a.family_ = Family::ipv6;
      break;
    case AF_UNIX:
      a.family_ = Family::unix_path;
      break;
    default:
      a.family_ = Family::none;
  }
  return a;
}

uint16_t Address::port() const noexcept {
  switch (family_) {
    case Family::ipv4:
      return ntohs(reinterpret_cast<const sockaddr_in*>(storage_)->sin_port);
    case Family::ipv6:
      return ntohs(reinterpret_cast<const sockaddr_in6*>(storage_)->sin6_port);
    default:
      return 0;
  }
}

std::string Address::host() const {
  char buf[INET6_ADDRSTRLEN] = {};
  switch (family_) {
    case Family::ipv4:
      inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(storage_)->sin_addr, buf,
                sizeof buf);
      return buf;
    case Family::ipv6:
      inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(storage_)->sin6_addr, buf,
                sizeof buf);
      return buf;
    case Family::unix_path: {
      const auto* un = reinterpret_cast<const sockaddr_un*>(storage_);
      std::size_t n =
          size_ > offsetof(sockaddr_un, sun_path) ? size_ - offsetof(sockaddr_un, sun_path) : 0;
      if (n == 0) return {};  // unnamed (the client end of a socketpair)
      if (un->sun_path[0] == '\0') {
        std::string r(1, '@');  // (append, not "@" + ...: GCC 12 warns falsely)
        r.append(un->sun_path + 1, n - 1);
        return r;
      }
      return std::string(un->sun_path, strnlen(un->sun_path, n));
    }
    default:
      return {};
  }
}

std::string Address::to_string() const {
  std::string r;
  switch (family_) {
    case Family::ipv4:
      r = host();
      r.push_back(':');
      r.append(std::to_string(port()));
      return r;
    case Family::ipv6:
      r.push_back('[');
      r.append(host());
      r.append("]:");
      r.append(std::to_string(port()));
      return r;
    case Family::unix_path:
      r = "unix:";
      r.append(host());
      return r;
    default:
      return "<none>";
  }
}

bool Address::operator==(const Address& o) const noexcept {
  return family_ == o.family_ && size_ == o.size_ && std::memcmp(storage_, o.storage_, size_) == 0;
}

}  // namespace cogo::net
