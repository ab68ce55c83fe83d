// shutdown.cpp: Shutdown (see shutdown.h).
#include "shutdown.h"

namespace cogo::server_detail {

bool Shutdown::request() {
  if (draining_.exchange(true, std::memory_order_acq_rel)) return false;
  requested_.close();
  return true;
}

void Shutdown::wait_requested() const {
  (void)requested_.recv();  // nullopt once closed: nothing is ever sent
}

void Shutdown::close_all_closed() {
  if (!all_closed_done_.exchange(true)) all_closed_.close();
}

// connection_closed() and wait_connections() both read the other's write
// (seq_cst): whichever comes second sees the zero and closes the channel.
void Shutdown::connection_closed() {
  if (open_.fetch_sub(1, std::memory_order_seq_cst) == 1 && counting_down_.load()) {
    close_all_closed();
  }
}

bool Shutdown::wait_connections(std::chrono::steady_clock::time_point deadline) {
  counting_down_.store(true);
  if (open_.load(std::memory_order_seq_cst) == 0) close_all_closed();
  const auto left = deadline - std::chrono::steady_clock::now();
  if (left <= std::chrono::steady_clock::duration::zero()) return open_connections() == 0;
  bool closed = false;
  cogo::select(cogo::on_recv(all_closed_, [&closed](std::optional<int>) { closed = true; }),
               cogo::on_timeout(left));
  return closed;
}

void Shutdown::wait_connections() {
  counting_down_.store(true);
  if (open_.load(std::memory_order_seq_cst) == 0) close_all_closed();
  (void)all_closed_.recv();
}

}  // namespace cogo::server_detail
