// tls_stream.cpp: TlsStream, one server-side TLS connection over OpenSSL.
//
// How the pieces fit:
//  - OpenSSL reads and writes the socket itself, through a small BIO of our
//    own (send/recv with MSG_DONTWAIT | MSG_NOSIGNAL) rather than SSL_set_fd's
//    socket BIO: it never blocks whatever the fd's mode (the thread model's
//    socket stays blocking for anyone else), a write to a gone peer is EPIPE
//    and never SIGPIPE (the thread model may run without the runtime that
//    ignores it), and the errno of a failed call is kept for the error.
//  - Every SSL call is therefore non-blocking. WANT_READ / WANT_WRITE mean
//    "wait for the socket, then repeat the same call with the same
//    arguments". Waiting is a TlsWaiter: a netpoll Conn parks the goroutine
//    (the Conn's own deadlines apply), a plain fd blocks the thread in
//    ppoll(2) with the stream's deadlines. That is the only difference
//    between the two models.
//  - OpenSSL keeps its error queue and some random-number state per thread,
//    and a goroutine may move to another thread whenever it parks. No SSL
//    call ever parks (the BIO does not wait), and the error queue is cleared
//    before and read right after each call, on the same thread.
//  - After an upgrade (a WebSocket) one goroutine reads while another
//    writes, and an SSL object must not be used by two threads at once:
//    each SSL call runs under the session's lock, which is never held across
//    a wait (OpenSSL allows reads and writes to interleave between calls).
//
// Rejected: memory BIOs with our own socket I/O (one extra copy of every
// byte, and the same WANT_* state machine anyway); SSL_set_fd (SIGPIPE, and
// blocking sockets would block inside OpenSSL).
#include "cogo/detail/cancel.h"
#include "cogo/http/tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "cogo/net.h"
#include "tls_internal.h"

namespace cogo::http {
namespace detail {

namespace {

constexpr std::size_t kMaxRecord = 16 * 1024;  // TLS plaintext record limit

}  // namespace

// ---------------------------------------------------------------------------
// The socket BIO

namespace {

// SocketGlue: what the BIO knows of the socket. Owned by the TlsSession.
struct SocketGlue {
  int fd = -1;
  int last_errno = 0;  // errno of the last failed send/recv (0: none, or EOF)
};

int bio_write(BIO* bio, const char* data, int size) {
  auto* glue = static_cast<SocketGlue*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  for (;;) {
    const ssize_t n =
        ::send(glue->fd, data, static_cast<std::size_t>(size), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0) return static_cast<int>(n);
    if (errno == EINTR) continue;
    glue->last_errno = errno;
    if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_write(bio);
    return -1;
  }
}

int bio_read(BIO* bio, char* buf, int size) {
  auto* glue = static_cast<SocketGlue*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  for (;;) {
    const ssize_t n = ::recv(glue->fd, buf, static_cast<std::size_t>(size), MSG_DONTWAIT);
    if (n >= 0) return static_cast<int>(n);  // 0: the peer's FIN
    if (errno == EINTR) continue;
    glue->last_errno = errno;
    if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_read(bio);
    return -1;
  }
}

long bio_ctrl(BIO*, int cmd, long, void*) {
  // Nothing is buffered here, so a flush has nothing to do; everything else
  // (fd queries, kTLS) is unsupported, which OpenSSL handles.
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

int bio_create(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

BIO_METHOD* socket_bio_method() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "cogo socket");
    if (m == nullptr || BIO_meth_set_write(m, bio_write) != 1 ||
        BIO_meth_set_read(m, bio_read) != 1 || BIO_meth_set_ctrl(m, bio_ctrl) != 1 ||
        BIO_meth_set_create(m, bio_create) != 1) {
      throw std::bad_alloc();
    }
    return m;
  }();
  return method;
}

}  // namespace

// ---------------------------------------------------------------------------
// Waiting for the socket

// TlsWaiter: how a stream waits for its socket, and where its deadlines live.
class TlsWaiter {
 public:
  enum class Want { read, write };
  virtual ~TlsWaiter() = default;
  virtual int fd() const noexcept = 0;
  // set_deadline() bounds the following waits in one direction.
  virtual void set_deadline(Want want, Deadline deadline) noexcept = 0;
  // wait() returns when the socket may be ready (possibly spuriously: the
  // caller repeats its call). Throws TimeoutError(timeout_message) once that
  // direction's deadline has passed, std::system_error if the connection
  // was closed under it.
  virtual void wait(Want want, const char* timeout_message) = 0;
  // shutdown_write() half-closes the socket; best effort.
  virtual void shutdown_write() noexcept = 0;
};

namespace {

// ConnWaiter: the goroutine model. The Conn's poll descriptor parks the
// goroutine; deadlines are the Conn's own timers.
class ConnWaiter final : public TlsWaiter {
 public:
  explicit ConnWaiter(net::Conn& conn) : conn_(&conn) {}
  int fd() const noexcept override { return conn_->native_handle(); }
  void set_deadline(Want want, Deadline deadline) noexcept override {
    const net::Clock::time_point t = deadline;  // no_deadline is net::kNoDeadline
    if (want == Want::read) {
      conn_->set_read_deadline(t);
    } else {
      conn_->set_write_deadline(t);
    }
  }
  void wait(Want want, const char* timeout_message) override {
    std::error_code ec;
    if (want == Want::read) {
      conn_->wait_readable(ec);
    } else {
      conn_->wait_writable(ec);
    }
    if (!ec) return;
    cogo::throw_if_cancelled(ec);
    if (net::is_timeout(ec)) throw TimeoutError(timeout_message);
    throw std::system_error(ec, "tls: wait for the socket");
  }
  void shutdown_write() noexcept override {
    std::error_code ec;
    conn_->close_write(ec);
  }

