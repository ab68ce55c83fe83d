// metrics_test: cogo/metrics.h — exact sums from many goroutines (1 and 2
// Ps) and threads, name validation, the cardinality bound, histograms, and
// the text format as the real tools read it: `promtool check metrics`
// (Debian's prometheus) and the Python client's parser (/usr/bin/python3,
// python3-prometheus-client).
#include "cogo/metrics.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "cogo/runtime.h"
#include "cogo/wait_group.h"
#include "support/server_process.h"

namespace {

using cogo_test::run_command;

class Metrics : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override { setenv("COGO_MAXPROCS", std::to_string(GetParam()).c_str(), 1); }
  void TearDown() override { unsetenv("COGO_MAXPROCS"); }
};
INSTANTIATE_TEST_SUITE_P(Procs, Metrics, ::testing::Values(1, 2),
                         [](const auto& info) { return std::to_string(info.param) + "P"; });

TEST_P(Metrics, CountsFromGoroutinesAndThreadsSumExactly) {
  cogo::metrics::Registry reg;
  auto& fam = reg.counter_family("t_hits_total", "Hits.", {"kind"});
  auto& hist = reg.histogram_family("t_seconds", "Durations.", {}, {0.1, 1});
  cogo::metrics::Counter& c = fam.with({"a"});
  constexpr int kGoroutines = 200, kThreads = 4, kEach = 1000;
  cogo::run([&] {
    cogo::WaitGroup wg;
    for (int g = 0; g < kGoroutines; g++) {
      wg.add(1);
      cogo::go([&] {
        for (int i = 0; i < kEach; i++) {
          c.inc();
          if (i % 100 == 0) cogo::yield();  // move between Ps and threads
        }
        hist.with({}).observe(0.5);
        wg.done();
      });
    }
    wg.wait();
  });
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; t++) {
    ts.emplace_back([&] {
      for (int i = 0; i < kEach; i++) fam.with({"a"}).inc(2);
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(c.value(), uint64_t{kGoroutines} * kEach + uint64_t{kThreads} * kEach * 2);
  const auto snap = hist.with({}).snapshot();
  EXPECT_EQ(snap.count, uint64_t{kGoroutines});
  EXPECT_EQ(snap.cumulative, (std::vector<uint64_t>{0, kGoroutines, kGoroutines}));
  EXPECT_DOUBLE_EQ(snap.sum, 0.5 * kGoroutines);
}

// observe_integer(): the bucket observe() would pick (bounds inclusive),
// the sum exact in an integer (from more threads than shards, so threads
// share a shard's atomics), added to the double observations' sum.
TEST(MetricsHistogram, IntegerObservationsSumExactlyBesideDoubleOnes) {
  cogo::metrics::Histogram h({64, 256});
  constexpr int kThreads = 2 * static_cast<int>(cogo::metrics::kShards), kEach = 1000;
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; t++) {
    ts.emplace_back([&] {
      for (int i = 0; i < kEach; i++) {
        h.observe_integer(64);    // le="64": the bound itself
        h.observe_integer(65);    // le="256"
        h.observe_integer(1000);  // +Inf
      }
    });
  }
  for (auto& t : ts) t.join();
  h.observe(0.5);
  const uint64_t n = uint64_t{kThreads} * kEach;
  const auto snap = h.snapshot();
  EXPECT_EQ(snap.cumulative, (std::vector<uint64_t>{n + 1, 2 * n + 1, 3 * n + 1}));
  EXPECT_EQ(snap.count, 3 * n + 1);
  EXPECT_DOUBLE_EQ(snap.sum, static_cast<double>(n * (64 + 65 + 1000)) + 0.5);
  // Past 2^53 a double sum loses small additions; the integer one does not.
  cogo::metrics::Histogram big({1});
  big.observe_integer(uint64_t{1} << 53);
  for (int i = 0; i < 3; i++) big.observe_integer(2);
  EXPECT_EQ(big.snapshot().sum, static_cast<double>((uint64_t{1} << 53) + 6));
}

TEST(MetricsNames, BadNamesAreRefusedAtRegistration) {
  cogo::metrics::Registry reg;
  for (const char* bad : {"", "1abc", "a-b", "a b", "é"}) {
    EXPECT_THROW(reg.counter_family(bad, "x"), std::invalid_argument) << bad;
  }
  for (const char* bad : {"", "__x", "a:b", "1a", "a-b"}) {
    EXPECT_THROW(reg.counter_family("ok_total", "x", {bad}), std::invalid_argument) << bad;
  }
  EXPECT_THROW(reg.histogram_family("h", "x", {"le"}, {1}), std::invalid_argument);
  EXPECT_THROW(reg.histogram_family("h2", "x", {}, {2, 1}), std::invalid_argument);
  reg.counter_family("dup_total", "x");
  EXPECT_THROW(reg.counter_family("dup_total", "x"), std::invalid_argument);
  auto& f = reg.counter_family("two_total", "x", {"a", "b"});
  EXPECT_THROW(f.with({"only one"}), std::invalid_argument);
}

TEST(MetricsNames, CardinalityIsBoundedByAnOverflowSeries) {
  cogo::metrics::Registry reg;
  auto& f = reg.counter_family("paths_total", "x", {"path"}, 3);
  for (int i = 0; i < 100; i++) f.with({"/p" + std::to_string(i)}).inc();
  EXPECT_EQ(f.series(), 4u);  // three real, one "other"
  EXPECT_EQ(f.with({"/p0"}).value(), 1u);
  EXPECT_EQ(f.with({"/p99"}).value(), 97u);  // /p3 .. /p99 were folded into "other"
  EXPECT_EQ(&f.with({"/p50"}), &f.with({"other"}));
}

// check_with_real_tools() runs promtool and the Python parser on text;
// python_asserts is Python code with `fams` = {name: family} in scope.
void check_with_real_tools(const std::string& text, const std::string& python_asserts) {
  const std::string dir = ::testing::TempDir() + "metrics_test_" + std::to_string(getpid());
  run_command("mkdir -p " + dir);
  std::ofstream(dir + "/m.txt") << text;
  int st = 0;
  const std::string prom = run_command("promtool check metrics < " + dir + "/m.txt 2>&1", &st);
  EXPECT_EQ(WEXITSTATUS(st), 0) << prom << "\n" << text;
  std::ofstream(dir + "/check.py")
      << "import sys\n"
         "from prometheus_client.parser import text_string_to_metric_families\n"
         "fams = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}\n"
         "def sample(fam, name, **labels):\n"
         "    for s in fams[fam].samples:\n"
         "        if s.name == name and s.labels == labels: return s.value\n"
         "    raise AssertionError('no sample %s %s in %s' % (name, labels, fams[fam].samples))\n"
      << python_asserts << "print('python ok')\n";
  const std::string py =
      run_command("/usr/bin/python3 " + dir + "/check.py " + dir + "/m.txt 2>&1", &st);
  EXPECT_EQ(WEXITSTATUS(st), 0) << py << "\n" << text;
  EXPECT_NE(py.find("python ok"), std::string::npos) << py;
  run_command("rm -rf " + dir);
}

TEST(MetricsExposition, RealToolsReadEveryFamilyBack) {
  cogo::metrics::Registry reg;
  auto& req = reg.counter_family("app_requests_total", "Requests by\ncode \\ and path.",
                                 {"code", "path"});
  req.with({"200", "/a \"quoted\" \\ path\nx"}).inc(3);
  req.with({"404", "/b"}).inc();
  reg.gauge_family("app_temperature", "A gauge.").with({}).set(-1.5);
  auto& h = reg.histogram_family("app_duration_seconds", "Durations.", {"route"},
                                 cogo::metrics::default_duration_buckets());
  h.with({"/users/:id"}).observe(0.003);
  h.with({"/users/:id"}).observe(20);
  reg.add_collector([](cogo::metrics::Writer& w) {
    w.gauge("app_open", "Computed at scrape time.", 7, {{"pool", "db"}});
    w.counter("app_big_total", "Past 2^53.", 1e17);
  });
  check_with_real_tools(reg.expose(), R"(
assert fams['app_requests'].type == 'counter', fams['app_requests'].type
assert sample('app_requests', 'app_requests_total', code='200', path='/a "quoted" \\ path\nx') == 3
assert sample('app_requests', 'app_requests_total', code='404', path='/b') == 1
assert fams['app_requests'].documentation == 'Requests by\ncode \\ and path.'
assert fams['app_temperature'].type == 'gauge'
assert sample('app_temperature', 'app_temperature') == -1.5
assert fams['app_duration_seconds'].type == 'histogram'
assert sample('app_duration_seconds', 'app_duration_seconds_bucket', route='/users/:id', le='0.0025') == 0
assert sample('app_duration_seconds', 'app_duration_seconds_bucket', route='/users/:id', le='0.005') == 1
assert sample('app_duration_seconds', 'app_duration_seconds_bucket', route='/users/:id', le='10') == 1
assert sample('app_duration_seconds', 'app_duration_seconds_bucket', route='/users/:id', le='0.0005') == 0
assert sample('app_duration_seconds', 'app_duration_seconds_bucket', route='/users/:id', le='+Inf') == 2
assert sample('app_duration_seconds', 'app_duration_seconds_count', route='/users/:id') == 2
assert abs(sample('app_duration_seconds', 'app_duration_seconds_sum', route='/users/:id') - 20.003) < 1e-9
assert sample('app_open', 'app_open', pool='db') == 7
assert sample('app_big', 'app_big_total') == 1e17
)");
}

TEST(MetricsExposition, DefaultRegistryHasTheRuntimeAndTheProcess) {
  std::string text;
  cogo::run([&] { text = cogo::metrics::default_registry().expose(); });
  check_with_real_tools(text, R"(
for name, typ in [('cogo_goroutines', 'gauge'), ('cogo_gomaxprocs', 'gauge'), ('cogo_threads', 'gauge'),
                  ('cogo_run_queue_length', 'gauge'), ('cogo_sched_switches', 'counter'),
                  ('cogo_sched_steals', 'counter'), ('cogo_sysmon_retakes', 'counter'),
                  ('cogo_goroutine_stacks', 'gauge'), ('process_cpu_seconds', 'counter'),
                  ('process_resident_memory_bytes', 'gauge'), ('process_virtual_memory_bytes', 'gauge'),
                  ('process_open_fds', 'gauge'), ('process_max_fds', 'gauge'),
                  ('process_start_time_seconds', 'gauge')]:
    assert fams[name].type == typ, (name, fams[name].type)
assert sample('cogo_goroutines', 'cogo_goroutines') >= 1
assert sample('process_resident_memory_bytes', 'process_resident_memory_bytes') > 1e6
assert sample('process_open_fds', 'process_open_fds') >= 3
import time
assert abs(sample('process_start_time_seconds', 'process_start_time_seconds') - time.time()) < 600
assert sample('cogo_goroutine_stacks', 'cogo_goroutine_stacks', state='in_use') >= 1
)");
}

}  // namespace
