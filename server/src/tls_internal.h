// tls_internal.h: what tls_context.cpp and tls_stream.cpp share.
#pragma once

#include <openssl/ssl.h>

#include <string>

#include "cogo/http/tls.h"

namespace cogo::http::detail {

// TlsContextImpl: the SSL_CTX behind a TlsContext, shared by its copies and
// by every TlsStream made from it. Immutable once built: OpenSSL locks what
// it changes itself (the session cache).
struct TlsContextImpl {
  SSL_CTX* ctx = nullptr;
  TlsConfig config;

  ~TlsContextImpl() { SSL_CTX_free(ctx); }
};

// take_openssl_errors() empties this thread's OpenSSL error queue into one
// line: the distinct reasons, oldest (usually the cause) first.
std::string take_openssl_errors();

// last_error_is() tells whether the newest queued OpenSSL error is lib/reason.
bool last_error_is(int lib, int reason);

}  // namespace cogo::http::detail
