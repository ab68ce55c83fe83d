// conditional.cpp: see conditional.h. Section numbers are RFC 9110's.
#include "conditional.h"
#include "field_text.h"

#include "cogo/http/date.h"

namespace cogo::middleware::detail {

namespace {

// etagc = %x21 / %x23-7E / obs-text
bool is_etagc(unsigned char c) noexcept {
  return c == 0x21 || (c >= 0x23 && c <= 0x7E) || c >= 0x80;
}

// take_entity_tag() reads an entity-tag at the start of s (no leading
// whitespace) and removes it; nullopt (s untouched) when there is none.
std::optional<EntityTag> take_entity_tag(std::string_view& s) noexcept {
  EntityTag tag;
  std::string_view rest = s;
  if (rest.substr(0, 2) == "W/") {
    tag.weak = true;
    rest.remove_prefix(2);
  }
  if (rest.empty() || rest[0] != '"') return std::nullopt;
  std::size_t i = 1;
  while (i < rest.size() && rest[i] != '"') {
    if (!is_etagc(static_cast<unsigned char>(rest[i]))) return std::nullopt;
    ++i;
  }
  if (i >= rest.size()) return std::nullopt;  // no closing quote
  tag.opaque = rest.substr(0, i + 1);
  rest.remove_prefix(i + 1);
  s = rest;
  return tag;
}

// one_date() is a field's HTTP-date when it has exactly one line holding
// exactly one valid date (13.1.3, 13.1.4: otherwise ignored).
std::optional<std::time_t> one_date(std::span<const std::string_view> values) {
  if (values.size() != 1) return std::nullopt;
  return http::parse_http_date(values[0]);
}

bool is_get_or_head(std::string_view method) noexcept {
  return method == "GET" || method == "HEAD";
}

// if_match_true() is 13.1.1's evaluation.
bool if_match_true(const TagList& list, const std::optional<EntityTag>& current) {
  if (list.any) return true;  // the representation exists
  if (!current) return false;
  for (const EntityTag& t : list.tags) {
    if (strong_match(t, *current)) return true;
  }
  return false;
}

// if_none_match_true() is 13.1.2's evaluation.
bool if_none_match_true(const TagList& list, const std::optional<EntityTag>& current) {
  if (list.any) return false;  // the representation exists
  if (!current) return true;
  for (const EntityTag& t : list.tags) {
    if (weak_match(t, *current)) return false;
  }
  return true;
}

// if_range_true() is 13.1.5's evaluation of a received If-Range.
bool if_range_true(std::span<const std::string_view> values, const std::optional<EntityTag>& current,
                   const Validators& selected) {
  if (values.size() != 1) return false;
  std::string_view v = trim_ows(values[0]);
  if (v.substr(0, 2) == "W/" || (!v.empty() && v[0] == '"')) {
    std::string_view rest = v;
    const std::optional<EntityTag> tag = take_entity_tag(rest);
    // An exact match of a strong tag: a weak one never matches.
    return tag && rest.empty() && !tag->weak && current && !current->weak &&
           tag->opaque == current->opaque;
  }
  // An HTTP-date: true only if it exactly matches the Last-Modified the
  // representation would be sent with, which is a strong validator (see
  // Validators).
  const std::optional<std::time_t> date = http::parse_http_date(v);
  return date && selected.modified && selected.modified_strong && *date == *selected.modified;
}

}  // namespace

std::optional<EntityTag> parse_entity_tag(std::string_view text) noexcept {
  std::string_view s = trim_ows(text);
  const std::optional<EntityTag> tag = take_entity_tag(s);
  if (!tag || !s.empty()) return std::nullopt;
  return tag;
}

bool strong_match(const EntityTag& a, const EntityTag& b) noexcept {
  return !a.weak && !b.weak && a.opaque == b.opaque;
}

bool weak_match(const EntityTag& a, const EntityTag& b) noexcept {
  return a.opaque == b.opaque;
}

TagList parse_tag_list(std::span<const std::string_view> values) {
  TagList list;
  for (std::string_view value : values) {
    std::string_view s = value;
    for (;;) {
      s = trim_ows(s);
      if (s.empty()) break;
      if (s[0] == ',') {  // an empty list element (5.6.1)
        s.remove_prefix(1);
        continue;
      }
      if (s[0] == '*') {
        list.any = true;
        s.remove_prefix(1);
      } else if (std::optional<EntityTag> tag = take_entity_tag(s)) {
        list.tags.push_back(*tag);
      } else {
        list.malformed = true;
        const std::size_t comma = s.find(',');
        s = comma == std::string_view::npos ? std::string_view() : s.substr(comma);
        continue;
      }
      s = trim_ows(s);
      if (!s.empty() && s[0] != ',') {
        list.malformed = true;  // junk after a member: skip to the next
        const std::size_t comma = s.find(',');
        s = comma == std::string_view::npos ? std::string_view() : s.substr(comma);
      }
    }
  }
  return list;
}

Evaluation evaluate_preconditions(const ConditionalFields& request, const Validators& selected) {
  Evaluation out;
  std::optional<EntityTag> current;
  if (!selected.etag.empty()) current = parse_entity_tag(selected.etag);
  const bool get_or_head = is_get_or_head(request.method);

  // Step 1 / 2: the lost-update preconditions.
  if (!request.if_match.empty()) {
    if (!if_match_true(parse_tag_list(request.if_match), current)) {
      out.result = Precondition::failed;
      return out;
    }
  } else if (!request.if_unmodified_since.empty()) {
    const std::optional<std::time_t> date = one_date(request.if_unmodified_since);
    // 13.1.4: ignored when not a valid date or without a modification date;
    // false when the representation was modified after the date.
    if (date && selected.modified && *selected.modified > *date) {
      out.result = Precondition::failed;
      return out;
    }
  }
  // Step 3 / 4: cache validation.
  if (!request.if_none_match.empty()) {
    if (!if_none_match_true(parse_tag_list(request.if_none_match), current)) {
      out.result = get_or_head ? Precondition::not_modified : Precondition::failed;
      return out;
    }
  } else if (get_or_head && !request.if_modified_since.empty()) {
    const std::optional<std::time_t> date = one_date(request.if_modified_since);
    if (date && selected.modified && *selected.modified <= *date) {
      out.result = Precondition::not_modified;
      return out;
    }
  }
  // Step 5: If-Range decides whether Range applies; ranges are for GET only.
  if (request.method == "GET" && request.has_range) {
    out.honour_range =
        request.if_range.empty() || if_range_true(request.if_range, current, selected);
  }
  return out;
}

}  // namespace cogo::middleware::detail
