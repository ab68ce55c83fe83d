// cogo-timer-lateness: how late the runtime's timers fire, on the P that
// armed them and across Ps — the measurement behind "an idle M sleeps no
// longer than the earliest timer of any P" (issue 10). Built in every build,
// sanitizers included, so that the same figures come from Release and TSan
// (loadtest/timer_lateness.sh runs both, quiet and beside CPU hogs).
//
//   cogo-timer-lateness [--rounds N] [--sleepers N] [--procs LIST] [--trace-ms N]
//
// --trace-ms N prints every wake later than N ms to stderr (when, scenario,
// round, sleeper, the P that armed the timer and the P that woke).
// For each P count in LIST (default 1,2) it runs four scenarios and records,
// per wake, lateness = woke - deadline and whether the wake crossed Ps:
//   staggered  N sleepers spawned together, sleeper i sleeping (i+1)*10 ms,
//              --rounds times (the shape of the scheduler test that saw
//              {10, 20, 30, 50, 40} under TSan); all Ms idle but the poller.
//              Also counts rounds whose wake-up order differs from the
//              deadline order.
//   random     N sleepers, each sleeping 1-20 ms (random), --rounds times;
//              all Ms idle.
//   busy       as random, beside one goroutine per other P that computes in
//              1 ms slices between yields (some Ps busy).
//   hog        one goroutine arms a runtime timer 1-20 ms ahead and computes
//              without yielding until it fires (at most 200 ms), --rounds *
//              N times, while a timer 10 s ahead makes the idle M wait in
//              the poller with a 10 s timeout: the timer is on a busy P's
//              heap and only another P's M can run it in time, after the
//              runtime wakes it (wake_poller_for_timer, Go's wakeNetPoller).
//              With 1 P nobody can, until sysmon takes the P from the hog
//              (10 ms): that line shows what a missed wake-up costs.
// A sleeper's wake is "same P" when it resumes on the P whose heap held its
// timer, "cross P" otherwise; a hog timer's when the M that runs it holds
// another P. A hog timer run "same P" ran after sysmon had taken the hog's
// P (10 ms and more after the hog started) and the idle M had picked it up:
// a selection of the late or long ones, not a slower path. As the baseline of what the machine
// itself gives, the random scenario also runs on N plain threads (clock_nanosleep; "threads").
// Prints one line per scenario and class: samples, early (must be 0), p50,
// p90, p99 and max lateness in µs.
//
// Beside the sleepers a watchdog thread reads the scheduler's state every
// 200 µs and counts the moments the runtime itself would make a timer late:
// an M blocked in the poller (sched.lastpoll == 0) whose timeout
// (sched.poll_until; 0 = none) is later than the earliest timer of all Ps by
// more than 1 ms, seen in two samples in a row with the same values (a timer
// armed just now has not had its wake-up yet). Lateness with no such moment
// is the machine's (or the sanitizer's) thread scheduling, not the
// runtime's. Printed as poller_overslept=N per P count.
//
// Exits 1 if a sleep returned early, a timer fired early or the poller
// overslept.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cogo/flag_set.h"
#include "cogo/flag_value.h"
#include "cogo/runtime.h"
#include "cogo/sync.h"
#include "runtime2.h"  // the watchdog reads sched (runtime/src, this tool only)

namespace {

using Clock = std::chrono::steady_clock;
using cogo::detail::nanotime;

enum Class { kSameP = 0, kCrossP = 1, kClasses = 2 };
const char* const kClassName[kClasses] = {"same-P", "cross-P"};

// current_p() is the id of the P the calling goroutine or timer callback
// runs on, -1 if none (a plain thread, or a P sysmon took away).
int current_p() {
  cogo::detail::M* m = cogo::detail::getm();
  return (m != nullptr && m->p != nullptr) ? m->p->id : -1;
}

struct Samples {
  std::mutex mu;
  std::vector<int64_t> late_ns[kClasses];
  int64_t early = 0;
  int64_t misordered_rounds = 0;