 private:
  net::Conn* conn_;
};

// PollWaiter: the thread model. Owns the fd (unless borrowed); blocks the
// thread in ppoll().
class PollWaiter final : public TlsWaiter {
 public:
  PollWaiter(int fd, bool owns) : fd_(fd), owns_(owns) {}
  ~PollWaiter() override {
    if (owns_ && fd_ >= 0) ::close(fd_);
  }
  int fd() const noexcept override { return fd_; }
  void set_deadline(Want want, Deadline deadline) noexcept override {
    (want == Want::read ? read_deadline_ : write_deadline_) = deadline;
  }
  void wait(Want want, const char* timeout_message) override {
    const Deadline deadline = want == Want::read ? read_deadline_ : write_deadline_;
    const int64_t until =
        deadline == no_deadline
            ? -1
            : std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch()).count();
    // Interruptible by the thread's context (cogo/cancel.h).
    cogo::detail::CancelState* cancel = cogo::detail::cancel_effective();
    const int r = cogo::detail::thread_wait_fd(
        fd_, static_cast<short>(want == Want::read ? POLLIN : POLLOUT), until, cancel);
    if (r < 0) cogo::detail::throw_cancelled(cancel);
    if (r == 0) throw TimeoutError(timeout_message);
    // ready, hung up or in error: the retried call tells which
  }
  void shutdown_write() noexcept override { ::shutdown(fd_, SHUT_WR); }

 private:
  int fd_;
  bool owns_;
  Deadline read_deadline_ = no_deadline;
  Deadline write_deadline_ = no_deadline;
};

}  // namespace

// ---------------------------------------------------------------------------
// The session

// TlsSession: one SSL, its BIO's glue, and the stream's state.
struct TlsSession {
  enum class Status {
    ok,          // the call succeeded
    want_read,   // wait until readable, then repeat the call
    want_write,  // wait until writable, then repeat the call
    closed,      // the peer sent close_notify, or its FIN (see SSL_OP_IGNORE_UNEXPECTED_EOF)
    failed,      // socket error (glue.last_errno) or TLS error (the error queue)
  };

  std::shared_ptr<const TlsContextImpl> context;  // keeps the SSL_CTX alive
  SSL* ssl = nullptr;      // used under mu
  std::mutex mu;           // one SSL call at a time (a reader and a writer after an upgrade)
  SocketGlue glue;         // written by the BIO inside a call, under mu
  Deadline read_deadline = no_deadline;   // the reader's
  Deadline write_deadline = no_deadline;  // the writer's
  bool established = false;  // the handshake completed (before any upgrade)
  bool eof = false;          // a read saw the end of input (the reader's)
  std::atomic<bool> broken{false};  // a call failed: no more SSL calls, no close_notify
  std::atomic<bool> shut{false};    // close_notify was sent

  ~TlsSession() { SSL_free(ssl); }

  // The errno of the calling thread's last failed call, for raise() right
  // after it (no park in between, so the same thread).
  static int& failed_errno() noexcept {
    thread_local int e = 0;
    return e;
  }

