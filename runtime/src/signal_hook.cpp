// signal_hook.cpp: StopSignalHook. SIGTERM/SIGINT write one byte to a
// socketpair (async-signal-safe); a watcher thread reads it and calls every
// registered function. The functions are called under g_mu, so that a hook's
// destructor, which takes g_mu to unregister, returns only once no call into
// its owner is under way.
//
// Kept apart from signals.cpp (faults, SIGQUIT, SIGPIPE): those are the
// runtime's own policies, installed by cogo::run; these are the program's,
// installed only while a hook asks for them.
#include "cogo/signal.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace cogo {
namespace {

int g_fds[2] = {-1, -1};  // written once under g_once, then read-only
std::mutex g_mu;          // guards g_fns and g_next_id; held while fns run
std::vector<std::pair<uint64_t, std::function<void()>>> g_fns;
uint64_t g_next_id = 1;

void on_signal(int) {
  const int saved = errno;
  char b = 1;
  ssize_t w = ::write(g_fds[1], &b, 1);  // full pipe: a wake-up is already pending
  (void)w;
  errno = saved;
}

void ensure_watcher() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, g_fds) != 0) {
      throw std::system_error(errno, std::generic_category(), "cogo runtime: socketpair for signals");
    }
    ::fcntl(g_fds[1], F_SETFL, O_NONBLOCK);
    std::thread([] {
      char buf[16];
      for (;;) {
        ssize_t n = ::read(g_fds[0], buf, sizeof buf);
        if (n <= 0) {
          if (n < 0 && errno == EINTR) continue;
          return;
        }
        std::lock_guard<std::mutex> lk(g_mu);
        for (auto& [id, fn] : g_fns) fn();
      }
    }).detach();
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
  });
}

}  // namespace

StopSignalHook::StopSignalHook(std::function<void()> fn) {
  ensure_watcher();
  std::lock_guard<std::mutex> lk(g_mu);
  id_ = g_next_id++;
  g_fns.emplace_back(id_, std::move(fn));
}

StopSignalHook::~StopSignalHook() {
  std::lock_guard<std::mutex> lk(g_mu);
  std::erase_if(g_fns, [this](const auto& e) { return e.first == id_; });
}

}  // namespace cogo
