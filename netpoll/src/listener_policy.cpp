// listener_policy.cpp: listen_error and AcceptBackoff (see
// cogo/net/listener_policy.h).
#include "cogo/net/listener_policy.h"

#include <errno.h>

#include <algorithm>

#include "cogo/detail/os.h"
#include "errors.h"

namespace cogo::net::detail {

namespace {
constexpr int64_t kFirstDelayNs = 5'000'000;    // 5 ms
constexpr int64_t kMaxDelayNs = 1'000'000'000;  // 1 s
}  // namespace

net::Error listen_error(std::string_view address, int err) {
  return net::Error(std::error_code(err, std::system_category()),
                    describe_errno("listen", address, err));
}

bool AcceptBackoff::out_of_resources(int err) noexcept {
  return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

cogo::detail::Sleeper::Woken AcceptBackoff::wait(int err) {
  if (!exhausted_.exchange(true, std::memory_order_relaxed)) {
    // describe_errno() touches no error_category: a sanitizer's type check
    // needs a descriptor, and there are none.
    log_line(describe_errno("accept", address_, err) +
             " (retrying with back-off from 5 ms to 1 s; existing connections are still served)");
  }
  int64_t delay = delay_ns_.load(std::memory_order_relaxed);
  delay = delay == 0 ? kFirstDelayNs : std::min(delay * 2, kMaxDelayNs);
  delay_ns_.store(delay, std::memory_order_relaxed);
  return sleeper_.sleep_until(cogo::detail::nanotime() + delay);
}

void AcceptBackoff::recovered() {
  delay_ns_.store(0, std::memory_order_relaxed);
  if (exhausted_.exchange(false, std::memory_order_relaxed)) {
    log_line("accept " + address_ + ": file descriptors available again, accepting");
  }
}

}  // namespace cogo::net::detail
