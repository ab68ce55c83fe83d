// accept_encoding_fuzz: Accept-Encoding parsing and content-coding
// negotiation (RFC 9110 12.4.2, 12.5.3; middleware/src/accept_encoding.*),
// which compress and serve_dir's precompressed siblings share, checked
// against the grammar and the rules read a second time here.
//
// Input (fuzz_input.h): the payload is the Accept-Encoding field, one line
// per '\n'. Control: byte 0 bits 0-2 which codings the server offers and in
// what order (a subset of br, zstd, gzip, deflate), bit 3 no
// Accept-Encoding field at all.
//
// Properties:
//  - parse_qvalue(t) accepts exactly 12.4.2's qvalue
//      ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
//    and reads its value in thousandths;
//  - parse_accept_encoding() keeps exactly the members that are
//    codings [ OWS ";" OWS "q=" qvalue ] (token codings, "q" either case),
//    in order with their weights, and reports a member it skipped;
//  - negotiate_encoding() picks a coding the client accepts with q > 0 (its
//    own q, else "*"'s; x-gzip is gzip, names case-insensitive), never one
//    it excluded with q=0; no coding has a higher q; on equal q the server's
//    first; identity (its own q, else "*"'s, else acceptable at the lowest
//    preference, 12.5.3 rule 2) is chosen only when no offered coding beats
//    it, and a coding on a tie with identity wins; kNoneAcceptable only when
//    identity is excluded and no coding is acceptable; no field, or a field
//    with no valid member, is identity.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "accept_encoding.h"
#include "fuzz_input.h"
#include "http_reference.h"

namespace {

using cogo::middleware::detail::CodingWeight;
using cogo::middleware::detail::kIdentity;
using cogo::middleware::detail::kNoneAcceptable;
using cogo_fuzz::printable;

// qvalue_reference() is 12.4.2 as a regular expression, valued exactly.
std::optional<int> qvalue_reference(std::string_view t) {
  static const std::regex re("0(\\.[0-9]{0,3})?|1(\\.0{0,3})?", std::regex::ECMAScript);
  if (!std::regex_match(t.begin(), t.end(), re)) return std::nullopt;
  int q = t[0] == '1' ? 1000 : 0;
  int scale = 100;
  for (std::size_t i = 2; i < t.size(); ++i, scale /= 10) q += (t[i] - '0') * scale;
  return q;
}

// member_reference() is one list member: codings [ weight ].
std::optional<CodingWeight> member_reference(std::string_view m) {
  static const std::regex re("([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?:[ \\t]*;[ \\t]*[qQ]=([^ \\t]*))?",
                             std::regex::ECMAScript);
  std::match_results<std::string_view::const_iterator> match;
  if (!std::regex_match(m.begin(), m.end(), match, re)) return std::nullopt;
  CodingWeight w{m.substr(0, static_cast<std::size_t>(match.length(1))), 1000};
  if (match[2].matched) {
    const std::optional<int> q = qvalue_reference(
        std::string_view(&*match[2].first, static_cast<std::size_t>(match.length(2))));
    if (!q) return std::nullopt;
    w.q = *q;
  }
  return w;
}

// members_of() splits a field value at commas (a coding is a token and
// a qvalue has no comma, so a comma always ends a member), drops OWS and
// empty elements (5.6.1).
std::vector<std::string_view> members_of(std::string_view v) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= v.size(); ++i) {
    if (i == v.size() || v[i] == ',') {
      std::string_view m = v.substr(start, i - start);
      while (!m.empty() && (m.front() == ' ' || m.front() == '\t')) m.remove_prefix(1);
      while (!m.empty() && (m.back() == ' ' || m.back() == '\t')) m.remove_suffix(1);
      if (!m.empty()) out.push_back(m);
      start = i + 1;
    }
  }
  return out;
}

