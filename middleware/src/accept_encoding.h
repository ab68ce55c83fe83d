// accept_encoding.h: the Accept-Encoding field (RFC 9110 12.5.3) parsed and
// negotiated against the content codings a server can produce. Pure
// functions over strings, no I/O: compress and serve_dir (precompressed
// siblings) share them, and a fuzz target can call them as they are.
#pragma once

#include <span>
#include <string_view>
#include <vector>

namespace cogo::http {
class Request;
}

namespace cogo::middleware::detail {

// CodingWeight: one member of an Accept-Encoding list: a content coding as
// sent, "identity" or "*", and its weight in thousandths (q=0.5: 500).
struct CodingWeight {
  std::string_view coding;
  int q;
};

// parse_qvalue() reads RFC 9110 12.4.2's qvalue ("0", "0.5", "1.000") into
// thousandths; -1 when text is not one ("1.5", ".5", "0.1234").
int parse_qvalue(std::string_view text) noexcept;

// parse_accept_encoding() appends the members of one field value to out:
//   Accept-Encoding = #( codings [ weight ] )
//   weight = OWS ";" OWS "q=" qvalue
// Empty list elements are skipped (5.6.1); a member that does not parse (not
// a token, a bad qvalue, a parameter other than q) is skipped whole and makes
// it return false.
bool parse_accept_encoding(std::string_view value, std::vector<CodingWeight>& out);

inline constexpr int kIdentity = -1;        // send the representation as it is
inline constexpr int kNoneAcceptable = -2;  // identity is excluded too

// negotiate_encoding() picks the content coding of a response from offered
// (lowercase coding names, the server's order of preference) for a request
// whose Accept-Encoding field values are `values` (empty: no such field).
// Returns an index into offered, kIdentity or kNoneAcceptable:
//   - no Accept-Encoding field: identity (12.5.3 lets any coding through,
//     but a client that says nothing gets what every client can read);
//   - a field with no members ("Accept-Encoding:"): identity (12.5.3);
//   - a coding is acceptable with its own q, else with "*"'s, else not at
//     all; q=0 excludes it (12.5.3 rule 3). "x-gzip" is "gzip" (8.4.1.3),
//     names are case-insensitive (8.4.1);
//   - identity is acceptable with its own q, else "*"'s, else by default
//     (rule 2) at the lowest preference;
//   - the highest q wins; equal q: a coding before identity, then offered's
//     order (rule 4);
//   - nothing acceptable, identity excluded ("identity;q=0", or "*;q=0" with
//     no identity member): kNoneAcceptable (the caller may answer 406 or, as
//     12.1 allows, disregard the field and send identity).
int negotiate_encoding(std::span<const std::string_view> values,
                       std::span<const std::string_view> offered);

// negotiate_request() is negotiate_encoding() over req's Accept-Encoding
// fields, gathered without allocating while there are a few.
int negotiate_request(const http::Request& req, std::span<const std::string_view> offered);

}  // namespace cogo::middleware::detail
