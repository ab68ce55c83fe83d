// cogo/middleware/basic_auth.h: HTTP Basic authentication (RFC 7617)
// against a file of password hashes (crypt(3), or salted SHA-256).
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
// and lines starting with '#' ignored. The hash is either
// - crypt(3)'s, checked by libxcrypt: yescrypt ($y$), bcrypt ($2b$, $2y$,
//   $2a$), sha512crypt ($6$), sha256crypt ($5$), scrypt ($7$),
//   gost-yescrypt ($gy$). Make one with `mkpasswd -m yescrypt` (Debian's
//   whois package), `htpasswd -nB name` (bcrypt) or `openssl passwd -6`;
// - or salted SHA-256 as OpenLDAP's slappasswd writes it (RFC 2307's
//   {SCHEME} prefix): {SSHA256}base64(SHA-256(password + salt) + salt),
//   the salt 8 bytes or more. With openssl and coreutils:
//     openssl rand 16 > salt
//     { printf %s "$pw"; cat salt; } | openssl dgst -sha256 -binary > digest
//     echo "ann:{SSHA256}$(cat digest salt | base64 -w0)"
// Refused when the file is read, naming file and line: legacy crypt
// methods (DES, md5crypt $1$, Apache's $apr1$), unsalted or weak digests
// ({SHA256}, {SHA}, {SSHA}, {MD5}, {SMD5}), plain text ({PLAIN},
// {CLEARTEXT}), an unknown {SCHEME}, bad base64, a {SSHA256} value shorter
// than digest + 8 bytes of salt, a name the UsernameCasePreserved profile
// refuses, a name twice (after that profile).
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
//   offered, 2.1), or a user-id or password the PRECIS profile of 2.1
//   refuses (below). None of these runs a hash.
// - More than one Authorization field: 400 Bad Request (it is no list).
// - Right ones: the request goes on with an AuthenticatedUser value
//   (cogo/middleware/authenticated_user.h; the access log's "user").
// Credentials are never logged or echoed.
//
// PRECIS (RFC 7617 2.1): the user-id is enforced by RFC 8265 3.4's
// UsernameCasePreserved profile (each space-separated userpart: fullwidth
// and halfwidth forms to their decompositions, NFC, the Bidi Rule,
// IdentifierClass), the password by 4.2's OpaqueString (non-ASCII spaces
// to U+0020, NFC, FreeformClass), with ICU's Unicode data; the file's
// names go through the same profile when it is read, so "jose\u0301" in
// the file is the client's "jos\u00e9". A hash in the file is of the
// password as OpaqueString leaves it (NFC; what keyboards type). Names
// are then compared byte for byte; passwords through the hash and a
// constant-time comparison (CRYPTO_memcmp); an unknown user costs a hash
// computation too (a crypt(3) one if the file has any), so timing does
// not tell which users exist.
//
// Cost. {SSHA256} costs one SHA-256 (a microsecond, on the goroutine;
// fast hashes are cheap to guess offline too: prefer yescrypt or bcrypt
// where the file may leak). crypt(3) is slow on purpose (bcrypt at cost 10 and yescrypt take
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
  // More users (name, hash as in the file), beside the file's.
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
  // checks() counts password hashes computed so far (crypt(3) and
  // SHA-256); checks_in_flight() the crypt(3) runs running now.
  std::uint64_t checks() const noexcept;
  std::size_t checks_in_flight() const noexcept;

  class Authenticator;

 private:
  std::shared_ptr<Authenticator> auth_;
};

// basic_auth() is BasicAuth(options).middleware().
http::Middleware basic_auth(BasicAuthOptions options);

}  // namespace cogo::middleware