constexpr std::string_view kCodings[] = {"br", "zstd", "gzip", "deflate"};
// Eight offer lists (subsets in different orders).
constexpr int kOffers[8][4] = {{0, 1, 2, -1}, {2, -1, -1, -1}, {2, 3, -1, -1},   {1, 0, -1, -1},
                               {3, 2, 1, 0},  {0, -1, -1, -1}, {-1, -1, -1, -1}, {2, 0, 3, -1}};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace cogo::middleware::detail;
  cogo_fuzz::FuzzInput in(data, size);
  const std::uint8_t c0 = in.next();
  if (in.payload().size() > 4096) return 0;  // std::regex recurses per character

  std::vector<std::string_view> lines;
  if (!(c0 & 8)) {
    std::string_view p = in.payload();
    for (;;) {
      const std::size_t nl = p.find('\n');
      lines.push_back(p.substr(0, nl));
      if (nl == std::string_view::npos) break;
      p.remove_prefix(nl + 1);
    }
  }

  // Parsing: every line, member by member, against the grammar.
  std::vector<CodingWeight> parsed, expected;
  for (std::string_view line : lines) {
    bool clean = true;
    for (std::string_view m : members_of(line)) {
      if (std::optional<CodingWeight> w = member_reference(m)) {
        expected.push_back(*w);
      } else {
        clean = false;
      }
      // A member's weight text on its own, too.
      const std::size_t eq = m.find('=');
      if (eq != std::string_view::npos) {
        const std::string_view t = m.substr(eq + 1);
        const std::optional<int> ref = qvalue_reference(t);
        const int q = parse_qvalue(t);
        FUZZ_CHECK(q == (ref ? *ref : -1), "parse_qvalue(\"%s\") = %d, 12.4.2 says %d",
                   printable(t).c_str(), q, ref ? *ref : -1);
      }
    }
    const std::size_t before = parsed.size();
    const bool got_clean = parse_accept_encoding(line, parsed);
    FUZZ_CHECK(got_clean == clean, "parse_accept_encoding(\"%s\") clean=%d, the grammar says %d",
               printable(line).c_str(), got_clean, clean);
    FUZZ_CHECK(parsed.size() == expected.size(), "\"%s\": %zu members, the grammar says %zu",
               printable(line).c_str(), parsed.size() - before, expected.size() - before);
  }
  for (std::size_t i = 0; i < parsed.size(); ++i) {
    FUZZ_CHECK(parsed[i].coding == expected[i].coding && parsed[i].q == expected[i].q,
               "member %zu: %s;q=%d, the grammar says %s;q=%d", i,
               printable(parsed[i].coding).c_str(), parsed[i].q,
               printable(expected[i].coding).c_str(), expected[i].q);
  }

  // Negotiation.
  std::vector<std::string_view> offered;
  for (int k : kOffers[c0 & 7]) {
    if (k >= 0) offered.push_back(kCodings[k]);
  }
  const int choice = negotiate_encoding(lines, offered);
  // The client's weight of a coding: its own (first listed), else "*"'s,
  // else none (-1: not acceptable).
  auto listed = [&](std::string_view coding) -> std::optional<int> {
    for (const CodingWeight& m : expected) {
      const std::string l = cogo_fuzz::ascii_lower(m.coding);
      if (l == coding || (coding == "gzip" && l == "x-gzip")) return m.q;
    }
    return std::nullopt;
  };
  std::optional<int> star;
  for (const CodingWeight& m : expected) {
    if (m.coding == "*") {
      star = m.q;
      break;
    }
  }
  auto weight = [&](std::string_view coding) -> int {
    if (std::optional<int> q = listed(coding)) return *q;
    return star ? *star : 0;
  };
  if (expected.empty()) {
    FUZZ_CHECK(choice == kIdentity, "no Accept-Encoding member (\"%s\"): choice %d, not identity",
               printable(in.payload()).c_str(), choice);
    return 0;
  }
  // identity: its own q, else "*"'s, else acceptable below any coding.
  const std::optional<int> identity_own = listed("identity");
  const bool identity_default = !identity_own && !star;
  const int identity_q = identity_own ? *identity_own : star ? *star : 0;
  const bool identity_ok = identity_default || identity_q > 0;
  int best_q = 0;
  for (std::string_view c : offered) best_q = std::max(best_q, weight(c));

  if (choice >= 0) {
    FUZZ_CHECK(static_cast<std::size_t>(choice) < offered.size(), "choice %d of %zu offered",
               choice, offered.size());
    const std::string_view c = offered[static_cast<std::size_t>(choice)];
    const int q = weight(c);
    FUZZ_CHECK(q > 0, "\"%s\": chose %s, which the client gives q=%d",
               printable(in.payload()).c_str(), std::string(c).c_str(), q);
    FUZZ_CHECK(q == best_q, "\"%s\": chose %s at q=%d, another offered coding has q=%d",
               printable(in.payload()).c_str(), std::string(c).c_str(), q, best_q);
    for (int i = 0; i < choice; ++i) {
      FUZZ_CHECK(weight(offered[static_cast<std::size_t>(i)]) < q,
                 "\"%s\": chose %s, the server prefers %s at the same q",
                 printable(in.payload()).c_str(), std::string(c).c_str(),
                 std::string(offered[static_cast<std::size_t>(i)]).c_str());
    }
    FUZZ_CHECK(identity_default || q >= identity_q, "\"%s\": chose %s at q=%d over identity at %d",
               printable(in.payload()).c_str(), std::string(c).c_str(), q, identity_q);
  } else if (choice == kIdentity) {
    FUZZ_CHECK(identity_ok, "\"%s\": identity chosen, but the client excluded it",
               printable(in.payload()).c_str());
    FUZZ_CHECK(best_q == 0 || (!identity_default && identity_q > best_q),
               "\"%s\": identity chosen over an offered coding at q=%d (identity %s%d)",
               printable(in.payload()).c_str(), best_q, identity_default ? "default " : "",
               identity_q);
  } else {
    FUZZ_CHECK(choice == kNoneAcceptable, "choice %d", choice);
    FUZZ_CHECK(!identity_ok && best_q == 0,
               "\"%s\": nothing acceptable, but identity %s and the best coding q=%d",
               printable(in.payload()).c_str(), identity_ok ? "is" : "is not", best_q);
  }
  return 0;
}
