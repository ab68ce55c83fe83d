// upgraded_access.h: the server's own view into an Upgraded (the engine's
// Stream and the bytes that came behind the request), for protocols built
// inside the server (WebSocket) that drive the stream directly.
#pragma once

#include <string_view>

#include "cogo/http/stream.h"
#include "cogo/http/upgrade.h"

namespace cogo::http::detail {

struct UpgradedAccess {
  static Stream* stream(const Upgraded& u) noexcept { return u.stream_; }
  static std::string_view buffered(const Upgraded& u) noexcept { return u.buffered_; }
  static Upgraded make(Stream* stream, std::string_view buffered) noexcept {
    Upgraded u;
    u.stream_ = stream;
    u.buffered_ = buffered;
    return u;
  }
};

}  // namespace cogo::http::detail
