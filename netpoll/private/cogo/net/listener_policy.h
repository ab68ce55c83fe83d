// cogo/net/listener_policy.h: what every listener in cogo does when the OS
// says no — the goroutine model's net::Listener and the thread model's
// blocking accept threads (HTTP and echo alike) share it, so there is one
// message and one back-off, not one per model.
//
//   listen_error()  the error a failed socket/bind/listen throws: names the
//                   address and, where there is one, the fix ("listen
//                   0.0.0.0:80: permission denied — use a port above 1024
//                   or run with CAP_NET_BIND_SERVICE").
//   AcceptBackoff   an accept that fails for want of descriptors or memory
//                   (EMFILE, ENFILE, ENOBUFS, ENOMEM) leaves the connection
//                   in the backlog: log once, sleep 5 ms doubling to 1 s,
//                   retry; log once more when an accept works again.
//
// Internal to cogo's layers (cogo_netpoll_private), never a user's include.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "cogo/detail/sleeper.h"
#include "cogo/net.h"

namespace cogo::net::detail {

// listen_error() is the net::Error for errno err from socket(2), bind(2) or
// listen(2) on address.
net::Error listen_error(std::string_view address, int err);

// AcceptBackoff: one listener's back-off. wait() may run on several
// goroutines or threads at once (each accepting on the listener); cancel()
// from any thread.
class AcceptBackoff {
 public:
  // set_address() names the listener in the log lines. Before any wait().
  void set_address(std::string address) { address_ = std::move(address); }

  // out_of_resources() tells whether accept(2)'s err is one of those that a
  // later accept can get past (the connection waits in the backlog).
  static bool out_of_resources(int err) noexcept;

  // wait() logs (once until accepted()) and sleeps the next delay: 5 ms,
  // doubling to 1 s. Woken::cancelled: cancel() was called (the listener is
  // closing); Woken::context: the caller's context is done.
  cogo::detail::Sleeper::Woken wait(int err);
  // accepted() resets the delay; after an exhaustion it logs that
  // descriptors are available again. Cheap when there was none.
  void accepted() {
    if (delay_ns_.load(std::memory_order_relaxed) != 0) recovered();
  }
  // cancel() ends every wait, now and later.
  void cancel() { sleeper_.cancel(); }

 private:
  void recovered();

  std::string address_;  // set before the listener is shared
  cogo::detail::Sleeper sleeper_;
  std::atomic<int64_t> delay_ns_{0};    // the next wait's; 0 after an accept
  std::atomic<bool> exhausted_{false};  // logged "out of", not yet recovered
};

}  // namespace cogo::net::detail
