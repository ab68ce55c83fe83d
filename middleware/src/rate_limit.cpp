// rate_limit.cpp: cogo/middleware/rate_limit.h says what it does. A shard
// is a hash map from key to a node of an LRU list (front: the most
// recently seen); a request locks one shard for a lookup, a little
// arithmetic and a splice. A full shard reuses its least recently seen
// node for the new key.
#include "cogo/middleware/rate_limit.h"

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cogo/http/request.h"
#include "cogo/http/response.h"
#include "ip.h"

namespace cogo::middleware {
namespace {

struct Bucket {
  std::string key;
  double tokens = 0;
  std::int64_t at_ns = 0;  // when tokens was computed
};

struct KeyHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};
struct KeyEqual {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const noexcept { return a == b; }
};

struct alignas(64) Shard {
  std::mutex mutex;
  std::list<Bucket> lru;  // guarded by mutex; front: most recently seen
  std::unordered_map<std::string_view, std::list<Bucket>::iterator, KeyHash, KeyEqual>
      index;  // keys view lru's
};

// Decision: one request's outcome, read under the shard's lock.
struct Decision {
  bool allowed;
  double tokens;  // left after this request
};

class Limiter {
 public:
  explicit Limiter(const RateLimitOptions& o) : rate_(o.rate), burst_(o.burst) {
    std::size_t n = 1;
    while (n < o.shards && n * 2 <= o.max_keys) n *= 2;
    shards_ = std::vector<Shard>(n);
    mask_ = n - 1;
    per_shard_ = std::max<std::size_t>(1, o.max_keys / n);
  }

  Decision take(std::string_view key, std::int64_t now_ns) {
    Shard& s = shards_[KeyHash{}(key)&mask_];
    std::lock_guard lock(s.mutex);
    auto it = s.index.find(key);
    Bucket* b;
    if (it != s.index.end()) {
      s.lru.splice(s.lru.begin(), s.lru, it->second);
      b = &*it->second;
      const double elapsed = static_cast<double>(now_ns - b->at_ns) / 1e9;
      b->tokens = std::min(burst_, b->tokens + std::max(0.0, elapsed) * rate_);
    } else {
      if (s.index.size() >= per_shard_) {
        // Forget the least recently seen key; reuse its node.
        s.index.erase(s.lru.back().key);
        s.lru.splice(s.lru.begin(), s.lru, std::prev(s.lru.end()));
      } else {
        s.lru.emplace_front();
      }
      b = &s.lru.front();
      b->key.assign(key);
      b->tokens = burst_;
      s.index.emplace(b->key, s.lru.begin());
    }
    b->at_ns = now_ns;
    const bool allowed = b->tokens >= 1.0;
    if (allowed) b->tokens -= 1.0;
    return {allowed, b->tokens};
  }

  double rate() const { return rate_; }
  double burst() const { return burst_; }

 private:
  double rate_;
  double burst_;
  std::vector<Shard> shards_;
  std::size_t mask_ = 0;
  std::size_t per_shard_ = 1;
};

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void put_number(http::Response& res, std::string_view name, long long v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  res.add_header(name, std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)));
}

}  // namespace

double parse_rate(const std::string& text) {
  auto bad = [&] {
    return std::invalid_argument("'" + text +
                                 "' is not a rate; use requests per second, minute or hour "
                                 "(100/s, 6000/m, 50000/h) or a number per second");
  };
  const std::size_t slash = text.find('/');
  const std::string number = text.substr(0, slash);
  double per = 1;
  if (slash != std::string::npos) {
    const std::string unit = text.substr(slash + 1);
    if (unit == "s") {
      per = 1;
    } else if (unit == "m") {
      per = 60;
    } else if (unit == "h") {
      per = 3600;
    } else {
      throw bad();
    }
  }
  double v = 0;
  const auto r = std::from_chars(number.data(), number.data() + number.size(), v);
  if (number.empty() || r.ec != std::errc() || r.ptr != number.data() + number.size() || !(v > 0) ||
      !std::isfinite(v)) {
    throw bad();
  }
  return v / per;
}

http::Middleware rate_limit(RateLimitOptions options) {
  if (!(options.rate > 0) || !std::isfinite(options.rate))
    throw std::invalid_argument("rate_limit: rate must be more than 0 per second");
  if (!(options.burst >= 1) || !std::isfinite(options.burst))
    throw std::invalid_argument("rate_limit: burst must be 1 or more");
  if (options.max_keys == 0) throw std::invalid_argument("rate_limit: max_keys must be 1 or more");
  if (options.shards == 0) throw std::invalid_argument("rate_limit: shards must be 1 or more");
  auto limiter = std::make_shared<Limiter>(options);
  return [limiter, key_header = options.key_header, headers = options.headers](
             http::Request& req, http::Response& res, const http::Next& next) {
    std::string_view key;
    if (!key_header.empty()) key = req.header(key_header);
    if (key.empty()) key = detail::strip_port(req.remote_address());
    const Decision d = limiter->take(key, now_ns());
    if (headers || !d.allowed) {
      put_number(res, "RateLimit-Limit", static_cast<long long>(limiter->burst()));
      put_number(res, "RateLimit-Remaining", static_cast<long long>(std::floor(d.tokens)));
      put_number(
          res, "RateLimit-Reset",
          static_cast<long long>(std::ceil((limiter->burst() - d.tokens) / limiter->rate())));
    }
    if (!d.allowed) {
      put_number(
          res, "Retry-After",
          std::max(1LL, static_cast<long long>(std::ceil((1.0 - d.tokens) / limiter->rate()))));
      // RFC 6585 4: a 429 "MUST NOT be stored by a cache".
      res.set_header("Cache-Control", "no-store");
      res.text(429, "rate limit exceeded\n");
      return;
    }
    next(req, res);
  };
}

}  // namespace cogo::middleware
