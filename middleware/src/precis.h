// precis.h: the two PRECIS profiles RFC 7617 2.1 names for Basic
// credentials when the server offers charset="UTF-8" (RFC 8265, over the
// string classes of RFC 8264): UsernameCasePreserved for the user-id,
// OpaqueString for the password. Enforcement (RFC 8264 7), with ICU's
// Unicode data (Debian's libicu). Private to cogo_middleware.
#pragma once

#include <string>
#include <string_view>

namespace cogo::middleware::detail {

// enforce_username() applies RFC 8265 3.4.2's UsernameCasePreserved
// enforcement to each space-separated userpart of in (RFC 8265 3.5): the
// width mapping (fullwidth and halfwidth forms to their decompositions),
// NFC, the Bidi Rule (RFC 5893 2) for a userpart with right-to-left code
// points, then IdentifierClass (RFC 8264 4.2) with the contextual rules
// (RFC 5892 appendix A); an empty userpart is refused, and so is a result
// that does not settle (RFC 8264 7). On success out is the enforced
// string and the result nullptr; else the result says what is wrong (never
// quoting in) and out is unspecified.
const char* enforce_username(std::string_view in, std::string& out);

// enforce_password() applies RFC 8265 4.2.2's OpaqueString enforcement to
// in: non-ASCII spaces (Zs) to U+0020, NFC, then FreeformClass (RFC 8264
// 4.3) with the contextual rules; empty is refused. Result and out as
// enforce_username()'s.
const char* enforce_password(std::string_view in, std::string& out);

}  // namespace cogo::middleware::detail
