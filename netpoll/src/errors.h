// errors.h: the layer's error numbers (netpoll.h) turned into error_codes and
// into messages that name the operation, the address and the fix.
#pragma once

#include <string>
#include <string_view>
#include <system_error>

#include "cogo/net.h"

namespace cogo::net::detail {

// to_error_code() maps 0 / errno / kErr* to an error_code.
std::error_code to_error_code(int err) noexcept;

// describe() builds "op addr: what — fix" (the fix only where there is one).
std::string describe(std::string_view op, std::string_view addr, const std::error_code& ec,
                     std::string_view detail = {});

// describe_errno() is describe() for an errno, without touching
// error_category (usable when the process is out of descriptors, where even
// a sanitizer's type check fails).
std::string describe_errno(std::string_view op, std::string_view addr, int err);

// log_line() sends a line to the log hook (stderr by default).
void log_line(std::string_view line);

}  // namespace cogo::net::detail
