// idle_check.h: expect_idle(), the check that this process does nothing
// while it has nothing to do — no thread spins — in a form that holds however
// loaded the machine is. No absolute CPU time is asserted (what a CPU share
// means depends on what runs beside the test), only a share of a busy-loop
// control's; the check mirrors tests/faults/fd_exhaustion.py:
//   - the state of every thread of this process is read from
//     /proc/self/task/TID/stat 100 times, about every 10 ms (for at most
//     5 s). A thread that spins is runnable (R: running, or waiting for a
//     CPU) in nearly every sample, busy machine or not — a retry loop that
//     sleeps for an instant between tries too; one that sleeps between
//     events (sysmon's ticks, a back-off's retries) is R for a moment each
//     time, in few samples. A thread R in more than half may spin (below).
//   - a busy loop of the test's own (a thread) spins meanwhile and must be
//     seen R in more than half: the control that the sampler sees a spin.
//   - the process's CPU time over the samples, less the busy loop's and the
//     sampler's, is printed, not asserted.
// A thread that waits long for a CPU after each wake-up is R in more samples:
// beside busy loops of its own priority a woken thread runs within a time
// slice (a few ms), far from half of the 10 ms between sysmon's ticks, but a
// test run at a lower priority (nice) than the load beside it gets there
// (measured: sysmon R in 50-52 of 100 at nice 19 beside two busy loops at
// nice 0). So R counts only with the time on a CPU beside it: each thread's
// on-CPU time over the samples (/proc/self/task/TID/schedstat's first field,
// which leaves out the time spent waiting for a CPU) is compared with the
// busy loop's, which runs at the test's priority beside the same load. A
// thread spins if it was R in more than half of the samples AND ran more
// than half of the busy loop's CPU time. (Measured: with the back-off cut to
// 0, the thread model's accept loop ran 0.33 CPU s beside the busy loop's
// 0.37, a goroutine accept loop yielding between tries 0.45 beside 0.45; the
// idle threads ran 0.002 s beside 1.0 on a quiet machine, and at nice 19
// beside two busy loops at nice 0 and five builds at nice 10, where the busy
// loop itself got 1% of a CPU, 0.004-0.008 s beside 0.018-0.041: R in 29 to
// 53 samples of 48 to 95, no more than a fifth of the busy loop's time.)
// The sampler is a thread of its own, left out of the counts; the caller
// waits for it on a WaitGroup (a goroutine parks, a thread blocks), so that
// the caller's thread is sampled idle too.
//
//   cogo_test::expect_idle("accept while out of descriptors");
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <string>
#include <thread>

#include "cogo/wait_group.h"
#include "gtest/gtest.h"

namespace cogo_test {

// ThreadSamples: what sample_threads() saw of one thread.
struct ThreadSamples {
  std::string name;  // its comm
  int runnable = 0;  // samples that found it R
  // Its on-CPU nanoseconds (schedstat) at the first and the latest sample
  // that found it; -1 where schedstat could not be read.
  long long cpu_first_ns = -1;
  long long cpu_last_ns = -1;

