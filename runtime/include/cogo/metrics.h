// cogo/metrics.h: counters, gauges and histograms that handlers may update on
// every request without a lock, exposed in the Prometheus text format 0.0.4.
//
//   auto& hits = cogo::metrics::counter_family("app_cache_hits_total", "Cache hits.", {"cache"});
//   cogo::metrics::Counter& users = hits.with({"users"});   // keep the reference
//   users.inc();
//   std::string text = cogo::metrics::default_registry().expose();
//
// Counting: a Counter or Histogram is split into shards (cache-line padded
// relaxed atomics); each thread adds to its own shard, and a scrape sums
// them. Nothing on the counting path takes a lock. with() looks a child up
// under a shared (reader) lock, so keep the reference where it is hot.
//
// Names follow the Prometheus data model: metric names
// [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* and not
// starting with "__"; a bad one throws std::invalid_argument at registration.
// Cardinality is bounded: a family holds at most max_series children; past
// that every new label set is counted in one overflow child whose label
// values are all "other" (so a scanner's random paths cannot grow memory).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace cogo::metrics {

inline constexpr std::size_t kShards = 16;
inline constexpr std::size_t kDefaultMaxSeries = 1000;

namespace detail {
// this_thread_shard is the calling thread's shard index, kShards until
// choose_shard() picked it. Constant-initialised, so reading it is a plain
// TLS load (no guard, no call).
constinit inline thread_local std::size_t this_thread_shard = kShards;
// choose_shard() picks the calling thread's shard (round robin) and returns it.
std::size_t choose_shard() noexcept;
// shard() is the calling thread's shard index, 0..kShards-1.
inline std::size_t shard() noexcept {
  const std::size_t s = this_thread_shard;
  if (s == kShards) [[unlikely]]
    return choose_shard();
  return s;
}
struct alignas(64) PaddedU64 {
  std::atomic<uint64_t> v{0};
};
// PaddedSum: a histogram shard's sum, the double observations' and the
// integer ones' (an atomic integer add needs no compare-and-swap loop).
struct alignas(64) PaddedSum {
  std::atomic<double> real{0};
  std::atomic<uint64_t> integer{0};
};
}  // namespace detail

// Counter: a monotonically increasing count.
class Counter {
 public:
  void inc(uint64_t n = 1) noexcept {
    shards_[detail::shard()].v.fetch_add(n, std::memory_order_relaxed);
  }
  uint64_t value() const noexcept;

 private:
  detail::PaddedU64 shards_[kShards];
};

// Gauge: a value that goes up and down (one atomic: gauges are set rarely).
class Gauge {
 public:
  void set(double v) noexcept { v_.store(v, std::memory_order_relaxed); }
  void add(double d) noexcept { v_.fetch_add(d, std::memory_order_relaxed); }
  double value() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

// Histogram: counts of observations at or below each bucket's upper bound,
// their sum and their count. Bounds are sorted upper bounds; +Inf is implied.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v) noexcept;
  // observe_integer(n) is observe(n) for a whole number (bytes, items): the
  // same bucket, but summed exactly in an integer (an atomic add where a
  // double sum takes a compare-and-swap loop); a scrape adds the two sums.
  void observe_integer(uint64_t n) noexcept;
  struct Snapshot {
    std::vector<uint64_t> cumulative;  // per bound, then +Inf (== count)
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot snapshot() const;
  const std::vector<double>& bounds() const noexcept { return bounds_; }

 private:
  std::vector<double> bounds_;
  // buckets_[shard * (bounds + 1) + i], padded per shard.
  std::unique_ptr<detail::PaddedU64[]> buckets_;
  detail::PaddedSum sums_[kShards];
};

// default_duration_buckets(): 0.5 ms .. 10 s, for request durations.
std::vector<double> default_duration_buckets();
// default_size_buckets(): 64 B .. 16 MiB by powers of 4, for body sizes.
std::vector<double> default_size_buckets();

// FamilyBase: what a Registry exposes.
class FamilyBase {
 public:
  virtual ~FamilyBase() = default;
  virtual void write(std::string& out) const = 0;
};

// Family<T>: one metric name, its help, its label names, and a child per
// label-value set.
template <class T>
class Family : public FamilyBase {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::function<std::unique_ptr<T>()> make, std::size_t max_series);
  // with() is the child for these label values (as many as label names).
  T& with(std::initializer_list<std::string_view> values);
  void write(std::string& out) const override;
  std::size_t series() const;
  const std::string& name() const noexcept { return name_; }
  const std::vector<std::string>& label_names() const noexcept { return label_names_; }

