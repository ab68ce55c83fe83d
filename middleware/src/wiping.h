// wiping.h: WipingAllocator, for the containers a password passes through
// on its way to crypt(3) (basic_auth.cpp's decoded credentials and crypt
// phrase, precis.cpp's code points and UTF-16 buffers).
//
// A password a client sent should not outlive its check in freed heap
// blocks, where the next allocation, a core dump or a heap-reading bug
// would find it. Wiping only at the end is not enough: a container that
// grows frees its old block with the password's first bytes in it. This
// allocator zeroes every block it gives back (OPENSSL_cleanse: the
// compiler may not drop it as a dead store), so reallocations are wiped too.
//
// What it does not cover: copies on a stack (inline small-string buffers,
// crypt(3)'s and ICU's locals) and ICU's own heap buffers. Use containers
// without a small-buffer optimisation (std::vector) or wipe the inline
// bytes too (wipe_string). Cost: one memset per block freed, on strings
// of a few dozen bytes: nothing next to a crypt(3) check.
#pragma once

#include <openssl/crypto.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace cogo::middleware::detail {

template <class T>
struct WipingAllocator {
  using value_type = T;
  WipingAllocator() noexcept = default;
  template <class U>
  WipingAllocator(const WipingAllocator<U>&) noexcept {}  // NOLINT: rebinding is implicit
  T* allocate(std::size_t n) { return std::allocator<T>().allocate(n); }
  void deallocate(T* p, std::size_t n) noexcept {
    OPENSSL_cleanse(p, n * sizeof(T));
    std::allocator<T>().deallocate(p, n);
  }
  template <class U>
  bool operator==(const WipingAllocator<U>&) const noexcept {
    return true;
  }
};

// WipedBytes: bytes of a secret, on the heap only (a vector has no inline
// buffer), wiped when freed or grown.
using WipedBytes = std::vector<char, WipingAllocator<char>>;

// wipe_string() zeroes all of s's buffer (its capacity, the inline one
// included), for a std::string a caller hands us.
inline void wipe_string(std::string& s) noexcept {
  OPENSSL_cleanse(s.data(), s.capacity());
}

}  // namespace cogo::middleware::detail
