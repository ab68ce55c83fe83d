// cogo/net.h: blocking-style TCP and Unix-domain sockets on the netpoller.
//
//   cogo::net::Listener ln = cogo::net::listen("127.0.0.1:8080");
//   for (;;) {
//     cogo::go([c = ln.accept()]() mutable {
//       char buf[4096];
//       std::error_code ec;
//       while (size_t n = c.read(buf, sizeof buf, ec)) c.write_all(buf, n);
//     });
//   }
//
// On a goroutine, a call that would block parks the goroutine on the
// netpoller and its thread runs other goroutines meanwhile. Off a goroutine
// (a plain thread, with or without a running runtime) the same calls block
// the thread with poll(2), honour the same deadlines and report the same
// errors, so a handler runs unchanged in a thread-per-connection model.
//
// Every operation comes in two forms: one that throws net::Error, and one
// that takes a std::error_code& and never throws (for hot paths where EOF and
// timeouts are routine). A Conn or Listener may be used by several goroutines
// at once: reads are serialised among themselves, writes among themselves,
// and close() wakes every operation parked on it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

#include "cogo/detail/task.h"
#include "cogo/error.h"

namespace cogo::net {

// ---------------------------------------------------------------------------
// Errors

// errc: the conditions that are not an errno. Everything else is reported as
// std::system_category() with the errno value (ECONNRESET, EPIPE, ...).
enum class errc {
  eof = 1,                // the peer closed its side: no more bytes will arrive
  timeout = 2,            // a deadline passed (read/write deadline or dial timeout)
  closed = 3,             // the Conn or Listener was closed (possibly by another goroutine)
  unexpected_eof = 4,     // read_full: the stream ended before the buffer filled
  name_not_resolved = 5,  // dial/listen: getaddrinfo found no address for the host
};
const std::error_category& net_category() noexcept;
inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), net_category()};
}

// is_timeout() and friends classify an error_code from any operation here.
bool is_timeout(const std::error_code& ec) noexcept;  // errc::timeout or ETIMEDOUT
bool is_eof(const std::error_code& ec) noexcept;      // errc::eof or errc::unexpected_eof
bool is_closed(const std::error_code& ec) noexcept;   // errc::closed

// Error: what the throwing forms throw. code() is an errno (system_category)
// or an errc; what() names the operation, the address(es) and, for mistakes a
// user can fix, the fix: "listen 0.0.0.0:80: permission denied — use a port
// above 1024 or run with CAP_NET_BIND_SERVICE".
// One of the cogo::Error family (cogo/error.h).
class Error : public cogo::Error {
 public:
  using cogo::Error::Error;
  bool timeout() const noexcept { return is_timeout(code()); }
  bool eof() const noexcept { return is_eof(code()); }
  bool closed() const noexcept { return is_closed(code()); }
};

// set_log_hook() replaces where the netpoller's rare operational messages go
// (for example "accept: too many open files, backing off"). Default: one line
// on stderr. The hook may be called from any thread and must not block.
using LogHook = void (*)(std::string_view line);
void set_log_hook(LogHook hook);

// ---------------------------------------------------------------------------
// Addresses

// Address: an IPv4, IPv6 or Unix-domain socket address.
class Address {
 public:
  enum class Family : uint8_t { none, ipv4, ipv6, unix_path };

  Address() = default;
  // parse() reads a numeric address: "127.0.0.1:80", "[::1]:80", ":80" (all
  // interfaces), "unix:/run/x.sock", "unix:@abstract". No name resolution
  // (dial() resolves names). Throws net::Error (EINVAL) naming the mistake.
  static Address parse(std::string_view text);

  Family family() const noexcept { return family_; }
  bool empty() const noexcept { return family_ == Family::none; }
  // port() is 0 for Unix-domain addresses.
  uint16_t port() const noexcept;
  // host() is "127.0.0.1", "::1" or the socket path.
  std::string host() const;
  // to_string(): "127.0.0.1:80", "[::1]:80", "unix:/run/x.sock".
  std::string to_string() const;
  bool operator==(const Address& o) const noexcept;

