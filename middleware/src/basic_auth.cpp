// basic_auth.cpp: cogo/middleware/basic_auth.h says what it does and why
// it costs what it costs.
#include "cogo/middleware/basic_auth.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/random.h>

#include <atomic>
#include <cctype>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "cogo/http/field.h"
#include "cogo/http/request.h"
#include "cogo/http/response.h"
#include "cogo/runtime.h"
#include "permits.h"
#include "precis.h"
#include "utf8.h"
#include "wiping.h"

namespace cogo::middleware {
namespace {

using detail::WipedBytes;
using detail::wipe_string;

constexpr std::size_t kDigest = 32;       // HMAC-SHA-256, SHA-256
constexpr std::size_t kMinSaltBytes = 8;  // {SSHA256}: slappasswd's pw-sha2 draws 8

// Scheme: how a user's password is checked.
enum class Scheme {
  kCrypt,    // crypt(3) through libxcrypt; slow on purpose, in cogo::blocking()
  kSsha256,  // {SSHA256}: SHA-256(password + salt), compared in constant time
};

// User: one line of the users file and what a passed check left behind.
struct User {
  std::string name;  // as RFC 8265 3.4.2 enforced it
  std::string hash;  // kCrypt: crypt(3)'s output
  Scheme scheme = Scheme::kCrypt;
  std::string salt;          // kSsha256
  std::string sha256;        // kSsha256: SHA-256(password + salt), 32 bytes
  mutable std::mutex mutex;  // guards the cache below; never held across a wait
  mutable unsigned char digest[kDigest] = {};
  mutable std::int64_t expires_ns = 0;  // 0: nothing cached
};

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// equal_constant_time() compares without a data-dependent early exit
// (the lengths of crypt outputs and digests are not secret).
bool equal_constant_time(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// decode_base64() decodes RFC 4648 section 4 base64 with its padding;
// false for anything else.
// Bytes: std::string for the users file, WipedBytes for credentials.
template <class Bytes>
bool decode_base64(std::string_view in, Bytes& out) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  out.clear();
  if (in.empty() || in.size() % 4 != 0) return false;
  out.reserve(in.size() / 4 * 3);  // grown once: no freed block with a prefix
  for (std::size_t i = 0; i < in.size(); i += 4) {
    const bool last = i + 4 == in.size();
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = in[i + k];
      if (c == '=' && last && k >= 2) {
        v[k] = 0;
        ++pad;
        continue;
      }
      if (pad > 0) return false;  // data after padding
      v[k] = value(c);
      if (v[k] < 0) return false;
    }
    const unsigned n = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out.push_back(static_cast<char>(n >> 16));
    if (pad < 2) out.push_back(static_cast<char>((n >> 8) & 0xff));
    if (pad < 1) out.push_back(static_cast<char>(n & 0xff));
  }
  return true;
}

// has_control() tells whether s holds a CTL (RFC 5234 B.1: 0x00-0x1F,
// 0x7F).
bool has_control(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

// bad_entry() throws the error of a bad users entry, naming where it is.
[[noreturn]] void bad_entry(const std::string& where, const std::string& what) {
  throw std::invalid_argument("basic_auth: " + where + ": " + what);
}

// quoted() is s as an RFC 9110 quoted-string.
std::string quoted(std::string_view s) {
  std::string q = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') q.push_back('\\');
    q.push_back(c);
  }
  q.push_back('"');
  return q;
}

}  // namespace

class BasicAuth::Authenticator {
 public:
  explicit Authenticator(BasicAuthOptions o)
      : ttl_ns_(std::chrono::duration_cast<std::chrono::nanoseconds>(o.cache_ttl).count()),
        checks_(o.max_concurrent_checks != 0 ? o.max_concurrent_checks
                                             : std::max(1u, std::thread::hardware_concurrency())) {
    for (unsigned char c : o.realm) {
      if (c < 0x20 || c == 0x7f)
        throw std::invalid_argument("basic_auth: the realm has a control character");
    }
    challenge_ = "Basic realm=" + quoted(o.realm) + ", charset=\"UTF-8\"";
    if (!o.users_file.empty()) read_file(o.users_file);
    for (auto& [name, hash] : o.users) add(name, hash, "option users");
    if (users_.empty())
      throw std::invalid_argument("basic_auth: no users (give users_file or users)");
    if (getrandom(key_, sizeof key_, 0) != static_cast<ssize_t>(sizeof key_))
      throw std::runtime_error("basic_auth: getrandom failed; no key for the credential cache");
    // An unknown user costs the check of a known one, a crypt(3) one if
    // there is any (timing does not tell which names exist, unless the
    // file mixes methods of different cost).
    for (const auto& [name, u] : users_) {
      if (dummy_ == nullptr || u->scheme == Scheme::kCrypt) dummy_ = u.get();
    }
  }

