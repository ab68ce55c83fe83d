// cogo/middleware/request_id.h: an id per request, for the logs and for
// the client to quote (chi's RequestID).
//
//   server.use(cogo::middleware::request_id());    // outermost, or after heartbeat
//   ... cogo::middleware::request_id_of(req)       // "kd3x9q2m7a1p4-00000000002a"
//
// What it does:
// - Keeps the incoming X-Request-Id when it is sane: 1 to 128 characters,
//   each visible ASCII (0x21-0x7E), so a proxy's or a client's id runs
//   through the system. Anything else (empty, longer, a space, a control
//   or non-ASCII byte) is replaced.
// - Else makes one unique across processes and restarts: 13 characters
//   from 64 random bits drawn per process (again after fork), a '-', and a
//   per-process counter in 12 hex digits. Making one takes no lock and
//   no system call.
// - Attaches it to the request as a RequestId value (request_id_of()
//   reads it; access_log and recover print it) and sets X-Request-Id on
//   the response before the handler runs (a streamed response carries it)
//   and again after, if the answer lost it (recover's 500).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "cogo/http/handler.h"

namespace cogo::http {
class Request;
}

namespace cogo::middleware {

struct RequestIdOptions {
  // The field read and written.
  std::string header = "X-Request-Id";
  // Keep a sane incoming id; false: always make a new one (an untrusted
  // edge that must not let clients choose ids).
  bool trust_incoming = true;
};

// RequestId: the request value request_id() attaches.
struct RequestId {
  static constexpr std::size_t kMaxLength = 128;
  char data[kMaxLength];
  std::size_t size = 0;
  std::string_view view() const noexcept { return {data, size}; }
};

// request_id() throws std::invalid_argument for a header name that is not
// an RFC 9110 token.
http::Middleware request_id(RequestIdOptions options = {});

// request_id_of() is the request's id, empty when request_id() did not run.
std::string_view request_id_of(const http::Request& req) noexcept;

// new_request_id() writes a new id (the form above) into out, which must
// hold 26 characters, and returns its length.
std::size_t new_request_id(char* out) noexcept;

}  // namespace cogo::middleware
