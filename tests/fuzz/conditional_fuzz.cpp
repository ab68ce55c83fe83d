// conditional_fuzz: the static file middleware's conditional requests
// (RFC 9110 13; middleware/src/conditional.*): entity-tags (8.8.3), the
// If-Match / If-None-Match lists, and 13.2.2's order of evaluation with
// If-Modified-Since, If-Unmodified-Since and If-Range, checked against the
// grammar and the rules read a second time here.
//
// Input (fuzz_input.h): the payload is request fields, one per line,
// "Name: value" (If-Match, If-None-Match, If-Modified-Since,
// If-Unmodified-Since, If-Range, Range; names case-insensitive, others
// ignored; a field may repeat). Control: byte 0 the method (GET, HEAD,
// POST, PUT, DELETE) and bit 7 "the representation has no ETag"; byte 1
// the representation's ETag among a few strong and weak tags; byte 2 its
// modification date: Sun, 06 Nov 1994 08:49:37 GMT plus the byte read as a
// signed number of seconds (so a seed's dates fall either side of it);
// byte 3 bit 0 the date is unknown, bit 1 it is not a strong validator (no
// Last-Modified sent).
//
// Properties:
//  - parse_entity_tag(x) accepts exactly OWS [ "W/" ] DQUOTE *etagc DQUOTE
//    OWS and returns its opaque-tag (quotes included) and weakness;
//  - strong_match / weak_match are 8.8.3.2's table;
//  - a line that is "*" or a well-formed #entity-tag list (5.6.1: empty
//    elements allowed) parses without a malformed flag to exactly its tags;
//  - evaluate_preconditions() is 13.2.2: If-Match false (strong comparison;
//    "*" true) -> 412, else If-Unmodified-Since (one valid date, a known
//    date after it) -> 412; If-None-Match false (weak comparison; "*"
//    false) -> 304 for GET/HEAD, 412 otherwise, else for GET/HEAD
//    If-Modified-Since (one valid date, not modified after it) -> 304; a
//    Range is honoured only for GET, and with If-Range only on an exact
//    strong ETag match or a date equal to a strong Last-Modified (13.1.5);
//    nothing else is ever 304 or 412.
#include <cstdint>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "cogo/http/date.h"
#include "conditional.h"
#include "fuzz_input.h"
#include "http_reference.h"

namespace {

using namespace cogo::middleware::detail;
using cogo_fuzz::printable;

std::string_view ows_trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// entity-tag = [ weak ] opaque-tag; opaque-tag = DQUOTE *etagc DQUOTE;
// etagc = %x21 / %x23-7E / obs-text
const std::string kTag = "(W/)?(\"[\\x21\\x23-\\x7e\\x80-\\xff]*\")";

std::optional<EntityTag> tag_reference(std::string_view text) {
  static const std::regex re("[ \\t]*" + kTag + "[ \\t]*", std::regex::ECMAScript);
  std::match_results<std::string_view::const_iterator> m;
  if (!std::regex_match(text.begin(), text.end(), m, re)) return std::nullopt;
  return EntityTag{
      text.substr(static_cast<std::size_t>(m.position(2)), static_cast<std::size_t>(m.length(2))),
      m[1].matched};
}

// list_reference() is a line that is "*" or #entity-tag (empty elements
// allowed), as its tags; nullopt when it is neither.
std::optional<TagList> list_reference(std::string_view line) {
  TagList out;
  if (ows_trim(line) == "*") {
    out.any = true;
    return out;
  }
  static const std::regex element("[ \\t]*(?:" + kTag + ")?[ \\t]*", std::regex::ECMAScript);
  // Split at commas outside quotes: etagc has no DQUOTE, so a quote opens
  // and closes each opaque-tag.
  bool quoted = false;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= line.size(); ++i) {
    if (i < line.size() && line[i] == '"') quoted = !quoted;
    if (i == line.size() || (line[i] == ',' && !quoted)) {
      const std::string_view e = line.substr(start, i - start);
      std::match_results<std::string_view::const_iterator> m;
      if (!std::regex_match(e.begin(), e.end(), m, element)) return std::nullopt;
      if (m[2].matched) {
        out.tags.push_back({e.substr(static_cast<std::size_t>(m.position(2)),
                                     static_cast<std::size_t>(m.length(2))),
                            m[1].matched});
      }
      start = i + 1;
    }
  }
  return out;
}

