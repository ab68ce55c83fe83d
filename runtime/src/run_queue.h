// run_queue.h: a P's local run queue — Go's runq: a bounded ring of 256 slots
// that only the owner P pushes to (tail) while any P may steal from the head
// with a CAS, plus `runnext`, the goroutine just readied, run next so that a
// request/response ping-pong stays on one core.
//
// Memory ordering: the owner writes a slot (relaxed) and publishes it with a
// release store of tail; a consumer reads tail with acquire, copies slots and
// claims them with a CAS of head (acq_rel). A thief's copy may read a slot the
// owner is about to overwrite only if its CAS then fails, so stale reads are
// discarded.
#pragma once

#include <atomic>
#include <cstdint>

namespace cogo::detail {

struct G;

struct RunQueue {
  static constexpr uint32_t kSize = 256;
  std::atomic<uint32_t> head{0};   // consumers CAS
  std::atomic<uint32_t> tail{0};   // owner only stores
  std::atomic<G*> slots[kSize] = {};
  std::atomic<G*> runnext{nullptr};

  uint32_t size() const {
    const uint32_t h = head.load(std::memory_order_acquire);
    const uint32_t t = tail.load(std::memory_order_acquire);
    return t - h;
  }
  bool empty() const {
    return size() == 0 && runnext.load(std::memory_order_acquire) == nullptr;
  }
};

}  // namespace cogo::detail
