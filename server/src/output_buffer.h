// output_buffer.h: OutputBuffer, the bytes of responses not written yet.
//
// A growable byte buffer whose appends are inline memcpys: the response
// head is a dozen small appends per request, and std::string's out-of-line
// append (with a strlen per literal) showed in profiles.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string_view>

namespace cogo::http::detail {

class OutputBuffer {
 public:
  OutputBuffer() = default;
  ~OutputBuffer() { std::free(data_); }
  OutputBuffer(const OutputBuffer&) = delete;
  OutputBuffer& operator=(const OutputBuffer&) = delete;

  const char* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  std::size_t capacity() const noexcept { return capacity_; }
  bool empty() const noexcept { return size_ == 0; }
  void clear() noexcept { size_ = 0; }

  [[gnu::always_inline]] void append(const char* p, std::size_t n) {
    if (capacity_ - size_ < n) grow(n);
    std::memcpy(data_ + size_, p, n);
    size_ += n;
  }
  [[gnu::always_inline]] void append(std::string_view v) { append(v.data(), v.size()); }
  // extend() counts n more bytes at the end and returns where they start,
  // for the caller to fill (a file read straight into the buffer).
  char* extend(std::size_t n) {
    if (capacity_ - size_ < n) grow(n);
    char* p = data_ + size_;
    size_ += n;
    return p;
  }
  // truncate() drops everything after the first n bytes (n <= size()).
  void truncate(std::size_t n) noexcept { size_ = n; }

  // release() frees the memory.
  void release() noexcept {
    std::free(data_);
    data_ = nullptr;
    size_ = capacity_ = 0;
  }

 private:
  [[gnu::noinline]] void grow(std::size_t n) {
    std::size_t capacity = capacity_ < 1024 ? 1024 : capacity_ * 2;
    while (capacity - size_ < n) capacity *= 2;
    char* p = static_cast<char*>(std::realloc(data_, capacity));
    if (p == nullptr) throw std::bad_alloc();
    data_ = p;
    capacity_ = capacity;
  }

  char* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

}  // namespace cogo::http::detail
