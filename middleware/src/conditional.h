// conditional.h: conditional requests (RFC 9110 section 13) evaluated against
// a representation's validators (8.8) — pure functions over field values,
// no I/O, so serve_dir and a fuzz target call them alike.
#pragma once

#include <ctime>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace cogo::middleware::detail {

// EntityTag: one entity-tag (8.8.3): opaque is the quoted string, quotes
// included ("\"xyz\""); weak when it was prefixed by W/.
struct EntityTag {
  std::string_view opaque;
  bool weak = false;
};

// parse_entity_tag() reads exactly one entity-tag (surrounding whitespace
// allowed); nullopt when text is not one.
std::optional<EntityTag> parse_entity_tag(std::string_view text) noexcept;

// strong_match() and weak_match() are 8.8.3.2's comparison functions.
bool strong_match(const EntityTag& a, const EntityTag& b) noexcept;
bool weak_match(const EntityTag& a, const EntityTag& b) noexcept;

// TagList: an If-Match / If-None-Match value: "*", or a list of tags.
struct TagList {
  bool any = false;  // "*"
  std::vector<EntityTag> tags;
  bool malformed = false;  // a member that is not an entity-tag (skipped)
};
// parse_tag_list() reads every line of the field as one list (5.3).
TagList parse_tag_list(std::span<const std::string_view> values);

// Validators: what the selected representation offers. etag: the ETag a
// 200 would carry (empty: none). modified: its modification date in
// seconds (nullopt: none known), which If-Modified-Since and
// If-Unmodified-Since compare against. modified_strong: that date is sent
// as Last-Modified and is a strong validator (8.8.2.2), so an If-Range date
// may match it; serve_dir sends a Last-Modified only once the file's
// modification second is over, which makes every date it sends strong.
struct Validators {
  std::string_view etag;
  std::optional<std::time_t> modified;
  bool modified_strong = false;
};

// ConditionalFields: the request's precondition fields (each with all its
// lines; empty: absent), its method, and whether it has a Range field.
struct ConditionalFields {
  std::string_view method;
  std::span<const std::string_view> if_match;
  std::span<const std::string_view> if_none_match;
  std::span<const std::string_view> if_modified_since;
  std::span<const std::string_view> if_unmodified_since;
  std::span<const std::string_view> if_range;
  bool has_range = false;
};

// Precondition: what 13.2.2 decides.
enum class Precondition {
  proceed,       // perform the method (step 6), with or without the range
  not_modified,  // 304 (If-None-Match / If-Modified-Since false for GET, HEAD)
  failed,        // 412 (If-Match / If-Unmodified-Since false; If-None-Match
                 // false for another method)
};

struct Evaluation {
  Precondition result = Precondition::proceed;
  // honour_range: a Range field may be acted on (a GET with a Range field
  // whose If-Range, if any, is true: 13.1.5 and step 5).
  bool honour_range = false;
};

// evaluate_preconditions() is 13.2.2 for an origin server whose selected
// representation exists (13.2.1: a response that would not be 2xx or 412
// ignores the preconditions; the caller does not ask then):
//   1. If-Match: false -> 412 (strong comparison, 13.1.1);
//   2. else If-Unmodified-Since (a valid HTTP-date, one member): the
//      representation modified after it -> 412 (13.1.4; ignored without a
//      modification date);
//   3. If-None-Match: false -> 304 for GET/HEAD, else 412 (weak
//      comparison, 13.1.2);
//   4. else for GET/HEAD If-Modified-Since (valid, one member): not
//      modified after it -> 304 (13.1.3);
//   5. a GET with Range and If-Range: the range only if If-Range is true
//      (13.1.5: an exact strong entity-tag match, or a strong date equal to
//      Last-Modified); a HEAD or another method never gets a range (14.2).
Evaluation evaluate_preconditions(const ConditionalFields& request, const Validators& selected);

}  // namespace cogo::middleware::detail