  // check() tells whether user and password (both enforced by the PRECIS
  // profiles of RFC 8265) are right; may wait (a cancellation point) and
  // block its thread in crypt(3) inside cogo::blocking().
  const User* check(std::string_view user, std::string_view password) {
    auto it = users_.find(user);
    const User* u = it != users_.end() ? it->second.get() : nullptr;
    unsigned char digest[kDigest];
    if (u != nullptr && ttl_ns_ > 0) {
      hmac(user, password, digest);
      std::lock_guard lock(u->mutex);
      if (u->expires_ns > now_ns() && CRYPTO_memcmp(u->digest, digest, kDigest) == 0) return u;
    }
    // A password with a NUL would reach crypt(3) cut short: never right.
    const bool nul = password.find('\0') != std::string_view::npos;
    const User& against = u != nullptr ? *u : *dummy_;
    const bool ok = against.scheme == Scheme::kSsha256 ? ssha256_matches(against, password)
                                                       : crypt_matches(against, password);
    if (!ok || nul || u == nullptr) return nullptr;
    if (ttl_ns_ > 0) {
      std::lock_guard lock(u->mutex);
      std::memcpy(u->digest, digest, kDigest);
      u->expires_ns = now_ns() + ttl_ns_;
    }
    return u;
  }

  const std::string& challenge() const { return challenge_; }
  std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  std::size_t in_flight() const { return in_flight_.load(std::memory_order_relaxed); }

 private:
  void hmac(std::string_view user, std::string_view password, unsigned char* out) const {
    std::string msg;
    msg.reserve(user.size() + 1 + password.size());
    msg.append(user).push_back('\0');
    msg.append(password);
    unsigned int len = kDigest;
    HMAC(EVP_sha256(), key_, sizeof key_, reinterpret_cast<const unsigned char*>(msg.data()),
         msg.size(), out, &len);
    OPENSSL_cleanse(msg.data(), msg.size());
  }

