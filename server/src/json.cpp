// json.cpp: Request::json() and Response::json(status, value) through
// nlohmann-json (cogo/http/json.h says what each answers).
#include "cogo/http/json.h"

#include <string>

#include "cogo/http/error.h"
#include "text.h"

namespace cogo::http::detail {
namespace {

// is_json_media_type() tells whether a Content-Type value names JSON:
// application/json or any "+json" subtype, parameters ignored (RFC 9110
// 8.3.1: type and subtype are case-insensitive).
bool is_json_media_type(std::string_view value) {
  const std::string_view type = trim_whitespace(value.substr(0, value.find(';')));
  if (iequals(type, "application/json")) return true;
  const std::size_t slash = type.find('/');
  return slash != std::string_view::npos && slash > 0 && type.size() >= slash + 1 + 5 + 1 &&
         iequals(type.substr(type.size() - 5), "+json");
}

// nesting_depth() is how deep arrays and objects nest in text, reading
// past strings (a bracket inside one is text); it stops counting at limit.
int nesting_depth(std::string_view text, int limit) {
  int depth = 0;
  int deepest = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest && (deepest = depth) > limit) return deepest;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

}  // namespace

nlohmann::json JsonSupport<void>::parse(Request& req) {
  const std::string_view type = req.header("Content-Type");
  if (!is_json_media_type(type)) {
    throw HttpError(
        415, type.empty()
                 ? std::string("expected a JSON body with Content-Type: application/json")
                 : "expected Content-Type: application/json, got \"" + std::string(type) + "\"");
  }
  const std::string body = req.body();
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) {
    throw HttpError(400, "the request body is empty; expected JSON");
  }
  if (nesting_depth(body, kMaxJsonDepth) > kMaxJsonDepth) {
    throw HttpError(400, "the JSON in the request body nests deeper than " +
                             std::to_string(kMaxJsonDepth) + " levels");
  }
  try {
    return nlohmann::json::parse(body);
  } catch (const nlohmann::json::parse_error& e) {
    // "[json.exception.parse_error.101] parse error at line 1, column 2: ..."
    std::string what = e.what();
    if (const std::size_t end = what.find("] ");
        what.starts_with("[json.exception") && end != std::string::npos)
      what.erase(0, end + 2);
    throw HttpError(400, "invalid JSON in the request body: " + what);
  }
}

void JsonSupport<void>::write(Response& res, int status, const nlohmann::json& value) {
  res.json(status, value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace cogo::http::detail
