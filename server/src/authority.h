// authority.h: RFC 3986's authority grammar, as the Host field and an
// absolute-form request-target use it (RFC 9112 3.2):
//
//   Host       = uri-host [ ":" port ]
//   uri-host   = IP-literal / IPv4address / reg-name
//   IP-literal = "[" ( IPv6address / IPvFuture ) "]"
//   IPvFuture  = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
//   reg-name   = *( unreserved / pct-encoded / sub-delims )   (IPv4 fits it)
//   port       = *DIGIT
//
// No userinfo ("user@host" is not a Host), no whitespace, no '/'.
#pragma once

#include <string_view>

namespace cogo::http::detail {

// valid_host() tells whether value is a valid Host field value (an empty one
// is: a target URI without an authority sends "Host:" with nothing).
bool valid_host(std::string_view value) noexcept;

// absolute_authority() is the authority of an absolute-form target
// ("http://example.com:8080/p" -> "example.com:8080"), or an empty view
// with ok = true for a target of another form; ok = false when the target
// is absolute-form with a scheme other than http/https or a bad authority.
struct AuthorityOf {
  std::string_view authority;
  bool absolute = false;
  bool ok = true;
};
AuthorityOf absolute_authority(std::string_view target) noexcept;

}  // namespace cogo::http::detail
