// tls_context.cpp: TlsContext, the server's TLS configuration (SSL_CTX).
//
// Loading is done by hand rather than with SSL_CTX_use_certificate_chain_file
// so that every mistake an operator can make gets a message naming the file
// and the problem: missing or unreadable, no PEM block of the right kind, an
// encrypted key (a server cannot prompt for it), the key of another
// certificate.
#include "cogo/http/tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "tls_internal.h"

namespace cogo::http {
namespace detail {

std::string take_openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    std::string one;
    if (const char* reason = ERR_reason_error_string(e)) {
      one = reason;
    } else {
      char buf[256];
      ERR_error_string_n(e, buf, sizeof buf);
      one = buf;
    }
    if (out.find(one) != std::string::npos) continue;
    if (!out.empty()) out += "; ";
    out += one;
  }
  return out.empty() ? "unknown error" : out;
}

bool last_error_is(int lib, int reason) {
  unsigned long e = ERR_peek_last_error();
  return e != 0 && ERR_GET_LIB(e) == lib && ERR_GET_REASON(e) == reason;
}

namespace {

// lower_first() turns "No such file or directory" into the style of our messages.
std::string lower_first(std::string s) {
  if (!s.empty() && s[0] >= 'A' && s[0] <= 'Z') s[0] = static_cast<char>(s[0] - 'A' + 'a');
  return s;
}

[[noreturn]] void config_error(std::errc code, std::string message) {
  ERR_clear_error();
  throw TlsError(std::make_error_code(code), "tls: " + std::move(message));
}

// read_pem_file() reads a whole file into memory, naming it and the errno on failure.
std::string read_pem_file(const std::string& path, const char* what) {
  if (path.empty())
    config_error(std::errc::invalid_argument, std::string("no ") + what + " file given");
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    const int err = errno;
    config_error(static_cast<std::errc>(err), std::string("cannot read ") + what + " " + path +
                                                  ": " + lower_first(std::strerror(err)));
  }
  std::string data;
  char buf[8192];
  for (;;) {
    std::size_t n = std::fread(buf, 1, sizeof buf, f);
    data.append(buf, n);
    if (n < sizeof buf) break;
    if (data.size() > (16u << 20)) {
      std::fclose(f);
      config_error(std::errc::file_too_large, std::string("cannot read ") + what + " " + path +
                                                  ": larger than 16 MiB, not a PEM file");
    }
  }
  const bool failed = std::ferror(f) != 0;
  const int err = errno;
  std::fclose(f);
  if (failed) {
    config_error(static_cast<std::errc>(err), std::string("cannot read ") + what + " " + path +
                                                  ": " + lower_first(std::strerror(err)));
  }
  return data;
}