  // The raw sockaddr (for the rare caller that needs setsockopt-level access).
  const void* sockaddr_data() const noexcept { return storage_; }
  uint32_t sockaddr_size() const noexcept { return size_; }
  static Address from_sockaddr(const void* sa, uint32_t size);

 private:
  alignas(8) unsigned char storage_[112] = {};  // sockaddr_in / _in6 / _un
  uint32_t size_ = 0;
  Family family_ = Family::none;
};

// ---------------------------------------------------------------------------
// Conn

// ConstBuffer: one piece of a gather write (same layout as struct iovec).
struct ConstBuffer {
  const void* data;
  std::size_t size;
};

using Clock = std::chrono::steady_clock;
// kNoDeadline clears a deadline. It is the latest time point, so that every
// real deadline compares before it (the HTTP layer's no_deadline is this).
inline constexpr Clock::time_point kNoDeadline = Clock::time_point::max();

namespace detail {
struct FD;            // the fd, its poll descriptor and its reference count (src/fd.h)
struct ListenerImpl;  // a listening FD plus its accept back-off state (src/tcp.cpp)
struct IdleSetState;  // (src/idle.cpp)
struct Access;        // how the sources reach the private parts below
}  // namespace detail
class IdleSet;

// Conn: a connected stream socket (TCP or Unix-domain). Move-only; the
// destructor closes it. All methods may be called concurrently from several
// goroutines or threads, except that the object itself must outlive them.
class Conn {
 public:
  Conn() noexcept;
  Conn(Conn&&) noexcept;
  Conn& operator=(Conn&&) noexcept;
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  ~Conn();

  // adopt() wraps a connected stream socket the caller owns (socketpair,
  // an fd inherited from a parent): it is made non-blocking and registered
  // with the poller; the Conn closes it.
  static Conn adopt(int fd);

  explicit operator bool() const noexcept { return fd_ != nullptr; }

  // read() reads at least one byte, at most n; parks until some arrive.
  // Throws Error with eof() at the end of the stream. n == 0 returns 0.
  std::size_t read(void* buf, std::size_t n);
  // Non-throwing form: returns 0 and sets ec (errc::eof at the end of the
  // stream) or returns the byte count and clears ec.
  std::size_t read(void* buf, std::size_t n, std::error_code& ec) noexcept;
  // try_read() reads what has arrived without ever parking: the byte count,
  // or 0 with ec set — std::errc::resource_unavailable_try_again when
  // nothing has arrived or another goroutine is inside a read of this Conn
  // (its read takes what arrived; try_read does not queue behind it),
  // errc::eof at the end of the stream, errc::closed. Never parking means the
  // caller stays on its thread: it may read into a per-thread buffer.
  // Deadlines do not apply (it never waits). A readiness-driven server uses
  // it at request boundaries; like read(), it takes the pending readiness,
  // so a following await_readable() arms without asking the socket again.
  std::size_t try_read(void* buf, std::size_t n, std::error_code& ec) noexcept;
  // read_full() reads exactly n bytes. An end of stream before the first byte
  // is errc::eof, after it errc::unexpected_eof. Returns the bytes read.
  void read_full(void* buf, std::size_t n);
  std::size_t read_full(void* buf, std::size_t n, std::error_code& ec) noexcept;

  // write_all() writes all n bytes (parking while the socket buffer is
  // full). Never raises SIGPIPE: a peer that is gone gives EPIPE/ECONNRESET.
  void write_all(const void* buf, std::size_t n);
  std::size_t write_all(const void* buf, std::size_t n, std::error_code& ec) noexcept;
  void write_all(std::string_view s) { write_all(s.data(), s.size()); }
  // writev() writes every buffer, in order, with as few syscalls as the
  // kernel allows (one sendmsg when the socket has room). Returns the total.
  std::size_t writev(std::span<const ConstBuffer> bufs);
  std::size_t writev(std::span<const ConstBuffer> bufs, std::error_code& ec) noexcept;
  // try_writev() writes what fits in the socket buffer now, never parking:
  // returns the bytes written; ec is std::errc::resource_unavailable_try_again
  // if not all of them fit, or (0 written) while another goroutine is inside
  // a write of this Conn. Deadlines do not apply (it never waits).
  std::size_t try_writev(std::span<const ConstBuffer> bufs, std::error_code& ec) noexcept;

