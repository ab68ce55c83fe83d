// upgrade_registry.cpp: UpgradeRegistry (see upgrade_registry.h).
#include "upgrade_registry.h"

namespace cogo::http::detail {

void UpgradeRegistry::add(Entry& e) {
  std::lock_guard<std::mutex> lk(mu_);
  if (draining_) {
    e.context.cancel(cogo::CancelReason::shutdown);
    return;
  }
  e.prev = nullptr;
  e.next = head_;
  if (head_ != nullptr) head_->prev = &e;
  head_ = &e;
  e.linked = true;
  ++size_;
}

void UpgradeRegistry::remove(Entry& e) noexcept {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (e.linked) {
      if (e.prev != nullptr) e.prev->next = e.next;
      if (e.next != nullptr) e.next->prev = e.prev;
      if (head_ == &e) head_ = e.next;
      e.prev = e.next = nullptr;
      e.linked = false;
      --size_;
    }
  }
  e.context = cogo::Context();
  e.fd = -1;
}

std::size_t UpgradeRegistry::drain() {
  std::lock_guard<std::mutex> lk(mu_);
  draining_ = true;
  std::size_t n = 0;
  // Cancelling wakes the waiter (a netpoll unblock or a signal to a
  // thread); it never calls back into the registry.
  for (Entry* e = head_; e != nullptr; e = e->next, ++n)
    e->context.cancel(cogo::CancelReason::shutdown);
  return n;
}

std::size_t UpgradeRegistry::size() const {
  std::lock_guard<std::mutex> lk(mu_);
  return size_;
}

std::vector<int> UpgradeRegistry::fds() const {
  std::lock_guard<std::mutex> lk(mu_);
  std::vector<int> out;
  out.reserve(size_);
  for (const Entry* e = head_; e != nullptr; e = e->next) out.push_back(e->fd);
  return out;
}

}  // namespace cogo::http::detail
