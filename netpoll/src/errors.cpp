// errors.cpp: net_category, the classifiers, messages with fixes, the log hook.
#include "errors.h"

#include <errno.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <cstring>

#include "cogo/detail/cancel.h"
#include "netpoll.h"

namespace cogo::net {
namespace {

class NetCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "cogo.net"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::eof:
        return "end of stream";
      case errc::timeout:
        return "i/o timeout";
      case errc::closed:
        return "use of closed connection";
      case errc::unexpected_eof:
        return "unexpected end of stream";
      case errc::name_not_resolved:
        return "name not resolved";
    }
    return "unknown cogo.net error " + std::to_string(ev);
  }
};

void default_log(std::string_view line) {
  std::string s = "cogo netpoll: ";
  s.append(line);
  s.push_back('\n');
  // One write(2) so that concurrent lines do not interleave.
  ssize_t r = ::write(STDERR_FILENO, s.data(), s.size());
  (void)r;
}

std::atomic<LogHook> log_hook{default_log};

// port_of() extracts the port of "host:port" (0 if there is none).
unsigned port_of(std::string_view addr) {
  auto colon = addr.rfind(':');
  if (colon == std::string_view::npos) return 0;
  unsigned port = 0;
  auto tail = addr.substr(colon + 1);
  std::from_chars(tail.data(), tail.data() + tail.size(), port);
  return port;
}

// fix_for_errno() is the advice for the errno values a user can do
// something about.
std::string_view fix_for_errno(std::string_view op, std::string_view addr, int err) {
  const bool unix_path = addr.starts_with("unix:");
  switch (err) {
    case EACCES:
      if (op == "listen" && !unix_path && port_of(addr) != 0 && port_of(addr) < 1024) {
        return "use a port above 1024 or run with CAP_NET_BIND_SERVICE";
      }
      if (unix_path) return "check the permissions of the socket's directory";
      return {};
    case EADDRINUSE:
      if (op == "listen") {
        return unix_path ? "another process owns the socket file, or a stale one is left over: "
                           "stop that process or remove the file"
                         : "another socket listens there: stop it, pick another port, or set "
                           "ListenOptions::reuse_port in every listener that shares it";
      }
      return "out of local ports: spread connections over several 127.0.0.x source addresses "
             "(DialOptions::local_address)";
    case EADDRNOTAVAIL:
      if (op == "listen") {
        return "that IP address is not one of this machine's: use 0.0.0.0, 127.0.0.1 or an "
               "address of a local interface";
      }
      return "out of local ports for this destination: spread connections over several "
             "127.0.0.x source addresses (DialOptions::local_address) or widen "
             "net.ipv4.ip_local_port_range";
    case ECONNREFUSED:
      return "nothing is listening there";
    case ENETUNREACH:
    case EHOSTUNREACH:
      return "no route to that address";
    case EMFILE:
      return "the process is out of file descriptors: raise the limit (ulimit -n) or close idle "
             "connections";
    case ENFILE:
      return "the system is out of file descriptors (fs.file-max)";
    case ENOENT:
      if (unix_path) return "the socket file does not exist: is the server running?";
      return {};
    case EAFNOSUPPORT:
      return "this address family is disabled in the kernel (IPv6?)";
    default:
      return {};
  }
}

// fix_for() is the advice for the errors a user can do something about.
std::string_view fix_for(std::string_view op, std::string_view addr, const std::error_code& ec) {
  if (ec == errc::timeout && op == "dial") {
    return "no answer before the dial timeout; is the host up and the port open?";
  }
  if (ec == errc::name_not_resolved) return "check the host name (and /etc/hosts, resolv.conf)";
  if (ec.category() != std::system_category()) return {};
  return fix_for_errno(op, addr, ec.value());
}

void append_message(std::string& s, std::string_view op, std::string_view addr,
                    std::string_view what, std::string_view detail, std::string_view fix) {
  s.append(op);
  if (!addr.empty()) {
    s.push_back(' ');
    s.append(addr);
  }
  s.append(": ");
  s.append(what);
  if (!detail.empty()) {
    s.append(" (");
    s.append(detail);
    s.append(")");
  }
  if (!fix.empty()) {
    s.append(" — ");
    s.append(fix);
  }
}

}  // namespace

const std::error_category& net_category() noexcept {
  static const NetCategory category;
  return category;
}

bool is_timeout(const std::error_code& ec) noexcept {
  return ec == errc::timeout ||
         (ec.category() == std::system_category() && ec.value() == ETIMEDOUT);
}
bool is_eof(const std::error_code& ec) noexcept {
  return ec == errc::eof || ec == errc::unexpected_eof;
}
bool is_closed(const std::error_code& ec) noexcept {
  return ec == errc::closed;
}

void set_log_hook(LogHook hook) {
  log_hook.store(hook ? hook : default_log);
}

namespace detail {

std::error_code to_error_code(int err) noexcept {
  switch (err) {
    case 0:
      return {};
    case kErrEOF:
      return errc::eof;
    case kErrTimeout:
      return errc::timeout;
    case kErrClosed:
      return errc::closed;
    case kErrUnexpectedEOF:
      return errc::unexpected_eof;
    case kErrCancelled: {
      // The wait's context is the caller's: still current when this runs.
      const cogo::detail::CancelState* s = cogo::detail::cancel_effective();
      const CancelReason r = s ? cogo::detail::cancel_reason(s) : CancelReason::none;
      return {static_cast<int>(r == CancelReason::none ? CancelReason::cancelled : r),
              cogo::cancel_category()};
    }
    default:
      return {err, std::system_category()};
  }
}

std::string describe(std::string_view op, std::string_view addr, const std::error_code& ec,
                     std::string_view detail) {
  std::string s;
  append_message(s, op, addr, ec.message(), detail, fix_for(op, addr, ec));
  return s;
}

std::string describe_errno(std::string_view op, std::string_view addr, int err) {
  char buf[128];
  const char* what = strerror_r(err, buf, sizeof buf);  // GNU: may return a static string
  std::string s;
  append_message(s, op, addr, what, {}, fix_for_errno(op, addr, err));
  return s;
}

void log_line(std::string_view line) {
  log_hook.load()(line);
}

}  // namespace detail
}  // namespace cogo::net
