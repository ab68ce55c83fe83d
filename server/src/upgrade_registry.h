// upgrade_registry.h: the connections a server's handlers took over
// (cogo/http/upgrade.h), so that a graceful shutdown reaches them.
//
// An upgraded connection (a WebSocket, a tunnel) has no request boundary at
// which to notice the shutdown, and its handler is usually parked in a read
// for as long as the peer stays. So at the start of draining the server
// cancels each one's request context with CancelReason::shutdown: every wait
// of its handler throws cogo::Cancelled, and a WebSocket answers it with a
// close frame 1001 (going away) and its close handshake, well within the
// grace period, instead of being cut off at its end.
//
//   open --drain()--> draining: every entry's context is cancelled now, and
//                     an entry added later is cancelled as it is added.
//
// Entries live in the engine that serves the upgraded request (intrusive
// list, no allocation); add() and remove() take a short lock. The thread
// model also asks fds(): an upgraded connection is not sent SHUT_RD at the
// shutdown like a keep-alive one, so that its close handshake can read the
// peer's answer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#include "cogo/cancel.h"

namespace cogo::http::detail {

class UpgradeRegistry {
 public:
  // Entry: one upgraded connection; owned by its engine, linked while the
  // upgraded handler runs. Fields are guarded by the registry's lock.
  struct Entry {
    Entry* prev = nullptr;
    Entry* next = nullptr;
    cogo::Context context;  // the request's context (a reference to its state)
    int fd = -1;            // the socket, for fds()
    bool linked = false;
  };

  UpgradeRegistry() = default;
  UpgradeRegistry(const UpgradeRegistry&) = delete;
  UpgradeRegistry& operator=(const UpgradeRegistry&) = delete;

  // add() links e (its context and fd set by the caller); while draining it
  // cancels e.context at once instead. Any thread.
  void add(Entry& e);
  // remove() unlinks e if linked and drops its context reference.
  void remove(Entry& e) noexcept;
  // drain() cancels every linked entry's context with CancelReason::shutdown
  // and makes later add()s do the same. Returns how many it cancelled.
  std::size_t drain();
  // size() is how many upgraded connections are linked now.
  std::size_t size() const;
  // fds() are the sockets of the linked entries.
  std::vector<int> fds() const;

 private:
  mutable std::mutex mu_;
  Entry* head_ = nullptr;  // guarded by mu_
  std::size_t size_ = 0;   // guarded by mu_
  bool draining_ = false;  // guarded by mu_
};

}  // namespace cogo::http::detail
