// cogo/http/tls.h: TLS (OpenSSL) for both connection models — the server's
// own (a user configures TLS with TlsConfig, cogo/http/tls_config.h).
//
//   cogo::http::TlsContext tls({.cert_file = "cert.pem", .key_file = "key.pem"});
//   // goroutine model: over a netpoll connection
//   cogo::http::TlsStream stream(tls, conn);
//   stream.handshake();                 // bounded by tls.handshake_timeout()
//   cogo::http::serve_http1(stream, handler);
//   // thread model: over a socket the thread owns (or only borrows:
//   // TlsStream(tls, fd, TlsStream::FdOwnership::borrow))
//   cogo::http::TlsStream stream(tls, fd);
//
// One implementation serves both models. OpenSSL drives the socket itself
// through non-blocking send/recv; when it reports WANT_READ or WANT_WRITE the
// stream waits for the socket (parking the goroutine on the netpoller, or
// blocking the thread in poll(2)) and repeats the same call with the same
// arguments, as OpenSSL requires. Only TLS 1.2 and 1.3 are spoken; ALPN
// selects `http/1.1`.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

#include "cogo/http/stream.h"
#include "cogo/http/tls_config.h"

namespace cogo::net {
class Conn;
}

namespace cogo::http {

namespace detail {
struct TlsContextImpl;  // the SSL_CTX (src/tls_context.cpp)
struct TlsSession;      // the SSL and its socket glue (src/tls_stream.cpp)
class TlsWaiter;        // how a stream waits for its socket (src/tls_stream.cpp)
}  // namespace detail

// TlsContext: a server-side TLS configuration shared by every connection
// (OpenSSL's SSL_CTX). Cheap to copy (copies share it); thread-safe.
class TlsContext {
 public:
  // TlsContext() loads the certificate chain and key and checks that they
  // belong together. Throws TlsError naming the file and what is wrong:
  // "tls: cannot read certificate /x.pem: no such file or directory",
  // "tls: private key /k.pem does not match certificate /c.pem".
  // offer_h2: ALPN offers "h2" before "http/1.1" (HttpOptions::h2).
  explicit TlsContext(const TlsConfig& config, bool offer_h2 = false);

  std::chrono::milliseconds handshake_timeout() const noexcept;
  const std::string& cert_file() const noexcept;
  const std::string& key_file() const noexcept;

 private:
  friend class TlsStream;
  std::shared_ptr<const detail::TlsContextImpl> impl_;
};

// TlsStream: the server side of one TLS connection, as the HTTP engine's
// Stream. Not copyable or movable (OpenSSL holds on to it); a server keeps
// it on the connection's goroutine or behind a pointer.
//
// The handshake runs in handshake(), or else in the first read() or write
// (bounded by the context's handshake timeout). Errors: a passed deadline
// throws TimeoutError, a TLS protocol failure TlsError, a socket failure
// std::system_error; end of input (the client's close_notify, or its TCP FIN
// without one: HTTP/1.1 frames its own messages) is a 0 read.
class TlsStream final : public Stream {
 public:
  // TlsStream(ctx, conn): goroutine model. Borrows conn, which must outlive
  // the stream. Waits park the goroutine; the deadlines set through this
  // stream become conn's (handshake() sets its own on conn meanwhile, then
  // puts the stream's back).
  TlsStream(const TlsContext& ctx, net::Conn& conn);
  // TlsStream(ctx, fd): thread model. Takes ownership of fd, a connected
  // stream socket (blocking or not: the stream never blocks in send/recv),
  // or with FdOwnership::borrow only uses it (the caller closes it after the
  // stream is gone); waits block the thread in poll(2).
  enum class FdOwnership { take, borrow };
  TlsStream(const TlsContext& ctx, int fd, FdOwnership ownership = FdOwnership::take);
  ~TlsStream() override;
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  // handshake() completes the server handshake by deadline (no argument:
  // now + the context's handshake_timeout). Throws TimeoutError when the
  // client stalls past it, TlsError when it speaks something else: a plain
  // HTTP request first gets a plain "400 Bad Request" telling that this
  // port speaks TLS. The read and write deadlines are restored afterwards.
  // Calling it again after success does nothing.
  void handshake(Deadline deadline);
  void handshake();
  bool handshake_done() const noexcept;

  std::size_t read(void* buf, std::size_t size) override;
  // try_read() never waits: decrypted bytes OpenSSL already holds, else one
  // non-blocking attempt to read a record. A record that carries no
  // application data (a TLS 1.3 KeyUpdate or session ticket) gives
  // would_block, not a wait.
  std::ptrdiff_t try_read(void* buf, std::size_t size) override;
  // wait_readable() waits for the socket unless OpenSSL holds input
  // already (a record read ahead); try_read() then decrypts it.
  void wait_readable() override;
  void write_all(const void* data, std::size_t size) override;
  // writev_all() packs small buffers into full records (up to 16 KiB each)
  // so a response head and body go out in one record and one send.
  void writev_all(std::span<const ConstBuffer> buffers) override;
  void set_read_deadline(Deadline deadline) override;
  void set_write_deadline(Deadline deadline) override;
  // shutdown_write() sends close_notify, then half-closes the socket. It
  // never waits for the client's close_notify, and for room in the socket
  // only within the write deadline (without one it does not wait at all).
  void shutdown_write() override;
  int native_fd() const noexcept override { return fd(); }
  bool secure() const noexcept override { return true; }

  // After the handshake: the negotiated protocol version ("TLSv1.3"), the
  // cipher suite, and the ALPN protocol ("http/1.1", or "" if the client
  // offered none).
  std::string_view version() const noexcept;
  std::string_view cipher() const noexcept;
  std::string_view alpn() const noexcept;
  // session_reused() tells whether the client resumed an earlier session.
  bool session_reused() const noexcept;

  // fd() is the socket.
  int fd() const noexcept;

 private:
  std::unique_ptr<detail::TlsWaiter> waiter_;
  std::unique_ptr<detail::TlsSession> session_;
};

}  // namespace cogo::http
