// log_writer.cpp: LogWriter (log_writer.h says how and why).
#include "log_writer.h"

#include "spdlog/details/log_msg.h"
#include "spdlog/pattern_formatter.h"
#include "spdlog/sinks/sink.h"

namespace cogo::middleware::detail {
namespace {

// shard_index() is this thread's shard, handed out round-robin.
std::size_t shard_index() {
  static std::atomic<std::size_t> next{0};
  thread_local const std::size_t index =
      next.fetch_add(1, std::memory_order_relaxed) % LogWriter::kShards;
  return index;
}

}  // namespace

LogWriter::LogWriter(std::shared_ptr<spdlog::sinks::sink> sink, Options options)
    : sink_(std::move(sink)), options_(options) {
  sink_->set_formatter(std::make_unique<spdlog::pattern_formatter>(
      "%v", spdlog::pattern_time_type::local, std::string()));
  thread_ = std::thread([this] { run(); });
}

LogWriter::~LogWriter() {
  {
    std::lock_guard lock(wake_mutex_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void LogWriter::append(std::string_view line) {
  Shard& s = shards_[shard_index()];
  bool eager = false;
  {
    std::lock_guard lock(s.mutex);
    if (s.buffer.size() + line.size() > options_.max_buffered_bytes) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    s.buffer.append(line);
    eager = s.buffer.size() >= kEagerBytes;
  }
  // One wake per full buffer, not one per line.
  if (eager && !eager_.exchange(true, std::memory_order_relaxed)) {
    std::lock_guard lock(wake_mutex_);
    wake_.notify_one();
  }
}

void LogWriter::flush() {
  std::unique_lock lock(wake_mutex_);
  const std::uint64_t ticket = ++flush_asked_;
  wake_.notify_one();
  flushed_.wait(lock, [&] { return flush_done_ >= ticket || stop_; });
}

void LogWriter::drain(std::string& spare) {
  bool wrote = false;
  for (Shard& s : shards_) {
    {
      std::lock_guard lock(s.mutex);
      if (s.buffer.empty()) continue;
      s.buffer.swap(spare);  // spare is empty, with the capacity of an earlier batch
    }
    spdlog::details::log_msg msg(spdlog::string_view_t(), spdlog::level::info,
                                 spdlog::string_view_t(spare.data(), spare.size()));
    try {
      sink_->log(msg);
      wrote = true;
    } catch (...) {
      // A failed write (disk full) loses this batch, never the server.
    }
    spare.clear();
  }
  if (wrote) {
    try {
      sink_->flush();
    } catch (...) {
    }
  }
}

void LogWriter::run() {
  std::string spare;
  std::unique_lock lock(wake_mutex_);
  for (;;) {
    wake_.wait_for(lock, options_.flush_interval, [&] {
      return stop_ || flush_asked_ > flush_done_ || eager_.load(std::memory_order_relaxed);
    });
    const bool stopping = stop_;
    const std::uint64_t asked = flush_asked_;
    eager_.store(false, std::memory_order_relaxed);
    lock.unlock();
    drain(spare);
    lock.lock();
    flush_done_ = asked;
    flushed_.notify_all();
    if (stopping) return;
  }
}

}  // namespace cogo::middleware::detail