  // call() runs one SSL call (returning > 0 on success) and classifies its
  // result. The error queue is cleared first, as SSL_get_error requires.
  template <class F>
  Status call(F&& fn) {
    std::lock_guard<std::mutex> lk(mu);
    ERR_clear_error();
    glue.last_errno = 0;
    const int ret = fn();
    if (ret > 0) return Status::ok;
    failed_errno() = glue.last_errno;
    switch (SSL_get_error(ssl, ret)) {
      case SSL_ERROR_WANT_READ:
        return Status::want_read;
      case SSL_ERROR_WANT_WRITE:
        return Status::want_write;
      case SSL_ERROR_ZERO_RETURN:
        return Status::closed;
      case SSL_ERROR_SYSCALL:
        // No errno: the socket's EOF in the middle of a TLS record.
        if (failed_errno() == 0 && ERR_peek_error() == 0) return Status::closed;
        broken = true;
        return Status::failed;
      default:
        broken = true;
        return Status::failed;
    }
  }

  // raise() throws the error of a failed call: the socket's errno as a
  // std::system_error, else OpenSSL's reasons as a TlsError.
  [[noreturn]] void raise(const char* op) {
    if (failed_errno() != 0 && ERR_peek_error() == 0) {
      throw std::system_error(failed_errno(), std::generic_category(), op);
    }
    throw TlsError(std::make_error_code(std::errc::protocol_error),
                   std::string(op) + ": " + take_openssl_errors());
  }
};

}  // namespace detail

using detail::TlsSession;
using detail::TlsWaiter;
using Want = detail::TlsWaiter::Want;
using Status = detail::TlsSession::Status;

// ---------------------------------------------------------------------------
// TlsStream

