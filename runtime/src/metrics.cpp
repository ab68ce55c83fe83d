// metrics.cpp: cogo/metrics.h — shards, families, the text format, and the
// runtime's and the process's collectors.
#include "cogo/metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "cogo/introspect.h"

namespace cogo::metrics {

namespace detail {

std::size_t choose_shard() noexcept {
  static std::atomic<std::size_t> next{0};
  this_thread_shard = next.fetch_add(1, std::memory_order_relaxed) % kShards;
  return this_thread_shard;
}

}  // namespace detail

namespace {

bool name_char(char c, bool first, bool colon) {
  const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  return alpha || (colon && c == ':') || (!first && c >= '0' && c <= '9');
}

// format_value() writes v as Prometheus reads it: integers exactly, others
// with round-trip precision, +Inf/-Inf/NaN by name.
void format_value(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else if (v == std::floor(v) && std::fabs(v) < 1e15) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", v);
    out += buf;
  } else {
    char buf[32];  // the shortest text that reads back as v ("0.0025")
    const bool plain = std::fabs(v) >= 1e-4 && std::fabs(v) < 1e15;
    const auto [end, ec] = plain ? std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed)
                                 : std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, ec == std::errc() ? static_cast<std::size_t>(end - buf) : 0);
  }
}

void escape_label_value(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

void write_head(std::string& out, std::string_view name, std::string_view help,
                std::string_view type) {
  out += "# HELP ";
  out += name;
  out += ' ';
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

// write_sample() writes name{l1="v1",...,extra="x"} value.
void write_sample(std::string& out, std::string_view name, const std::vector<std::string>& names,
                  const std::vector<std::string>& values, std::string_view extra_name,
                  std::string_view extra_value, double v) {
  out += name;
  if (!names.empty() || !extra_name.empty()) {
    out += '{';
    bool first = true;
    for (std::size_t i = 0; i < names.size(); i++) {
      if (!first) out += ',';
      first = false;
      out += names[i];
      out += "=\"";
      escape_label_value(out, values[i]);
      out += '"';
    }
    if (!extra_name.empty()) {
      if (!first) out += ',';
      out += extra_name;
      out += "=\"";
      out += extra_value;
      out += '"';
    }
    out += '}';
  }
  out += ' ';
  format_value(out, v);
  out += '\n';
}

template <class T>
constexpr std::string_view type_of();
template <>
constexpr std::string_view type_of<Counter>() { return "counter"; }
template <>
constexpr std::string_view type_of<Gauge>() { return "gauge"; }
template <>
constexpr std::string_view type_of<Histogram>() { return "histogram"; }

}  // namespace

bool valid_metric_name(std::string_view name) noexcept {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); i++) {
    if (!name_char(name[i], i == 0, true)) return false;
  }
  return true;
}

bool valid_label_name(std::string_view name) noexcept {
  if (name.empty() || name.substr(0, 2) == "__") return false;
  for (std::size_t i = 0; i < name.size(); i++) {
    if (!name_char(name[i], i == 0, false)) return false;
  }
  return true;
}

uint64_t Counter::value() const noexcept {
  uint64_t sum = 0;
  for (const auto& s : shards_) sum += s.v.load(std::memory_order_relaxed);
  return sum;
}

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  if (!std::is_sorted(bounds_.begin(), bounds_.end()) ||
      std::adjacent_find(bounds_.begin(), bounds_.end()) != bounds_.end()) {
    throw std::invalid_argument("histogram buckets must be strictly increasing");
  }
  if (!bounds_.empty() && std::isinf(bounds_.back())) bounds_.pop_back();  // +Inf is implied
  buckets_ = std::make_unique<detail::PaddedU64[]>(kShards * (bounds_.size() + 1));
}

void Histogram::observe(double v) noexcept {
  // A linear scan from the smallest bound: most observations (fast
  // requests, small bodies) land in the first buckets, where it stops after
  // a compare or two; a binary search always pays log2(buckets).
  std::size_t i = 0;
  const std::size_t n = bounds_.size();
  const double* b = bounds_.data();
  while (i < n && b[i] < v) i++;
  const std::size_t s = detail::shard();
  buckets_[s * (bounds_.size() + 1) + i].v.fetch_add(1, std::memory_order_relaxed);
  sums_[s].real.fetch_add(v, std::memory_order_relaxed);
}