  void add(int64_t late, Class c) {
    std::lock_guard<std::mutex> lk(mu);
    if (late < 0) early++;
    late_ns[c].push_back(late);
  }
  void add(Clock::time_point deadline, Clock::time_point woke, Class c) {
    add(std::chrono::duration_cast<std::chrono::nanoseconds>(woke - deadline).count(), c);
  }
};

double percentile_us(std::vector<int64_t>& v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
  return static_cast<double>(v[std::min(i, v.size() - 1)]) / 1000.0;
}

// report() prints a line per class that has samples.
void report(int procs, const char* scenario, Samples& s) {
  for (int c = 0; c < kClasses; c++) {
    std::vector<int64_t>& v = s.late_ns[c];
    if (v.empty()) continue;
    std::printf(
        "procs=%d %-9s %-7s samples=%-5zu early=%lld p50=%.0fus p90=%.0fus p99=%.0fus max=%.0fus",
        procs, scenario, procs == 0 ? "-" : kClassName[c], v.size(),
        static_cast<long long>(s.early), percentile_us(v, 0.50), percentile_us(v, 0.90),
        percentile_us(v, 0.99), percentile_us(v, 1.0));
    if (std::strcmp(scenario, "staggered") == 0) {
      std::printf(" misordered_rounds=%lld", static_cast<long long>(s.misordered_rounds));
    }
    std::printf("\n");
  }
  std::fflush(stdout);
}

int64_t g_trace_ns = -1;  // --trace-ms: wakes later than this are printed to stderr
int g_procs = 0;          // the P count of the run in progress, for trace()
const Clock::time_point g_start = Clock::now();

// trace() prints one late wake (--trace-ms).
void trace(const char* scenario, int round, int who, int64_t late_ns, int armed_on, int woke_on) {
  if (g_trace_ns < 0 || late_ns <= g_trace_ns) return;
  const auto at = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - g_start);
  std::fprintf(
      stderr,
      "late: t=%lldms procs=%d %s round=%d sleeper=%d late=%lldus armed_on=P%d woke_on=P%d\n",
      static_cast<long long>(at.count()), g_procs, scenario, round, who,
      static_cast<long long>(late_ns / 1000), armed_on, woke_on);
}

// sleep_once() sleeps until deadline on a goroutine and records the wake.
void sleep_once(Clock::time_point deadline, Samples& s, const char* scenario, int round, int who) {
  const int armed_on = current_p();
  cogo::sleep_until(deadline);
  const Clock::time_point woke = Clock::now();
  const int woke_on = current_p();
  s.add(deadline, woke, woke_on == armed_on ? kSameP : kCrossP);
  trace(scenario, round, who,
        std::chrono::duration_cast<std::chrono::nanoseconds>(woke - deadline).count(), armed_on,
        woke_on);
}

void staggered(int sleepers, int rounds, Samples& s) {
  for (int r = 0; r < rounds; r++) {
    std::mutex mu;
    std::vector<int> order;
    cogo::WaitGroup wg;
    const Clock::time_point start = Clock::now();
    for (int i = 0; i < sleepers; i++) {
      wg.add(1);
      cogo::go([&, i] {
        sleep_once(start + std::chrono::milliseconds(10 * (i + 1)), s, "staggered", r, i);
        {
          std::lock_guard<std::mutex> lk(mu);
          order.push_back(i);
        }
        wg.done();
      });
    }
    wg.wait();
    if (!std::is_sorted(order.begin(), order.end())) s.misordered_rounds++;
  }
}

std::chrono::microseconds random_delay(std::minstd_rand& rng) {
  return std::chrono::microseconds(1000 + static_cast<int>(rng() % 19000));
}