namespace {

std::unique_ptr<TlsSession> new_session(const std::shared_ptr<const detail::TlsContextImpl>& ctx,
                                        int fd) {
  auto s = std::make_unique<TlsSession>();
  s->context = ctx;
  s->glue.fd = fd;
  ERR_clear_error();
  s->ssl = SSL_new(ctx->ctx);
  BIO* bio = s->ssl ? BIO_new(detail::socket_bio_method()) : nullptr;
  if (bio == nullptr) {
    throw TlsError(std::make_error_code(std::errc::not_enough_memory),
                   "tls: cannot create a session: " + detail::take_openssl_errors());
  }
  BIO_set_data(bio, &s->glue);
  SSL_set_bio(s->ssl, bio, bio);  // the SSL owns the BIO (one reference for both directions)
  SSL_set_accept_state(s->ssl);
  return s;
}

// answer_plain_http() tells a client that sent a plain HTTP request to the
// TLS port what happened (as Go's net/http does), then half-closes and reads
// away what it already sent, so that the close is a FIN and not a reset that
// could destroy the answer. Best effort, never waits.
void answer_plain_http(int fd) {
  static const char kAnswer[] =
      "HTTP/1.0 400 Bad Request\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n"
      "Connection: close\r\n"
      "Content-Length: 48\r\n"
      "\r\n"
      "Client sent an HTTP request to an HTTPS server.\n";
  static_assert(sizeof "Client sent an HTTP request to an HTTPS server.\n" - 1 == 48);
  (void)::send(fd, kAnswer, sizeof kAnswer - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
  ::shutdown(fd, SHUT_WR);
  char sink[4096];
  for (int i = 0; i < 16 && ::recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0; ++i) {
  }
}

// call_waiting() runs one SSL call until it no longer wants the socket: on
// WANT_READ / WANT_WRITE it waits (TimeoutError(timeout_message) past the
// deadline) and repeats the same call. Returns ok, closed or failed.
template <class F>
Status call_waiting(TlsSession& s, TlsWaiter& waiter, const char* timeout_message, F&& fn) {
  for (;;) {
    const Status status = s.call(fn);
    if (status == Status::want_read) {
      waiter.wait(Want::read, timeout_message);
    } else if (status == Status::want_write) {
      waiter.wait(Want::write, timeout_message);
    } else {
      return status;
    }
  }
}

// try_result() is try_read()'s answer to a call that did not succeed (it
// never waits): would_block for WANT_*, 0 at the end of input; throws if the
// call failed.
std::ptrdiff_t try_result(TlsSession& s, Status status, const char* op) {
  if (status == Status::closed) {
    s.eof = true;
    return 0;
  }
  if (status == Status::failed) s.raise(op);
  return TlsStream::would_block;
}

}  // namespace

TlsStream::TlsStream(const TlsContext& ctx, net::Conn& conn)
    : waiter_(std::make_unique<detail::ConnWaiter>(conn)),
      session_(new_session(ctx.impl_, conn.native_handle())) {}

TlsStream::TlsStream(const TlsContext& ctx, int fd, FdOwnership ownership)
    : waiter_(std::make_unique<detail::PollWaiter>(fd, ownership == FdOwnership::take)),
      session_(new_session(ctx.impl_, fd)) {}

TlsStream::~TlsStream() = default;

int TlsStream::fd() const noexcept {
  return waiter_->fd();
}
bool TlsStream::handshake_done() const noexcept {
  return session_->established;
}

void TlsStream::handshake() {
  handshake(std::chrono::steady_clock::now() + session_->context->config.handshake_timeout);
}

void TlsStream::handshake(Deadline deadline) {
  TlsSession& s = *session_;
  if (s.established) return;
  if (s.broken) {
    throw TlsError(std::make_error_code(std::errc::protocol_error),
                   "tls handshake: the connection failed earlier");
  }
  // Both directions wait under the handshake's deadline; the stream's own
  // deadlines come back however the handshake ends.
  struct Restore {
    TlsWaiter& waiter;
    TlsSession& s;
    ~Restore() {
      waiter.set_deadline(Want::read, s.read_deadline);
      waiter.set_deadline(Want::write, s.write_deadline);
    }
  } restore{*waiter_, s};
  waiter_->set_deadline(Want::read, deadline);
  waiter_->set_deadline(Want::write, deadline);
  const Status status = call_waiting(s, *waiter_, "tls handshake: deadline exceeded",
                                     [&] { return SSL_do_handshake(s.ssl); });
  if (status == Status::ok) {
    s.established = true;
    return;
  }
  if (status == Status::closed) {
    s.broken = true;
    throw TlsError(std::make_error_code(std::errc::connection_aborted),
                   "tls handshake: the client closed the connection");
  }
  if (detail::last_error_is(ERR_LIB_SSL, SSL_R_HTTP_REQUEST) ||
      detail::last_error_is(ERR_LIB_SSL, SSL_R_HTTPS_PROXY_REQUEST)) {
    ERR_clear_error();
    answer_plain_http(waiter_->fd());
    throw TlsError(std::make_error_code(std::errc::protocol_error),
                   "tls handshake: the client sent plain HTTP to the TLS port (answered 400)");
  }
  s.raise("tls handshake");
}

std::size_t TlsStream::read(void* buf, std::size_t size) {
  TlsSession& s = *session_;
  if (size == 0 || s.eof) return 0;
  if (!s.established) handshake();
  if (s.broken)
    throw TlsError(std::make_error_code(std::errc::protocol_error),
                   "tls read: the connection failed earlier");
  const std::size_t len = std::min<std::size_t>(size, INT_MAX);
  std::size_t got = 0;
  // WANT_WRITE here is a TLS 1.3 KeyUpdate answer waiting for room.
  const Status status = call_waiting(s, *waiter_, "tls read: deadline exceeded",
                                     [&] { return SSL_read_ex(s.ssl, buf, len, &got); });
  if (status == Status::closed) {
    s.eof = true;
    return 0;
  }
  if (status == Status::failed) s.raise("tls read");
  return got;
}

std::ptrdiff_t TlsStream::try_read(void* buf, std::size_t size) {
  TlsSession& s = *session_;
  if (s.eof) return 0;
  if (s.broken)
    throw TlsError(std::make_error_code(std::errc::protocol_error),
                   "tls read: the connection failed earlier");
  if (!s.established) {
    // Move the handshake on as far as it goes without waiting.
    const Status status = s.call([&] { return SSL_do_handshake(s.ssl); });
    if (status != Status::ok) return try_result(s, status, "tls handshake");
    s.established = true;
  }
  if (size == 0) return 0;
  // SSL_read, not just SSL_pending: with read_ahead, whole records may sit
  // undecrypted in OpenSSL's buffer, and a record that is not application
  // data (KeyUpdate, NewSessionTicket) is consumed and gives WANT_READ.
  // WANT_WRITE (an answer to a KeyUpdate that found the socket full) is
  // would_block too: the next read or write repeats it.
  std::size_t got = 0;
  const std::size_t len = std::min<std::size_t>(size, INT_MAX);
  const Status status = s.call([&] { return SSL_read_ex(s.ssl, buf, len, &got); });
  if (status != Status::ok) return try_result(s, status, "tls read");
  return static_cast<std::ptrdiff_t>(got);
}

void TlsStream::wait_readable() {
  TlsSession& s = *session_;
  if (s.eof || s.broken) return;  // the next try_read says so
  {
    std::lock_guard<std::mutex> lk(s.mu);
    if (SSL_has_pending(s.ssl) == 1) return;
  }
  waiter_->wait(Want::read, "tls read: deadline exceeded");
}

void TlsStream::write_all(const void* data, std::size_t size) {
  TlsSession& s = *session_;
  if (!s.established) handshake();
  if (s.broken)
    throw TlsError(std::make_error_code(std::errc::protocol_error),
                   "tls write: the connection failed earlier");
  if (s.shut)
    throw std::system_error(std::make_error_code(std::errc::broken_pipe),
                            "tls write: after shutdown_write");
  // A write that does not finish (timeout, error) leaves part of a record in
  // OpenSSL that only the same call could complete: the session is done.
  struct MarkBrokenUnlessDone {
    std::atomic<bool>& broken;
    bool done = false;
    ~MarkBrokenUnlessDone() {
      if (!done) broken = true;
    }
  } guard{s.broken};
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    // The same (p, len) is repeated after WANT_*, as OpenSSL requires.
    const std::size_t len = std::min<std::size_t>(size, INT_MAX);
    std::size_t sent = 0;
    const Status status = call_waiting(s, *waiter_, "tls write: deadline exceeded",
                                       [&] { return SSL_write_ex(s.ssl, p, len, &sent); });
    if (status == Status::closed) {
      s.broken = true;
      throw std::system_error(std::make_error_code(std::errc::broken_pipe),
                              "tls write: the client closed the connection");
    }
    if (status == Status::failed) s.raise("tls write");
    p += sent;
    size -= sent;
  }
  guard.done = true;
}

