// A small, strict JSON reader and writer (RFC 8259) for model configs and safetensors headers.
// Numbers keep an exact int64 when the literal is an integer. Nesting depth is limited so that a
// hostile file cannot exhaust the stack.
#pragma once
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <variant>
#include <vector>

#include "vit/error.hpp"

namespace vit::json {

struct Value;
using Array = std::vector<Value>;
using Object = std::vector<std::pair<std::string, Value>>;  // keeps file order

struct Value {
  struct Number {
    double value = 0;
    bool is_integer = false;
    std::int64_t integer = 0;
  };
  std::variant<std::nullptr_t, bool, Number, std::string, std::shared_ptr<Array>, std::shared_ptr<Object>> v;

  Value() : v(nullptr) {}
  Value(std::nullptr_t) : v(nullptr) {}
  Value(bool b) : v(b) {}
  Value(int i) : v(Number{double(i), true, i}) {}
  Value(std::int64_t i) : v(Number{double(i), true, i}) {}
  Value(double d) : v(Number{d, false, 0}) {}
  Value(std::string s) : v(std::move(s)) {}
  Value(const char* s) : v(std::string(s)) {}
  Value(Array a) : v(std::make_shared<Array>(std::move(a))) {}
  Value(Object o) : v(std::make_shared<Object>(std::move(o))) {}

  bool is_null() const { return std::holds_alternative<std::nullptr_t>(v); }
  bool is_bool() const { return std::holds_alternative<bool>(v); }
  bool is_number() const { return std::holds_alternative<Number>(v); }
  bool is_integer() const { return is_number() && std::get<Number>(v).is_integer; }
  bool is_string() const { return std::holds_alternative<std::string>(v); }
  bool is_array() const { return std::holds_alternative<std::shared_ptr<Array>>(v); }
  bool is_object() const { return std::holds_alternative<std::shared_ptr<Object>>(v); }

  bool as_bool() const { return std::get<bool>(v); }
  double as_double() const { return std::get<Number>(v).value; }
  std::int64_t as_int() const { return std::get<Number>(v).integer; }
  const std::string& as_string() const { return std::get<std::string>(v); }
  const Array& as_array() const { return *std::get<std::shared_ptr<Array>>(v); }
  const Object& as_object() const { return *std::get<std::shared_ptr<Object>>(v); }
  Object& as_object() { return *std::get<std::shared_ptr<Object>>(v); }

  // Member lookup on an object; nullptr if absent or not an object.
  const Value* find(std::string_view key) const {
    if (!is_object()) return nullptr;
    for (const auto& [k, val] : as_object())
      if (k == key) return &val;
    return nullptr;
  }
  // True if the member exists and is not null.
  bool has(std::string_view key) const {
    const Value* p = find(key);
    return p && !p->is_null();
  }
};

class Parser {
 public:
  Parser(std::string_view text, std::string where) : s_(text), where_(std::move(where)) {}

  Value parse_document() {
    skip_ws();
    Value v = parse_value(0);
    skip_ws();
    if (pos_ != s_.size()) error("unexpected characters after the JSON value");
    return v;
  }

 private:
  static constexpr int kMaxDepth = 64;

  [[noreturn]] void error(const std::string& what) {
    fail(ErrorKind::format, where_ + ": invalid JSON at byte " + std::to_string(pos_) + ": " + what);
  }
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  char peek() { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void expect(char c) {
    if (peek() != c) error(std::string("expected '") + c + "'");
    ++pos_;
  }
  void literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) error("unknown literal");
    pos_ += word.size();
  }

  Value parse_value(int depth) {
    if (depth > kMaxDepth) error("nesting deeper than " + std::to_string(kMaxDepth));
    switch (peek()) {
      case '{': return parse_object(depth);
      case '[': return parse_array(depth);
      case '"': return Value(parse_string());
      case 't': literal("true"); return Value(true);
      case 'f': literal("false"); return Value(false);
      case 'n': literal("null"); return Value(nullptr);
      default: return parse_number();
    }
  }

  Value parse_object(int depth) {
    expect('{');
    Object obj;
    std::unordered_set<std::string> keys;  // duplicate check in O(1): a linear scan is O(n^2) for a hostile header
    skip_ws();
    if (peek() == '}') {
      ++pos_;
      return Value(std::move(obj));
    }
    for (;;) {
      skip_ws();
      if (peek() != '"') error("expected a string key");
      std::string key = parse_string();
      skip_ws();
      expect(':');
      skip_ws();
      if (!keys.insert(key).second) error("duplicate key \"" + key + "\"");
      obj.emplace_back(std::move(key), parse_value(depth + 1));
      skip_ws();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      expect('}');
      return Value(std::move(obj));
    }
  }

