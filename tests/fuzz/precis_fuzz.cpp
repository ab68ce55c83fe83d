// precis_fuzz: basic_auth's PRECIS profiles (RFC 8265, over RFC 8264's
// string classes; middleware/src/precis.*), which every Basic user-id and
// password passes through before it is compared (RFC 7617 2.1).
//
// Input (fuzz_input.h): the payload is the string to enforce. Control:
// byte 0 bit 0 chooses the profile (0 UsernameCasePreserved, 1
// OpaqueString).
//
// Properties, read from the RFCs again here (ICU's character properties,
// not the target's code, say what a code point is):
//  - enforcement is idempotent (RFC 8264 7: the rules are applied until
//    the string settles, so an enforced string enforces to itself);
//  - an accepted string is non-empty, valid UTF-8 and in NFC (RFC 8265
//    3.4.2 rule 3, 4.2.2 rule 3);
//  - OpaqueString: no non-ASCII space is left (4.2.2 rule 1: mapped to
//    U+0020); no control character, unassigned code point, old Hangul jamo
//    or default-ignorable one outside ZWNJ/ZWJ (FreeformClass, RFC 8264
//    4.3 and 9);
//  - UsernameCasePreserved: no fullwidth or halfwidth form is left (3.4.2
//    rule 1); userparts (3.5) are separated by single spaces, none empty,
//    as many as the input had; each code point is one IdentifierClass can
//    hold (RFC 8264 4.2, 9): ASCII 0x21-0x7E, or a letter or digit of
//    categories Ll Lu Lo Nd Lm Mn Mc, or one of the contextual code points
//    (RFC 5892 appendix A), and never an exception RFC 5892 2.6 disallows;
//  - ASCII is the fixed point both profiles promise: printable ASCII
//    (0x21-0x7E, single spaces between userparts for a user-id, any 0x20-0x7E
//    for a password) is accepted exactly as given — case preserved.
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/utf8.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_input.h"
#include "http_reference.h"
#include "precis.h"

namespace {

using cogo::middleware::detail::enforce_password;
using cogo::middleware::detail::enforce_username;
using cogo_fuzz::printable;

// code_points() decodes UTF-8; false on anything RFC 3629 refuses.
bool code_points(std::string_view s, std::vector<UChar32>& out) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(s.data());
  const auto n = static_cast<std::int32_t>(s.size());
  for (std::int32_t i = 0; i < n;) {
    UChar32 c;
    U8_NEXT(p, i, n, c);
    if (c < 0) return false;
    out.push_back(c);
  }
  return true;
}

bool is_nfc(std::string_view s) {
  UErrorCode err = U_ZERO_ERROR;
  const UNormalizer2* nfc = unorm2_getNFCInstance(&err);
  if (U_FAILURE(err)) return false;
  std::u16string u;
  std::vector<UChar32> cps;
  code_points(s, cps);
  for (UChar32 c : cps) {
    if (U_IS_BMP(c)) {
      u.push_back(static_cast<char16_t>(c));
    } else {
      u.push_back(static_cast<char16_t>(U16_LEAD(c)));
      u.push_back(static_cast<char16_t>(U16_TRAIL(c)));
    }
  }
  return unorm2_isNormalized(nfc, u.data(), static_cast<std::int32_t>(u.size()), &err) &&
         U_SUCCESS(err);
}

bool old_hangul_jamo(UChar32 c) {
  const auto t = u_getIntPropertyValue(c, UCHAR_HANGUL_SYLLABLE_TYPE);
  return t == U_HST_LEADING_JAMO || t == U_HST_VOWEL_JAMO || t == U_HST_TRAILING_JAMO;
}

// Both classes refuse these (RFC 8264 9.11 Controls, 9.13 Ignorables,
// 9.14 Unassigned, 9.10 OldHangulJamo); ZWNJ and ZWJ are CONTEXTJ.
bool refused_by_both(UChar32 c) {
  if (c == 0x200C || c == 0x200D) return false;
  return u_charType(c) == U_CONTROL_CHAR || u_charType(c) == U_UNASSIGNED ||
         u_hasBinaryProperty(c, UCHAR_DEFAULT_IGNORABLE_CODE_POINT) ||
         u_hasBinaryProperty(c, UCHAR_NONCHARACTER_CODE_POINT) || old_hangul_jamo(c);
}

