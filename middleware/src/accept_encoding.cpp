// accept_encoding.cpp: see accept_encoding.h.
#include "accept_encoding.h"

#include <array>
#include <span>
#include <vector>

#include "cogo/http/field.h"
#include "cogo/http/request.h"
#include "field_text.h"

namespace cogo::middleware::detail {

namespace {

// parse_member() reads "coding [ OWS ; OWS q=qvalue ]".
bool parse_member(std::string_view member, CodingWeight& out) noexcept {
  const std::size_t semi = member.find(';');
  const std::string_view coding = trim_ows(member.substr(0, semi));
  if (!is_token(coding)) return false;
  out.coding = coding;
  out.q = 1000;
  if (semi == std::string_view::npos) return true;
  std::string_view weight = trim_ows(member.substr(semi + 1));
  if (weight.size() < 2 || (weight[0] != 'q' && weight[0] != 'Q') || weight[1] != '=') return false;
  out.q = parse_qvalue(weight.substr(2));
  return out.q >= 0;
}

// parse_members() is parse_accept_encoding() appending with push(w).
template <class Push>
bool parse_members(std::string_view value, Push&& push) {
  bool clean = true;
  while (true) {
    const std::size_t comma = value.find(',');
    const std::string_view member = trim_ows(value.substr(0, comma));
    if (!member.empty()) {
      CodingWeight w{};
      if (parse_member(member, w)) {
        push(w);
      } else {
        clean = false;
      }
    }
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return clean;
}

// Members: the members negotiate_encoding() weighs, on the stack while
// they are few (a browser lists three to five codings), in a vector past
// that: no allocation per request (serve_dir and compress each negotiate
// once or more per request).
class Members {
 public:
  void push(const CodingWeight& w) {
    if (spill_.empty() && size_ < kInline) {
      inline_[size_++] = w;
      return;
    }
    if (spill_.empty()) spill_.assign(inline_, inline_ + size_);
    spill_.push_back(w);
  }
  std::span<const CodingWeight> all() const noexcept {
    if (!spill_.empty()) return spill_;
    return {inline_, size_};
  }

 private:
  static constexpr std::size_t kInline = 16;
  CodingWeight inline_[kInline];
  std::size_t size_ = 0;
  std::vector<CodingWeight> spill_;
};

bool same_coding(std::string_view listed, std::string_view offered) noexcept {
  if (http::iequals(listed, offered)) return true;
  return offered == "gzip" && http::iequals(listed, "x-gzip");
}

}  // namespace

int parse_qvalue(std::string_view text) noexcept {
  if (text.empty() || text.size() > 5 || (text[0] != '0' && text[0] != '1')) return -1;
  int q = text[0] == '1' ? 1000 : 0;
  if (text.size() == 1) return q;
  if (text[1] != '.') return -1;
  int scale = 100;
  for (std::size_t i = 2; i < text.size(); ++i, scale /= 10) {
    const char c = text[i];
    if (c < '0' || c > '9') return -1;
    if (q == 1000 && c != '0') return -1;  // "1" [ "." 0*3("0") ]
    q += (c - '0') * scale;
  }
  return q;
}

bool parse_accept_encoding(std::string_view value, std::vector<CodingWeight>& out) {
  return parse_members(value, [&](const CodingWeight& w) { out.push_back(w); });
}

int negotiate_encoding(std::span<const std::string_view> values,
                       std::span<const std::string_view> offered) {
  if (values.empty()) return kIdentity;
  Members parsed;
  for (std::string_view v : values) {
    parse_members(v, [&](const CodingWeight& w) { parsed.push(w); });
  }
  const std::span<const CodingWeight> members = parsed.all();
  if (members.empty()) return kIdentity;
  int star = -1;      // "*"'s q, -1: not listed
  int identity = -1;  // identity's own q
  for (const CodingWeight& m : members) {
    if (m.coding == "*" && star < 0) star = m.q;
    if (identity < 0 && http::iequals(m.coding, "identity")) identity = m.q;
  }
  // Identity's weight; by default acceptable below every listed coding
  // (0 < 1: beaten by any coding with q > 0, never by an exclusion).
  constexpr int kDefaultIdentity = 1;
  const int identity_q = identity >= 0 ? identity * 2 : star >= 0 ? star * 2 : kDefaultIdentity;
  int best = kIdentity;
  int best_q = 0;
  for (std::size_t i = 0; i < offered.size(); ++i) {
    int q = -1;
    for (const CodingWeight& m : members) {
      if (same_coding(m.coding, offered[i])) {
        q = m.q;
        break;
      }
    }
    if (q < 0) q = star >= 0 ? star : 0;
    // Doubled, so that a coding at q ties above identity at the same q.
    const int weight = q * 2 + 1;
    if (q > 0 && weight > best_q) {
      best = static_cast<int>(i);
      best_q = weight;
    }
  }
  if (best != kIdentity && best_q > identity_q) return best;
  if (identity_q > 0) return kIdentity;
  return best != kIdentity ? best : kNoneAcceptable;
}

int negotiate_request(const http::Request& req, std::span<const std::string_view> offered) {
  std::array<std::string_view, 4> few;
  std::size_t n = 0;
  for (const http::Field& f : req.header_fields()) {
    if (!http::iequals(f.name, "Accept-Encoding")) continue;
    if (n == few.size()) return negotiate_encoding(req.headers("Accept-Encoding"), offered);
    few[n++] = f.value;
  }
  return negotiate_encoding(std::span<const std::string_view>(few.data(), n), offered);
}

}  // namespace cogo::middleware::detail
