// net_test_util.h: helpers shared by the network tests (netpoll_test.cpp,
// tcp_test.cpp, thread_model_test.cpp; tls_test.cpp uses wait_until): fd
// counts, running out of descriptors on purpose, a runtime with N Ps and the
// ProcsTest fixture over it, wait_until, re-running one test in a child
// process, a parking Gate, and a byte pattern.
#pragma once

#include <dirent.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "cogo/detail/sched.h"
#include "cogo/detail/spinlock.h"
#include "cogo/net.h"
#include "cogo/runtime.h"
#include "gtest/gtest.h"

extern char** environ;

namespace nettest {

using namespace std::chrono_literals;

// count_open_fds() counts this process's open descriptors (/proc/self/fd).
inline int count_open_fds() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') ++n;
    }
    closedir(d);
    --n;  // the directory stream itself
  }
  return n;
}

// hog_descriptors() lowers this process's soft RLIMIT_NOFILE to `limit`,
// opens descriptors (dup(0)) until there is none left (EMFILE), then closes
// `spare` of them: afterwards exactly `spare` descriptors are free. It
// returns the ones it holds; release_descriptors() closes them. Call it
// inside cogo::run (the runtime raises the soft limit when it starts), and in
// a child process (run_child): the limit stays lowered.
inline std::vector<int> hog_descriptors(rlim_t limit, int spare) {
  std::vector<int> hog;
  rlimit r{};
  getrlimit(RLIMIT_NOFILE, &r);
  r.rlim_cur = limit;
  if (setrlimit(RLIMIT_NOFILE, &r) != 0) {
    ADD_FAILURE() << "setrlimit(RLIMIT_NOFILE, " << limit << "): " << std::strerror(errno);
    return hog;
  }
  for (int fd; (fd = dup(0)) >= 0;) hog.push_back(fd);
  EXPECT_EQ(errno, EMFILE) << "dup(0) failed with " << std::strerror(errno)
                           << ", not for want of descriptors";
  for (int i = 0; i < spare && !hog.empty(); ++i) {
    close(hog.back());
    hog.pop_back();
  }
  return hog;
}

// release_descriptors() closes what hog_descriptors() holds.
inline void release_descriptors(std::vector<int>& hog) {
  for (int fd : hog) close(fd);
  hog.clear();
}

// warm_up_poller() makes the netpoller create its own descriptors (epoll,
// eventfd: once per process), so that fd counts before and after compare.
inline void warm_up_poller() { cogo::net::listen("127.0.0.1:0").close(); }

// run_procs() runs fn as the main goroutine of a runtime with `procs` Ps.
template <class F>
int run_procs(int procs, F&& fn) {
  setenv("COGO_MAXPROCS", std::to_string(procs).c_str(), 1);
  return cogo::run(std::forward<F>(fn));
}

// ProcsTest: the fixture of a suite that runs each test with several P
// counts (its parameter). run() runs fn as the main goroutine of a runtime
// with that many Ps and expects exit status 0. A suite derives its own
// fixture (class Tcp : public nettest::ProcsTest {}) and instantiates it
// with ::testing::Values(1, 2) and procs_name.
class ProcsTest : public ::testing::TestWithParam<int> {
 protected:
  template <class F>
  void run(F&& fn) {
    ASSERT_EQ(run_procs(GetParam(), std::forward<F>(fn)), 0);
  }
};

// procs_name() names a ProcsTest instance by its P count: "1P", "2P".
inline std::string procs_name(const ::testing::TestParamInfo<int>& info) {
  return std::to_string(info.param) + "P";
}

// wait_until() polls cond every millisecond (parking a goroutine, or sleeping
// a thread) until it holds or `limit` passes; returns whether it held. The
// limit only keeps a broken build from hanging: no test asserts a duration.
inline bool wait_until(const std::function<bool()>& cond,
                       std::chrono::milliseconds limit = std::chrono::milliseconds(30000)) {
  auto give_up = std::chrono::steady_clock::now() + limit;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    cogo::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// Child processes: a test that needs a fresh process (its own fd limit, its
// own 10k descriptors) re-executes this binary on one test, marked by
// COGO_NP_CHILD; such tests skip themselves in a normal run.
inline bool in_child() {
  return std::getenv("COGO_NP_CHILD") != nullptr;
}

// run_child() runs `test` (a gtest filter) in a new process of this binary
// with the extra environment, and returns its exit status (-1 on a signal).
inline int run_child(const std::string& test, const std::vector<std::string>& env = {}) {
  std::vector<std::string> envs = {"COGO_NP_CHILD=1"};
  for (const auto& e : env) envs.push_back(e);
  for (char** e = environ; *e; ++e) envs.emplace_back(*e);
  std::vector<char*> envp;
  for (auto& e : envs) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string filter = "--gtest_filter=" + test;
  std::string self = "/proc/self/exe";
  char* argv[] = {self.data(), filter.data(), nullptr};
  pid_t pid;
  if (posix_spawn(&pid, self.c_str(), nullptr, nullptr, argv, envp.data()) != 0) return -2;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// EmfileLogs: the netpoller's two messages about descriptors (listener
// policy): "... Too many open files ... back-off" when accept runs out, and
// "... available again" when it recovers, counted from the log hook that
// watch_emfile_logs() installs (for the EMFILE tests of both models).
struct EmfileLogs {
  std::atomic<int> exhausted{0};
  std::atomic<int> recovered{0};
};

inline EmfileLogs& watch_emfile_logs() {
  static EmfileLogs logs;
  cogo::net::set_log_hook([](std::string_view line) {
    if (line.find("Too many open files") != std::string_view::npos &&
        line.find("back-off") != std::string_view::npos) {
      ++logs.exhausted;
    } else if (line.find("available again") != std::string_view::npos) {
      ++logs.recovered;
    }
  });
  return logs;
}

// Gate: goroutines wait() until open() (a one-shot barrier that parks
// instead of polling, for 10,000 waiters). Goroutines only.
class Gate {
 public:
  void wait() {
    mu_.lock();
    if (open_) {
      mu_.unlock();
      return;
    }
    waiters_.push_back(cogo::detail::current_g());
    cogo::detail::park(
        [](cogo::detail::G*, void* mu) {
          static_cast<cogo::detail::SpinLock*>(mu)->unlock();
          return true;
        },
        &mu_, cogo::detail::WaitReason::kWaitGroup);
  }
  void open() {
    mu_.lock();
    open_ = true;
    std::vector<cogo::detail::G*> w;
    w.swap(waiters_);
    mu_.unlock();
    for (auto* g : w) cogo::detail::ready(g);
  }

 private:
  cogo::detail::SpinLock mu_;
  bool open_ = false;
  std::vector<cogo::detail::G*> waiters_;
};

// fill_pattern() / check_pattern(): bytes that depend on the connection and
// the offset, so a misrouted or reordered byte is caught.
inline unsigned char pattern_byte(uint32_t conn, uint64_t offset) {
  return static_cast<unsigned char>((conn * 2654435761u) ^ (offset * 40503u) ^ (offset >> 8));
}

}  // namespace nettest
