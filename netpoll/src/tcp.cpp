// tcp.cpp: Conn, Listener, listen() and dial() — the public face of the
// layer, on top of FD (fd.h).
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <stdexcept>
#include <vector>

#include "access.h"
#include "address_parse.h"
#include "cogo/cancel.h"
#include "cogo/detail/os.h"
#include "cogo/net/listener_policy.h"
#include "cogo/net.h"
#include "cogo/runtime.h"
#include "errors.h"
#include "fd.h"

namespace cogo::net {

using detail::FD;
using detail::to_error_code;

static_assert(sizeof(ConstBuffer) == sizeof(iovec) &&
                  offsetof(ConstBuffer, data) == offsetof(iovec, iov_base) &&
                  offsetof(ConstBuffer, size) == offsetof(iovec, iov_len),
              "ConstBuffer must match struct iovec");

namespace {

int64_t to_ns(Clock::time_point t) {
  if (t == kNoDeadline) return 0;
  int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  return ns > 0 ? ns : 1;  // the distant past: expired
}

bool is_inet(const Address& a) {
  return a.family() == Address::Family::ipv4 || a.family() == Address::Family::ipv6;
}

void set_nodelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// label() names a connection in error messages: "local->remote".
std::string label(FD* fd) {
  if (!fd) return {};
  Address local;
  std::string s;
  if (fd->sockname(local, false) == 0) s = local.to_string();
  if (!fd->remote.empty()) {
    if (!s.empty()) s += "->";
    s += fd->remote.to_string();
  }
  return s;
}

[[noreturn]] void throw_conn(std::string_view op, FD* fd, const std::error_code& ec) {
  cogo::throw_if_cancelled(ec);
  throw Error(ec, detail::describe(op, label(fd), ec));
}

int somaxconn() {
  static const int value = [] {
    int v = 4096;
    if (FILE* f = std::fopen("/proc/sys/net/core/somaxconn", "re")) {
      if (std::fscanf(f, "%d", &v) != 1 || v <= 0) v = 4096;
      std::fclose(f);
    }
    return v;
  }();
  return value;
}

// Resolution ------------------------------------------------------------------

// resolve() turns "host:port" into addresses: numeric hosts directly, names
// with getaddrinfo on a blocking section. IPv4 results first (loopback
// services commonly listen on 127.0.0.1 only).
std::vector<Address> resolve(std::string_view text, bool passive, std::error_code& ec,
                             std::string& detail_msg) {
  std::vector<Address> out;
  Address a;
  std::string why;
  if (text.starts_with("unix:")) {
    if (!detail::parse_unix(text.substr(5), a, why)) {
      ec = std::error_code(EINVAL, std::system_category());
      detail_msg = why;
      return out;
    }
    out.push_back(a);
    return out;
  }
  std::string_view host, port_text;
  uint16_t port = 0;
  if (!detail::split_host_port(text, host, port_text, why) ||
      !detail::parse_port(port_text, port, why)) {
    ec = std::error_code(EINVAL, std::system_category());
    detail_msg = why;
    return out;
  }
  if (detail::parse_ip(host, port, a)) {
    out.push_back(a);
    return out;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = passive ? AI_PASSIVE : AI_ADDRCONFIG;
  std::string h(host), p = std::to_string(port);
  addrinfo* res = nullptr;
  // blocking() without its cancellation check (it would throw here, in a
  // noexcept caller, and leak res): the check comes after the dial's waits.
  cogo::detail::enter_blocking();
  int rc = ::getaddrinfo(h.c_str(), p.c_str(), &hints, &res);
  cogo::detail::exit_blocking();
  if (rc != 0) {
    if (rc == EAI_SYSTEM) {
      ec = std::error_code(errno, std::system_category());
    } else {
      ec = errc::name_not_resolved;
      detail_msg = gai_strerror(rc);
    }
    return out;
  }
  for (int fam : {AF_INET, AF_INET6}) {
    for (addrinfo* ai = res; ai; ai = ai->ai_next) {
      if (ai->ai_family != fam) continue;
      Address r = Address::from_sockaddr(ai->ai_addr, ai->ai_addrlen);
      if (std::find(out.begin(), out.end(), r) == out.end()) out.push_back(r);
    }
  }
  ::freeaddrinfo(res);
  if (out.empty()) ec = errc::name_not_resolved;
  return out;
}

}  // namespace

// -----------------------------------------------------------------------------
// Conn

Conn::Conn() noexcept = default;
Conn::Conn(Conn&& o) noexcept : fd_(std::exchange(o.fd_, nullptr)) {}
Conn& Conn::operator=(Conn&& o) noexcept {
  if (this != &o) {
    if (fd_) FD::close_and_free(fd_);
    fd_ = std::exchange(o.fd_, nullptr);
  }
  return *this;
}
Conn::~Conn() {
  if (fd_) FD::close_and_free(fd_);
}

Conn Conn::adopt(int sysfd) {
  int flags = ::fcntl(sysfd, F_GETFL);
  if (flags < 0 || ::fcntl(sysfd, F_SETFL, flags | O_NONBLOCK) < 0) {
    std::error_code ec(errno, std::system_category());
    throw Error(ec, detail::describe("adopt", "fd " + std::to_string(sysfd), ec));
  }
  ::fcntl(sysfd, F_SETFD, FD_CLOEXEC);
  int err = 0;
  FD* fd = FD::open(sysfd, err);
  if (!fd) {
    std::error_code ec = to_error_code(err);
    throw Error(ec, detail::describe("adopt", "fd " + std::to_string(sysfd), ec));
  }
  struct stat st;
  fd->socket = ::fstat(sysfd, &st) == 0 && S_ISSOCK(st.st_mode);
  fd->sockname(fd->remote, true);  // best effort: not every socket has a peer name
  return Conn(fd);
}

std::size_t Conn::read(void* buf, std::size_t n, std::error_code& ec) noexcept {
  return read(buf, n, ec, true);
}

std::size_t Conn::try_read(void* buf, std::size_t n, std::error_code& ec) noexcept {
  return read(buf, n, ec, false);
}

std::size_t Conn::read(void* buf, std::size_t n, std::error_code& ec, bool wait) noexcept {
  if (!fd_) {
    ec = errc::closed;
    return 0;
  }
  int err;
  std::size_t got = fd_->read(buf, n, err, wait);
  ec = to_error_code(err);
  return got;
}

std::size_t Conn::read(void* buf, std::size_t n) {
  std::error_code ec;
  std::size_t got = read(buf, n, ec);
  if (ec) throw_conn("read", fd_, ec);
  return got;
}

std::size_t Conn::read_full(void* buf, std::size_t n, std::error_code& ec) noexcept {
  ec.clear();
  std::size_t done = 0;
  auto* p = static_cast<char*>(buf);
  while (done < n) {
    std::size_t got = read(p + done, n - done, ec);
    if (ec) {
      if (ec == errc::eof && done > 0) ec = errc::unexpected_eof;
      break;
    }
    done += got;
  }
  return done;
}

void Conn::read_full(void* buf, std::size_t n) {
  std::error_code ec;
  read_full(buf, n, ec);
  if (ec) throw_conn("read", fd_, ec);
}

std::size_t Conn::write_all(const void* buf, std::size_t n, std::error_code& ec) noexcept {
  if (!fd_) {
    ec = errc::closed;
    return 0;
  }
  int err;
  std::size_t done = fd_->write_all(buf, n, err);
  ec = to_error_code(err);
  return done;
}

void Conn::write_all(const void* buf, std::size_t n) {
  std::error_code ec;
  write_all(buf, n, ec);
  if (ec) throw_conn("write", fd_, ec);
}

std::size_t Conn::writev(std::span<const ConstBuffer> bufs, std::error_code& ec) noexcept {
  return writev(bufs, ec, true);
}

std::size_t Conn::try_writev(std::span<const ConstBuffer> bufs, std::error_code& ec) noexcept {
  return writev(bufs, ec, false);
}

std::size_t Conn::writev(std::span<const ConstBuffer> bufs, std::error_code& ec,
                         bool wait) noexcept {
  if (!fd_) {
    ec = errc::closed;
    return 0;
  }
  // writev_all advances the iovecs in place, so it gets a copy.
  constexpr std::size_t kInline = 64;
  iovec small[kInline];
  std::vector<iovec> big;
  iovec* iov = small;
  if (bufs.size() > kInline) {
    big.resize(bufs.size());
    iov = big.data();
  }
  for (std::size_t i = 0; i < bufs.size(); ++i) {
    iov[i].iov_base = const_cast<void*>(bufs[i].data);
    iov[i].iov_len = bufs[i].size;
  }
  int err;
  std::size_t done = fd_->writev_all(iov, static_cast<int>(bufs.size()), err, wait);
  ec = to_error_code(err);
  return done;
}

std::size_t Conn::writev(std::span<const ConstBuffer> bufs) {
  std::error_code ec;
  std::size_t done = writev(bufs, ec);
  if (ec) throw_conn("write", fd_, ec);
  return done;
}

void Conn::wait_readable(std::error_code& ec) noexcept {
  ec = fd_ ? to_error_code(fd_->wait(detail::Mode::read)) : make_error_code(errc::closed);
}

void Conn::wait_writable(std::error_code& ec) noexcept {
  ec = fd_ ? to_error_code(fd_->wait(detail::Mode::write)) : make_error_code(errc::closed);
}

void Conn::close() noexcept {
  if (fd_) fd_->close();
}

void Conn::close_write(std::error_code& ec) noexcept {
  ec = fd_ ? to_error_code(fd_->shutdown(SHUT_WR)) : make_error_code(errc::closed);
}

void Conn::close_write() {
  std::error_code ec;
  close_write(ec);
  if (ec) throw_conn("close_write", fd_, ec);
}

void Conn::set_deadline(Clock::time_point t) noexcept {
  if (fd_) fd_->set_deadline(to_ns(t), true, true);
}
void Conn::set_read_deadline(Clock::time_point t) noexcept {
  if (fd_) fd_->set_deadline(to_ns(t), true, false);
}
void Conn::set_write_deadline(Clock::time_point t) noexcept {
  if (fd_) fd_->set_deadline(to_ns(t), false, true);
}

Address Conn::local_address() const {
  Address a;
  if (!fd_) return a;
  if (int err = fd_->sockname(a, false)) throw_conn("getsockname", fd_, to_error_code(err));
  return a;
}

Address Conn::remote_address() const {
  if (!fd_) return {};
  if (!fd_->remote.empty()) return fd_->remote;
  Address a;
  if (int err = fd_->sockname(a, true)) throw_conn("getpeername", fd_, to_error_code(err));
  return a;
}

namespace {
void sockopt_or_throw(FD* fd, int level, int name, const void* val, socklen_t len,
                      const char* what) {
  int err = fd ? fd->sockopt(level, name, val, len) : detail::kErrClosed;
  if (err) throw_conn(what, fd, to_error_code(err));
}
}  // namespace

void Conn::set_no_delay(bool on) {
  int v = on;
  sockopt_or_throw(fd_, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v, "setsockopt TCP_NODELAY");
}

void Conn::set_linger(int seconds) {
  linger l{};
  l.l_onoff = seconds >= 0;
  l.l_linger = seconds >= 0 ? seconds : 0;
  sockopt_or_throw(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l, "setsockopt SO_LINGER");
}

void Conn::set_keep_alive(bool on) {
  int v = on;
  sockopt_or_throw(fd_, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof v, "setsockopt SO_KEEPALIVE");
}

int Conn::native_handle() const noexcept {
  return fd_ ? fd_->sysfd : -1;
}

void Conn::await_readable(cogo::detail::Task on_ready, IdleSet* set) {
  if (!cogo::running()) {
    throw std::logic_error("cogo::net::Conn::await_readable needs a running runtime (cogo::run)");
  }
  if (!fd_) {
    cogo::go(std::move(on_ready));  // its read reports errc::closed
    return;
  }
  fd_->arm_idle(std::move(on_ready), detail::Access::state(set));
}

// -----------------------------------------------------------------------------
// Listener

namespace detail {
struct ListenerImpl {
  FD* fd = nullptr;
  Address address;          // as bound (the real port for ":0")
  std::string unlink_path;  // a Unix socket file we created
  AcceptBackoff backoff;    // out of descriptors (listener_policy.h); close() cancels it
  std::atomic<bool> closed{false};
};
}  // namespace detail

Listener::Listener() noexcept = default;
Listener::Listener(Listener&& o) noexcept : impl_(std::exchange(o.impl_, nullptr)) {}
namespace {
void destroy_listener(detail::ListenerImpl* impl) {
  impl->backoff.cancel();
  FD::close_and_free(impl->fd);
  delete impl;
}
}  // namespace

Listener& Listener::operator=(Listener&& o) noexcept {
  if (this != &o) {
    if (impl_) {
      close();
      destroy_listener(impl_);
    }
    impl_ = std::exchange(o.impl_, nullptr);
  }
  return *this;
}
Listener::~Listener() {
  if (impl_) {
    close();
    destroy_listener(impl_);
  }
}

Conn Listener::accept(std::error_code& ec) noexcept {
  ec.clear();
  if (!impl_) {
    ec = errc::closed;
    return {};
  }
  for (;;) {
    sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int err = 0;
    int s = impl_->fd->accept(reinterpret_cast<sockaddr*>(&ss), &len, err);
    if (s >= 0) {
      impl_->backoff.accepted();
      Address remote = Address::from_sockaddr(&ss, len);
      if (is_inet(remote)) set_nodelay(s);
      FD* fd = FD::open(s, err);
      if (!fd) {
        ec = to_error_code(err);
        return {};
      }
      fd->remote = remote;
      return detail::Access::make_conn(fd);
    }
    if (detail::AcceptBackoff::out_of_resources(err)) {
      // The pending connection stays in the backlog: back off instead of
      // spinning on a listener that stays readable.
      switch (impl_->backoff.wait(err)) {
        case cogo::detail::Sleeper::Woken::deadline:
          continue;
        case cogo::detail::Sleeper::Woken::cancelled:
          ec = errc::closed;
          return {};
        case cogo::detail::Sleeper::Woken::context:
          ec = to_error_code(detail::kErrCancelled);
          return {};
      }
    }
    ec = to_error_code(err);
    return {};
  }
}

Conn Listener::accept() {
  std::error_code ec;
  Conn c = accept(ec);
  if (ec) {
    std::string addr = impl_ ? impl_->address.to_string() : std::string();
    cogo::throw_if_cancelled(ec);
    throw Error(ec, detail::describe("accept", addr, ec));
  }
  return c;
}

void Listener::close() noexcept {
  if (!impl_ || impl_->closed.exchange(true)) return;
  impl_->backoff.cancel();
  impl_->fd->close();
  if (!impl_->unlink_path.empty()) ::unlink(impl_->unlink_path.c_str());
}

Address Listener::address() const {
  return impl_ ? impl_->address : Address();
}

int Listener::native_handle() const noexcept {
  return impl_ ? impl_->fd->sysfd : -1;
}

namespace {

// open_listener() makes one listening socket on `a`; 0 or an errno.
int open_listener(const Address& a, const ListenOptions& opt, detail::ListenerImpl*& out,
                  std::string& detail_msg) {
  const auto* sa = static_cast<const sockaddr*>(a.sockaddr_data());
  int s = ::socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s < 0) return errno;
  int one = 1;
  auto fail = [&](const char* step) {
    int err = errno;
    if (step) detail_msg = step;
    ::close(s);
    return err;
  };
  if (is_inet(a)) {
    if (::setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) {
      return fail("SO_REUSEADDR");
    }
    if (opt.reuse_port && ::setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
      return fail("SO_REUSEPORT");
    }
    if (a.family() == Address::Family::ipv6) {
      int v6only = opt.v6_only;
      ::setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
    }
  }
  if (::bind(s, sa, a.sockaddr_size()) < 0) return fail(nullptr);
  if (::listen(s, opt.backlog > 0 ? opt.backlog : somaxconn()) < 0) return fail("listen");
  int err = 0;
  FD* fd = FD::open(s, err);
  if (!fd) return err;
  auto* impl = new detail::ListenerImpl;
  impl->fd = fd;
  if (fd->sockname(impl->address, false) != 0) impl->address = a;
  impl->backoff.set_address(impl->address.to_string());
  if (a.family() == Address::Family::unix_path) {
    std::string path = a.host();
    if (!path.empty() && path[0] != '@') impl->unlink_path = path;
  }
  out = impl;
  return 0;
}

}  // namespace

namespace {

Listener listen_impl(std::string_view address, const ListenOptions& options, std::error_code& ec,
                     std::string& detail_msg) {
  ec.clear();
  std::vector<Address> addrs;
  const bool dual_stack = address.starts_with(':');
  if (dual_stack) {
    // ":port": every interface, IPv6 and IPv4 on one socket where the kernel
    // has IPv6, else IPv4 only.
    addrs = resolve("[::]" + std::string(address), true, ec, detail_msg);
    if (ec) return {};
    Address v4;
    detail::parse_ip("0.0.0.0", addrs[0].port(), v4);
    addrs.push_back(v4);
  } else {
    addrs = resolve(address, true, ec, detail_msg);
    if (ec) return {};
  }
  detail::ListenerImpl* impl = nullptr;
  int err = 0;
  for (const Address& a : addrs) {
    detail_msg.clear();
    err = open_listener(a, options, impl, detail_msg);
    if (!err) break;
    if (!(dual_stack && err == EAFNOSUPPORT)) break;
  }
  if (err) {
    ec = to_error_code(err);
    return {};
  }
  return detail::Access::make_listener(impl);
}

}  // namespace

Listener listen(std::string_view address, const ListenOptions& options,
                std::error_code& ec) noexcept {
  try {
    std::string detail_msg;
    return listen_impl(address, options, ec, detail_msg);
  } catch (const std::bad_alloc&) {
    ec = std::make_error_code(std::errc::not_enough_memory);
    return {};
  }
}

Listener listen(std::string_view address, const ListenOptions& options) {
  std::error_code ec;
  std::string detail_msg;
  Listener l = listen_impl(address, options, ec, detail_msg);
  if (ec) throw Error(ec, detail::describe("listen", address, ec, detail_msg));
  return l;
}

// -----------------------------------------------------------------------------
// dial

namespace {

// dial_one() connects to one resolved address; 0 or an error number.
int dial_one(const Address& to, const Address* local, int64_t deadline, FD*& out) {
  const auto* sa = static_cast<const sockaddr*>(to.sockaddr_data());
  int s = ::socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s < 0) return errno;
  if (local) {
    if (is_inet(*local) && local->port() == 0) {
      // Choose the port at connect time, per destination: without this,
      // bind() reserves a port for every destination and 28k is the limit.
      int one = 1;
      ::setsockopt(s, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    }
    if (::bind(s, static_cast<const sockaddr*>(local->sockaddr_data()), local->sockaddr_size()) <
        0) {
      int err = errno;
      ::close(s);
      return err;
    }
  }
  if (is_inet(to)) set_nodelay(s);
  int err = 0;
  FD* fd = FD::open(s, err);
  if (!fd) return err;
  err = fd->connect(sa, to.sockaddr_size(), deadline);
  if (err) {
    FD::close_and_free(fd);
    return err;
  }
  fd->remote = to;
  out = fd;
  return 0;
}

Conn dial_impl(std::string_view address, const DialOptions& options, std::error_code& ec,
               std::string& detail_msg) {
  ec.clear();
  int64_t deadline = 0;
  if (options.timeout.count() > 0) deadline = cogo::detail::nanotime() + options.timeout.count();
  Address local;
  if (!options.local_address.empty()) {
    std::string why;
    bool ok = false;
    if (options.local_address.starts_with("unix:")) {
      ok = detail::parse_unix(options.local_address.substr(5), local, why);
    } else {
      std::string_view host, port_text;
      uint16_t port = 0;
      ok = detail::split_host_port(options.local_address, host, port_text, why) &&
           detail::parse_port(port_text, port, why);
      if (ok && !(ok = detail::parse_ip(host, port, local))) {
        why = "local address must be numeric";
      }
    }
    if (!ok) {
      ec = std::error_code(EINVAL, std::system_category());
      detail_msg = "local address " + std::string(options.local_address) + ": " + why;
      return {};
    }
  }
  std::vector<Address> addrs = resolve(address, false, ec, detail_msg);
  if (ec) return {};
  int first_err = 0;
  for (const Address& a : addrs) {
    if (!local.empty() && is_inet(local) != is_inet(a)) continue;
    if (!local.empty() && is_inet(a) && local.family() != a.family()) continue;
    if (deadline && cogo::detail::nanotime() >= deadline) {
      if (!first_err) first_err = detail::kErrTimeout;
      break;
    }
    FD* fd = nullptr;
    int err = dial_one(a, local.empty() ? nullptr : &local, deadline, fd);
    if (!err) return detail::Access::make_conn(fd);
    if (err == detail::kErrCancelled) {  // no point trying the next address
      first_err = err;
      break;
    }
    if (!first_err) first_err = err;
    if (addrs.size() > 1) detail_msg = a.to_string();
  }
  if (!first_err) {
    first_err = EAFNOSUPPORT;
    detail_msg = "no address of the local address's family";
  }
  ec = to_error_code(first_err);
  return {};
}

}  // namespace

Conn dial(std::string_view address, const DialOptions& options, std::error_code& ec) noexcept {
  try {
    std::string detail_msg;
    return dial_impl(address, options, ec, detail_msg);
  } catch (const std::bad_alloc&) {
    ec = std::make_error_code(std::errc::not_enough_memory);
    return {};
  }
}

Conn dial(std::string_view address, const DialOptions& options) {
  std::error_code ec;
  std::string detail_msg;
  Conn c = dial_impl(address, options, ec, detail_msg);
  cogo::throw_if_cancelled(ec);
  if (ec) throw Error(ec, detail::describe("dial", address, ec, detail_msg));
  return c;
}

uint64_t raise_fd_limit() noexcept { return cogo::detail::raise_fd_limit(); }

}  // namespace cogo::net
