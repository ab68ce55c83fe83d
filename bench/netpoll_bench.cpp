// netpoll_bench.cpp: loopback echo round trips, goroutine + netpoller beside
// a thread per connection with blocking sockets, in the same run; and the
// park + wake latency of one goroutine through the poller beside a thread
// blocked in read(2).
//
//   build/bin/netpoll_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only
//
// Echo<model>/<bytes>/<conns>[/<procs>]: every connection runs request/response round
// trips of <bytes> against an echo server of the same model in this process.
// With one connection the client is the benchmark loop itself; with many,
// each iteration is a batch of kBatch round trips on every connection at
// once. "per_rt" is wall time per round trip (all connections together);
// "cpu_ns_per_rt" is the process's CPU time per round trip (both ends, user +
// system), the figure that survives a shared machine best.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "benchmark/benchmark.h"
#include "cogo/detail/sched.h"
#include "cogo/detail/spinlock.h"
#include "cogo/net.h"
#include "cogo/runtime.h"

namespace {

using cogo::net::Conn;
using cogo::net::Listener;

constexpr int kBatch = 10;  // round trips per connection per iteration (many connections)

// ---------------------------------------------------------------------------
// Batch: the benchmark loop starts a batch, N workers each run it, the loop
// waits for all of them. GoBatch parks goroutines; ThreadBatch blocks threads.

class GoBatch {
 public:
  explicit GoBatch(int workers) : workers_(workers) {}

  // next() parks a worker until a batch newer than *seen starts (or stop).
  bool next(uint64_t* seen) {
    mu_.lock();
    while (gen_ == *seen && !stop_) {
      idle_.push_back(cogo::detail::current_g());
      park_unlock();
      mu_.lock();
    }
    *seen = gen_;
    bool go_on = !stop_;
    mu_.unlock();
    return go_on;
  }
  void done() {
    mu_.lock();
    if (--remaining_ == 0 && waiter_) {
      auto* g = std::exchange(waiter_, nullptr);
      mu_.unlock();
      cogo::detail::ready(g);
      return;
    }
    mu_.unlock();
  }
  // run() starts one batch and waits for every worker to finish it.
  void run() { start(false); }
  void stop() { start(true); }

 private:
  void start(bool stop) {
    mu_.lock();
    ++gen_;
    stop_ = stop;
    remaining_ = workers_;
    std::vector<cogo::detail::G*> w;
    w.swap(idle_);
    mu_.unlock();
    for (auto* g : w) cogo::detail::ready(g);
    if (stop) return;
    mu_.lock();
    if (remaining_ > 0) {
      waiter_ = cogo::detail::current_g();
      park_unlock();
    } else {
      mu_.unlock();
    }
  }
  void park_unlock() {
    cogo::detail::park(
        [](cogo::detail::G*, void* mu) {
          static_cast<cogo::detail::SpinLock*>(mu)->unlock();
          return true;
        },
        &mu_, cogo::detail::WaitReason::kWaitGroup);
  }

  const int workers_;
  cogo::detail::SpinLock mu_;
  uint64_t gen_ = 0;
  bool stop_ = false;
  int remaining_ = 0;
  std::vector<cogo::detail::G*> idle_;
  cogo::detail::G* waiter_ = nullptr;
};

class ThreadBatch {
 public:
  explicit ThreadBatch(int workers) : workers_(workers) {}
  bool next(uint64_t* seen) {
    std::unique_lock<std::mutex> lk(mu_);
    cv_.wait(lk, [&] { return gen_ != *seen || stop_; });
    *seen = gen_;
    return !stop_;
  }
  void done() {
    std::lock_guard<std::mutex> lk(mu_);
    if (--remaining_ == 0) done_cv_.notify_one();
  }
  void run() {
    std::unique_lock<std::mutex> lk(mu_);
    ++gen_;
    remaining_ = workers_;
    cv_.notify_all();
    done_cv_.wait(lk, [&] { return remaining_ == 0; });
  }
  void stop() {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
    cv_.notify_all();
  }

 private:
  const int workers_;
  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  uint64_t gen_ = 0;
  bool stop_ = false;
  int remaining_ = 0;
};

// process_cpu_ns() is the CPU time of the whole process (every thread, both
// ends of every connection, the kernel's share included): on a shared
// machine it moves less than wall time, and it is the cost that matters.
double process_cpu_ns() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return (static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e9 +
          static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e3);
}

// CpuMeter: process CPU time across the timed loop only (PauseTiming is too
// coarse for that: the loop is the measurement).
struct CpuMeter {
  double start = 0, total = 0;
  void begin() { start = process_cpu_ns(); }
  void end() { total = process_cpu_ns() - start; }
};

