// shutdown.cpp: Shutdown (see shutdown.h).
#include "shutdown.h"

namespace cogo::server_detail {

bool Shutdown::request(const std::function<void()>& stop_accepting) {
  if (draining_.exchange(true, std::memory_order_acq_rel)) return false;
  if (stop_accepting) stop_accepting();
  // A copy of the handle, as in close_all_closed(): once closed, the waiter
  // may return and destroy this object while close() is still waking it.
  Chan<int> c = requested_;
  c.close();
  return true;
}

void Shutdown::wait_requested() const {
  (void)requested_.recv();  // nullopt once closed: nothing is ever sent
}

void Shutdown::close_all_closed() {
  // A copy of the handle: once closed, the waiter may return and destroy
  // this object while close() is still waking it.
  Chan<int> c = all_closed_;
  if (!all_closed_done_.exchange(true)) c.close();
}

// The last connection_closed() after wait_connections() started, or
// wait_connections() finding no connection, closes all_closed_ — decided by
// one atomic read-modify-write on each side, so exactly one of them sees the
// zero. The closer reads this object only before the close: the waiter
// cannot have returned before it (or it timed out, and then the connections
// it left open outlive nothing they use: Server::serve waits again).
void Shutdown::connection_closed() {
  if (open_.fetch_sub(kOne, std::memory_order_seq_cst) == kOne + kCounting) close_all_closed();
}

bool Shutdown::wait_connections(std::chrono::steady_clock::time_point deadline) {
  if (open_.fetch_or(kCounting, std::memory_order_seq_cst) / kOne == 0) close_all_closed();
  const auto left = deadline - std::chrono::steady_clock::now();
  if (left <= std::chrono::steady_clock::duration::zero()) return open_connections() == 0;
  bool closed = false;
  cogo::select(cogo::on_recv(all_closed_, [&closed](std::optional<int>) { closed = true; }),
               cogo::on_timeout(left));
  return closed;
}

void Shutdown::wait_connections() {
  if (open_.fetch_or(kCounting, std::memory_order_seq_cst) / kOne == 0) close_all_closed();
  (void)all_closed_.recv();
}

}  // namespace cogo::server_detail