void Histogram::observe_integer(uint64_t n) noexcept {
  const double v = static_cast<double>(n);  // for the bounds only: the sum stays exact
  std::size_t i = 0;
  const std::size_t nb = bounds_.size();
  const double* b = bounds_.data();
  while (i < nb && b[i] < v) i++;
  const std::size_t s = detail::shard();
  buckets_[s * (nb + 1) + i].v.fetch_add(1, std::memory_order_relaxed);
  sums_[s].integer.fetch_add(n, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot snap;
  const std::size_t n = bounds_.size() + 1;
  std::vector<uint64_t> per(n, 0);
  uint64_t integer_sum = 0;
  for (std::size_t s = 0; s < kShards; s++) {
    for (std::size_t i = 0; i < n; i++) per[i] += buckets_[s * n + i].v.load(std::memory_order_relaxed);
    snap.sum += sums_[s].real.load(std::memory_order_relaxed);
    integer_sum += sums_[s].integer.load(std::memory_order_relaxed);
  }
  uint64_t running = 0;
  for (uint64_t c : per) {
    running += c;
    snap.cumulative.push_back(running);
  }
  snap.count = running;
  snap.sum += static_cast<double>(integer_sum);
  return snap;
}

std::vector<double> default_duration_buckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

std::vector<double> default_size_buckets() {
  std::vector<double> b;
  for (double v = 64; v <= 16 * 1024 * 1024; v *= 4) b.push_back(v);
  return b;
}

template <class T>
Family<T>::Family(std::string name, std::string help, std::vector<std::string> label_names,
                  std::function<std::unique_ptr<T>()> make, std::size_t max_series)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      make_(std::move(make)),
      max_series_(std::max<std::size_t>(1, max_series)) {
  if (!valid_metric_name(name_)) {
    throw std::invalid_argument("metric name '" + name_ + "' is not [a-zA-Z_:][a-zA-Z0-9_:]*");
  }
  for (const auto& l : label_names_) {
    if (!valid_label_name(l) || (std::is_same_v<T, Histogram> && l == "le")) {
      throw std::invalid_argument("label name '" + l + "' of " + name_ +
                                  " is not [a-zA-Z_][a-zA-Z0-9_]* (not starting with __; no 'le' on a histogram)");
    }
  }
}

template <class T>
T& Family<T>::with(std::initializer_list<std::string_view> values) {
  if (values.size() != label_names_.size()) {
    throw std::invalid_argument(name_ + ": " + std::to_string(label_names_.size()) +
                                " label values expected, " + std::to_string(values.size()) + " given");
  }
  std::vector<std::string> key(values.begin(), values.end());
  {
    std::shared_lock lk(mu_);
    if (auto it = children_.find(key); it != children_.end()) return *it->second;
  }
  std::unique_lock lk(mu_);
  if (auto it = children_.find(key); it != children_.end()) return *it->second;
  if (children_.size() >= max_series_) {
    key.assign(label_names_.size(), "other");  // the overflow child
    if (auto it = children_.find(key); it != children_.end()) return *it->second;
  }
  auto [it, inserted] = children_.emplace(std::move(key), make_());
  return *it->second;
}

template <class T>
std::size_t Family<T>::series() const {
  std::shared_lock lk(mu_);
  return children_.size();
}

template <class T>
void Family<T>::write(std::string& out) const {
  write_head(out, name_, help_, type_of<T>());
  std::shared_lock lk(mu_);
  for (const auto& [values, child] : children_) {
    if constexpr (std::is_same_v<T, Counter>) {
      write_sample(out, name_, label_names_, values, {}, {}, static_cast<double>(child->value()));
    } else if constexpr (std::is_same_v<T, Gauge>) {
      write_sample(out, name_, label_names_, values, {}, {}, child->value());
    } else {
      const Histogram::Snapshot s = child->snapshot();
      const std::string bucket = name_ + "_bucket";
      for (std::size_t i = 0; i < s.cumulative.size(); i++) {
        std::string le;
        if (i < child->bounds().size()) {
          format_value(le, child->bounds()[i]);
        } else {
          le = "+Inf";
        }
        write_sample(out, bucket, label_names_, values, "le", le, static_cast<double>(s.cumulative[i]));
      }
      write_sample(out, name_ + "_sum", label_names_, values, {}, {}, s.sum);
      write_sample(out, name_ + "_count", label_names_, values, {}, {}, static_cast<double>(s.count));
    }
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

void Writer::gauge(std::string_view name, std::string_view help, double value,
                   std::initializer_list<std::pair<std::string_view, std::string>> labels) {
  sample("gauge", name, help, value, labels);
}

void Writer::counter(std::string_view name, std::string_view help, double value,
                     std::initializer_list<std::pair<std::string_view, std::string>> labels) {
  sample("counter", name, help, value, labels);
}

void Writer::sample(std::string_view type, std::string_view name, std::string_view help,
                    double value,
                    std::initializer_list<std::pair<std::string_view, std::string>> labels) {
  if (last_family_ != name) {
    write_head(out_, name, help, type);
    last_family_ = name;
  }
  std::vector<std::string> names, values;
  for (const auto& [k, v] : labels) {
    names.emplace_back(k);
    values.push_back(v);
  }
  write_sample(out_, name, names, values, {}, {}, value);
}

void Registry::check_new_name(const std::string& name) {
  if (std::find(names_.begin(), names_.end(), name) != names_.end()) {
    throw std::invalid_argument("metric " + name + " is already registered");
  }
  names_.push_back(name);
}

template <class T>
Family<T>& Registry::add(std::unique_ptr<Family<T>> family, const std::string& name) {
  std::lock_guard lk(mu_);
  check_new_name(name);
  auto& ref = *family;
  families_.push_back(std::move(family));
  return ref;
}

Family<Counter>& Registry::counter_family(std::string name, std::string help,
                                          std::vector<std::string> label_names,
                                          std::size_t max_series) {
  return add(std::make_unique<Family<Counter>>(name, std::move(help), std::move(label_names),
                                               [] { return std::make_unique<Counter>(); }, max_series),
             name);
}

Family<Gauge>& Registry::gauge_family(std::string name, std::string help,
                                      std::vector<std::string> label_names,
                                      std::size_t max_series) {
  return add(std::make_unique<Family<Gauge>>(name, std::move(help), std::move(label_names),
                                             [] { return std::make_unique<Gauge>(); }, max_series),
             name);
}

Family<Histogram>& Registry::histogram_family(std::string name, std::string help,
                                              std::vector<std::string> label_names,
                                              std::vector<double> bounds, std::size_t max_series) {
  Histogram probe(bounds);  // validates the bounds now, not at the first with()
  return add(std::make_unique<Family<Histogram>>(
                 name, std::move(help), std::move(label_names),
                 [bounds] { return std::make_unique<Histogram>(bounds); }, max_series),
             name);
}

void Registry::add_collector(std::function<void(Writer&)> fn) {
  std::lock_guard lk(mu_);
  collectors_.push_back(std::move(fn));
}

std::string Registry::expose() const {
  std::string out;
  std::lock_guard lk(mu_);
  for (const auto& f : families_) f->write(out);
  for (const auto& c : collectors_) {
    Writer w(out);
    c(w);
  }
  return out;
}

namespace {

// The runtime, from cogo::stats() at scrape time.
void runtime_collector(Writer& w) {
  const RuntimeStats s = cogo::stats();
  w.gauge("cogo_goroutines", "Goroutines alive (the main one included).",
          static_cast<double>(s.goroutines));
  w.gauge("cogo_gomaxprocs", "Processors (Ps) running goroutines.", s.gomaxprocs);
  w.gauge("cogo_threads", "OS threads (Ms) created, sysmon excluded.", static_cast<double>(s.threads));
  for (const ProcessorStats& p : s.procs) {
    w.gauge("cogo_run_queue_length", "Goroutines waiting in a P's local run queue (runnext included).",
            p.run_queue + (p.has_runnext ? 1.0 : 0.0), {{"p", std::to_string(p.id)}});
  }
  w.gauge("cogo_global_run_queue_length", "Goroutines waiting in the global run queue.",
          static_cast<double>(s.global_run_queue));
  w.counter("cogo_sched_switches_total", "Switches into goroutines.",
            static_cast<double>(s.context_switches));
  w.counter("cogo_sched_steals_total", "Successful work steals between Ps.",
            static_cast<double>(s.steals));
  w.counter("cogo_sysmon_retakes_total", "Ps taken back by sysmon from a hog or a blocking call.",
            static_cast<double>(s.retakes));
  w.gauge("cogo_goroutine_stacks", "Goroutine stacks by state.", static_cast<double>(s.stacks_in_use),
          {{"state", "in_use"}});
  w.gauge("cogo_goroutine_stacks", "Goroutine stacks by state.", static_cast<double>(s.stacks_cached),
          {{"state", "cached"}});
}

double boot_time_seconds() {
  std::ifstream f("/proc/stat");
  std::string key;
  double v = 0;
  while (f >> key) {
    if (key == "btime") {
      f >> v;
      return v;
    }
    f.ignore(1 << 16, '\n');
  }
  return 0;
}

// The process, with the names every client library uses.
void process_collector(Writer& w) {
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  std::ifstream statf("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(statf)), std::istreambuf_iterator<char>());
  // Fields after the ")" that ends the command name: state is field 3.
  const auto close = stat.rfind(')');
  if (close != std::string::npos) {
    std::istringstream in(stat.substr(close + 2));
    std::vector<std::string> f;
    for (std::string x; in >> x;) f.push_back(x);
    // f[0] is field 3; utime 14, stime 15, starttime 22, vsize 23, rss 24.
    if (f.size() > 21) {
      const double utime = std::stod(f[11]), stime = std::stod(f[12]);
      w.counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                (utime + stime) / ticks);
      w.gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
              boot_time_seconds() + std::stod(f[19]) / ticks);
      w.gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", std::stod(f[20]));
      w.gauge("process_resident_memory_bytes", "Resident memory size in bytes.",
              std::stod(f[21]) * page);
    }
  }
  std::error_code ec;
  std::size_t fds = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    fds++;
  }
  w.gauge("process_open_fds", "Number of open file descriptors.", static_cast<double>(fds));
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    w.gauge("process_max_fds", "Maximum number of open file descriptors.",
            rl.rlim_cur == RLIM_INFINITY ? INFINITY : static_cast<double>(rl.rlim_cur));
  }
}

}  // namespace

Registry& default_registry() {
  static Registry* r = [] {
    auto* reg = new Registry;  // never destroyed: handlers may count during exit
    reg->add_collector(runtime_collector);
    reg->add_collector(process_collector);
    return reg;
  }();
  return *r;
}

}  // namespace cogo::metrics
