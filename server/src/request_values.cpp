// request_values.cpp: RequestValues' storage (cogo/http/request_values.h):
// a bump arena inside the request, the heap beyond it.
#include "cogo/http/request_values.h"

#include <cstdint>

namespace cogo::http {

void RequestValues::clear() noexcept {
  for (std::size_t i = more_.size(); i-- > 0;) {
    more_[i].destroy(more_[i].object);
    release(more_[i]);
  }
  more_.clear();
  for (std::size_t i = count_; i-- > 0;) {
    slots_[i].destroy(slots_[i].object);
    release(slots_[i]);
  }
  count_ = 0;
  used_ = 0;
}

void RequestValues::add(const Slot& slot) {
  if (count_ < kSlots) {
    slots_[count_++] = slot;
    return;
  }
  try {
    more_.push_back(slot);
  } catch (...) {
    slot.destroy(slot.object);
    release(slot);
    throw;
  }
}

void RequestValues::remove(Slot* slot) noexcept {
  if (slot >= slots_ && slot < slots_ + count_) {
    for (Slot* s = slot; s + 1 < slots_ + count_; ++s) *s = *(s + 1);
    --count_;
    // Keep the inline slots full while others wait beyond them.
    if (!more_.empty()) {
      slots_[count_++] = more_.front();
      more_.erase(more_.begin());
    }
    return;
  }
  more_.erase(more_.begin() + (slot - more_.data()));
}

void* RequestValues::allocate(std::size_t size, std::size_t align) {
  const std::uintptr_t base = reinterpret_cast<std::uintptr_t>(arena_);
  const std::uintptr_t at = (base + used_ + align - 1) & ~(static_cast<std::uintptr_t>(align) - 1);
  if (align <= alignof(std::max_align_t) && at + size <= base + kArenaBytes) {
    used_ = at + size - base;
    return reinterpret_cast<void*>(at);
  }
  return ::operator new(size, std::align_val_t(kHeapAlign));
}

void RequestValues::deallocate(void* p) noexcept {
  // Arena bytes come back at clear(); the heap's at once.
  if (!in_arena(p)) ::operator delete(p, std::align_val_t(kHeapAlign));
}

}  // namespace cogo::http
