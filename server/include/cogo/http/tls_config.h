// cogo/http/tls_config.h: what a TLS listener is configured with
// (TlsConfig, part of ServerOptions) and what a TLS failure throws.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <system_error>

namespace cogo::http {

// TlsError is a TLS failure: a certificate or key that cannot be used (from
// TlsContext), or a handshake or record error (from TlsStream: a client that
// speaks plain HTTP or an unsupported version, a bad record MAC). what() is
// the whole message, with OpenSSL's reason ("tls handshake: wrong version
// number"). It is a std::system_error, so the HTTP engine treats a failed
// record like any other I/O error: the connection ends quietly.
class TlsError : public std::system_error {
 public:
  TlsError(std::error_code ec, std::string what)
      : std::system_error(ec), what_(std::make_shared<const std::string>(std::move(what))) {}
  const char* what() const noexcept override { return what_->c_str(); }

 private:
  std::shared_ptr<const std::string> what_;  // shared: copying an exception must not throw
};

// TlsConfig: the server's certificate and key, and its handshake timeout.
struct TlsConfig {
  // cert_file: PEM, the server's certificate followed by any intermediate
  // certificates of its chain.
  std::string cert_file;
  // key_file: PEM, the certificate's private key, unencrypted.
  std::string key_file;
  // handshake_timeout bounds TlsStream::handshake() (without an argument): a
  // client that connects and stalls in the handshake is cut off.
  std::chrono::milliseconds handshake_timeout{10'000};
};

}  // namespace cogo::http
