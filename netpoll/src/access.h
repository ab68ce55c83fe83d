// access.h: how the sources reach the private parts of the public classes
// (one friend instead of one per function).
#pragma once

#include "cogo/net.h"

namespace cogo::net::detail {

struct Access {
  static Conn make_conn(FD* fd) noexcept { return Conn(fd); }
  static FD* fd(const Conn& c) noexcept { return c.fd_; }
  static Listener make_listener(ListenerImpl* impl) noexcept { return Listener(impl); }
  static IdleSetState* state(IdleSet* s) noexcept { return s ? s->state_.get() : nullptr; }
};

}  // namespace cogo::net::detail
