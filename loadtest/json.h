// json.h: the small JSON value cogo-load writes (--json FILE) and its worker
// processes send to their parent. Not a general JSON library: numbers are
// int64 when they are integers and double otherwise, objects keep their keys
// sorted (std::map), and parse() accepts RFC 8259 text with \uXXXX escapes
// decoded to UTF-8.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace cogo::load {

class Json;
using JsonArray = std::vector<Json>;
using JsonObject = std::map<std::string, Json>;

// JsonError: parse() met something that is not JSON; what() says where.
class JsonError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Json {
 public:
  Json() = default;  // null
  Json(std::nullptr_t) {}
  Json(bool b) : v_(b) {}
  Json(int v) : v_(static_cast<int64_t>(v)) {}
  Json(int64_t v) : v_(v) {}
  Json(uint64_t v) : v_(static_cast<int64_t>(v)) {}
  Json(double v) : v_(v) {}
  Json(const char* s) : v_(std::string(s)) {}
  Json(std::string s) : v_(std::move(s)) {}
  Json(std::string_view s) : v_(std::string(s)) {}
  Json(JsonArray a) : v_(std::make_shared<JsonArray>(std::move(a))) {}
  Json(JsonObject o) : v_(std::make_shared<JsonObject>(std::move(o))) {}

  bool is_null() const { return v_.index() == 0; }
  bool is_bool() const { return v_.index() == 1; }
  bool is_number() const { return v_.index() == 2 || v_.index() == 3; }
  bool is_string() const { return v_.index() == 4; }
  bool is_array() const { return v_.index() == 5; }
  bool is_object() const { return v_.index() == 6; }

  // The accessors throw JsonError when the value has another type.
  bool as_bool() const;
  int64_t as_int() const;  // a double is truncated
  double as_double() const;
  const std::string& as_string() const;
  const JsonArray& as_array() const;
  const JsonObject& as_object() const;

  // get() is the member `key` of an object, or null when absent.
  const Json& get(const std::string& key) const;
  // int_or() / double_or() / string_or(): the member, or `fallback` when absent.
  int64_t int_or(const std::string& key, int64_t fallback) const;
  double double_or(const std::string& key, double fallback) const;
  std::string string_or(const std::string& key, const std::string& fallback) const;

  // dump() writes compact JSON (indent < 0) or pretty JSON with `indent` spaces.
  std::string dump(int indent = -1) const;
  // parse() reads one JSON text (surrounding whitespace allowed).
  static Json parse(std::string_view text);

 private:
  void dump_to(std::string& out, int indent, int depth) const;
  // Arrays and objects are shared: copies are cheap and values immutable once built.
  std::variant<std::monostate, bool, int64_t, double, std::string, std::shared_ptr<JsonArray>,
               std::shared_ptr<JsonObject>>
      v_;
};

}  // namespace cogo::load