const char* name(Precondition p) {
  switch (p) {
    case Precondition::proceed:
      return "proceed";
    case Precondition::not_modified:
      return "304";
    case Precondition::failed:
      return "412";
  }
  return "?";
}

constexpr std::string_view kMethods[] = {"GET", "HEAD", "POST", "PUT", "DELETE"};
constexpr std::string_view kEtags[] = {"\"abc\"", "W/\"abc\"", "\"\"",   "\"xyz\"",
                                       "W/\"\"",  "\"W/abc\"", "\"a,b\""};
constexpr std::time_t kBase = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cogo_fuzz::FuzzInput in(data, size);
  if (in.payload().size() > 2048) return 0;  // std::regex recurses per character
  const std::uint8_t c0 = in.next(), c1 = in.next(), c2 = in.next(), c3 = in.next();
  const std::string_view method = kMethods[(c0 & 0x7f) % 5];
  Validators selected;
  if (!(c0 & 0x80)) selected.etag = kEtags[c1 % 7];
  if (!(c3 & 1)) selected.modified = kBase + static_cast<std::int8_t>(c2);
  selected.modified_strong = selected.modified && (c3 & 2) == 0;

  std::vector<std::string_view> im, inm, ims, ius, ir, range;
  std::string_view p = in.payload();
  for (;;) {
    const std::size_t nl = p.find('\n');
    std::string_view line = p.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const std::size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      const std::string n = cogo_fuzz::ascii_lower(line.substr(0, colon));
      const std::string_view v = ows_trim(line.substr(colon + 1));
      if (n == "if-match") im.push_back(v);
      if (n == "if-none-match") inm.push_back(v);
      if (n == "if-modified-since") ims.push_back(v);
      if (n == "if-unmodified-since") ius.push_back(v);
      if (n == "if-range") ir.push_back(v);
      if (n == "range") range.push_back(v);
      // Every value as an entity-tag and as a tag list, too.
      const std::optional<EntityTag> got = parse_entity_tag(v), ref = tag_reference(v);
      FUZZ_CHECK(got.has_value() == ref.has_value(), "parse_entity_tag(\"%s\"): %d, 8.8.3 says %d",
                 printable(v).c_str(), got.has_value(), ref.has_value());
      if (got) {
        FUZZ_CHECK(got->opaque == ref->opaque && got->weak == ref->weak,
                   "parse_entity_tag(\"%s\") = %s%s", printable(v).c_str(), got->weak ? "W/" : "",
                   printable(got->opaque).c_str());
        const std::string again = (got->weak ? "W/" : "") + std::string(got->opaque);
        const std::optional<EntityTag> back = parse_entity_tag(again);
        FUZZ_CHECK(back && back->opaque == got->opaque && back->weak == got->weak,
                   "entity-tag %s does not read back", printable(again).c_str());
        // 8.8.3.2: strong only between two strong tags, weak on the opaque.
        for (std::string_view e : kEtags) {
          const EntityTag other = *parse_entity_tag(e);
          FUZZ_CHECK(strong_match(*got, other) ==
                         (!got->weak && !other.weak && got->opaque == other.opaque),
                     "strong_match(%s, %s)", printable(v).c_str(), std::string(e).c_str());
          FUZZ_CHECK(weak_match(*got, other) == (got->opaque == other.opaque), "weak_match(%s, %s)",
                     printable(v).c_str(), std::string(e).c_str());
        }
      }
      if (const std::optional<TagList> want = list_reference(v)) {
        const std::string_view one[] = {v};
        const TagList list = parse_tag_list(one);
        bool same =
            !list.malformed && list.any == want->any && list.tags.size() == want->tags.size();
        for (std::size_t i = 0; same && i < list.tags.size(); ++i) {
          same = list.tags[i].opaque == want->tags[i].opaque &&
                 list.tags[i].weak == want->tags[i].weak;
        }
        FUZZ_CHECK(same, "tag list \"%s\": %zu tags%s%s, the grammar says %zu%s",
                   printable(v).c_str(), list.tags.size(), list.any ? ", *" : "",
                   list.malformed ? ", malformed" : "", want->tags.size(), want->any ? ", *" : "");
      }
    }
    if (nl == std::string_view::npos) break;
    p.remove_prefix(nl + 1);
  }

  ConditionalFields fields;
  fields.method = method;
  fields.if_match = im;
  fields.if_none_match = inm;
  fields.if_modified_since = ims;
  fields.if_unmodified_since = ius;
  fields.if_range = ir;
  fields.has_range = !range.empty();
  const Evaluation got = evaluate_preconditions(fields, selected);

  // 13.2.2, step by step.
  // The representation's own tag (a plain struct: GCC 12 cannot see an
  // optional's payload initialised through the comparisons below).
  EntityTag cur{};
  bool has_cur = false;
  if (!selected.etag.empty()) {
    if (const std::optional<EntityTag> t = parse_entity_tag(selected.etag)) {
      cur = *t;
      has_cur = true;
    }
  }
  auto one_date = [](const std::vector<std::string_view>& v) -> std::optional<std::time_t> {
    if (v.size() != 1) return std::nullopt;
    return cogo::http::parse_http_date(v[0]);
  };
  const bool get_or_head = method == "GET" || method == "HEAD";
  Evaluation want;
  bool decided = false;
  if (!im.empty()) {
    const TagList l = parse_tag_list(im);
    bool ok = l.any;  // 13.1.1: "*" is true, the representation exists
    for (const EntityTag& t : l.tags) {
      ok = ok || (has_cur && !t.weak && !cur.weak && t.opaque == cur.opaque);
    }
    if (!ok) want.result = Precondition::failed, decided = true;
  } else if (const std::optional<std::time_t> d = one_date(ius)) {
    if (selected.modified && *selected.modified > *d)
      want.result = Precondition::failed, decided = true;
  }
  if (!decided && !inm.empty()) {
    const TagList l = parse_tag_list(inm);
    bool match = l.any;
    for (const EntityTag& t : l.tags) match = match || (has_cur && t.opaque == cur.opaque);
    if (match) {
      want.result = get_or_head ? Precondition::not_modified : Precondition::failed;
      decided = true;
    }
  } else if (!decided && get_or_head) {
    if (const std::optional<std::time_t> d = one_date(ims)) {
      if (selected.modified && *selected.modified <= *d) {
        want.result = Precondition::not_modified;
        decided = true;
      }
    }
  }
  if (!decided && method == "GET" && !range.empty()) {
    if (ir.empty()) {
      want.honour_range = true;
    } else if (ir.size() == 1) {
      const std::string_view v = ows_trim(ir[0]);
      if (const std::optional<EntityTag> t = tag_reference(v)) {
        want.honour_range = !t->weak && has_cur && !cur.weak && t->opaque == cur.opaque;
      } else if (v.substr(0, 2) != "W/" && (v.empty() || v[0] != '"')) {
        const std::optional<std::time_t> d = cogo::http::parse_http_date(v);
        want.honour_range =
            d && selected.modified && selected.modified_strong && *d == *selected.modified;
      }
    }
  }
  FUZZ_CHECK(
      got.result == want.result && got.honour_range == want.honour_range,
      "%s with fields \"%s\" (ETag %s, modified %lld%s): %s%s, 13.2.2 says %s%s",
      std::string(method).c_str(), printable(in.payload()).c_str(),
      printable(selected.etag).c_str(), static_cast<long long>(selected.modified.value_or(-1)),
      selected.modified_strong ? " strong" : "", name(got.result),
      got.honour_range ? " + range" : "", name(want.result), want.honour_range ? " + range" : "");
  return 0;
}
