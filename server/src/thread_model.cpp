// thread_model.cpp: ThreadModel (see thread_model.h).
#include "thread_model.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "blocking_socket.h"
#include "cogo/net/listener_policy.h"
#include "cogo/runtime.h"
#include "shutdown.h"
#include "spdlog/spdlog.h"

namespace cogo::server_detail {

namespace {
std::atomic<ThreadModel::LiveSetHook> g_live_set_hook{nullptr};
}  // namespace

void ThreadModel::set_live_set_hook(LiveSetHook hook) noexcept {
  g_live_set_hook.store(hook, std::memory_order_release);
}

ThreadModel::~ThreadModel() {
  for (int fd : listen_fds_) ::close(fd);
}

std::string ThreadModel::listen(const std::string& address, bool reuse_port) {
  const int fd = http::blocking_listen(address, reuse_port);
  listen_fds_.push_back(fd);
  std::string where = http::local_address_of(fd);
  backoffs_.push_back(std::make_unique<net::detail::AcceptBackoff>());
  backoffs_.back()->set_address(where);
  return where;
}

void ThreadModel::start(Serve serve, Shutdown& shutdown, std::size_t stack_bytes) {
  serve_ = std::move(serve);
  for (std::size_t i = 0; i < listen_fds_.size(); i++) {
    const int lfd = listen_fds_[i];
    net::detail::AcceptBackoff* backoff = backoffs_[i].get();
    acceptors_.emplace_back([this, lfd, backoff, i, &shutdown, stack_bytes] {
      http::thread_accept_loop(lfd, stopping_, *backoff, [this, i, &shutdown, stack_bytes](int fd) {
        shutdown.connection_opened();
        {
          // In the set before the thread exists: a shutdown_live() right
          // after the accept threads are joined reaches it.
          std::lock_guard<std::mutex> lk(mu_);
          live_.insert(fd);
          if (LiveSetHook hook = g_live_set_hook.load(std::memory_order_acquire)) {
            hook(LiveSetEvent::inserted, fd);
          }
        }
        if (!http::spawn_thread(stack_bytes, [this, fd, i, &shutdown] { run_connection(fd, i, shutdown); })) {
          spdlog::error("cannot start a connection thread: {}", std::strerror(errno));
          retire(fd);
          shutdown.connection_closed();
        }
      });
    });
  }
}

void ThreadModel::run_connection(int fd, std::size_t listener, Shutdown& shutdown) {
  try {
    serve_(fd, listener);
  } catch (const std::exception& e) {
    spdlog::debug("connection error: {}", e.what());
  }
  retire(fd);
  shutdown.connection_closed();
}

void ThreadModel::retire(int fd) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    live_.erase(fd);  // before the close: the number may be reused at once
    if (LiveSetHook hook = g_live_set_hook.load(std::memory_order_acquire)) {
      hook(LiveSetEvent::erased, fd);
    }
  }
  ::close(fd);
}

void ThreadModel::stop_accepting() {
  stopping_.store(true);
  for (int fd : listen_fds_) ::shutdown(fd, SHUT_RDWR);
  for (auto& b : backoffs_) b->cancel();
}

void ThreadModel::join_acceptors() {
  for (auto& t : acceptors_) cogo::blocking([&t] { t.join(); });
  acceptors_.clear();
}

void ThreadModel::shutdown_live(int how, const std::vector<int>& except) {
  std::lock_guard<std::mutex> lk(mu_);
  for (int fd : live_) {
    if (!std::binary_search(except.begin(), except.end(), fd)) ::shutdown(fd, how);
  }
}

std::size_t ThreadModel::live_connections() const {
  std::lock_guard<std::mutex> lk(mu_);
  return live_.size();
}

}  // namespace cogo::server_detail