void set_counters(benchmark::State& state, int conns, int per_iteration, const CpuMeter& cpu) {
  const double rts = static_cast<double>(state.iterations()) * per_iteration;
  state.counters["cpu_ns_per_rt"] = rts > 0 ? cpu.total / rts : 0;
  state.SetItemsProcessed(static_cast<int64_t>(rts));
  state.SetBytesProcessed(static_cast<int64_t>(rts * 2 * static_cast<double>(state.range(0))));
  state.counters["conns"] = conns;
  // Wall time per round trip, all connections together (shown in seconds).
  state.counters["per_rt"] =
      benchmark::Counter(rts, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// ---------------------------------------------------------------------------
// Goroutines + netpoller.

// set_procs() sets the Ps of the next cogo::run (the runtime reads
// COGO_MAXPROCS when it starts).
void set_procs(benchmark::State& state, int arg) {
  setenv("COGO_MAXPROCS", std::to_string(state.range(arg)).c_str(), 1);
}

void BM_EchoGoroutine(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  const int conns = static_cast<int>(state.range(1));
  set_procs(state, 2);
  CpuMeter cpu;
  cogo::run([&] {
    Listener ln = cogo::net::listen("127.0.0.1:0");
    cogo::go([&] {
      for (;;) {
        std::error_code ec;
        Conn c = ln.accept(ec);
        if (ec) return;
        cogo::go([c = std::move(c), size]() mutable {
          std::vector<char> buf(size);
          std::error_code e;
          while (c.read_full(buf.data(), size, e) == size && !e) {
            if (c.write_all(buf.data(), size, e) != size) break;
          }
        });
      }
    });
    std::vector<Conn> clients;
    for (int i = 0; i < conns; ++i) clients.push_back(cogo::net::dial(ln.address().to_string()));
    std::vector<char> out(size, 'x'), in(size);
    if (conns == 1) {
      cpu.begin();
      for (auto _ : state) {
        clients[0].write_all(out.data(), size);
        clients[0].read_full(in.data(), size);
      }
      cpu.end();
    } else {
      GoBatch batch(conns);
      for (auto& c : clients) {
        cogo::go([&c, &batch, size] {
          std::vector<char> o(size, 'y'), i(size);
          uint64_t seen = 0;
          while (batch.next(&seen)) {
            for (int r = 0; r < kBatch; ++r) {
              c.write_all(o.data(), size);
              c.read_full(i.data(), size);
            }
            batch.done();
          }
        });
      }
      cpu.begin();
      for (auto _ : state) batch.run();
      cpu.end();
      batch.stop();
    }
    for (auto& c : clients) c.close();
    ln.close();
  });
  set_counters(state, conns, conns == 1 ? 1 : conns * kBatch, cpu);
}

// ---------------------------------------------------------------------------
// A thread per connection, blocking sockets (the classic model, done well:
// TCP_NODELAY, small thread stacks, no per-request allocation).

void spawn_thread(std::function<void()> fn, std::vector<pthread_t>& threads) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 << 10);
  auto* heap_fn = new std::function<void()>(std::move(fn));
  pthread_t t;
  int rc = pthread_create(
      &t, &attr,
      [](void* arg) -> void* {
        auto* f = static_cast<std::function<void()>*>(arg);
        (*f)();
        delete f;
        return nullptr;
      },
      heap_fn);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    delete heap_fn;
    std::fprintf(stderr, "pthread_create: %s\n", std::strerror(rc));
    std::abort();
  }
  threads.push_back(t);
}