  Value parse_array(int depth) {
    expect('[');
    Array arr;
    skip_ws();
    if (peek() == ']') {
      ++pos_;
      return Value(std::move(arr));
    }
    for (;;) {
      skip_ws();
      arr.push_back(parse_value(depth + 1));
      skip_ws();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      expect(']');
      return Value(std::move(arr));
    }
  }

  unsigned hex4() {
    if (pos_ + 4 > s_.size()) error("truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = s_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= unsigned(c - '0');
      else if (c >= 'a' && c <= 'f') v |= unsigned(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= unsigned(c - 'A' + 10);
      else error("bad hex digit in \\u escape");
    }
    return v;
  }

  static void put_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) out += char(cp);
    else if (cp < 0x800) { out += char(0xc0 | (cp >> 6)); out += char(0x80 | (cp & 0x3f)); }
    else if (cp < 0x10000) { out += char(0xe0 | (cp >> 12)); out += char(0x80 | ((cp >> 6) & 0x3f)); out += char(0x80 | (cp & 0x3f)); }
    else { out += char(0xf0 | (cp >> 18)); out += char(0x80 | ((cp >> 12) & 0x3f)); out += char(0x80 | ((cp >> 6) & 0x3f)); out += char(0x80 | (cp & 0x3f)); }
  }

  std::string parse_string() {
    expect('"');
    std::string out;
    for (;;) {
      if (pos_ >= s_.size()) error("unterminated string");
      char c = s_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) error("control character in string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size()) error("unterminated escape");
      char e = s_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          unsigned cp = hex4();
          if (cp >= 0xd800 && cp < 0xdc00) {
            if (s_.substr(pos_, 2) != "\\u") error("lone high surrogate");
            pos_ += 2;
            unsigned lo = hex4();
            if (lo < 0xdc00 || lo >= 0xe000) error("bad low surrogate");
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          } else if (cp >= 0xdc00 && cp < 0xe000) {
            error("lone low surrogate");
          }
          put_utf8(out, cp);
          break;
        }
        default: error("unknown escape");
      }
    }
  }

  Value parse_number() {
    std::size_t start = pos_;
    bool integer = true;
    if (peek() == '-') ++pos_;
    if (peek() == '0') {
      ++pos_;
    } else if (peek() >= '1' && peek() <= '9') {
      while (peek() >= '0' && peek() <= '9') ++pos_;
    } else {
      error("expected a value");
    }
    if (peek() == '.') {
      integer = false;
      ++pos_;
      if (!(peek() >= '0' && peek() <= '9')) error("expected digits after '.'");
      while (peek() >= '0' && peek() <= '9') ++pos_;
    }
    if (peek() == 'e' || peek() == 'E') {
      integer = false;
      ++pos_;
      if (peek() == '+' || peek() == '-') ++pos_;
      if (!(peek() >= '0' && peek() <= '9')) error("expected exponent digits");
      while (peek() >= '0' && peek() <= '9') ++pos_;
    }
    std::string text(s_.substr(start, pos_ - start));
    Value::Number n;
    n.value = std::strtod(text.c_str(), nullptr);
    if (!std::isfinite(n.value)) error("number " + text + " is out of range for a double");
    if (integer) {
      errno = 0;
      char* end = nullptr;
      long long i = std::strtoll(text.c_str(), &end, 10);
      if (errno == 0) {
        n.is_integer = true;
        n.integer = i;
      }
    }
    Value v;
    v.v = n;
    return v;
  }

  std::string_view s_;
  std::string where_;
  std::size_t pos_ = 0;
};

// Parses a whole JSON document; `where` (a file name) goes into error messages.
inline Value parse(std::string_view text, const std::string& where = "json") {
  return Parser(text, where).parse_document();
}

inline void write_string(std::string& out, const std::string& s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += char(c);
        }
    }
  }
  out += '"';
}