  // wait_readable() / wait_writable() park until the socket is readable /
  // writable (or hung up), a deadline passes, or the Conn is closed, without
  // moving any bytes: for a TLS library driving the fd itself (WANT_READ).
  // May return spuriously; the caller retries its operation.
  void wait_readable(std::error_code& ec) noexcept;
  void wait_writable(std::error_code& ec) noexcept;

  // close() closes the socket. Operations parked on it in other goroutines
  // wake with errc::closed; close() returns once none of them still uses the
  // fd, so the fd number is free for reuse afterwards. Idempotent.
  void close() noexcept;
  // close_write() half-closes: the peer reads EOF, this side can still read.
  void close_write();
  void close_write(std::error_code& ec) noexcept;

  // Deadlines are absolute (steady_clock). An operation parked when its
  // deadline passes wakes with errc::timeout; later operations fail at once
  // with errc::timeout until the deadline is moved (kNoDeadline clears it).
  // A deadline may be moved while a goroutine is parked (goroutines only; a
  // parked plain thread sees a moved deadline when it next wakes, and is
  // woken by close()).
  void set_deadline(Clock::time_point t) noexcept;  // both directions
  void set_read_deadline(Clock::time_point t) noexcept;
  void set_write_deadline(Clock::time_point t) noexcept;

  Address local_address() const;
  Address remote_address() const;

  // Socket options. TCP_NODELAY is on for accepted and dialed TCP sockets.
  void set_no_delay(bool on);
  // set_linger(0) makes close() send a reset instead of a FIN.
  void set_linger(int seconds);
  void set_keep_alive(bool on);

  // native_handle() is the fd, or -1; valid until close(). Do not close it.
  int native_handle() const noexcept;

  // await_readable() hands this connection back to the poller and returns at
  // once: no goroutine and no buffer is held while the peer is silent. When
  // the socket becomes readable (or already is), hangs up, errors, its read
  // deadline (set it first: the idle timeout) passes, it is closed, or `set`
  // is closed, the poller spawns a fresh goroutine running on_ready. It runs
  // exactly once per call, and on_ready's first read() tells which it was
  // (bytes, eof, timeout, closed). The Conn must outlive that run, so
  // on_ready usually owns it. Until on_ready runs, nothing else may read
  // from the Conn (writing, deadlines and close() are fine). Requires a
  // running runtime (throws std::logic_error otherwise).
  void await_readable(cogo::detail::Task on_ready, IdleSet* set = nullptr);

 private:
  friend struct detail::Access;
  explicit Conn(detail::FD* fd) noexcept : fd_(fd) {}
  std::size_t read(void* buf, std::size_t n, std::error_code& ec, bool wait) noexcept;
  std::size_t writev(std::span<const ConstBuffer> bufs, std::error_code& ec, bool wait) noexcept;
  detail::FD* fd_ = nullptr;
};

// IdleSet: the connections handed to the poller with await_readable(set),
// so that a server can find them at shutdown. Thread-safe.
class IdleSet {
 public:
  IdleSet();
  IdleSet(const IdleSet&) = delete;
  IdleSet& operator=(const IdleSet&) = delete;
  // ~IdleSet() closes the set (see close()).
  ~IdleSet();

  // size() is how many connections wait in this set now.
  std::size_t size() const noexcept;
  // wake_all() spawns every waiting connection's callback now, as if it had
  // become readable (its read may then park as usual). Returns how many.
  std::size_t wake_all();
  // close() wakes every waiting connection (as wake_all) and makes every later
  // await_readable(…, this) run its callback at once: a server shutting down
  // calls it after it stopped accepting, and its callbacks check their own
  // "shutting down" flag. Returns how many were woken.
  std::size_t close();
  bool closed() const noexcept;

