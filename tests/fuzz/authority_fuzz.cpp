// authority_fuzz: Host and absolute-form authority validation
// (server/src/authority.*), checked against RFC 3986's grammar written out
// here a second time, as a regular expression, straight from the RFC's ABNF.
//
// The payload is a Host value (and an absolute-form target built around it).
//
// Properties:
//  - valid_host(x) is true exactly when x matches
//      host [ ":" port ], host = IP-literal / IPv4address / reg-name
//    (IPv6 in all nine of RFC 3986's forms, IPvFuture, pct-encoded);
//  - a valid Host never carries what would let it smuggle another meaning:
//    whitespace, CR/LF, '/', '?', '#', '@', a '%' not followed by two hex
//    digits;
//  - absolute_authority("http://" x "/p") is ok exactly when x (up to its
//    first '/', '?' or '#') is a valid Host whose host part is not empty
//    (RFC 9110 4.2.1), and hands back exactly that authority; other schemes
//    are refused, other target forms are not absolute.
#include <cctype>
#include <cstdint>
#include <regex>
#include <string>
#include <string_view>

#include "authority.h"
#include "fuzz_input.h"
#include "http_reference.h"

namespace {

using cogo_fuzz::printable;

const std::regex& host_grammar() {
  static const std::regex re = [] {
    const std::string h16 = "[0-9A-Fa-f]{1,4}";
    const std::string dec_octet = "(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9][0-9]|[0-9])";
    const std::string ipv4 = dec_octet + "\\." + dec_octet + "\\." + dec_octet + "\\." + dec_octet;
    const std::string ls32 = "(?:" + h16 + ":" + h16 + "|" + ipv4 + ")";
    auto rep = [&](int lo, int hi) {  // (h16 ":"){lo,hi}
      return "(?:" + h16 + ":){" + std::to_string(lo) + "," + std::to_string(hi) + "}";
    };
    auto before = [&](int n) {  // [ *n( h16 ":" ) h16 ]
      return "(?:" + rep(0, n) + h16 + ")?";
    };
    const std::string ipv6 = "(?:" + rep(6, 6) + ls32 +                   //
                             "|::" + rep(5, 5) + ls32 +                   //
                             "|(?:" + h16 + ")?::" + rep(4, 4) + ls32 +   //
                             "|" + before(1) + "::" + rep(3, 3) + ls32 +  //
                             "|" + before(2) + "::" + rep(2, 2) + ls32 +  //
                             "|" + before(3) + "::" + h16 + ":" + ls32 +  //
                             "|" + before(4) + "::" + ls32 +              //
                             "|" + before(5) + "::" + h16 +               //
                             "|" + before(6) + "::)";
    const std::string unreserved = "A-Za-z0-9\\-._~";
    const std::string sub_delims = "!$&'()*+,;=";
    const std::string ipvfuture = "[vV][0-9A-Fa-f]+\\.[" + unreserved + sub_delims + ":]+";
    const std::string ip_literal = "\\[(?:" + ipv6 + "|" + ipvfuture + ")\\]";
    const std::string reg_name = "(?:[" + unreserved + sub_delims + "]|%[0-9A-Fa-f]{2})*";
    return std::regex("(?:" + ip_literal + "|" + reg_name + ")(?::[0-9]*)?",
                      std::regex::ECMAScript | std::regex::optimize);
  }();
  return re;
}

bool grammar_says_valid(std::string_view host) {
  return std::regex_match(host.begin(), host.end(), host_grammar());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using cogo::http::detail::absolute_authority;
  using cogo::http::detail::valid_host;
  cogo_fuzz::FuzzInput in(data, size);
  const std::string_view x = in.payload();
  if (x.size() > 512) return 0;  // std::regex recurses per character

  const bool valid = valid_host(x);
  FUZZ_CHECK(valid == grammar_says_valid(x), "valid_host(\"%s\") = %d, RFC 3986 says %d",
             printable(x).c_str(), valid, !valid);
  if (valid) {
    for (std::size_t i = 0; i < x.size(); ++i) {
      const char c = x[i];
      FUZZ_CHECK(c > 0x20 && c < 0x7f && c != '/' && c != '?' && c != '#' && c != '@',
                 "a valid Host with %s", printable(x).c_str());
      if (c == '%') {
        FUZZ_CHECK(i + 2 < x.size() && std::isxdigit(static_cast<unsigned char>(x[i + 1])) &&
                       std::isxdigit(static_cast<unsigned char>(x[i + 2])),
                   "a valid Host with a bare %%: %s", printable(x).c_str());
      }
    }
  }

  // Absolute-form: the authority is what comes after "://", up to the path.
  for (const char* scheme : {"http", "HTTPS", "ftp"}) {
    const std::string target = std::string(scheme) + "://" + std::string(x) + "/p";
    const cogo::http::detail::AuthorityOf a = absolute_authority(target);
    FUZZ_CHECK(a.absolute, "%s is absolute-form", printable(target).c_str());
    if (std::string_view(scheme) == "ftp") {
      FUZZ_CHECK(!a.ok, "an ftp target was accepted");
      continue;
    }
    const std::string_view authority = x.substr(0, x.find_first_of("/?#"));
    // Its host: an IP-literal up to its ']', else up to the port's ':'.
    const std::string_view host =
        !authority.empty() && authority.front() == '['
            ? authority.substr(0, authority.find(']') == std::string_view::npos
                                      ? authority.size()
                                      : authority.find(']') + 1)
            : authority.substr(0, authority.find(':'));
    const bool expect = valid_host(authority) && !host.empty();
    FUZZ_CHECK(a.ok == expect, "absolute_authority(%s).ok = %d", printable(target).c_str(), a.ok);
    if (a.ok) FUZZ_CHECK(a.authority == authority, "authority %s", printable(a.authority).c_str());
  }
  // Other forms are not absolute.
  std::string origin(1, '/');  // not "/" + std::string(x): g++ 12 warns -Wrestrict there
  origin.append(x);
  FUZZ_CHECK(!absolute_authority(origin).absolute, "origin-form taken for absolute");
  return 0;
}
