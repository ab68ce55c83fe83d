// idle.cpp: IdleSet, the registry a server uses to find the connections it
// handed to the poller with Conn::await_readable (the state machine and the
// shards that hold them are in netpoll.cpp).
#include "access.h"
#include "cogo/net.h"
#include "netpoll.h"

namespace cogo::net {

IdleSet::IdleSet() : state_(std::make_unique<detail::IdleSetState>()) {}

IdleSet::~IdleSet() {
  // After close() no descriptor refers to the state any more: arms check
  // `closed` under the same shard lock that close()'s sweep takes.
  close();
}

std::size_t IdleSet::size() const noexcept {
  return state_->count.load(std::memory_order_relaxed);
}

std::size_t IdleSet::wake_all() {
  return detail::idle_wake_all(state_.get());
}

std::size_t IdleSet::close() {
  state_->closed.store(true, std::memory_order_seq_cst);
  return detail::idle_wake_all(state_.get());
}

bool IdleSet::closed() const noexcept {
  return state_->closed.load(std::memory_order_acquire);
}

}  // namespace cogo::net