 private:
  friend struct detail::Access;
  std::unique_ptr<detail::IdleSetState> state_;
};

// ---------------------------------------------------------------------------
// Listening and dialing

struct ListenOptions {
  // SO_REUSEPORT: several listeners (processes or threads) share the port and
  // the kernel spreads connections over them.
  bool reuse_port = false;
  // Backlog: 0 means the kernel's maximum (/proc/sys/net/core/somaxconn).
  int backlog = 0;
  // IPv6 listeners on [::] also accept IPv4 unless v6_only.
  bool v6_only = false;
};

// Listener: a listening socket. Move-only; the destructor closes it.
class Listener {
 public:
  Listener() noexcept;
  Listener(Listener&&) noexcept;
  Listener& operator=(Listener&&) noexcept;
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  ~Listener();

  explicit operator bool() const noexcept { return impl_ != nullptr; }

  // accept() parks until a connection arrives and returns it (TCP_NODELAY on).
  // Under fd exhaustion (EMFILE/ENFILE) it logs once, backs off 5 ms doubling
  // to 1 s and retries: the process keeps serving the connections it has.
  // ECONNABORTED and EINTR are retried. close() wakes it with errc::closed.
  Conn accept();
  Conn accept(std::error_code& ec) noexcept;

  // close() stops listening; a parked accept() wakes with errc::closed. A
  // Unix-domain listener removes its socket file. Idempotent.
  void close() noexcept;

  // address() is where it listens (the real port when ":0" was asked for).
  Address address() const;
  int native_handle() const noexcept;

 private:
  friend struct detail::Access;
  explicit Listener(detail::ListenerImpl* impl) noexcept : impl_(impl) {}
  detail::ListenerImpl* impl_ = nullptr;
};

// listen() opens a listening socket: "127.0.0.1:8080", "[::1]:0", ":8080"
// (every interface, IPv6 and IPv4), "localhost:8080", "unix:/run/app.sock".
// SO_REUSEADDR is always on. Throws net::Error naming the address and the fix.
Listener listen(std::string_view address, const ListenOptions& options = {});
Listener listen(std::string_view address, const ListenOptions& options,
                std::error_code& ec) noexcept;

struct DialOptions {
  // timeout bounds name resolution plus connect; zero: the kernel's own
  // (about two minutes for an unanswered SYN).
  std::chrono::nanoseconds timeout{0};
  // local_address binds the socket before connecting ("127.0.0.2:0" picks a
  // source address; port 0 lets the kernel pick the port at connect time,
  // with IP_BIND_ADDRESS_NO_PORT, so each source address gives its own ~28k
  // ports: open more than 64k connections from 127.0.0.x sources).
  std::string_view local_address{};
};

// dial() connects to "host:port" (a name is resolved with getaddrinfo inside
// cogo::blocking(); each resolved address is tried in turn) or "unix:/path".
// Parks the goroutine while the connect is in progress.
Conn dial(std::string_view address, const DialOptions& options = {});
Conn dial(std::string_view address, const DialOptions& options, std::error_code& ec) noexcept;
inline Conn dial(std::string_view address, std::chrono::nanoseconds timeout) {
  return dial(address, DialOptions{timeout, {}});
}
inline Conn dial(std::string_view address, std::chrono::nanoseconds timeout,
                 std::error_code& ec) noexcept {
  return dial(address, DialOptions{timeout, {}}, ec);
}

// raise_fd_limit() raises the soft RLIMIT_NOFILE to the hard limit and
// returns the new soft limit (the runtime does it at start-up; this is for
// programs that open sockets before or without it).
uint64_t raise_fd_limit() noexcept;

}  // namespace cogo::net

template <>
struct std::is_error_code_enum<cogo::net::errc> : std::true_type {};
