// cogo/middleware/basic_auth.h: HTTP Basic authentication (RFC 7617)
// against a file of crypt(3) password hashes.
//
//   cogo::middleware::BasicAuthOptions o;
//   o.realm = "admin";
//   o.users_file = "/etc/cogo/users";     // "ann:$y$j9T$...", one user a line
//   router.group("/admin", [&](Router& admin) {
//     admin.use(cogo::middleware::basic_auth(o));
//     ...
//   });
//
// The users file: one "name:hash" a line (htpasswd's shape), blank lines
// and lines starting with '#' ignored. The hash is crypt(3)'s, checked by
// libxcrypt: yescrypt ($y$), bcrypt ($2b$, $2y$, $2a$), sha512crypt ($6$),
// sha256crypt ($5$), scrypt ($7$), gost-yescrypt ($gy$). Make one with
// `mkpasswd -m yescrypt` (Debian's whois package), `htpasswd -nB name`
// (bcrypt) or `openssl passwd -6`. Legacy methods (DES, md5crypt $1$,
// Apache's $apr1$) are refused when the file is read.
//
// What it answers:
// - No Authorization field, another scheme, an unknown user or a wrong
//   password: 401 Unauthorized, body "Unauthorized\n", with
//     WWW-Authenticate: Basic realm="<realm>", charset="UTF-8"
//   (RFC 7617 2 and 2.1, RFC 9110 11.6.1); the rest of the chain does not
//   run. Malformed credentials are invalid ones (RFC 9110 11.6.2): the
//   same 401, the body naming what is wrong ("Unauthorized: malformed
//   Basic credentials: ..."): not base64, no ':' after the user-id, a
//   control character (RFC 7617 2 forbids them), not UTF-8 (the charset
//   offered, 2.1). None of these runs crypt(3).
// - More than one Authorization field: 400 Bad Request (it is no list).
// - Right ones: the request goes on with an AuthenticatedUser value
//   (cogo/middleware/authenticated_user.h; the access log's "user").
// Credentials are never logged or echoed. User-ids are compared byte for
// byte (no NFC / PRECIS normalization: a client that follows 2.1 sends
// NFC, and the hash in the file must be of the NFC form), passwords
// through crypt(3) and a
// constant-time comparison; an unknown user costs a hash computation too,
// so timing does not tell which users exist.
//
// Cost. crypt(3) is slow on purpose (bcrypt at cost 10 and yescrypt take
// 50-100 ms of CPU): it runs in cogo::blocking(), so it never holds a P,
// and at most max_concurrent_checks at once (the rest wait in line, a
// cancellation point), so a flood of guesses cannot spawn a thread each.
// A check that passed is remembered for cache_ttl as an HMAC-SHA-256 of
// user and password under a key drawn at start (never the password
// itself): the next requests with the same credentials cost one HMAC
// (about a microsecond). A failed check is never cached. Set cache_ttl to
// 0 to check every request.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cogo/http/handler.h"
#include "cogo/middleware/authenticated_user.h"

namespace cogo::middleware {

struct BasicAuthOptions {
  std::string realm = "restricted";  // visible ASCII and spaces
  std::string users_file;            // read once, by basic_auth()
  // More users (name, crypt hash), beside the file's.
  std::vector<std::pair<std::string, std::string>> users;
  std::chrono::seconds cache_ttl{300};
  std::size_t max_concurrent_checks = 0;  // 0: the CPUs this process may use
};

// BasicAuth: the authenticator, for the caller that wants to watch it.
class BasicAuth {
 public:
  // BasicAuth() reads the users; throws std::invalid_argument naming the
  // file and line of a bad entry (a missing ':', an unsupported or legacy
  // hash, a repeated name), a file it cannot read, a bad realm, or no
  // users.
  explicit BasicAuth(BasicAuthOptions options);
  ~BasicAuth();
  http::Middleware middleware() const;
  // checks() counts crypt(3) runs so far; checks_in_flight() those
  // running now.
  std::uint64_t checks() const noexcept;
  std::size_t checks_in_flight() const noexcept;

  class Authenticator;

 private:
  std::shared_ptr<Authenticator> auth_;
};

// basic_auth() is BasicAuth(options).middleware().
http::Middleware basic_auth(BasicAuthOptions options);

}  // namespace cogo::middleware