// identifier_ok() is what IdentifierClass can hold, from the categories.
bool identifier_ok(UChar32 c) {
  if (c >= 0x21 && c <= 0x7E) return true;  // ASCII7 (RFC 8264 9.11)
  switch (c) {  // RFC 5892 2.6 exceptions: DISALLOWED ones (F), Lm among them
    case 0x0640: case 0x07FA: case 0x302E: case 0x302F: case 0x3031: case 0x3032:
    case 0x3033: case 0x3034: case 0x3035: case 0x303B:
      return false;
    case 0x00B7: case 0x0375: case 0x05F3: case 0x05F4: case 0x30FB:  // CONTEXTO
    case 0x200C: case 0x200D:                                          // CONTEXTJ
    case 0x00DF: case 0x03C2: case 0x06FD: case 0x06FE: case 0x0F0B: case 0x3007:  // PVALID
      return true;
    default:
      break;
  }
  switch (u_charType(c)) {  // LetterDigits (RFC 8264 9.1)
    case U_LOWERCASE_LETTER: case U_UPPERCASE_LETTER: case U_OTHER_LETTER:
    case U_DECIMAL_DIGIT_NUMBER: case U_MODIFIER_LETTER: case U_NON_SPACING_MARK:
    case U_COMBINING_SPACING_MARK:
      return true;
    default:
      return false;
  }
}

bool width_form(UChar32 c) {
  const auto d = u_getIntPropertyValue(c, UCHAR_DECOMPOSITION_TYPE);
  return d == U_DT_WIDE || d == U_DT_NARROW;
}

std::size_t userparts(std::string_view s) {
  std::size_t n = 1;
  for (char ch : s) n += ch == ' ';
  return n;
}

void check_password(std::string_view in, const std::string& out) {
  for (UChar32 c : [&] {
         std::vector<UChar32> v;
         code_points(out, v);
         return v;
       }()) {
    FUZZ_CHECK(!(c != 0x20 && u_charType(c) == U_SPACE_SEPARATOR),
               "password \"%s\": U+%04X, a non-ASCII space, left in", printable(in).c_str(), c);
    FUZZ_CHECK(!refused_by_both(c), "password \"%s\": U+%04X left in (FreeformClass refuses it)",
               printable(in).c_str(), c);
  }
}

void check_username(std::string_view in, const std::string& out) {
  FUZZ_CHECK(out.front() != ' ' && out.back() != ' ' && out.find("  ") == std::string::npos,
             "user-id \"%s\" -> \"%s\": an empty userpart", printable(in).c_str(),
             printable(out).c_str());
  FUZZ_CHECK(userparts(out) == userparts(in), "user-id \"%s\": %zu userparts became %zu",
             printable(in).c_str(), userparts(in), userparts(out));
  std::vector<UChar32> cps;
  code_points(out, cps);
  for (UChar32 c : cps) {
    if (c == ' ') continue;
    FUZZ_CHECK(!width_form(c), "user-id \"%s\": U+%04X, a width form, left in",
               printable(in).c_str(), c);
    FUZZ_CHECK(identifier_ok(c) && !refused_by_both(c),
               "user-id \"%s\": U+%04X (category %d) left in; IdentifierClass refuses it",
               printable(in).c_str(), c, static_cast<int>(u_charType(c)));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cogo_fuzz::FuzzInput input(data, size);
  const std::string_view in = input.payload();
  if (in.size() > 4096) return 0;
  const bool password = (input.next() & 1) != 0;
  auto enforce = password ? enforce_password : enforce_username;
  const char* profile = password ? "OpaqueString" : "UsernameCasePreserved";

  std::string out;
  const char* why = enforce(in, out);

  // Printable ASCII is accepted unchanged (user-ids: no empty userpart).
  bool ascii = !in.empty();
  for (char ch : in) ascii = ascii && ch >= 0x20 && ch <= 0x7E;
  if (!password && ascii) {
    ascii = in.front() != ' ' && in.back() != ' ' && in.find("  ") == std::string_view::npos;
  }
  if (ascii) {
    FUZZ_CHECK(why == nullptr && out == in, "%s(\"%s\"): printable ASCII: %s \"%s\"", profile,
               printable(in).c_str(), why != nullptr ? why : "became", printable(out).c_str());
  }
  if (why != nullptr) return 0;

  std::vector<UChar32> cps;
  FUZZ_CHECK(!out.empty() && code_points(out, cps), "%s(\"%s\"): accepted as \"%s\", empty or not UTF-8",
             profile, printable(in).c_str(), printable(out).c_str());
  FUZZ_CHECK(is_nfc(out), "%s(\"%s\"): \"%s\" is not NFC", profile, printable(in).c_str(),
             printable(out).c_str());
  if (password) {
    check_password(in, out);
  } else {
    check_username(in, out);
  }
  std::string again;
  const char* why_again = enforce(out, again);
  FUZZ_CHECK(why_again == nullptr && again == out, "%s: \"%s\" -> \"%s\", then %s \"%s\"",
             profile, printable(in).c_str(), printable(out).c_str(),
             why_again != nullptr ? why_again : "->", printable(again).c_str());
  return 0;
}
