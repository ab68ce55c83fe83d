// json.cpp: dump and parse for the JSON value of json.h.
#include "loadtest/json.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace cogo::load {

namespace {

const char* type_name(const Json& j) {
  if (j.is_null()) return "null";
  if (j.is_bool()) return "a boolean";
  if (j.is_number()) return "a number";
  if (j.is_string()) return "a string";
  if (j.is_array()) return "an array";
  return "an object";
}

[[noreturn]] void wrong_type(const Json& j, const char* wanted) {
  throw JsonError(std::string("json: expected ") + wanted + ", found " + type_name(j));
}

void escape_to(std::string& out, const std::string& s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

void newline_to(std::string& out, int indent, int depth) {
  if (indent < 0) return;
  out += '\n';
  out.append(static_cast<size_t>(indent * depth), ' ');
}

// Parser: recursive descent over the text; depth is bounded so that hostile
// input cannot overflow the stack.
class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  Json document() {
    Json v = value(0);
    skip_ws();
    if (pos_ != s_.size()) fail("trailing characters");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& why) {
    throw JsonError("json: " + why + " at offset " + std::to_string(pos_));
  }
  void skip_ws() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\r' || s_[pos_] == '\t')) {
      pos_++;
    }
  }
  bool eat(char c) {
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == c) {
      pos_++;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!eat(c)) fail(std::string("expected '") + c + "'");
  }
  bool literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) == word) {
      pos_ += word.size();
      return true;
    }
    return false;
  }

  Json value(int depth) {
    if (depth > 64) fail("nesting deeper than 64");
    skip_ws();
    if (pos_ >= s_.size()) fail("unexpected end");
    char c = s_[pos_];
    if (c == '{') return object(depth);
    if (c == '[') return array(depth);
    if (c == '"') return Json(string());
    if (literal("true")) return Json(true);
    if (literal("false")) return Json(false);
    if (literal("null")) return Json();
    return number();
  }

  Json object(int depth) {
    pos_++;  // '{'
    JsonObject o;
    if (eat('}')) return Json(std::move(o));
    do {
      skip_ws();
      if (pos_ >= s_.size() || s_[pos_] != '"') fail("expected a key");
      std::string key = string();
      expect(':');
      o[std::move(key)] = value(depth + 1);
    } while (eat(','));
    expect('}');
    return Json(std::move(o));
  }

  Json array(int depth) {
    pos_++;  // '['
    JsonArray a;
    if (eat(']')) return Json(std::move(a));
    do {
      a.push_back(value(depth + 1));
    } while (eat(','));
    expect(']');
    return Json(std::move(a));
  }

  static void put_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  uint32_t hex4() {
    if (pos_ + 4 > s_.size()) fail("short \\u escape");
    uint32_t v = 0;
    auto r = std::from_chars(s_.data() + pos_, s_.data() + pos_ + 4, v, 16);
    if (r.ptr != s_.data() + pos_ + 4) fail("bad \\u escape");
    pos_ += 4;
    return v;
  }

  std::string string() {
    pos_++;  // '"'
    std::string out;
    for (;;) {
      if (pos_ >= s_.size()) fail("unterminated string");
      char c = s_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("control character in string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size()) fail("unterminated escape");
      char e = s_[pos_++];
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          uint32_t cp = hex4();
          if (cp >= 0xD800 && cp < 0xDC00 && s_.substr(pos_, 2) == "\\u") {
            pos_ += 2;
            uint32_t lo = hex4();
            if (lo < 0xDC00 || lo > 0xDFFF) fail("bad surrogate pair");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          put_utf8(out, cp);
          break;
        }
        default:
          fail(std::string("bad escape \\") + e);
      }
    }
  }

  Json number() {
    size_t start = pos_;
    if (pos_ < s_.size() && s_[pos_] == '-') pos_++;
    bool is_float = false;
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (c >= '0' && c <= '9') {
        pos_++;
      } else if (c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
        is_float = true;
        pos_++;
      } else {
        break;
      }
    }
    if (pos_ == start) fail("unexpected character");
    const char* b = s_.data() + start;
    const char* e = s_.data() + pos_;
    if (!is_float) {
      int64_t v = 0;
      auto r = std::from_chars(b, e, v);
      if (r.ec == std::errc() && r.ptr == e) return Json(v);
    }
    double d = 0;
    auto r = std::from_chars(b, e, d);
    if (r.ec != std::errc() || r.ptr != e) fail("bad number");
    return Json(d);
  }

  std::string_view s_;
  size_t pos_ = 0;
};

