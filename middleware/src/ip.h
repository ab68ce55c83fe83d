// ip.h: IP addresses and CIDR ranges for the middlewares that reason about
// clients (real_ip, rate_limit): parsing the forms HTTP carries them in,
// matching, printing. Private to cogo_middleware.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cogo::middleware::detail {

// Ip: an IPv4 or IPv6 address, IPv4 held as IPv4-mapped IPv6
// (::ffff:a.b.c.d) so that one comparison serves both.
struct Ip {
  std::array<std::uint8_t, 16> bytes{};
  bool v4 = false;
  bool operator==(const Ip&) const = default;
};

// parse_ip() reads a bare address ("192.0.2.1", "2001:db8::1").
std::optional<Ip> parse_ip(std::string_view text);

// parse_host_port() reads an address with an optional port, as peers and
// proxies write them: "192.0.2.1", "192.0.2.1:4711", "2001:db8::1",
// "[2001:db8::1]", "[2001:db8::1]:4711".
std::optional<Ip> parse_host_port(std::string_view text);

// format_ip() is the usual text of ip ("192.0.2.1", "2001:db8::1").
std::string format_ip(const Ip& ip);

// strip_port() is the host part of a "host:port" / "[v6]:port" address,
// without brackets; text itself when it has no port.
std::string_view strip_port(std::string_view text) noexcept;

// Cidr: a range of addresses, "10.0.0.0/8", "2001:db8::/32"; a bare
// address is a range of one.
struct Cidr {
  Ip base;
  int prefix = 0;  // bits, in the 128-bit (mapped) form
  bool contains(const Ip& ip) const noexcept;
};

// parse_cidr() throws std::invalid_argument naming text when it is not a
// CIDR range or an address.
Cidr parse_cidr(std::string_view text);

bool contains_any(const std::vector<Cidr>& ranges, const Ip& ip) noexcept;

}  // namespace cogo::middleware::detail
