// goroutine_model.cpp: GoroutineModel (see goroutine_model.h).
#include "goroutine_model.h"

#include "cogo/runtime.h"
#include "shutdown.h"
#include "spdlog/spdlog.h"

namespace cogo::server_detail {

std::string GoroutineModel::listen(const std::string& address, bool reuse_port) {
  net::ListenOptions lo;
  lo.reuse_port = reuse_port;
  listeners_.push_back(net::listen(address, lo));
  return listeners_.back().address().to_string();
}

void GoroutineModel::start(OnConn on_conn, Shutdown& shutdown) {
  on_conn_ = std::move(on_conn);
  for (std::size_t i = 0; i < listeners_.size(); i++) {
    loops_.add(1);
    net::Listener* ln = &listeners_[i];
    cogo::go([this, ln, i, &shutdown] {
      for (;;) {
        std::error_code ec;
        net::Conn conn = ln->accept(ec);
        if (ec) {
          if (net::is_closed(ec) || shutdown.draining()) break;
          spdlog::warn("accept on {}: {}", ln->address().to_string(), ec.message());
          continue;
        }
        shutdown.connection_opened();
        on_conn_(std::move(conn), i);
      }
      loops_.done();
    });
  }
}

std::vector<int> GoroutineModel::listen_fds() const {
  std::vector<int> fds;
  for (const auto& ln : listeners_) fds.push_back(ln.native_handle());
  return fds;
}

void GoroutineModel::stop_accepting() {
  for (auto& ln : listeners_) ln.close();
}

}  // namespace cogo::server_detail