 private:
  std::string name_, help_;
  std::vector<std::string> label_names_;
  std::function<std::unique_ptr<T>()> make_;
  std::size_t max_series_;
  mutable std::shared_mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<T>, std::less<>> children_;  // under mu_
};

// Writer: builds exposition text for gauges and counters computed at scrape
// time (collectors). Each family's HELP/TYPE is written once.
class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  void gauge(std::string_view name, std::string_view help, double value,
             std::initializer_list<std::pair<std::string_view, std::string>> labels = {});
  void counter(std::string_view name, std::string_view help, double value,
               std::initializer_list<std::pair<std::string_view, std::string>> labels = {});

 private:
  void sample(std::string_view type, std::string_view name, std::string_view help, double value,
              std::initializer_list<std::pair<std::string_view, std::string>> labels);
  std::string& out_;
  std::string last_family_;
};

// Registry: families and collectors, exposed together.
class Registry {
 public:
  Family<Counter>& counter_family(std::string name, std::string help,
                                  std::vector<std::string> label_names = {},
                                  std::size_t max_series = kDefaultMaxSeries);
  Family<Gauge>& gauge_family(std::string name, std::string help,
                              std::vector<std::string> label_names = {},
                              std::size_t max_series = kDefaultMaxSeries);
  Family<Histogram>& histogram_family(std::string name, std::string help,
                                      std::vector<std::string> label_names,
                                      std::vector<double> bounds,
                                      std::size_t max_series = kDefaultMaxSeries);
  // find() is the family registered under name if it is a Family<T>, null
  // when there is none; throws std::invalid_argument when name is a family
  // of another kind. (A library that registers its families once per
  // registry, as middleware::metrics does, finds them again with it.)
  template <class T>
  Family<T>* find(std::string_view name) const;
  // add_collector() adds fn, called at every expose() to write samples.
  void add_collector(std::function<void(Writer&)> fn);
  // expose() is the whole registry in the text format.
  std::string expose() const;

 private:
  void check_new_name(const std::string& name);
  template <class T>
  Family<T>& add(std::unique_ptr<Family<T>> family, const std::string& name);
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<FamilyBase>> families_;  // under mu_
  std::vector<std::string> names_;                     // under mu_; names_[i] names families_[i]
  std::vector<std::function<void(Writer&)>> collectors_;  // under mu_
};

template <class T>
Family<T>* Registry::find(std::string_view name) const {
  std::lock_guard lk(mu_);
  for (std::size_t i = 0; i < names_.size(); i++) {
    if (names_[i] != name) continue;
    if (auto* f = dynamic_cast<Family<T>*>(families_[i].get())) return f;
    throw std::invalid_argument("metric " + names_[i] + " is registered as another kind of family");
  }
  return nullptr;
}

// default_registry(): the process's registry, with the runtime's and the
// process's collectors (cogo_goroutines, process_cpu_seconds_total, ...).
Registry& default_registry();

inline Family<Counter>& counter_family(std::string name, std::string help,
                                       std::vector<std::string> label_names = {}) {
  return default_registry().counter_family(std::move(name), std::move(help), std::move(label_names));
}
inline Family<Gauge>& gauge_family(std::string name, std::string help,
                                   std::vector<std::string> label_names = {}) {
  return default_registry().gauge_family(std::move(name), std::move(help), std::move(label_names));
}
inline Family<Histogram>& histogram_family(std::string name, std::string help,
                                           std::vector<std::string> label_names,
                                           std::vector<double> bounds) {
  return default_registry().histogram_family(std::move(name), std::move(help),
                                             std::move(label_names), std::move(bounds));
}

// The text format's content type.
inline constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

// valid_metric_name(), valid_label_name(): the data model's rules above.
bool valid_metric_name(std::string_view name) noexcept;
bool valid_label_name(std::string_view name) noexcept;

}  // namespace cogo::metrics
