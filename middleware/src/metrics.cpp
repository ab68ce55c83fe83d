// metrics.cpp: the metrics middleware (cogo/middleware/metrics.h).
//
// The hot path is record(): it finds the request's three series in a
// thread-local cache and adds to them. The cache is only touched inside
// record(), a function that cannot park, so a goroutine that moved to
// another thread while the handler ran uses that thread's cache (never a
// cached address of the one it started on).
#include "cogo/middleware/metrics.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "cogo/http/outcome.h"
#include "cogo/http/request.h"
#include "cogo/http/response.h"

namespace cogo::middleware {
namespace {

using cogo::metrics::Counter;
using cogo::metrics::Family;
using cogo::metrics::Histogram;
using Clock = std::chrono::steady_clock;

// The methods counted by name (RFC 9110 9.3 and RFC 5789); the rest fold
// into "other".
constexpr std::string_view kMethods[] = {"GET",     "HEAD",    "POST",  "PUT",   "DELETE",
                                         "CONNECT", "OPTIONS", "TRACE", "PATCH", "other"};
constexpr int kOtherMethod = 9;

int method_index(std::string_view m) noexcept {
  if (m.size() == 3 && std::memcmp(m.data(), "GET", 3) == 0) return 0;  // most requests
  for (int i = 1; i < kOtherMethod; i++) {
    if (kMethods[i] == m) return i;
  }
  return kOtherMethod;
}

// State: one metrics() middleware's families. id tells its cache entries
// from those of another state (a state's address may be reused; ids never).
struct State {
  std::uint64_t id = 0;
  Family<Counter>* requests = nullptr;
  Family<Histogram>* duration = nullptr;
  Family<Histogram>* size = nullptr;
};

// Entry: the series of one (state, method, route, code) on one thread.
struct Entry {
  std::uint64_t owner = 0;  // State::id; 0: an empty slot
  std::uint64_t hash = 0;
  int code = 0;
  int method = 0;
  std::string route;
  Counter* requests = nullptr;
  Histogram* duration = nullptr;
  Histogram* size = nullptr;
};

// Cache: open addressing with linear probing over a power-of-two table,
// grown to at most kMaxSlots; past half of that it starts over (a handler
// that invents codes cannot grow a thread's memory without bound).
class Cache {
 public:
  static constexpr std::size_t kFirstSlots = 16;
  static constexpr std::size_t kMaxSlots = 4096;

  Entry& lookup(const State& st, int method, std::string_view route, int code) {
    // The last entry first: a thread's requests mostly repeat one
    // combination, and this check costs no hash.
    if (last_ != nullptr && matches(*last_, st.id, method, route, code)) return *last_;
    const std::uint64_t h = hash(st.id, method, route, code);
    if (!slots_.empty()) {
      for (std::size_t i = h & (slots_.size() - 1);; i = (i + 1) & (slots_.size() - 1)) {
        Entry& e = slots_[i];
        if (e.owner == 0) break;
        if (e.hash == h && matches(e, st.id, method, route, code)) return *(last_ = &e);
      }
    }
    return *(last_ = &insert(st, h, method, route, code));
  }

 private:
  // hash() mixes the route's address, not its bytes: a matched route is
  // the router's own pattern string, the same address on every request
  // (lookup() still compares the bytes, so an address reused for another
  // pattern cannot alias).
  // matches() is e's key == (id, method, route, code); the route's bytes
  // are compared inline (patterns are short: a call to memcmp would cost
  // more than the loop).
  static bool matches(const Entry& e, std::uint64_t id, int method, std::string_view route,
                      int code) noexcept {
    if (e.owner != id || e.code != code || e.method != method || e.route.size() != route.size()) {
      return false;
    }
    const char* a = e.route.data();
    const char* b = route.data();
    std::size_t n = route.size();
    for (; n >= 8; n -= 8, a += 8, b += 8) {
      std::uint64_t x, y;
      std::memcpy(&x, a, 8);
      std::memcpy(&y, b, 8);
      if (x != y) return false;
    }
    for (; n > 0; n--) {
      if (*a++ != *b++) return false;
    }
    return true;
  }

  static std::uint64_t hash(std::uint64_t id, int method, std::string_view route, int code) {
    std::uint64_t h = reinterpret_cast<std::uintptr_t>(route.data()) ^ (id << 48) ^
                      (static_cast<std::uint64_t>(route.size()) << 32) ^
                      (static_cast<std::uint64_t>(code) << 8) ^ static_cast<std::uint64_t>(method);
    h *= 0x9E3779B97F4A7C15ull;  // Fibonacci hashing: the high bits are well mixed
    return h ^ (h >> 32);
  }