const Json& null_json() {
  static const Json kNull;
  return kNull;
}

}  // namespace

bool Json::as_bool() const {
  if (!is_bool()) wrong_type(*this, "a boolean");
  return std::get<bool>(v_);
}

int64_t Json::as_int() const {
  if (v_.index() == 2) return std::get<int64_t>(v_);
  if (v_.index() == 3) return static_cast<int64_t>(std::get<double>(v_));
  wrong_type(*this, "a number");
}

double Json::as_double() const {
  if (v_.index() == 2) return static_cast<double>(std::get<int64_t>(v_));
  if (v_.index() == 3) return std::get<double>(v_);
  wrong_type(*this, "a number");
}

const std::string& Json::as_string() const {
  if (!is_string()) wrong_type(*this, "a string");
  return std::get<std::string>(v_);
}

const JsonArray& Json::as_array() const {
  if (!is_array()) wrong_type(*this, "an array");
  return *std::get<std::shared_ptr<JsonArray>>(v_);
}

const JsonObject& Json::as_object() const {
  if (!is_object()) wrong_type(*this, "an object");
  return *std::get<std::shared_ptr<JsonObject>>(v_);
}

const Json& Json::get(const std::string& key) const {
  const JsonObject& o = as_object();
  auto it = o.find(key);
  return it == o.end() ? null_json() : it->second;
}

int64_t Json::int_or(const std::string& key, int64_t fallback) const {
  const Json& j = get(key);
  return j.is_null() ? fallback : j.as_int();
}

double Json::double_or(const std::string& key, double fallback) const {
  const Json& j = get(key);
  return j.is_null() ? fallback : j.as_double();
}

std::string Json::string_or(const std::string& key, const std::string& fallback) const {
  const Json& j = get(key);
  return j.is_null() ? fallback : j.as_string();
}

void Json::dump_to(std::string& out, int indent, int depth) const {
  switch (v_.index()) {
    case 0:
      out += "null";
      break;
    case 1:
      out += std::get<bool>(v_) ? "true" : "false";
      break;
    case 2:
      out += std::to_string(std::get<int64_t>(v_));
      break;
    case 3: {
      double d = std::get<double>(v_);
      if (!std::isfinite(d)) {
        out += "null";  // JSON has no NaN or infinity
        break;
      }
      char buf[32];
      auto r = std::to_chars(buf, buf + sizeof buf, d);
      std::string_view text(buf, static_cast<size_t>(r.ptr - buf));
      out += text;
      // Keep it a double when read back ("2" would come back as an integer).
      if (text.find_first_of(".eE") == std::string_view::npos) out += ".0";
      break;
    }
    case 4:
      escape_to(out, std::get<std::string>(v_));
      break;
    case 5: {
      const JsonArray& a = *std::get<std::shared_ptr<JsonArray>>(v_);
      out += '[';
      // Arrays of numbers stay on one line: histograms would be unreadable otherwise.
      bool flat = true;
      for (const Json& x : a) flat = flat && !x.is_array() && !x.is_object();
      for (size_t i = 0; i < a.size(); i++) {
        if (i) out += flat && indent >= 0 ? ", " : ",";
        if (!flat) newline_to(out, indent, depth + 1);
        a[i].dump_to(out, indent, depth + 1);
      }
      if (!flat && !a.empty()) newline_to(out, indent, depth);
      out += ']';
      break;
    }
    case 6: {
      const JsonObject& o = *std::get<std::shared_ptr<JsonObject>>(v_);
      out += '{';
      bool first = true;
      for (const auto& [k, v] : o) {
        if (!first) out += ',';
        first = false;
        newline_to(out, indent, depth + 1);
        escape_to(out, k);
        out += indent >= 0 ? ": " : ":";
        v.dump_to(out, indent, depth + 1);
      }
      if (!o.empty()) newline_to(out, indent, depth);
      out += '}';
      break;
    }
  }
}

std::string Json::dump(int indent) const {
  std::string out;
  dump_to(out, indent, 0);
  return out;
}

Json Json::parse(std::string_view text) {
  return Parser(text).document();
}

}  // namespace cogo::load
