// address_parse.h: the pieces of Address::parse that listen() and dial()
// reuse when the host is a name to resolve.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "cogo/net.h"

namespace cogo::net::detail {

// split_host_port() splits "host:port" / "[v6]:port"; false with `why` set.
bool split_host_port(std::string_view text, std::string_view& host, std::string_view& port,
                     std::string& why);
// parse_port() reads 0-65535; false with `why` set.
bool parse_port(std::string_view s, uint16_t& port, std::string& why);
// parse_ip() reads a numeric IPv4/IPv6 host ("" is 0.0.0.0); false if the
// host is not numeric.
bool parse_ip(std::string_view host, uint16_t port, Address& out);
// parse_unix() reads a path ("@name": abstract); false with `why` set.
bool parse_unix(std::string_view path, Address& out, std::string& why);

}  // namespace cogo::net::detail
