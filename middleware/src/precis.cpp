// precis.cpp: precis.h's two profiles. A code point's derived property
// follows RFC 8264 8's algorithm line by line (categories of RFC 8264 9,
// exceptions of RFC 5892 2.6), the contextual rules are RFC 5892
// appendix A's, the Bidi Rule RFC 5893 2's; ICU supplies the Unicode
// properties and NFC.
#include "precis.h"

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/uscript.h>
#include <unicode/utf16.h>
#include <unicode/utf8.h>

#include <climits>
#include <cstdint>
#include <vector>

#include "wiping.h"

namespace cogo::middleware::detail {
namespace {

// A password passes through these (the OpaqueString profile, RFC 8265
// 4.2): every block they free is wiped (wiping.h).
using CodePoints = std::vector<UChar32, WipingAllocator<UChar32>>;
using Utf16 = std::vector<char16_t, WipingAllocator<char16_t>>;

// Property: RFC 8264 8's derived property values; kFreeOnly is
// "ID_DIS or FREE_PVAL" (valid in FreeformClass, not in IdentifierClass).
enum class Property { kPvalid, kFreeOnly, kContextJ, kContextO, kDisallowed, kUnassigned };

// StringClass: RFC 8264 4.2 (IdentifierClass) and 4.3 (FreeformClass).
enum class StringClass { kIdentifier, kFreeform };

// decode() reads UTF-8 (RFC 3629: no overlong forms, surrogates or
// values past U+10FFFF); false for anything else.
bool decode(std::string_view s, CodePoints& out) {
  out.clear();
  if (s.size() > INT32_MAX / 4) return false;
  const auto* p = reinterpret_cast<const std::uint8_t*>(s.data());
  const auto n = static_cast<std::int32_t>(s.size());
  out.reserve(s.size());  // grown once: see encode()
  for (std::int32_t i = 0; i < n;) {
    UChar32 c;
    U8_NEXT(p, i, n, c);
    if (c < 0) return false;
    out.push_back(c);
  }
  return true;
}

// encode() writes UTF-8 into out, grown once (U8_MAX_LENGTH per code
// point), so that no freed smaller buffer holds a prefix of a password.
void encode(const CodePoints& cps, std::string& out) {
  out.clear();
  out.reserve(cps.size() * U8_MAX_LENGTH);
  for (const UChar32 c : cps) {
    std::uint8_t buf[U8_MAX_LENGTH];
    std::int32_t k = 0;
    U8_APPEND_UNSAFE(buf, k, c);
    out.append(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(k));
    OPENSSL_cleanse(buf, sizeof buf);
  }
}

Utf16 utf16(const CodePoints& cps) {
  Utf16 out;
  out.reserve(cps.size() * 2);
  for (const UChar32 c : cps) {
    if (U_IS_BMP(c)) {
      out.push_back(static_cast<char16_t>(c));
    } else {
      out.push_back(static_cast<char16_t>(U16_LEAD(c)));
      out.push_back(static_cast<char16_t>(U16_TRAIL(c)));
    }
  }
  return out;
}

CodePoints from_utf16(const char16_t* s, std::int32_t n) {
  CodePoints out;
  out.reserve(static_cast<std::size_t>(n));
  for (std::int32_t i = 0; i < n;) {
    UChar32 c;
    U16_NEXT(s, i, n, c);
    out.push_back(c);
  }
  return out;
}

const UNormalizer2* nfc() {
  UErrorCode err = U_ZERO_ERROR;
  static const UNormalizer2* const form = unorm2_getNFCInstance(&err);
  return form;
}

const UNormalizer2* nfkc() {
  UErrorCode err = U_ZERO_ERROR;
  static const UNormalizer2* const form = unorm2_getNFKCInstance(&err);
  return form;
}

// to_nfc() is RFC 8264 5.2.4's normalization rule with form C; false when
// ICU fails (no data).
bool to_nfc(CodePoints& cps) {
  const UNormalizer2* form = nfc();
  if (form == nullptr) return false;
  const Utf16 src = utf16(cps);
  Utf16 dst(src.size() * 3 + 4, u'\0');  // NFC grows a string 3x at most
  UErrorCode err = U_ZERO_ERROR;
  const std::int32_t n = unorm2_normalize(form, src.data(), static_cast<std::int32_t>(src.size()),
                                          dst.data(), static_cast<std::int32_t>(dst.size()), &err);
  if (U_FAILURE(err)) return false;
  cps = from_utf16(dst.data(), n);
  return true;
}

// has_compat() is RFC 8264 9.17's HasCompat: toNFKC(cp) != cp.
bool has_compat(UChar32 c) {
  const UNormalizer2* form = nfkc();
  const Utf16 s = utf16(CodePoints{c});
  UErrorCode err = U_ZERO_ERROR;
  return form == nullptr ||
         !unorm2_isNormalized(form, s.data(), static_cast<std::int32_t>(s.size()), &err) ||
         U_FAILURE(err);
}

// property() is RFC 8264 8's derived property of c, in the algorithm's
// order.
Property property(UChar32 c) {
  // Exceptions (F), RFC 5892 2.6.
  switch (c) {
    case 0x00DF:
    case 0x03C2:
    case 0x06FD:
    case 0x06FE:
    case 0x0F0B:
    case 0x3007:
      return Property::kPvalid;
    case 0x00B7:
    case 0x0375:
    case 0x05F3:
    case 0x05F4:
    case 0x30FB:
      return Property::kContextO;
    case 0x0640:
    case 0x07FA:
    case 0x302E:
    case 0x302F:
    case 0x303B:
      return Property::kDisallowed;
    default:
      break;
  }
  if ((c >= 0x0660 && c <= 0x0669) || (c >= 0x06F0 && c <= 0x06F9)) return Property::kContextO;
  if (c >= 0x3031 && c <= 0x3035) return Property::kDisallowed;
  // BackwardCompatible (G) is empty.
  const auto gc = static_cast<UCharCategory>(u_charType(c));
  // Unassigned (J).
  if (gc == U_UNASSIGNED && !u_hasBinaryProperty(c, UCHAR_NONCHARACTER_CODE_POINT))
    return Property::kUnassigned;
  if (c >= 0x21 && c <= 0x7E) return Property::kPvalid;                        // ASCII7 (K)
  if (u_hasBinaryProperty(c, UCHAR_JOIN_CONTROL)) return Property::kContextJ;  // (H)
  switch (u_getIntPropertyValue(c, UCHAR_HANGUL_SYLLABLE_TYPE)) {              // OldHangulJamo (I)
    case U_HST_LEADING_JAMO:
    case U_HST_VOWEL_JAMO:
    case U_HST_TRAILING_JAMO:
      return Property::kDisallowed;
    default:
      break;
  }
  // PrecisIgnorableProperties (M), Controls (L).
  if (u_hasBinaryProperty(c, UCHAR_DEFAULT_IGNORABLE_CODE_POINT) ||
      u_hasBinaryProperty(c, UCHAR_NONCHARACTER_CODE_POINT) || gc == U_CONTROL_CHAR)
    return Property::kDisallowed;
  if (has_compat(c)) return Property::kFreeOnly;  // HasCompat (Q)
  switch (gc) {
    // LetterDigits (A).
    case U_LOWERCASE_LETTER:
    case U_UPPERCASE_LETTER:
    case U_OTHER_LETTER:
    case U_DECIMAL_DIGIT_NUMBER:
    case U_MODIFIER_LETTER:
    case U_NON_SPACING_MARK:
    case U_COMBINING_SPACING_MARK:
      return Property::kPvalid;
    // OtherLetterDigits (R), Spaces (N), Symbols (O), Punctuation (P).
    case U_TITLECASE_LETTER:
    case U_LETTER_NUMBER:
    case U_OTHER_NUMBER:
    case U_ENCLOSING_MARK:
    case U_SPACE_SEPARATOR:
    case U_MATH_SYMBOL:
    case U_CURRENCY_SYMBOL:
    case U_MODIFIER_SYMBOL:
    case U_OTHER_SYMBOL:
    case U_CONNECTOR_PUNCTUATION:
    case U_DASH_PUNCTUATION:
    case U_START_PUNCTUATION:
    case U_END_PUNCTUATION:
    case U_INITIAL_PUNCTUATION:
    case U_FINAL_PUNCTUATION:
    case U_OTHER_PUNCTUATION:
      return Property::kFreeOnly;
    default:
      return Property::kDisallowed;
  }
}

UScriptCode script(UChar32 c) {
  UErrorCode err = U_ZERO_ERROR;
  return uscript_getScript(c, &err);
}

int joining_type(UChar32 c) {
  return u_getIntPropertyValue(c, UCHAR_JOINING_TYPE);
}

// context_ok() applies the contextual rule of RFC 5892 appendix A to the
// CONTEXTJ or CONTEXTO code point s[i].
bool context_ok(const CodePoints& s, std::size_t i) {
  const UChar32 c = s[i];
  const bool virama_before = i > 0 && u_getCombiningClass(s[i - 1]) == 9;  // Virama
  switch (c) {
    case 0x200C: {  // A.1 ZERO WIDTH NON-JOINER
      if (virama_before) return true;
      // (Joining_Type:{L,D})(Joining_Type:T)*\u200C(Joining_Type:T)*(Joining_Type:{R,D})
      bool left = false;
      for (std::size_t k = i; k > 0;) {
        const int jt = joining_type(s[--k]);
        if (jt == U_JT_TRANSPARENT) continue;
        left = jt == U_JT_LEFT_JOINING || jt == U_JT_DUAL_JOINING;
        break;
      }
      if (!left) return false;
      for (std::size_t k = i + 1; k < s.size(); ++k) {
        const int jt = joining_type(s[k]);
        if (jt == U_JT_TRANSPARENT) continue;
        return jt == U_JT_RIGHT_JOINING || jt == U_JT_DUAL_JOINING;
      }
      return false;
    }
    case 0x200D:  // A.2 ZERO WIDTH JOINER
      return virama_before;
    case 0x00B7:  // A.3 MIDDLE DOT: between two 'l'
      return i > 0 && s[i - 1] == 0x6C && i + 1 < s.size() && s[i + 1] == 0x6C;
    case 0x0375:  // A.4 GREEK LOWER NUMERAL SIGN: before Greek
      return i + 1 < s.size() && script(s[i + 1]) == USCRIPT_GREEK;
    case 0x05F3:  // A.5 HEBREW PUNCTUATION GERESH, A.6 GERSHAYIM: after Hebrew
    case 0x05F4:
      return i > 0 && script(s[i - 1]) == USCRIPT_HEBREW;
    case 0x30FB:  // A.7 KATAKANA MIDDLE DOT: with Hiragana, Katakana or Han
      for (const UChar32 d : s) {
        const UScriptCode sc = script(d);
        if (sc == USCRIPT_HIRAGANA || sc == USCRIPT_KATAKANA || sc == USCRIPT_HAN) return true;
      }
      return false;
    default:
      break;
  }
  // A.8 ARABIC-INDIC DIGITS and A.9 EXTENDED ARABIC-INDIC DIGITS: not mixed.
  const bool arabic_indic = c >= 0x0660 && c <= 0x0669;
  for (const UChar32 d : s) {
    if (arabic_indic ? (d >= 0x06F0 && d <= 0x06F9) : (d >= 0x0660 && d <= 0x0669)) return false;
  }
  return (c >= 0x0660 && c <= 0x0669) || (c >= 0x06F0 && c <= 0x06F9);
}

// in_class() is RFC 8264 7's last step: every code point valid in cls
// (contextual ones only where their rule holds); nullptr or what is wrong.
const char* in_class(StringClass cls, const CodePoints& s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    switch (property(s[i])) {
      case Property::kPvalid:
        break;
      case Property::kFreeOnly:
        if (cls == StringClass::kIdentifier)
          return "a code point the IdentifierClass disallows (RFC 8264 4.2)";
        break;
      case Property::kContextJ:
      case Property::kContextO:
        if (!context_ok(s, i)) return "a contextual code point out of its context (RFC 5892 A)";
        break;
      case Property::kUnassigned:
        return "an unassigned code point (RFC 8264 8)";
      case Property::kDisallowed:
        return cls == StringClass::kIdentifier
                   ? "a code point the IdentifierClass disallows (RFC 8264 4.2)"
                   : "a code point the FreeformClass disallows (RFC 8264 4.3)";
    }
  }
  return nullptr;
}

// bidi_ok() is RFC 5893 2's Bidi Rule, which RFC 8265 3.4.2 applies to a
// string with right-to-left code points (R, AL, AN) only.
bool bidi_ok(const CodePoints& s) {
  bool rtl = false;
  for (const UChar32 c : s) {
    const UCharDirection d = u_charDirection(c);
    rtl = rtl || d == U_RIGHT_TO_LEFT || d == U_RIGHT_TO_LEFT_ARABIC || d == U_ARABIC_NUMBER;
  }
  if (!rtl || s.empty()) return true;
  const UCharDirection first = u_charDirection(s.front());
  const bool rtl_label = first == U_RIGHT_TO_LEFT || first == U_RIGHT_TO_LEFT_ARABIC;
  if (!rtl_label && first != U_LEFT_TO_RIGHT) return false;  // 1
  bool en = false;
  bool an = false;
  for (const UChar32 c : s) {
    const UCharDirection d = u_charDirection(c);
    en = en || d == U_EUROPEAN_NUMBER;
    an = an || d == U_ARABIC_NUMBER;
    const bool common = d == U_EUROPEAN_NUMBER || d == U_EUROPEAN_NUMBER_SEPARATOR ||
                        d == U_COMMON_NUMBER_SEPARATOR || d == U_EUROPEAN_NUMBER_TERMINATOR ||
                        d == U_OTHER_NEUTRAL || d == U_BOUNDARY_NEUTRAL ||
                        d == U_DIR_NON_SPACING_MARK;
    const bool allowed = rtl_label ? common || d == U_RIGHT_TO_LEFT ||
                                         d == U_RIGHT_TO_LEFT_ARABIC || d == U_ARABIC_NUMBER  // 2
                                   : common || d == U_LEFT_TO_RIGHT;                          // 5
    if (!allowed) return false;
  }
  if (rtl_label && en && an) return false;  // 4
  std::size_t end = s.size();
  while (end > 0 && u_charDirection(s[end - 1]) == U_DIR_NON_SPACING_MARK) --end;
  if (end == 0) return false;
  const UCharDirection last = u_charDirection(s[end - 1]);
  return rtl_label ? last == U_RIGHT_TO_LEFT || last == U_RIGHT_TO_LEFT_ARABIC ||  // 3
                         last == U_EUROPEAN_NUMBER || last == U_ARABIC_NUMBER
                   : last == U_LEFT_TO_RIGHT || last == U_EUROPEAN_NUMBER;  // 6
}

// map_username() is UsernameCasePreserved's rules 1 to 4 (RFC 8265
// 3.4.2): width mapping, no additional mapping, no case mapping, NFC.
bool map_username(CodePoints& s) {
  const UNormalizer2* form = nfkc();
  if (form == nullptr) return false;
  CodePoints mapped;
  for (const UChar32 c : s) {
    const int type = u_getIntPropertyValue(c, UCHAR_DECOMPOSITION_TYPE);
    UChar raw[8];
    UErrorCode err = U_ZERO_ERROR;
    const std::int32_t n = type == U_DT_WIDE || type == U_DT_NARROW
                               ? unorm2_getRawDecomposition(form, c, raw, 8, &err)
                               : -1;
    if (n > 0 && U_SUCCESS(err)) {
      const CodePoints d = from_utf16(reinterpret_cast<const char16_t*>(raw), n);
      mapped.insert(mapped.end(), d.begin(), d.end());
    } else {
      mapped.push_back(c);
    }
  }
  s = std::move(mapped);
  return to_nfc(s);
}

// map_password() is OpaqueString's rules (RFC 8265 4.2.2): non-ASCII
// spaces to U+0020, NFC.
bool map_password(CodePoints& s) {
  for (UChar32& c : s) {
    if (c != 0x20 && u_charType(c) == U_SPACE_SEPARATOR) c = 0x20;
  }
  return to_nfc(s);
}

// enforce() applies the profile's mapping rules until the string settles
// (RFC 8264 7: at most three more times, else invalid), then its checks.
const char* enforce(std::string_view in, std::string& out, StringClass cls,
                    bool (*map)(CodePoints&)) {
  CodePoints s;
  if (!decode(in, s)) return "not UTF-8 (RFC 8264 4.1)";
  bool settled = false;
  for (int round = 0; round < 4 && !settled; ++round) {
    CodePoints next = s;
    if (!map(next)) return "Unicode data unavailable";
    settled = next == s && round > 0;
    s = std::move(next);
  }
  if (!settled) return "does not settle under the profile's rules (RFC 8264 7)";
  if (s.empty()) return "empty after the profile's rules (RFC 8265 3.4.2, 4.2.2)";
  if (cls == StringClass::kIdentifier && !bidi_ok(s))
    return "fails the Bidi Rule (RFC 5893 2, RFC 8265 3.4.2)";
  if (const char* why = in_class(cls, s)) return why;
  encode(s, out);
  return nullptr;
}

}  // namespace

const char* enforce_username(std::string_view in, std::string& out) {
  out.clear();
  if (in.empty()) return "empty (RFC 8265 3.4.2)";
  // username = userpart *(%x20 userpart) (RFC 8265 3.5): each userpart
  // is enforced alone and none is empty.
  for (std::size_t start = 0;;) {
    const std::size_t space = in.find(' ', start);
    const std::string_view part =
        in.substr(start, space == std::string_view::npos ? std::string_view::npos : space - start);
    if (part.empty())
      return "an empty userpart (a leading, trailing or double space; RFC 8265 3.5)";
    std::string enforced;
    if (const char* why = enforce(part, enforced, StringClass::kIdentifier, map_username))
      return why;
    if (!out.empty()) out.push_back(' ');
    out += enforced;
    if (space == std::string_view::npos) return nullptr;
    start = space + 1;
  }
}

const char* enforce_password(std::string_view in, std::string& out) {
  out.clear();
  return enforce(in, out, StringClass::kFreeform, map_password);
}

}  // namespace cogo::middleware::detail