  // crypt_matches() runs crypt(3) with u's hash as the setting, in
  // cogo::blocking() and at most max_concurrent_checks at once.
  bool crypt_matches(const User& u, std::string_view password) {
    // crypt(3) wants a C string: a wiped copy (wiping.h).
    WipedBytes phrase(password.begin(), password.end());
    phrase.push_back('\0');
    checks_.acquire();
    struct Release {
      Authenticator& a;
      ~Release() {
        a.in_flight_.fetch_sub(1, std::memory_order_relaxed);
        a.checks_.release();
      }
    } release{*this};
    in_flight_.fetch_add(1, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
    return cogo::blocking([&] {
      auto data = std::make_unique<crypt_data>();
      const char* out = crypt_rn(phrase.data(), u.hash.c_str(), data.get(), sizeof *data);
      const bool match = out != nullptr && equal_constant_time(out, u.hash);
      OPENSSL_cleanse(data.get(), sizeof *data);
      return match;
    });
  }

  // ssha256_matches() compares SHA-256(password + salt) with u's digest in
  // constant time (CRYPTO_memcmp); a microsecond, so on the goroutine.
  bool ssha256_matches(const User& u, std::string_view password) {
    count_.fetch_add(1, std::memory_order_relaxed);
    unsigned char md[kDigest];
    unsigned int len = 0;
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    const bool hashed = ctx != nullptr && EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1 &&
                        EVP_DigestUpdate(ctx, password.data(), password.size()) == 1 &&
                        EVP_DigestUpdate(ctx, u.salt.data(), u.salt.size()) == 1 &&
                        EVP_DigestFinal_ex(ctx, md, &len) == 1 && len == kDigest;
    EVP_MD_CTX_free(ctx);
    const bool match = hashed && CRYPTO_memcmp(md, u.sha256.data(), kDigest) == 0;
    OPENSSL_cleanse(md, sizeof md);
    return match;
  }

  void read_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::invalid_argument("basic_auth: cannot read the users file " + path);
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty() || line.front() == '#') continue;
      const std::size_t colon = line.find(':');
      const std::string where = path + ":" + std::to_string(n);
      if (colon == std::string::npos || colon == 0)
        throw std::invalid_argument("basic_auth: " + where + ": not \"name:hash\"");
      add(line.substr(0, colon), line.substr(colon + 1), where);
    }
  }

  // add() takes one user: the name enforced as the clients' are (RFC 8265
  // 3.4.2, so a file written with a decomposed name matches a client
  // sending the composed one), the hash parsed; throws naming where.
  void add(const std::string& raw_name, const std::string& hash, const std::string& where) {
    auto fail = [&](const std::string& what) { bad_entry(where, what); };
    if (raw_name.empty() || raw_name.find(':') != std::string::npos)
      fail("a user name is not empty and has no ':'");
    auto u = std::make_unique<User>();
    if (const char* why = detail::enforce_username(raw_name, u->name))
      fail(std::string("the user name is not a UsernameCasePreserved string (RFC 8265 3.4): ") +
           why);
    const std::string& name = u->name;
    if (!hash.empty() && hash.front() == '{') {
      parse_scheme(*u, hash, where);
    } else {
      switch (crypt_checksalt(hash.c_str())) {
        case CRYPT_SALT_OK:
          break;
        case CRYPT_SALT_METHOD_LEGACY:
          bad_entry(where, "user " + name +
                               " has a legacy hash (DES or md5crypt); use yescrypt, bcrypt or "
                               "sha512crypt (mkpasswd -m yescrypt, htpasswd -nB) or {SSHA256}");
        default:
          fail("user " + name + " has no crypt(3) hash this libxcrypt supports (" +
               (hash.rfind("$apr1$", 0) == 0 ? std::string("Apache's $apr1$ is not one")
                                             : "yescrypt $y$, bcrypt $2b$, sha512crypt $6$ ...") +
               ") and no {SSHA256}");
      }
      u->hash = hash;
    }
    if (users_.count(name) != 0)
      fail("user " + name + " appears twice (names compare after RFC 8265 3.4.2)");
    const std::string_view key = u->name;
    users_.emplace(key, std::move(u));
  }

  // parse_scheme() reads an RFC 2307-style "{SCHEME}value" hash: only
  // {SSHA256} = base64(SHA-256(password + salt) + salt), salt of at least
  // kMinSaltBytes; the unsalted and weak ones are refused by name.
  static void parse_scheme(User& u, const std::string& hash, const std::string& where) {
    auto fail = [&](const std::string& what) { bad_entry(where, what); };
    const std::size_t close = hash.find('}');
    if (close == std::string::npos) fail("user " + u.name + ": a '{' with no scheme name");
    std::string scheme = hash.substr(1, close - 1);
    for (char& c : scheme) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    const std::string value = hash.substr(close + 1);
    const std::string is = "user " + u.name + " has {" + scheme + "}: ";
    if (scheme == "SHA256" || scheme == "SHA" || scheme == "SHA512" || scheme == "MD5")
      fail(is + "an unsalted digest, refused; use {SSHA256} or a crypt(3) hash");
    if (scheme == "SSHA" || scheme == "SMD5")
      fail(is + "a salted SHA-1 or MD5 digest, refused; use {SSHA256} or a crypt(3) hash");
    if (scheme == "PLAIN" || scheme == "CLEARTEXT")
      fail(is + "a plain-text password, refused; use {SSHA256} or a crypt(3) hash");
    if (scheme != "SSHA256")
      fail(is + "an unknown scheme; the file takes {SSHA256} and crypt(3) hashes");
    std::string raw;
    if (!decode_base64(value, raw)) fail(is + "the value is not base64 (RFC 4648 4)");
    if (raw.size() < kDigest + kMinSaltBytes)
      fail(is + "the value is " + std::to_string(raw.size()) +
           " bytes; it is a 32-byte SHA-256 digest then a salt of at least " +
           std::to_string(kMinSaltBytes) + " bytes");
    u.scheme = Scheme::kSsha256;
    u.sha256 = raw.substr(0, kDigest);
    u.salt = raw.substr(kDigest);
  }

  std::unordered_map<std::string_view, std::unique_ptr<User>> users_;  // keys view the Users
  std::string challenge_;
  const User* dummy_ = nullptr;  // for unknown users: the same work as a known one
  unsigned char key_[32];
  std::int64_t ttl_ns_;
  detail::Semaphore checks_;
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::size_t> in_flight_{0};
};

