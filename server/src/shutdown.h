// shutdown.h: the graceful-shutdown protocol shared by the HTTP and the echo
// servers, in both connection models.
//
//   serving --request()--> draining --(accept loops gone, then every
//                                      connection done, or the grace over)--> done
//
// request() (any thread, any number of times) sets draining(), runs the
// server's stop_accepting and then wakes wait_requested(): the wake-up is the
// last thing a request() does with the server, whose serve() may return and
// whose owner may destroy it as soon as it is woken. The server then closes or wakes what is
// idle, and calls wait_connections(deadline), which returns once the count
// of open connections is zero or the deadline passed. No sleep-polling: the
// last connection to finish closes a channel the waiter selects on.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>

#include "cogo/chan.h"

namespace cogo::server_detail {

class Shutdown {
 public:
  Shutdown() = default;
  Shutdown(const Shutdown&) = delete;
  Shutdown& operator=(const Shutdown&) = delete;

  // request() starts the shutdown; returns false if it had already started.
  // Callable from any thread (a signal watcher's, a handler's goroutine). The
  // first call sets draining(), then runs stop_accepting (if any: an accept
  // loop that sees its listener closed reads draining() to tell a shutdown
  // from an error), then wakes wait_requested(), touching nothing of this
  // object after that wake-up: its waiter may return and destroy the server.
  bool request(const std::function<void()>& stop_accepting = {});
  // draining() tells whether request() was called.
  bool draining() const noexcept { return draining_.load(std::memory_order_acquire); }
  // draining_flag() is what HttpOptions::draining points to.
  const std::atomic<bool>* draining_flag() const noexcept { return &draining_; }
  // wait_requested() blocks (parks a goroutine) until request() is called.
  void wait_requested() const;

  // connection_opened() / connection_closed() count the open connections;
  // opened is called by the accept loop before the connection starts.
  void connection_opened() noexcept { open_.fetch_add(kOne, std::memory_order_relaxed); }
  void connection_closed();
  int64_t open_connections() const noexcept { return open_.load(std::memory_order_relaxed) / kOne; }

  // wait_connections() returns true once no connection is open, false if
  // deadline passed first. Precondition: every accept loop has stopped (no
  // connection_opened() races with the count reaching zero). May be called
  // again after a false (the server's shutdown does, after cancelling).
  bool wait_connections(std::chrono::steady_clock::time_point deadline);
  // wait_connections() without a deadline: until none is open.
  void wait_connections();

 private:
  void close_all_closed();

  std::atomic<bool> draining_{false};
  Chan<int> requested_;           // closed by the first request(); never sent on
  // open_: the count of open connections times kOne, plus kCounting once
  // wait_connections() was called. One word, so that the last
  // connection_closed() learns from its own decrement whether it must close
  // all_closed_, and touches nothing of this object afterwards unless the
  // waiter is still waiting for that close (a waiter that saw the zero may
  // destroy the Shutdown at once).
  static constexpr int64_t kCounting = 1;
  static constexpr int64_t kOne = 2;
  std::atomic<int64_t> open_{0};
  std::atomic<bool> all_closed_done_{false};  // all_closed_ was closed (exactly once)
  Chan<int> all_closed_;  // closed once counting_down_ and no connection is open
};

}  // namespace cogo::server_detail