struct BioFree {
  void operator()(BIO* b) const noexcept { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const noexcept { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

BioPtr memory_bio(const std::string& data) {
  BioPtr bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
  if (!bio) throw std::bad_alloc();
  return bio;
}

// refuse_password() is the PEM password callback: a server cannot ask for
// one, so an encrypted key is reported as such instead of prompting on a tty.
int refuse_password(char*, int, int, void* asked) {
  *static_cast<bool*>(asked) = true;
  return -1;
}

// select_alpn() accepts http/1.1 when the client offers it, and h2 first
// when the context offers it (arg non-null) and the client does: the
// server's order wins (SSL_select_next_proto). A client that offers only
// other protocols gets no ALPN answer rather than an alert; it may still
// speak HTTP/1.1 or give up itself.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void* offer_h2) {
  static const unsigned char kHttp1[] = "\x08http/1.1";
  static const unsigned char kH2Http1[] = "\x02h2\x08http/1.1";
  const unsigned char* protocols = offer_h2 != nullptr ? kH2Http1 : kHttp1;
  const unsigned int size = offer_h2 != nullptr ? sizeof kH2Http1 - 1 : sizeof kHttp1 - 1;
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, outlen, protocols, size, in, inlen) ==
      OPENSSL_NPN_NEGOTIATED) {
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

void load_certificate_chain(SSL_CTX* ctx, const std::string& path, X509Ptr& leaf) {
  const std::string pem = read_pem_file(path, "certificate");
  if (pem.find("CERTIFICATE-----") == std::string::npos) {
    config_error(std::errc::invalid_argument,
                 "cannot read certificate " + path +
                     ": no PEM certificate in it (expected -----BEGIN CERTIFICATE-----)");
  }
  BioPtr bio = memory_bio(pem);
  ERR_clear_error();
  leaf.reset(PEM_read_bio_X509_AUX(bio.get(), nullptr, nullptr, nullptr));
  if (!leaf) {
    config_error(std::errc::invalid_argument,
                 "cannot read certificate " + path + ": " + take_openssl_errors());
  }
  if (SSL_CTX_use_certificate(ctx, leaf.get()) != 1) {
    config_error(std::errc::invalid_argument,
                 "certificate " + path + " cannot be used: " + take_openssl_errors());
  }
  // The rest of the file is the chain, sent to clients after the leaf.
  SSL_CTX_clear_chain_certs(ctx);
  for (int n = 2;; ++n) {
    ERR_clear_error();
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) {
      if (last_error_is(ERR_LIB_PEM, PEM_R_NO_START_LINE)) break;  // end of file
      config_error(std::errc::invalid_argument, "cannot read certificate " + path +
                                                    ": certificate #" + std::to_string(n) +
                                                    " of the chain: " + take_openssl_errors());
    }
    if (SSL_CTX_add0_chain_cert(ctx, cert.get()) != 1) {
      config_error(std::errc::invalid_argument,
                   "certificate " + path + ": certificate #" + std::to_string(n) +
                       " of the chain cannot be used: " + take_openssl_errors());
    }
    cert.release();  // owned by ctx now
  }
  ERR_clear_error();
}

void load_private_key(SSL_CTX* ctx, const std::string& path, const std::string& cert_path,
                      X509* leaf) {
  const std::string pem = read_pem_file(path, "private key");
  // OpenSSL 3's decoders report a file without a key as "unsupported": look
  // for a PEM key block (PRIVATE KEY, RSA/EC PRIVATE KEY, ENCRYPTED ...) first.
  if (pem.find("PRIVATE KEY-----") == std::string::npos) {
    config_error(std::errc::invalid_argument,
                 "cannot read private key " + path +
                     ": no PEM private key in it (expected -----BEGIN PRIVATE KEY-----)");
  }
  BioPtr bio = memory_bio(pem);
  bool asked_password = false;
  ERR_clear_error();
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, refuse_password, &asked_password));
  if (!key) {
    if (asked_password) {
      config_error(std::errc::invalid_argument,
                   "cannot read private key " + path +
                       ": it is encrypted; give an unencrypted key (openssl pkey -in " + path +
                       " -out plain.pem)");
    }
    if (last_error_is(ERR_LIB_PEM, PEM_R_NO_START_LINE)) {
      config_error(std::errc::invalid_argument,
                   "cannot read private key " + path +
                       ": no PEM private key in it (expected -----BEGIN PRIVATE KEY-----)");
    }
    config_error(std::errc::invalid_argument,
                 "cannot read private key " + path + ": " + take_openssl_errors());
  }
  if (X509_check_private_key(leaf, key.get()) != 1) {
    config_error(std::errc::invalid_argument,
                 "private key " + path + " does not match certificate " + cert_path);
  }
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    config_error(std::errc::invalid_argument,
                 "private key " + path + " cannot be used: " + take_openssl_errors());
  }
}

}  // namespace

}  // namespace detail

// ---------------------------------------------------------------------------
// TlsContext

TlsContext::TlsContext(const TlsConfig& config, bool offer_h2) {
  auto impl = std::make_shared<detail::TlsContextImpl>();
  impl->config = config;
  ERR_clear_error();
  impl->ctx = SSL_CTX_new(TLS_server_method());
  if (impl->ctx == nullptr) {
    detail::config_error(std::errc::not_enough_memory,
                         "cannot create a context: " + detail::take_openssl_errors());
  }
  SSL_CTX* ctx = impl->ctx;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
  // Ciphers: OpenSSL's defaults (the system policy's security level), in the
  // server's order. No renegotiation (a TLS 1.2 DoS vector; TLS 1.3 has
  // none). A TCP FIN without close_notify reads as end of input: HTTP/1.1
  // frames its own messages, so a truncated body is caught there, and many
  // clients close that way.
  SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_COMPRESSION);
  // Partial writes: SSL_write returns after each record, so write_all moves
  // on by what was sent; the buffer may be a different copy of the same
  // bytes on retry; an idle connection gives its 34 KiB of record buffers back.
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
  // read_ahead: one recv() fetches as many records as fit in the buffer, not
  // a header and then a body. try_read() still sees buffered records: it
  // always asks SSL_read, never only SSL_pending.
  SSL_CTX_set_read_ahead(ctx, 1);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
  static const unsigned char kSessionContext[] = "cogo";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
  // Any non-null argument says "offer h2" (select_alpn).
  static int offer;
  SSL_CTX_set_alpn_select_cb(ctx, detail::select_alpn, offer_h2 ? &offer : nullptr);

  detail::X509Ptr leaf;
  detail::load_certificate_chain(ctx, config.cert_file, leaf);
  detail::load_private_key(ctx, config.key_file, config.cert_file, leaf.get());
  impl_ = std::move(impl);
}

std::chrono::milliseconds TlsContext::handshake_timeout() const noexcept {
  return impl_->config.handshake_timeout;
}
const std::string& TlsContext::cert_file() const noexcept {
  return impl_->config.cert_file;
}
const std::string& TlsContext::key_file() const noexcept {
  return impl_->config.key_file;
}

}  // namespace cogo::http