void TlsStream::writev_all(std::span<const ConstBuffer> buffers) {
  std::size_t total = 0;
  std::size_t pieces = 0;
  for (const ConstBuffer& b : buffers) {
    total += b.size;
    pieces += b.size > 0;
  }
  if (pieces <= 1) {
    for (const ConstBuffer& b : buffers) {
      if (b.size > 0) write_all(b.data, b.size);
    }
    return;
  }
  // Each SSL_write is at least one record and one send: gather the pieces
  // into full records. A piece of whole records meeting an empty stage goes
  // out directly, without the copy.
  const std::size_t capacity = std::min(total, detail::kMaxRecord);
  std::unique_ptr<char[]> stage(new char[capacity]);
  std::size_t used = 0;
  std::size_t left = total;
  for (const ConstBuffer& b : buffers) {
    const char* p = static_cast<const char*>(b.data);
    std::size_t n = b.size;
    while (n > 0) {
      if (used == 0 && n >= capacity) {
        const std::size_t direct = n == left ? n : n - n % capacity;
        write_all(p, direct);
        p += direct;
        n -= direct;
        left -= direct;
        continue;
      }
      const std::size_t take = std::min(n, capacity - used);
      std::memcpy(stage.get() + used, p, take);
      used += take;
      p += take;
      n -= take;
      left -= take;
      if (used == capacity || left == 0) {
        write_all(stage.get(), used);
        used = 0;
      }
    }
  }
}

void TlsStream::set_read_deadline(Deadline deadline) {
  session_->read_deadline = deadline;
  waiter_->set_deadline(Want::read, deadline);
}

void TlsStream::set_write_deadline(Deadline deadline) {
  session_->write_deadline = deadline;
  waiter_->set_deadline(Want::write, deadline);
}

void TlsStream::shutdown_write() {
  TlsSession& s = *session_;
  if (s.established && !s.broken && !s.shut.exchange(true)) {
    // SSL_shutdown returns 0 once close_notify is sent (the client's is not
    // awaited). A socket without room for it is waited on only within a
    // write deadline; without one, or past it, the FIN alone ends the stream.
    try {
      for (bool done = false; !done;) {
        switch (s.call([&] { return SSL_shutdown(s.ssl) >= 0 ? 1 : -1; })) {
          case Status::want_write:
            if (s.write_deadline == no_deadline) {
              done = true;
            } else {
              waiter_->wait(Want::write, "tls shutdown: deadline exceeded");
            }
            break;
          default:
            done = true;
        }
      }
    } catch (const std::exception&) {
      ERR_clear_error();
    }
  }
  waiter_->shutdown_write();
}

std::string_view TlsStream::version() const noexcept {
  return session_->established ? SSL_get_version(session_->ssl) : "";
}

std::string_view TlsStream::cipher() const noexcept {
  if (!session_->established) return "";
  const char* name = SSL_get_cipher_name(session_->ssl);
  return name ? name : "";
}

std::string_view TlsStream::alpn() const noexcept {
  const unsigned char* data = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(session_->ssl, &data, &len);
  return data ? std::string_view(reinterpret_cast<const char*>(data), len) : std::string_view();
}

bool TlsStream::session_reused() const noexcept {
  return session_->established && SSL_session_reused(session_->ssl) == 1;
}

}  // namespace cogo::http
