// request_id.cpp: cogo/middleware/request_id.h says what it does.
#include "cogo/middleware/request_id.h"

#include <pthread.h>
#include <sys/random.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <stdexcept>

#include "cogo/http/request.h"
#include "cogo/http/response.h"

namespace cogo::middleware {
namespace {

constexpr std::size_t kPrefixLength = 13;  // 64 random bits, 5 per character
constexpr std::uint64_t kBlock = 4096;     // ids a thread takes from the counter at once

// Prefix: this process's random part. Drawn at first use and again in a
// forked child (the child is one thread then: nothing reads it meanwhile).
struct Prefix {
  char text[kPrefixLength];
  Prefix() {
    draw();
    pthread_atfork(nullptr, nullptr, [] { prefix().draw(); });
  }
  void draw() noexcept {
    std::uint64_t bits = 0;
    if (getrandom(&bits, sizeof bits, 0) != static_cast<ssize_t>(sizeof bits)) {
      // No entropy source: the clock and the address space still differ
      // between processes and restarts.
      bits =
          static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count()) ^
          (reinterpret_cast<std::uintptr_t>(this) << 16) ^ static_cast<std::uint64_t>(getpid());
    }
    static constexpr char kAlphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";  // Crockford's base 32
    for (std::size_t i = 0; i < kPrefixLength; ++i) {
      text[i] = kAlphabet[bits & 31];
      bits >>= 5;
    }
  }
  static Prefix& prefix() {
    static Prefix p;
    return p;
  }
};

std::atomic<std::uint64_t> g_counter{0};

// sane() tells whether an incoming id may be kept: 1..kMaxLength visible
// ASCII characters.
bool sane(std::string_view id) noexcept {
  if (id.empty() || id.size() > RequestId::kMaxLength) return false;
  for (char c : id) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

bool is_token(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
    if (!ok || c == 0) return false;
  }
  return true;
}

}  // namespace

std::size_t new_request_id(char* out) noexcept {
  // Each thread takes a block of the counter: no shared write per id.
  thread_local std::uint64_t next = 0;
  thread_local std::uint64_t end = 0;
  if (next == end) {
    next = g_counter.fetch_add(kBlock, std::memory_order_relaxed);
    end = next + kBlock;
  }
  const std::uint64_t n = next++;
  std::memcpy(out, Prefix::prefix().text, kPrefixLength);
  out[kPrefixLength] = '-';
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 0; i < 12; ++i) out[kPrefixLength + 1 + i] = kHex[(n >> (4 * (11 - i))) & 15];
  return kPrefixLength + 1 + 12;
}

std::string_view request_id_of(const http::Request& req) noexcept {
  const RequestId* id = req.value<RequestId>();
  return id != nullptr ? id->view() : std::string_view();
}

http::Middleware request_id(RequestIdOptions options) {
  if (!is_token(options.header)) {
    throw std::invalid_argument("request_id: header name \"" + options.header +
                                "\" is not an HTTP field name (a token)");
  }
  (void)Prefix::prefix();  // drawn now, not on the first request
  return [o = std::move(options)](http::Request& req, http::Response& res, const http::Next& next) {
    RequestId& id = req.set_value<RequestId>();
    const std::string_view incoming = o.trust_incoming ? req.header(o.header) : std::string_view();
    if (sane(incoming)) {
      std::memcpy(id.data, incoming.data(), incoming.size());
      id.size = incoming.size();
    } else {
      id.size = new_request_id(id.data);
    }
    res.set_header(o.header, id.view());
    next(req, res);
    // An answer made after the handler (recover's 500) may have lost it.
    if (!res.headers_sent() && res.header(o.header).empty()) res.set_header(o.header, id.view());
  };
}

}  // namespace cogo::middleware