  Entry& insert(const State& st, std::uint64_t h, int method, std::string_view route, int code) {
    if ((used_ + 1) * 2 > slots_.size()) {
      if (slots_.size() >= kMaxSlots) {
        slots_.assign(slots_.size(), Entry{});  // start over
        used_ = 0;
        last_ = nullptr;
      } else {
        last_ = nullptr;  // the entries move
        std::vector<Entry> old = std::move(slots_);
        slots_.assign(old.empty() ? kFirstSlots : old.size() * 2, Entry{});
        used_ = 0;
        for (Entry& e : old) {
          if (e.owner != 0) place(std::move(e));
        }
      }
    }
    Entry e;
    e.owner = st.id;
    e.hash = h;
    e.code = code;
    e.method = method;
    e.route = route;
    // A thread's first request of this combination: the families' locks.
    const std::string_view m = kMethods[method];
    const std::string_view r = route.empty() ? std::string_view("other") : route;
    char code_text[8];
    const int n = std::snprintf(code_text, sizeof code_text, "%d", code);
    const std::string_view c(code_text, n > 0 ? static_cast<std::size_t>(n) : 0);
    e.requests = &st.requests->with({m, r, c});
    e.duration = &st.duration->with({m, r});
    e.size = &st.size->with({m, r});
    return place(std::move(e));
  }

  Entry& place(Entry&& e) {
    for (std::size_t i = e.hash & (slots_.size() - 1);; i = (i + 1) & (slots_.size() - 1)) {
      if (slots_[i].owner == 0) {
        slots_[i] = std::move(e);
        used_++;
        return slots_[i];
      }
    }
  }

  std::vector<Entry> slots_;
  std::size_t used_ = 0;
  Entry* last_ = nullptr;  // in slots_: the entry the last lookup returned
};

// this_thread_cache() is the calling thread's Cache. The pointer is
// constant-initialised, so reading it needs no TLS guard; the Cache is
// made (and its owner, which frees it at the thread's exit, registered) on
// the thread's first request.
Cache& this_thread_cache() {
  constinit thread_local Cache* cache = nullptr;
  if (cache == nullptr) [[unlikely]] {
    thread_local std::unique_ptr<Cache> owner = std::make_unique<Cache>();
    cache = owner.get();
  }
  return *cache;
}

// record() counts one request. Not inlined, and it cannot park: the
// thread-local cache it uses is the current thread's.
[[gnu::noinline]] void record(const State& st, const http::Request& req, const http::Response& res,
                              int code, Clock::time_point start) {
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  Entry& e = this_thread_cache().lookup(st, method_index(req.method()), req.route(), code);
  e.requests->inc();
  e.duration->observe(seconds);
  e.size->observe_integer(res.body_bytes());
}

template <class T>
Family<T>* find_checked(cogo::metrics::Registry& reg, std::string_view name,
                        const std::vector<std::string>& labels) {
  Family<T>* f = reg.find<T>(name);
  if (f != nullptr && f->label_names() != labels) {
    throw std::invalid_argument("middleware::metrics: " + std::string(name) +
                                " is already registered with other labels");
  }
  return f;
}

std::shared_ptr<const State> make_state(const MetricsOptions& o) {
  // Buckets are checked before anything is registered.
  Histogram check_duration(o.duration_buckets);
  Histogram check_size(o.size_buckets);
  static std::mutex registering;  // find-or-register is one step
  static std::atomic<std::uint64_t> next_id{1};
  std::lock_guard lk(registering);
  cogo::metrics::Registry& reg = o.registry ? *o.registry : cogo::metrics::default_registry();
  auto st = std::make_shared<State>();
  st->id = next_id.fetch_add(1, std::memory_order_relaxed);
  const std::vector<std::string> mrc = {"method", "route", "code"}, mr = {"method", "route"};
  st->requests = find_checked<Counter>(reg, "cogo_http_requests_total", mrc);
  st->duration = find_checked<Histogram>(reg, "cogo_http_request_duration_seconds", mr);
  st->size = find_checked<Histogram>(reg, "cogo_http_response_size_bytes", mr);
  if (st->requests == nullptr) {
    st->requests = &reg.counter_family(
        "cogo_http_requests_total",
        "HTTP requests answered, by method, route pattern and status code.", mrc);
  }
  if (st->duration == nullptr) {
    st->duration = &reg.histogram_family(
        "cogo_http_request_duration_seconds",
        "Time from the metrics middleware's start to the end of the handler chain, seconds.", mr,
        o.duration_buckets);
  }
  if (st->size == nullptr) {
    st->size = &reg.histogram_family("cogo_http_response_size_bytes",
                                     "Response body bytes written by the handler chain.", mr,
                                     o.size_buckets);
  }
  return st;
}

}  // namespace

http::Middleware metrics(MetricsOptions options) {
  std::shared_ptr<const State> st = make_state(options);
  return [st](http::Request& req, http::Response& res, const http::Next& next) {
    const Clock::time_point start = Clock::now();
    try {
      next(req, res);
    } catch (...) {
      record(*st, req, res, http::answered_status(req, res, std::current_exception()), start);
      throw;
    }
    record(*st, req, res, http::answered_status(req, res), start);
  };
}

}  // namespace cogo::middleware