bool read_full_fd(int fd, char* p, size_t n) {
  while (n > 0) {
    ssize_t r = ::read(fd, p, n);
    if (r <= 0) {
      if (r < 0 && errno == EINTR) continue;
      return false;
    }
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

bool write_all_fd(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t r = ::send(fd, p, n, MSG_NOSIGNAL);
    if (r < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

void BM_EchoThread(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  const int conns = static_cast<int>(state.range(1));
  int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::listen(lfd, 4096);
  socklen_t alen = sizeof a;
  ::getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &alen);
  const int one = 1;

  std::vector<pthread_t> acceptor;
  std::vector<pthread_t> threads;  // server threads, under server_mu
  std::vector<int> server_fds;
  std::mutex server_mu;
  spawn_thread(
      [&, size] {
        for (int i = 0; i < conns; ++i) {
          int s = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
          if (s < 0) return;
          ::setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          std::vector<pthread_t> mine;
          spawn_thread(
              [s, size] {
                std::vector<char> buf(size);
                while (read_full_fd(s, buf.data(), size) && write_all_fd(s, buf.data(), size)) {
                }
              },
              mine);
          std::lock_guard<std::mutex> lk(server_mu);
          server_fds.push_back(s);
          threads.insert(threads.end(), mine.begin(), mine.end());
        }
      },
      acceptor);

  std::vector<int> clients;
  for (int i = 0; i < conns; ++i) {
    int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) std::abort();
    clients.push_back(c);
  }
  std::vector<pthread_t> client_threads;
  std::vector<char> out(size, 'x'), in(size);
  CpuMeter cpu;
  if (conns == 1) {
    cpu.begin();
    for (auto _ : state) {
      write_all_fd(clients[0], out.data(), size);
      read_full_fd(clients[0], in.data(), size);
    }
    cpu.end();
  } else {
    ThreadBatch batch(conns);
    for (int c : clients) {
      spawn_thread(
          [c, &batch, size] {
            std::vector<char> o(size, 'y'), i(size);
            uint64_t seen = 0;
            while (batch.next(&seen)) {
              for (int r = 0; r < kBatch; ++r) {
                write_all_fd(c, o.data(), size);
                read_full_fd(c, i.data(), size);
              }
              batch.done();
            }
          },
          client_threads);
    }
    cpu.begin();
    for (auto _ : state) batch.run();
    cpu.end();
    batch.stop();
    for (pthread_t t : client_threads) pthread_join(t, nullptr);
  }
  for (int c : clients) ::close(c);    // server threads see EOF and exit
  pthread_join(acceptor[0], nullptr);  // done after `conns` accepts
  {
    std::lock_guard<std::mutex> lk(server_mu);
    for (pthread_t t : threads) pthread_join(t, nullptr);
    for (int s : server_fds) ::close(s);
  }
  ::close(lfd);
  set_counters(state, conns, conns == 1 ? 1 : conns * kBatch, cpu);
}

// ---------------------------------------------------------------------------
// Park + wake through the poller: two goroutines ping-pong one byte over a
// Unix socket pair; each hop is a write, an edge from epoll, a ready and a
// switch into the parked reader. Beside it, two threads blocked in read(2).
// per_wake is half a round trip.

void set_wake_counters(benchmark::State& state, const CpuMeter& cpu) {
  const double wakes = static_cast<double>(state.iterations()) * 2;
  state.counters["per_wake"] =
      benchmark::Counter(wakes, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["cpu_ns_per_wake"] = wakes > 0 ? cpu.total / wakes : 0;
}

void BM_ParkWakeGoroutine(benchmark::State& state) {
  set_procs(state, 0);
  CpuMeter cpu;
  cogo::run([&] {
    int sv[2];
    ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
    Conn a = Conn::adopt(sv[0]);
    Conn b = Conn::adopt(sv[1]);
    std::atomic<bool> done{false};
    cogo::go([&] {
      char c;
      std::error_code ec;
      while (b.read(&c, 1, ec) == 1) b.write_all(&c, 1, ec);
      done = true;
    });
    char c = 'p';
    cpu.begin();
    for (auto _ : state) {
      a.write_all(&c, 1);
      a.read(&c, 1);
    }
    cpu.end();
    a.close();
    while (!done) cogo::yield();
  });
  set_wake_counters(state, cpu);
}

void BM_ParkWakeThread(benchmark::State& state) {
  int sv[2];
  ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
  std::thread peer([fd = sv[1]] {
    char c;
    while (::read(fd, &c, 1) == 1) ::write(fd, &c, 1);
  });
  char c = 'p';
  CpuMeter cpu;
  cpu.begin();
  for (auto _ : state) {
    if (::write(sv[0], &c, 1) != 1 || ::read(sv[0], &c, 1) != 1) std::abort();
  }
  cpu.end();
  ::shutdown(sv[0], SHUT_RDWR);
  peer.join();
  ::close(sv[0]);
  ::close(sv[1]);
  set_wake_counters(state, cpu);
}

void GoroutineEchoArgs(benchmark::internal::Benchmark* b) {
  b->ArgNames({"bytes", "conns", "procs"})->UseRealTime()->MinTime(0.5);
}
void ThreadEchoArgs(benchmark::internal::Benchmark* b) {
  b->ArgNames({"bytes", "conns"})->UseRealTime()->MinTime(0.5);
}

}  // namespace

// Registered side by side: goroutines on 1 and 2 Ps, then threads.
BENCHMARK(BM_EchoGoroutine)->Apply(GoroutineEchoArgs)->Args({1, 1, 1})->Args({1, 1, 2});
BENCHMARK(BM_EchoThread)->Apply(ThreadEchoArgs)->Args({1, 1});
BENCHMARK(BM_EchoGoroutine)->Apply(GoroutineEchoArgs)->Args({4096, 1, 1})->Args({4096, 1, 2});
BENCHMARK(BM_EchoThread)->Apply(ThreadEchoArgs)->Args({4096, 1});
BENCHMARK(BM_EchoGoroutine)->Apply(GoroutineEchoArgs)->Args({1, 1000, 1})->Args({1, 1000, 2});
BENCHMARK(BM_EchoThread)->Apply(ThreadEchoArgs)->Args({1, 1000});
BENCHMARK(BM_EchoGoroutine)->Apply(GoroutineEchoArgs)->Args({4096, 1000, 1})->Args({4096, 1000, 2});
BENCHMARK(BM_EchoThread)->Apply(ThreadEchoArgs)->Args({4096, 1000});
BENCHMARK(BM_ParkWakeGoroutine)->ArgName("procs")->Arg(1)->Arg(2)->UseRealTime()->MinTime(0.5);
BENCHMARK(BM_ParkWakeThread)->UseRealTime()->MinTime(0.5);

BENCHMARK_MAIN();
