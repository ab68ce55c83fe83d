// cogo/http/request_values.h: typed values a middleware attaches to one
// request for a later middleware or the handler (the request id, the
// authenticated user). Reached through Request::set_value<T>() and
// Request::value<T>(); one value per type, so give each its own struct:
//
//   struct User { std::string name; int id; };
//   req.set_value<User>(User{"ann", 7});            // in an auth middleware
//   if (const User* u = req.value<User>()) ...      // in the handler
//
// A request that attaches nothing pays nothing. Values live in the request
// (an arena of kArenaBytes bytes and kSlots slots inside it, reused from
// request to request without freeing); a larger value, or more of them,
// goes to the heap. Every value is destroyed when its request ends (after
// the outermost middleware returns), in the reverse order of attaching.
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

namespace cogo::http {

namespace detail {
// value_key<T>: one address per type, the key of T's value.
template <class T>
inline constexpr char value_key = 0;
}  // namespace detail

class RequestValues {
 public:
  static constexpr std::size_t kSlots = 8;
  static constexpr std::size_t kArenaBytes = 512;
  static constexpr std::size_t kHeapAlign = 64;  // the most a value's type may ask for

  RequestValues() = default;
  ~RequestValues() { clear(); }
  RequestValues(const RequestValues&) = delete;
  RequestValues& operator=(const RequestValues&) = delete;

  // emplace() constructs a T from args as the request's T, replacing one
  // already there; returns it.
  template <class T, class... Args>
  T& emplace(Args&&... args) {
    static_assert(std::is_object_v<T> && !std::is_const_v<T>, "a request value is a plain object");
    static_assert(alignof(T) <= kHeapAlign,
                  "a request value's type may ask for 64-byte alignment at most");
    const void* key = &detail::value_key<T>;
    Slot* slot = find(key);
    if (slot != nullptr) {
      // Same type, same size: the replacement goes where the old one was.
      slot->destroy(slot->object);
      try {
        return *::new (slot->object) T(std::forward<Args>(args)...);
      } catch (...) {
        release(*slot);
        remove(slot);
        throw;
      }
    }
    void* where = allocate(sizeof(T), alignof(T));
    T* object;
    try {
      object = ::new (where) T(std::forward<Args>(args)...);
    } catch (...) {
      deallocate(where);
      throw;
    }
    add(Slot{key, object, [](void* p) noexcept { static_cast<T*>(p)->~T(); }});
    return *object;
  }

  // get() is the request's T, or nullptr.
  template <class T>
  T* get() noexcept {
    Slot* slot = find(&detail::value_key<T>);
    return slot != nullptr ? static_cast<T*>(slot->object) : nullptr;
  }
  template <class T>
  const T* get() const noexcept {
    return const_cast<RequestValues*>(this)->get<T>();
  }

  // erase() destroys the request's T, if any.
  template <class T>
  void erase() noexcept {
    if (Slot* slot = find(&detail::value_key<T>)) {
      slot->destroy(slot->object);
      release(*slot);
      remove(slot);
    }
  }

  // clear() destroys every value (newest first) and keeps the memory.
  void clear() noexcept;
  bool empty() const noexcept { return count_ == 0 && more_.empty(); }

 private:
  struct Slot {
    const void* key;
    void* object;
    void (*destroy)(void*) noexcept;
  };
  Slot* find(const void* key) noexcept {
    for (std::size_t i = 0; i < count_; ++i) {
      if (slots_[i].key == key) return &slots_[i];
    }
    for (Slot& s : more_) {
      if (s.key == key) return &s;
    }
    return nullptr;
  }
  void add(const Slot& slot);
  void remove(Slot* slot) noexcept;
  void* allocate(std::size_t size, std::size_t align);
  void deallocate(void* p) noexcept;
  void release(const Slot& slot) noexcept { deallocate(slot.object); }
  bool in_arena(const void* p) const noexcept {
    return p >= static_cast<const void*>(arena_) &&
           p < static_cast<const void*>(arena_ + kArenaBytes);
  }

  Slot slots_[kSlots];
  std::size_t count_ = 0;
  std::vector<Slot> more_;  // beyond kSlots (its capacity is kept)
  std::size_t used_ = 0;    // bytes of the arena handed out
  alignas(std::max_align_t) unsigned char arena_[kArenaBytes];
};

}  // namespace cogo::http
