// file_io.h: reading ranges of regular files for a response body without
// letting a wait for the disk stall the goroutines.
//
// A read from the page cache takes microseconds; one that goes to the disk
// blocks the calling thread for as long as the disk takes, and on a
// goroutine that thread holds a P: every goroutine queued on that P would
// wait with it. So on a goroutine a read first asks the kernel not to wait
// (preadv2 with RWF_NOWAIT: EAGAIN when the data is not cached), and only a
// read that would wait runs inside cogo::blocking(), which hands the P to
// another thread for its duration. sendfile(2) has no such flag: before it,
// file_range_cached() asks whether the range is in the page cache
// (cachestat(2) on Linux 6.5+, else mincore(2) over a mapping of the
// range), and an uncached range is sent inside cogo::blocking() too. Off a
// goroutine (the thread model) a blocking read costs no one else anything.
// Rejected: io_uring (a ring per thread and a completion path into the
// poller, for what these two checks give on the kernels we run on).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace cogo::http::detail {

// FileIoCounters: how file bodies were read and sent (relaxed; tests and
// /debug read them).
struct FileIoCounters {
  std::atomic<std::uint64_t> blocking_reads{0};  // reads run in cogo::blocking()
  std::atomic<std::uint64_t> blocking_sends{0};  // sendfile calls run in cogo::blocking()
  std::atomic<std::uint64_t> sendfile_calls{0};  // sendfile(2) system calls
};
FileIoCounters& file_io_counters() noexcept;

// read_file_at() reads up to size bytes at offset into buf; returns how many
// (0 at the end of the file). On a goroutine, a read that would wait for the
// disk runs in cogo::blocking(). Throws std::system_error.
std::size_t read_file_at(int fd, void* buf, std::size_t size, std::uint64_t offset);

// read_file_exact() fills buf with size bytes at offset; throws
// std::system_error (EIO) when the file ends first (it shrank).
void read_file_exact(int fd, void* buf, std::size_t size, std::uint64_t offset);

// file_range_cached() tells whether every page of [offset, offset+length) is
// in the page cache (false when that cannot be told).
bool file_range_cached(int fd, std::uint64_t offset, std::uint64_t length) noexcept;

}  // namespace cogo::http::detail