void random_sleeps(int sleepers, int rounds, int busy, Samples& s) {
  std::atomic<bool> stop{false};
  cogo::WaitGroup hogs;
  for (int b = 0; b < busy; b++) {
    hogs.add(1);
    cogo::go([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        const Clock::time_point until = Clock::now() + std::chrono::milliseconds(1);
        while (Clock::now() < until) {
        }
        cogo::yield();
      }
      hogs.done();
    });
  }
  cogo::WaitGroup wg;
  for (int i = 0; i < sleepers; i++) {
    wg.add(1);
    cogo::go([&, i] {
      std::minstd_rand rng(static_cast<unsigned>(i + 1));
      for (int r = 0; r < rounds; r++) {
        sleep_once(Clock::now() + random_delay(rng), s, busy > 0 ? "busy" : "random", r, i);
      }
      wg.done();
    });
  }
  wg.wait();
  stop = true;
  hogs.wait();
}

// HogTimer: a runtime timer whose callback records when it ran and where.
struct HogTimer {
  cogo::detail::Timer t;
  std::atomic<int64_t> fired_at{0};
  std::atomic<int> fired_on{-1};
};

void hog_timer_fired(void* arg, uintptr_t) {
  auto* h = static_cast<HogTimer*>(arg);
  h->fired_on.store(current_p(), std::memory_order_relaxed);
  h->fired_at.store(nanotime(), std::memory_order_release);
}

void hog(int samples, Samples& s) {
  // The far timer: the idle M waits in the poller with a 10 s timeout.
  cogo::detail::Timer far;
  far.fn = [](void*, uintptr_t) {};
  cogo::detail::timer_start(&far, nanotime() + 10'000'000'000);
  std::minstd_rand rng(7);
  for (int i = 0; i < samples; i++) {
    HogTimer h;
    h.t.fn = hog_timer_fired;
    h.t.arg = &h;
    const int armed_on = current_p();
    const int64_t when = nanotime() + random_delay(rng).count() * 1000;
    cogo::detail::timer_start(&h.t, when);
    const int64_t give_up = when + 200'000'000;
    while (h.fired_at.load(std::memory_order_acquire) == 0 && nanotime() < give_up) {
    }
    cogo::detail::timer_stop(&h.t);  // waits for a callback that is running
    const int64_t at = h.fired_at.load(std::memory_order_acquire);
    if (at == 0) {
      s.add(200'000'000, kSameP);  // never fired while the hog ran: recorded as 200 ms
    } else {
      const int fired_on = h.fired_on.load(std::memory_order_relaxed);
      s.add(at - when, fired_on == armed_on ? kSameP : kCrossP);
      trace("hog", i, 0, at - when, armed_on, fired_on);
    }
    cogo::yield();  // let the scheduler run between samples
  }
  cogo::detail::timer_stop(&far);
}

// thread_sleeps() is random_sleeps() on plain threads: the machine's own
// wake-up latency, without the runtime.
void thread_sleeps(int sleepers, int rounds, Samples& s) {
  std::vector<std::thread> ts;
  for (int i = 0; i < sleepers; i++) {
    ts.emplace_back([&, i] {
      std::minstd_rand rng(static_cast<unsigned>(i + 1));
      for (int r = 0; r < rounds; r++) {
        const Clock::time_point deadline = Clock::now() + random_delay(rng);
        std::this_thread::sleep_until(deadline);
        s.add(deadline, Clock::now(), kSameP);
      }
    });
  }
  for (auto& t : ts) t.join();
}

// Watchdog: see the header comment.
class Watchdog {
 public:
  Watchdog() : thread_([this] { loop(); }) {}
  ~Watchdog() {
    stop_ = true;
    thread_.join();
  }
  int64_t overslept() const { return overslept_.load(); }

 private:
  void loop() {
    using cogo::detail::sched;
    int64_t last_pu = -1, last_nearest = -1;
    while (!stop_.load()) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      const int64_t pu = sched.poll_until.load();
      const int64_t nearest = cogo::detail::nearest_timer();
      const bool polling = sched.lastpoll.load() == 0;
      const bool late = polling && nearest != 0 && (pu == 0 || pu > nearest + 1'000'000);
      if (late && pu == last_pu && nearest == last_nearest) overslept_++;
      last_pu = late ? pu : -1;
      last_nearest = late ? nearest : -1;
    }
  }

  std::atomic<bool> stop_{false};
  std::atomic<int64_t> overslept_{0};
  std::thread thread_;
};

}  // namespace

