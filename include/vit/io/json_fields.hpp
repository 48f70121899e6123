// Typed reads of a JSON config object's fields, shared by every model family's config reader.
// A field present with another type is a config error naming the file, the field, the type it
// must have and what it holds — never silently a default:
//   "config.json: field 'args.model_kwargs.depth': expected an integer, got the string \"2\""
// Absent fields read as nullopt (`need` makes them an error). With null_is_absent (HuggingFace
// and timm configs, where null means "not set") a null field reads as absent too.
//
//   json::Fields f(value, "config.json");
//   int depth = f.integer("depth").value_or(12);
//   json::Fields args = f.object("args");      // errors name "args.<key>"
#pragma once
#include <array>
#include <climits>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vit/io/json.hpp"

namespace vit::json {

class Fields {
 public:
  Fields(const Value& obj, std::string where, std::string prefix = "", bool null_is_absent = false)
      : obj_(obj), where_(std::move(where)), prefix_(std::move(prefix)), null_is_absent_(null_is_absent) {}

  const std::string& where() const { return where_; }

  // The field, or nullptr when absent (or null, with null_is_absent).
  const Value* find(const std::string& key) const {
    const Value* v = obj_.is_object() ? obj_.find(key) : nullptr;
    return v && !(null_is_absent_ && v->is_null()) ? v : nullptr;
  }
  // The field; absent is the config error "<where>: missing '<prefix><key>'".
  const Value& need(const std::string& key) const {
    const Value* v = find(key);
    if (!v) fail(ErrorKind::config, where_ + ": missing '" + prefix_ + key + "'");
    return *v;
  }
  [[noreturn]] void wrong(const std::string& name, const std::string& expected, const Value& got) const {
    fail(ErrorKind::config, where_ + ": field '" + prefix_ + name + "': expected " + expected + ", got " + describe(got));
  }

  // The fields of a nested object (absent: no fields); another type is an error.
  Fields object(const std::string& key) const {
    static const Value empty = Value(Object{});
    const Value* v = find(key);
    if (v && !v->is_object()) wrong(key, "an object", *v);
    return Fields(v ? *v : empty, where_, prefix_ + key + ".", null_is_absent_);
  }
  // Every (key, value) of the object, in file order (none when it is not an object).
  const Object& entries() const {
    static const Object none;
    return obj_.is_object() ? obj_.as_object() : none;
  }

  // Checks of one value (a field or an element of one), named `name` in errors.
  std::int64_t as_integer(const Value& v, const std::string& name, std::int64_t lo = INT32_MIN, std::int64_t hi = INT32_MAX) const {
    if (!v.is_integer()) wrong(name, "an integer", v);  // 128.0, "128" and 2^70 are not
    if (v.as_int() < lo || v.as_int() > hi) {
      const bool int32 = lo == INT32_MIN && hi == INT32_MAX;
      fail(ErrorKind::config, where_ + ": field '" + prefix_ + name + "': expected " +
                                  (int32 ? std::string("a 32-bit integer") : "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]") +
                                  ", got " + std::to_string(v.as_int()));
    }
    return v.as_int();
  }
  bool as_bool(const Value& v, const std::string& name) const {
    if (!v.is_bool()) wrong(name, "true or false", v);
    return v.as_bool();
  }
  const std::string& as_string(const Value& v, const std::string& name) const {
    if (!v.is_string()) wrong(name, "a string", v);
    return v.as_string();
  }
  // An array of exactly n elements (n = 0: any length); `what` describes it in errors.
  const Array& as_array(const Value& v, const std::string& name, std::size_t n = 0, const std::string& what = "an array") const {
    if (!v.is_array() || (n && v.as_array().size() != n)) wrong(name, what, v);
    return v.as_array();
  }

  // Optional fields of one type (nullopt when absent).
  std::optional<std::int64_t> integer(const std::string& key, std::int64_t lo = INT32_MIN, std::int64_t hi = INT32_MAX) const {
    const Value* v = find(key);
    return v ? std::optional(as_integer(*v, key, lo, hi)) : std::nullopt;
  }
  std::optional<bool> boolean(const std::string& key) const {
    const Value* v = find(key);
    return v ? std::optional(as_bool(*v, key)) : std::nullopt;
  }
  std::optional<double> number(const std::string& key) const {
    const Value* v = find(key);
    if (v && !v->is_number()) wrong(key, "a number", *v);
    return v ? std::optional(v->as_double()) : std::nullopt;
  }
  std::optional<std::string> string(const std::string& key) const {
    const Value* v = find(key);
    return v ? std::optional(as_string(*v, key)) : std::nullopt;
  }
  // An array of n numbers (any n when 0).
  std::optional<std::vector<double>> numbers(const std::string& key, std::size_t n = 0) const {
    const Value* v = find(key);
    if (!v) return std::nullopt;
    const std::string what = n ? "an array of " + std::to_string(n) + " numbers" : "an array of numbers";
    std::vector<double> out;
    for (const Value& x : as_array(*v, key, n, what)) {
      if (!x.is_number()) wrong(key, what, *v);
      out.push_back(x.as_double());
    }
    return out;
  }
  // An array of integers; each element checked and named "<key>[i]".
  std::optional<std::vector<std::int64_t>> integers(const std::string& key, std::size_t n = 0, const std::string& what = "an array of integers") const {
    const Value* v = find(key);
    if (!v) return std::nullopt;
    std::vector<std::int64_t> out;
    const Array& a = as_array(*v, key, n, what);
    for (std::size_t i = 0; i < a.size(); ++i) out.push_back(as_integer(a[i], key + "[" + std::to_string(i) + "]"));
    return out;
  }

  // Reads `key` into dst when present (required: absent is an error): int, bool, std::string,
  // std::vector<std::int64_t> or std::array<int, 2> ([height, width]).
  void read(const std::string& key, int& dst, bool required = false) const {
    if (required) need(key);
    if (auto v = integer(key)) dst = int(*v);
  }
  void read(const std::string& key, bool& dst, bool required = false) const {
    if (required) need(key);
    if (auto v = boolean(key)) dst = *v;
  }
  void read(const std::string& key, std::string& dst, bool required = false) const {
    if (required) need(key);
    if (auto v = string(key)) dst = *v;
  }
  void read(const std::string& key, std::vector<std::int64_t>& dst, bool required = false) const {
    if (required) need(key);
    if (auto v = integers(key)) dst = *v;
  }
  void read(const std::string& key, std::array<int, 2>& dst, bool required = false) const {
    if (required) need(key);
    if (auto v = integers(key, 2, "[height, width] (2 integers)")) dst = {int((*v)[0]), int((*v)[1])};
  }

 private:
  const Value& obj_;
  std::string where_, prefix_;
  bool null_is_absent_;
};

// The JSON value of a config field (the types Fields::read takes).
inline Value to_value(const std::string& s) { return Value(s); }
inline Value to_value(int i) { return Value(i); }
inline Value to_value(bool b) { return Value(b); }
inline Value to_value(const std::vector<std::int64_t>& v) { return Value(Array(v.begin(), v.end())); }
inline Value to_value(const std::array<int, 2>& v) { return Value(Array{v[0], v[1]}); }

}  // namespace vit::json
