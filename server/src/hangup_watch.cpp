// hangup_watch.cpp: the hang-up watcher (see hangup_watch.h).
#include "hangup_watch.h"

#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

namespace cogo::http::detail {
namespace {

struct Watch {
  int fd;
  cogo::Context ctx;
  bool half_close;
  const std::atomic<bool>* draining;  // may be null
};

// Watcher: the epoll set and the table of live watches. `mu` guards the
// table; the thread looks an event's id up under it, so a watch erased by
// unwatch_hangup() is never acted on.
class Watcher {
 public:
  static Watcher& get() {
    static Watcher* w = new Watcher();  // lives for the process: its thread never stops
    return *w;
  }

  std::uint64_t add(int fd, const cogo::Context& ctx, bool half_close,
                    const std::atomic<bool>* draining) noexcept {
    if (epfd_ < 0) return 0;
    try {
      std::lock_guard<std::mutex> lk(mu_);
      const std::uint64_t id = ++next_id_;
      watches_.emplace(id, Watch{fd, ctx, half_close, draining});
      epoll_event ev{};
      ev.events = (half_close ? EPOLLRDHUP : 0u) | EPOLLONESHOT;
      ev.data.u64 = id;
      if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
        watches_.erase(id);
        return 0;
      }
      return id;
    } catch (...) {
      return 0;
    }
  }

  void remove(std::uint64_t id, int fd) noexcept {
    std::lock_guard<std::mutex> lk(mu_);
    if (watches_.erase(id) == 0) return;
    epoll_event ev{};
    epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, &ev);
  }

 private:
  Watcher() : epfd_(epoll_create1(EPOLL_CLOEXEC)) {
    if (epfd_ >= 0) std::thread([this] { run(); }).detach();
  }

  void run() {
    epoll_event events[64];
    for (;;) {
      const int n = epoll_wait(epfd_, events, 64, -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        return;
      }
      std::vector<cogo::Context> gone;
      {
        std::lock_guard<std::mutex> lk(mu_);
        for (int i = 0; i < n; ++i) {
          // A copy: epoll_event is packed on x86-64, so data.u64 sits at
          // offset 4, and find() would bind its const reference to a
          // misaligned uint64_t (undefined behaviour; UBSan's report in
          // server_test's graceful shutdown under ASan+UBSan).
          const std::uint64_t id = events[i].data.u64;
          auto it = watches_.find(id);
          if (it == watches_.end()) continue;  // unwatched meanwhile
          Watch& w = it->second;
          bool left = (events[i].events & (EPOLLHUP | EPOLLERR)) != 0;
          if (!left && (events[i].events & EPOLLRDHUP)) {
            int unread = 0;
            left = ioctl(w.fd, FIONREAD, &unread) == 0 && unread == 0 &&
                   !(w.draining && w.draining->load(std::memory_order_acquire));
          }
          if (left) {
            gone.push_back(w.ctx);
            continue;  // one-shot: disarmed until unwatched
          }
          // A FIN with bytes behind it: only a reset ends the request now.
          epoll_event ev{};
          ev.events = EPOLLONESHOT;
          ev.data.u64 = it->first;
          epoll_ctl(epfd_, EPOLL_CTL_MOD, w.fd, &ev);
        }
      }
      for (const cogo::Context& c : gone) c.cancel(cogo::CancelReason::client_gone);
    }
  }

  int epfd_;
  std::mutex mu_;
  std::uint64_t next_id_ = 0;
  std::unordered_map<std::uint64_t, Watch> watches_;
};

}  // namespace

std::uint64_t watch_hangup(int fd, const cogo::Context& ctx, bool half_close,
                           const std::atomic<bool>* draining) noexcept {
  return Watcher::get().add(fd, ctx, half_close, draining);
}

void unwatch_hangup(std::uint64_t id, int fd) noexcept {
  if (id != 0) Watcher::get().remove(id, fd);
}

}  // namespace cogo::http::detail