  // cpu_seconds() is its time on a CPU between the two samples.
  double cpu_seconds() const {
    if (cpu_first_ns < 0 || cpu_last_ns < 0) return 0;
    return static_cast<double>(cpu_last_ns - cpu_first_ns) / 1e9;
  }
};

// Samples: what sample_threads() saw.
struct Samples {
  int samples = 0;  // how many it took
  std::map<pid_t, ThreadSamples> threads;
  std::string error;  // why sampling failed, if it did
};

// read_task_file() reads up to size - 1 bytes of task_dir/<tid>/<what>
// (task_dir: /proc/self/task) into buf, NUL-terminated; false if the thread
// is gone or the file is empty.
inline bool read_task_file(int task_dir, const char* tid, const char* what, char* buf,
                           std::size_t size) {
  const std::string path = std::string(tid) + "/" + what;
  const int fd = openat(task_dir, path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const ssize_t n = read(fd, buf, size - 1);
  close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  return true;
}

// read_thread_state() reads the thread's stat: its name and whether it is
// R. Returns false if the thread is gone.
inline bool read_thread_state(int task_dir, const char* tid, std::string& name, bool& runnable) {
  char buf[512];
  if (!read_task_file(task_dir, tid, "stat", buf, sizeof buf)) return false;
  // "tid (comm) S ...": the name may hold spaces and parentheses.
  const char* open = std::strchr(buf, '(');
  const char* end = std::strrchr(buf, ')');
  if (open == nullptr || end == nullptr || end < open || end[1] != ' ') return false;
  name.assign(open + 1, end);
  runnable = end[2] == 'R';
  return true;
}

// read_thread_cpu_ns() reads the thread's schedstat's first field, the
// nanoseconds it ran on a CPU; -1 if it cannot.
inline long long read_thread_cpu_ns(int task_dir, const char* tid) {
  char buf[128];
  if (!read_task_file(task_dir, tid, "schedstat", buf, sizeof buf)) return -1;
  char* end = nullptr;
  const long long ns = std::strtoll(buf, &end, 10);
  return end == buf ? -1 : ns;
}

// sample_threads() counts, for every thread of this process but the calling
// one, in how many of `samples` samples taken `step` apart (or as many as
// `limit` allows) it was runnable.
inline Samples sample_threads(int samples, std::chrono::milliseconds step,
                              std::chrono::milliseconds limit) {
  Samples c;
  const pid_t self = gettid();
  const auto give_up = std::chrono::steady_clock::now() + limit;
  while (c.samples < samples && std::chrono::steady_clock::now() < give_up) {
    DIR* d = opendir("/proc/self/task");
    if (d == nullptr) {
      c.error = std::string("opendir /proc/self/task: ") + std::strerror(errno);
      return c;
    }
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      const pid_t tid = static_cast<pid_t>(std::atoi(e->d_name));
      std::string name;
      bool r = false;
      if (tid == self || !read_thread_state(dirfd(d), e->d_name, name, r)) continue;
      ThreadSamples& t = c.threads[tid];
      t.name = name;
      t.runnable += r ? 1 : 0;
      const long long ns = read_thread_cpu_ns(dirfd(d), e->d_name);
      if (t.cpu_first_ns < 0) t.cpu_first_ns = ns;
      t.cpu_last_ns = ns;
    }
    closedir(d);
    ++c.samples;
    std::this_thread::sleep_for(step);
  }
  return c;
}

inline double cpu_clock_seconds(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// expect_idle() samples this process's threads (see the file comment) beside
// a busy loop, expects the busy loop R in more than half of the samples and
// no other thread spinning (R in more than half and more than half the
// busy loop's CPU time), and prints the figures. `what` names the
// idle state in the messages. Call it from a goroutine or a thread; it takes
// 1 s or more (at most 5 s of sampling).
inline void expect_idle(const std::string& what) {
  constexpr int kSamples = 100;
  std::atomic<bool> stop{false};
  std::atomic<pid_t> spinner_tid{0};
  double spinner_cpu = 0, sampler_cpu = 0;
  Samples seen;
  const double cpu0 = cpu_clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
  const auto t0 = std::chrono::steady_clock::now();
  cogo::WaitGroup sampled;
  sampled.add(1);
  // The busy loop, not the sampler, wakes the caller: a thread the runtime
  // starts to run the woken goroutine (an M) takes the descriptor table of
  // the thread that woke it, and the sampler's is its own (below).
  std::thread spinner([&] {
    spinner_tid = gettid();
    while (!stop.load(std::memory_order_relaxed)) {
    }
    spinner_cpu = cpu_clock_seconds(CLOCK_THREAD_CPUTIME_ID);
    sampled.done();
  });
  std::thread sampler([&] {
#if !defined(COGO_SANITIZE_THREAD)
    // The EMFILE tests leave no descriptor free, and one the sampler took
    // could be one the process under test was waiting for: the sampler opens
    // /proc in a private copy of the descriptor table, its copies of the
    // process's descriptors closed. (TSan skips the EMFILE tests, and its
    // descriptor bookkeeping is per process: there the table is shared.)
    if (close_range(3, ~0U, CLOSE_RANGE_UNSHARE) != 0) {
      seen.error = std::string("close_range(CLOSE_RANGE_UNSHARE): ") + std::strerror(errno);
    }
#endif
    if (seen.error.empty()) {
      while (spinner_tid.load() == 0) std::this_thread::yield();
      seen = sample_threads(kSamples, std::chrono::milliseconds(10), std::chrono::seconds(5));
    }
    sampler_cpu = cpu_clock_seconds(CLOCK_THREAD_CPUTIME_ID);
    stop = true;
  });
  sampled.wait();
  sampler.join();
  spinner.join();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double used =
      cpu_clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu0 - spinner_cpu - sampler_cpu;

  EXPECT_EQ(seen.error, "") << what;
  const ThreadSamples spun = seen.threads[spinner_tid.load()];
  seen.threads.erase(spinner_tid.load());
  // The busiest thread: a spinning one first (R in more than half, more than
  // half the busy loop's CPU), else the one R in the most samples.
  const double spun_cpu = spun.cpu_seconds();
  const auto spins = [&](const ThreadSamples& t) {
    return t.runnable > seen.samples / 2 && t.cpu_seconds() > spun_cpu / 2;
  };
  pid_t busiest = 0;
  ThreadSamples most;
  for (const auto& [tid, t] : seen.threads) {
    const bool more = spins(t) != spins(most) ? spins(t) : t.runnable > most.runnable;
    if (busiest == 0 || more) {
      busiest = tid;
      most = t;
    }
  }
  std::printf(
      "[ idle     ] %s: %d samples of %zu threads over %.1f s: the busiest, %s (tid %d), "
      "runnable in %d and on a CPU %.3f s, the busy loop in %d and %.3f s; the process used "
      "%.3f CPU s (printed, not asserted)\n",
      what.c_str(), seen.samples, seen.threads.size(), wall, most.name.c_str(),
      static_cast<int>(busiest), most.runnable, most.cpu_seconds(), spun.runnable, spun_cpu,
      used);
  std::fflush(stdout);
  EXPECT_GE(spun.cpu_first_ns, 0) << what << ": no schedstat for the busy loop";
  EXPECT_GE(seen.samples, 20) << what << ": too few samples of the threads' states in " << wall
                              << " s";
  EXPECT_GT(spun.runnable, seen.samples / 2)
      << what << ": the sampler saw the busy loop runnable in only " << spun.runnable << " of "
      << seen.samples << " samples";
  EXPECT_FALSE(spins(most)) << what << ": thread " << most.name << " (" << busiest
                            << ") was runnable in " << most.runnable << " of " << seen.samples
                            << " samples and ran " << most.cpu_seconds()
                            << " CPU s, the busy loop " << spun_cpu << " s: it spins";
}

}  // namespace cogo_test