BasicAuth::BasicAuth(BasicAuthOptions options)
    : auth_(std::make_shared<Authenticator>(std::move(options))) {}
BasicAuth::~BasicAuth() = default;
std::uint64_t BasicAuth::checks() const noexcept {
  return auth_->count();
}
std::size_t BasicAuth::checks_in_flight() const noexcept {
  return auth_->in_flight();
}

http::Middleware basic_auth(BasicAuthOptions options) {
  return BasicAuth(std::move(options)).middleware();
}

http::Middleware BasicAuth::middleware() const {
  return [auth = auth_](http::Request& req, http::Response& res, const http::Next& next) {
    // refuse() is the 401 of RFC 9110 11.6.2 (missing, invalid or wrong
    // credentials), with the challenge 15.5.2 requires; why is for the
    // client, never the credentials themselves.
    auto refuse = [&](std::string_view why = {}) {
      res.set_header("WWW-Authenticate", auth->challenge());
      res.text(401, why.empty() ? std::string("Unauthorized\n")
                                : "Unauthorized: " + std::string(why) + "\n");
    };
    std::string_view value;
    int fields = 0;
    for (const http::Field& f : req.header_fields()) {
      if (http::iequals(f.name, "Authorization")) {
        value = f.value;
        ++fields;
      }
    }
    if (fields == 0) return refuse();
    // Authorization is no list (RFC 9110 11.6.2, 5.3): two are a bad request.
    if (fields > 1) return res.text(400, "more than one Authorization field\n");
    // credentials = auth-scheme 1*SP token68 (RFC 9110 11.4, RFC 7617 2).
    const std::size_t space = value.find(' ');
    if (space == std::string_view::npos || !http::iequals(value.substr(0, space), "Basic"))
      return refuse();
    std::string_view token = value.substr(space);
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    WipedBytes decoded;  // wiped when freed, a failed decoding's prefix too
    if (!decode_base64(token, decoded))
      return refuse("malformed Basic credentials (not base64, RFC 7617 2)");
    const std::string_view user_pass(decoded.data(), decoded.size());
    const std::size_t colon = user_pass.find(':');
    // RFC 7617 2: user-pass = user-id ":" password, neither with a control
    // character; 2.1: with charset="UTF-8" offered, UTF-8.
    const char* bad = colon == std::string::npos       ? "no ':' after the user-id"
                      : has_control(user_pass)         ? "a control character (RFC 7617 2)"
                      : !detail::valid_utf8(user_pass) ? "not UTF-8 (RFC 7617 2.1)"
                                                       : nullptr;
    if (bad != nullptr) {
      OPENSSL_cleanse(decoded.data(), decoded.size());
      return refuse(std::string("malformed Basic credentials: ") + bad);
    }
    // RFC 7617 2.1: charset="UTF-8" offered, the user-id is compared as
    // RFC 8265 3.4's UsernameCasePreserved enforces it, the password as
    // 4.2's OpaqueString does (the users file's names went the same way).
    std::string name;
    std::string password;
    const char* bad_name = detail::enforce_username(user_pass.substr(0, colon), name);
    const char* bad_password =
        bad_name != nullptr ? nullptr
                            : detail::enforce_password(user_pass.substr(colon + 1), password);
    OPENSSL_cleanse(decoded.data(), decoded.size());
    if (bad_name != nullptr || bad_password != nullptr) {
      wipe_string(password);
      return refuse(std::string("malformed Basic credentials: ") +
                    (bad_name != nullptr
                         ? "the user-id (RFC 8265 3.4): " + std::string(bad_name)
                         : "the password (RFC 8265 4.2): " + std::string(bad_password)));
    }
    const User* user = auth->check(name, password);
    wipe_string(password);
    if (user == nullptr) return refuse();
    req.set_value<AuthenticatedUser>(AuthenticatedUser{user->name});
    next(req, res);
  };
}

}  // namespace cogo::middleware
