// cogo/middleware/authenticated_user.h: AuthenticatedUser, the request
// value an authentication middleware (basic_auth) attaches for the
// handler and the access log (the "user" of common/combined/json).
//
//   if (const auto* u = req.value<cogo::middleware::AuthenticatedUser>()) greet(u->name);
#pragma once

#include <string_view>

namespace cogo::middleware {

struct AuthenticatedUser {
  // The user's name; it points into the middleware's user table and is
  // valid while the middleware lives.
  std::string_view name;
};

}  // namespace cogo::middleware
