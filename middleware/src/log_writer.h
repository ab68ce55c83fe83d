// log_writer.h: LogWriter, the access log's way to a spdlog sink without
// ever making a request wait for the disk. Private to cogo_middleware.
//
// A request appends its finished line to one of kShards memory buffers
// (a thread keeps to one shard; its lock is held for a copy, never for
// I/O). A writer thread of its own wakes every flush interval (or early,
// once a buffer holds kEagerBytes), swaps each buffer for an empty one
// and hands the batch to the sink as one message, then flushes the sink.
// A slow or stuck disk only stalls the writer thread: when a shard holds
// max_buffered_bytes, further lines are dropped and counted (dropped()),
// the request goes on. Lines of one thread keep their order; lines of
// different threads may interleave out of order within one batch (each
// carries its own time).
//
// Rejected: spdlog's async logger — its queue takes a mutex and signals a
// condition variable per line, which wakes the worker for every request
// (a futex wake and two context switches per line at a few thousand
// requests/s); and a write per line from the request's own goroutine,
// which is the stalled P a slow disk causes.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace spdlog::sinks {
class sink;
}

namespace cogo::middleware::detail {

class LogWriter {
 public:
  static constexpr std::size_t kShards = 16;
  static constexpr std::size_t kEagerBytes = 64 * 1024;

  struct Options {
    std::chrono::milliseconds flush_interval{200};
    std::size_t max_buffered_bytes = 4 * 1024 * 1024;  // per shard
  };
  // LogWriter() starts the writer thread. sink gets whole batches of
  // lines as one message (its pattern is set to "%v" without an end of
  // line: the lines carry theirs).
  LogWriter(std::shared_ptr<spdlog::sinks::sink> sink, Options options);
  // ~LogWriter() writes what is buffered and stops the thread.
  ~LogWriter();
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  // append() adds line (which ends with '\n') for the writer. Any thread;
  // never waits for I/O.
  void append(std::string_view line);
  // flush() writes what was appended before it to the sink and flushes
  // it, and returns when that is done (tests, shutdown).
  void flush();
  std::uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }

 private:
  struct alignas(64) Shard {
    std::mutex mutex;
    std::string buffer;  // guarded by mutex
  };
  void run();
  // drain() writes every shard's buffer; the writer thread only.
  void drain(std::string& spare);

  std::shared_ptr<spdlog::sinks::sink> sink_;
  Options options_;
  std::array<Shard, kShards> shards_;
  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<bool> eager_{false};  // a shard passed kEagerBytes: wake the writer
  std::mutex wake_mutex_;
  std::condition_variable wake_;
  bool stop_ = false;              // guarded by wake_mutex_
  std::uint64_t flush_asked_ = 0;  // guarded by wake_mutex_: flush() calls so far
  std::uint64_t flush_done_ = 0;   // guarded by wake_mutex_: those served
  std::condition_variable flushed_;
  std::thread thread_;
};

}  // namespace cogo::middleware::detail
