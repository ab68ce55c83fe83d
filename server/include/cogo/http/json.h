// cogo/http/json.h: JSON bodies with nlohmann-json — Request::json() and
// Response::json(status, value). The one public header that includes
// nlohmann; include it where a handler reads or writes JSON.
//
//   #include <cogo/http/json.h>
//   router.post("/users", [](Request& req, Response& res) {
//     nlohmann::json in = req.json();              // 415 / 400 on a bad request
//     res.json(201, {{"id", 7}, {"name", in.at("name")}});
//   });
//
// Request::json() answers (by throwing HttpError, which the server turns
// into the status and a text/plain message):
//   415 Unsupported Media Type  Content-Type is missing or is not
//        application/json or another "+json" type (RFC 9110 15.5.16;
//        parameters such as charset=utf-8 are allowed);
//   400 Bad Request  the body is empty, is not JSON (the message says
//        where: "invalid JSON in the request body at byte 12: ..."), or
//        nests deeper than kMaxJsonDepth;
//   413  a body over the server's (or the route's) body limit, as body().
// A value read from JSON that the handler fails to find (in.at("name"))
// throws nlohmann::json::out_of_range: wrap it in an HttpError(400) to
// blame the client rather than answer 500.
#pragma once

#include <nlohmann/json.hpp>

#include "cogo/http/request.h"
#include "cogo/http/response.h"

namespace cogo::http {

// kMaxJsonDepth: how deep Request::json() lets arrays and objects nest.
// Printing a tree (dump(), res.json) recurses once per level on the
// goroutine's stack (256 KiB by default): 8 MB of '[' would overflow it,
// and so would 128 levels in an ASan build; 64 leaves room.
inline constexpr int kMaxJsonDepth = 64;

namespace detail {

template <>
struct JsonSupport<void> {
  using value_type = nlohmann::json;
  static nlohmann::json parse(Request& req);
  static void write(Response& res, int status, const nlohmann::json& value);
};

}  // namespace detail
}  // namespace cogo::http