int main(int argc, char** argv) {
  int rounds = 20, sleepers = 5;
  std::vector<int> procs_list{1, 2};
  bool help = false;
  // count_flag: --NAME N, a whole number from 1 to hi, into target.
  const auto count_flag = [](std::string name, int& target, int64_t hi, std::string text) {
    return cogo::Flag{.name = std::move(name),
                      .value = "N",
                      .set =
                          [&target, hi](const std::string& flag, const std::string& v) {
                            target = static_cast<int>(cogo::parse_int(flag, v, 1, hi));
                          },
                      .help = std::move(text)};
  };
  const cogo::FlagSet flags({
      count_flag("rounds", rounds, 1'000'000, "rounds of each scenario (default 20)"),
      count_flag("sleepers", sleepers, 10'000, "sleepers of each round (default 5)"),
      {.name = "procs",
       .value = "LIST",
       .set =
           [&](const std::string& flag, const std::string& v) {
             procs_list.clear();
             for (const std::string& item : cogo::parse_list(v)) {
               procs_list.push_back(static_cast<int>(cogo::parse_int(flag, item, 1, 64)));
             }
             if (procs_list.empty()) {
               throw cogo::FlagError(flag + ": takes a list like 1,2 (1 to 64 each)");
             }
           },
       .help = "the P counts to run, e.g. 1,2 (default 1,2; 1 to 64 each)"},
      {.name = "trace-ms",
       .value = "N",
       .set =
           [&](const std::string& flag, const std::string& v) {
             g_trace_ns = cogo::parse_int(flag, v, 0, 1'000'000) * 1'000'000;
           },
       .help = "print every wake later than N ms to stderr (default: none)"},
      {.name = "help",
       .set = [&](const std::string&, const std::string&) { help = true; },
       .help = "this text"},
  });
  try {
    flags.parse({argv + 1, argv + argc});
  } catch (const cogo::FlagError& e) {
    std::fprintf(stderr, "cogo-timer-lateness: %s\n", e.what());
    return 2;
  }
  if (help) {
    std::printf("usage: cogo-timer-lateness [flags]\n%s", flags.help(18).c_str());
    return 0;
  }
  int64_t early = 0;
  {
    Samples th;
    thread_sleeps(sleepers, rounds, th);
    report(0, "threads", th);
    early += th.early;
  }
  int64_t overslept = 0;
  for (int procs : procs_list) {
    setenv("COGO_MAXPROCS", std::to_string(procs).c_str(), 1);
    g_procs = procs;
    Samples st, rnd, busy, hogged;
    int64_t procs_overslept = 0;
    cogo::run([&] {
      // Started and joined inside run(): the Ps it reads exist meanwhile.
      Watchdog watchdog;
      staggered(sleepers, rounds, st);
      random_sleeps(sleepers, rounds, 0, rnd);
      if (procs > 1) random_sleeps(sleepers, rounds, procs - 1, busy);
      procs_overslept = watchdog.overslept();
      hog(rounds * sleepers, hogged);  // after the watchdog: its 10 s timer is meant to be far
    });
    report(procs, "staggered", st);
    report(procs, "random", rnd);
    if (procs > 1) report(procs, "busy", busy);
    report(procs, "hog", hogged);
    std::printf("procs=%d poller_overslept=%lld\n", procs, static_cast<long long>(procs_overslept));
    early += st.early + rnd.early + busy.early + hogged.early;
    overslept += procs_overslept;
  }
  return early == 0 && overslept == 0 ? 0 : 1;
}
