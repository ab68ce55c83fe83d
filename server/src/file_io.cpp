// file_io.cpp: see file_io.h.
#include "file_io.h"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <system_error>

#include "cogo/runtime.h"

namespace cogo::http::detail {

namespace {

// cachestat(2) (Linux 6.5): not in Debian 12's headers; the number is the
// same on every architecture (the unified syscall table).
constexpr long kSysCachestat = 451;
struct CachestatRange {
  std::uint64_t off;
  std::uint64_t len;
};
struct Cachestat {
  std::uint64_t nr_cache;
  std::uint64_t nr_dirty;
  std::uint64_t nr_writeback;
  std::uint64_t nr_evicted;
  std::uint64_t nr_recently_evicted;
};
std::atomic<bool> g_have_cachestat{true};

[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

std::size_t plain_pread(int fd, void* buf, std::size_t size, std::uint64_t offset) {
  for (;;) {
    const ssize_t n = ::pread(fd, buf, size, static_cast<off_t>(offset));
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno != EINTR) throw_errno("read file");
  }
}

std::uint64_t page_size() noexcept {
  static const std::uint64_t size = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  return size;
}

bool range_cached_mincore(int fd, std::uint64_t offset, std::uint64_t length) noexcept {
  const std::uint64_t page = page_size();
  const std::uint64_t start = offset & ~(page - 1);
  const std::uint64_t map_length = offset + length - start;
  void* map = ::mmap(nullptr, map_length, PROT_READ, MAP_SHARED, fd, static_cast<off_t>(start));
  if (map == MAP_FAILED) return false;
  const std::size_t pages = static_cast<std::size_t>((map_length + page - 1) / page);
  unsigned char small[256];
  std::unique_ptr<unsigned char[]> big;
  unsigned char* vec = small;
  if (pages > sizeof small) {
    big.reset(new (std::nothrow) unsigned char[pages]);
    vec = big.get();
  }
  bool cached = vec != nullptr && ::mincore(map, map_length, vec) == 0;
  for (std::size_t i = 0; cached && i < pages; ++i) cached = (vec[i] & 1) != 0;
  ::munmap(map, map_length);
  return cached;
}

}  // namespace

FileIoCounters& file_io_counters() noexcept {
  static FileIoCounters counters;
  return counters;
}

std::size_t read_file_at(int fd, void* buf, std::size_t size, std::uint64_t offset) {
  if (size == 0) return 0;
  if (cogo::in_goroutine()) {
    iovec iov{buf, size};
    for (;;) {
      const ssize_t n = ::preadv2(fd, &iov, 1, static_cast<off_t>(offset), RWF_NOWAIT);
      if (n >= 0) return static_cast<std::size_t>(n);
      if (errno == EINTR) continue;
      // EAGAIN: not in the page cache. EOPNOTSUPP: a file system without
      // non-blocking reads (tell nothing, assume the worst).
      if (errno != EAGAIN && errno != EOPNOTSUPP) throw_errno("read file");
      break;
    }
    file_io_counters().blocking_reads.fetch_add(1, std::memory_order_relaxed);
    return cogo::blocking([&] { return plain_pread(fd, buf, size, offset); });
  }
  return plain_pread(fd, buf, size, offset);
}

void read_file_exact(int fd, void* buf, std::size_t size, std::uint64_t offset) {
  auto* p = static_cast<char*>(buf);
  while (size > 0) {
    const std::size_t n = read_file_at(fd, p, size, offset);
    if (n == 0) {
      throw std::system_error(EIO, std::generic_category(),
                              "read file: it is shorter than when the response began");
    }
    p += n;
    size -= n;
    offset += n;
  }
}

bool file_range_cached(int fd, std::uint64_t offset, std::uint64_t length) noexcept {
  if (length == 0) return true;
  if (g_have_cachestat.load(std::memory_order_relaxed)) {
    CachestatRange range{offset, length};
    Cachestat stat{};
    if (::syscall(kSysCachestat, fd, &range, &stat, 0) == 0) {
      const std::uint64_t page = page_size();
      const std::uint64_t pages = (offset + length + page - 1) / page - offset / page;
      return stat.nr_cache >= pages;
    }
    if (errno != ENOSYS && errno != EPERM) return false;
    g_have_cachestat.store(false, std::memory_order_relaxed);  // an older kernel, or seccomp
  }
  return range_cached_mincore(fd, offset, length);
}

}  // namespace cogo::http::detail
