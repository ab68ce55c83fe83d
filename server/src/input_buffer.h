// input_buffer.h: InputBuffer, a connection's read buffer.
//
//   [0, begin)      parsed: the current request's head (still viewed by the
//                   Request) and decoded body bytes
//   [begin, end)    received, not parsed yet (pipelined requests)
//   [end, capacity) free
//
// Plain malloc'd bytes: growing never needs zero-filling, and an idle
// connection can give the memory back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

namespace cogo::http::detail {

class InputBuffer {
 public:
  InputBuffer() = default;
  ~InputBuffer() { std::free(data_); }
  InputBuffer(const InputBuffer&) = delete;
  InputBuffer& operator=(const InputBuffer&) = delete;

  char* data() const noexcept { return data_; }
  std::size_t capacity() const noexcept { return capacity_; }
  std::size_t begin() const noexcept { return begin_; }
  std::size_t end() const noexcept { return end_; }

  char* unparsed() const noexcept { return data_ + begin_; }
  std::size_t unparsed_size() const noexcept { return end_ - begin_; }
  char* tail() const noexcept { return data_ + end_; }
  std::size_t tail_room() const noexcept { return capacity_ - end_; }
  std::size_t offset_of(const char* p) const noexcept {
    return static_cast<std::size_t>(p - data_);
  }

  void commit(std::size_t n) noexcept { end_ += n; }
  void consume(std::size_t n) noexcept { begin_ += n; }
  // reset_to() empties the buffer from pos on (everything before stays).
  void reset_to(std::size_t pos) noexcept { begin_ = end_ = pos; }

  // reserve_empty() makes an empty buffer hold at least capacity bytes.
  void reserve_empty(std::size_t capacity) {
    begin_ = end_ = 0;
    if (capacity_ >= capacity) return;
    std::free(data_);
    data_ = nullptr;
    capacity_ = 0;
    allocate(capacity);
  }

  // make_room() ensures tail_room() >= room while keeping the bytes
  // [keep_from, end): they move to the front, into a bigger allocation if
  // needed. Everything before keep_from is dropped; begin must be >=
  // keep_from. Returns how far the kept bytes moved, for rebasing views.
  std::ptrdiff_t make_room(std::size_t keep_from, std::size_t room) {
    if (tail_room() >= room) return 0;
    const std::size_t keep = end_ - keep_from;
    const std::uintptr_t old_address = reinterpret_cast<std::uintptr_t>(data_ + keep_from);
    if (keep + room <= capacity_) {
      std::memmove(data_, data_ + keep_from, keep);
    } else {
      std::size_t capacity = capacity_ < 1024 ? 1024 : capacity_;
      while (capacity < keep + room) capacity *= 2;
      char* old = data_;
      data_ = nullptr;
      capacity_ = 0;
      allocate(capacity);
      if (keep > 0) std::memcpy(data_, old + keep_from, keep);
      std::free(old);
    }
    begin_ -= keep_from;
    end_ = keep;
    return static_cast<std::ptrdiff_t>(reinterpret_cast<std::uintptr_t>(data_) - old_address);
  }

  // release() frees the memory.
  void release() noexcept {
    std::free(data_);
    data_ = nullptr;
    capacity_ = begin_ = end_ = 0;
  }

 private:
  void allocate(std::size_t capacity) {
    data_ = static_cast<char*>(std::malloc(capacity));
    if (data_ == nullptr) throw std::bad_alloc();
    capacity_ = capacity;
  }

  char* data_ = nullptr;
  std::size_t capacity_ = 0;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

}  // namespace cogo::http::detail