// True if `s` is well-formed UTF-8 (RFC 3629): no stray continuation bytes, no truncated or
// overlong sequences, no encoded surrogates (U+D800..U+DFFF), nothing above U+10FFFF.
inline bool is_valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    std::size_t len;
    unsigned char lo = 0x80, hi = 0xbf;  // the allowed range of the second byte
    if (c < 0x80) { ++i; continue; }
    else if (c >= 0xc2 && c <= 0xdf) len = 2;
    else if (c == 0xe0) { len = 3; lo = 0xa0; }  // no overlong 3-byte forms
    else if (c == 0xed) { len = 3; hi = 0x9f; }  // no surrogates
    else if (c >= 0xe1 && c <= 0xef) len = 3;
    else if (c == 0xf0) { len = 4; lo = 0x90; }  // no overlong 4-byte forms
    else if (c == 0xf4) { len = 4; hi = 0x8f; }  // nothing above U+10FFFF
    else if (c >= 0xf1 && c <= 0xf3) len = 4;
    else return false;  // 0x80..0xc1 (continuation or overlong lead) and 0xf5..0xff
    if (s.size() - i < len) return false;
    const unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
    if (c1 < lo || c1 > hi) return false;
    for (std::size_t k = 2; k < len; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return false;
    i += len;
  }
  return true;
}

// `s` in double quotes for an error message: printable ASCII as is, '"' and '\\' escaped,
// every other byte as \xNN (so invalid UTF-8 and control characters stay on one visible line).
// At most `max_bytes` bytes of `s` are shown, then "...".
inline std::string quote_bytes(std::string_view s, std::size_t max_bytes = 80) {
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size() && i < max_bytes; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c >= 0x20 && c < 0x7f) {
      out += char(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out + (s.size() > max_bytes ? "\"..." : "\"");
}

// What a value is, for "expected X, got Y" messages: null, true, the number 128.0, the string
// "128", an array of 1 element, an object.
inline std::string describe(const Value& v) {
  if (v.is_null()) return "null";
  if (v.is_bool()) return v.as_bool() ? "true" : "false";
  if (v.is_integer()) return "the number " + std::to_string(v.as_int());
  if (v.is_number()) {
    char buf[40];
    for (int digits = 15; digits <= 17; ++digits) {  // the shortest form that reads back exactly
      std::snprintf(buf, sizeof buf, "%.*g", digits, v.as_double());
      if (std::strtod(buf, nullptr) == v.as_double()) break;
    }
    std::string text = buf;
    if (text.find_first_of(".e") == std::string::npos) text += ".0";  // 128.0 is not the integer 128
    return "the number " + text;
  }
  if (v.is_string()) return "the string " + quote_bytes(v.as_string(), 40);
  if (v.is_array()) return "an array of " + std::to_string(v.as_array().size()) + (v.as_array().size() == 1 ? " element" : " elements");
  return "an object";
}

// Serialises a value; indent > 0 pretty-prints with that many spaces per level.
inline void dump(const Value& v, std::string& out, int indent = 2, int level = 0) {
  auto newline = [&](int lvl) {
    if (indent > 0) {
      out += '\n';
      out.append(std::size_t(indent * lvl), ' ');
    }
  };
  if (v.is_null()) out += "null";
  else if (v.is_bool()) out += v.as_bool() ? "true" : "false";
  else if (v.is_integer()) out += std::to_string(v.as_int());
  else if (v.is_number()) {
    check(std::isfinite(v.as_double()), ErrorKind::argument, "json: cannot write a non-finite number (inf or nan)");
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", v.as_double());
    out += buf;
  } else if (v.is_string()) write_string(out, v.as_string());
  else if (v.is_array()) {
    const auto& a = v.as_array();
    bool flat = true;
    for (const auto& e : a) flat = flat && !e.is_array() && !e.is_object();
    out += '[';
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (i) out += flat ? ", " : ",";
      if (!flat) newline(level + 1);
      dump(a[i], out, indent, level + 1);
    }
    if (!flat && !a.empty()) newline(level);
    out += ']';
  } else {
    const auto& o = v.as_object();
    out += '{';
    for (std::size_t i = 0; i < o.size(); ++i) {
      if (i) out += ',';
      newline(level + 1);
      write_string(out, o[i].first);
      out += indent > 0 ? ": " : ":";
      dump(o[i].second, out, indent, level + 1);
    }
    if (!o.empty()) newline(level);
    out += '}';
  }
}

inline std::string dump(const Value& v, int indent = 2) {
  std::string out;
  dump(v, out, indent, 0);
  return out;
}

}  // namespace vit::json
