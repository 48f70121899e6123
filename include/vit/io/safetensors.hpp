// safetensors reader (memory-mapped) and writer.
// Layout: u64 little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets}},
// then the data. Everything is validated before use: header length, JSON, the dtype allow-list
// (F32, F16, BF16, I64), overflow-safe shape products, offsets inside the data and equal to
// shape × dtype size, and no two non-empty tensors overlapping. The writer refuses names and
// metadata that are not valid UTF-8.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "vit/dtype.hpp"
#include "vit/io/file.hpp"
#include "vit/io/json.hpp"
#include "vit/tensor.hpp"

namespace vit::io {

struct SafeTensorsLimits {
  std::uint64_t max_header_bytes = 100u << 20;  // 100 MiB of JSON
  std::size_t max_tensors = 1u << 20;
  std::size_t max_rank = 8;
};

// One tensor inside a mapped file: no copy is made.
struct TensorView {
  std::string name;
  DType dtype = DType::f32;
  Shape shape;
  std::span<const std::byte> bytes;
};

class SafeTensors {
 public:
  explicit SafeTensors(const std::string& path, SafeTensorsLimits limits = {}) : file_(path) { parse(limits); }

  const std::string& path() const { return file_.path(); }
  const std::vector<TensorView>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  const TensorView* find(const std::string& name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &tensors_[it->second];
  }
  const TensorView& at(const std::string& name) const {
    const TensorView* t = find(name);
    if (!t) fail(ErrorKind::format, path() + ": tensor '" + name + "' is missing");
    return *t;
  }

  // Converts a floating-point tensor (F32/F16/BF16) to an fp32 host tensor.
  HostTensor to_float(const TensorView& t) const {
    HostTensor out(t.shape);
    const std::byte* p = t.bytes.data();
    std::size_t n = std::size_t(t.shape.numel());
    switch (t.dtype) {
      case DType::f32:
        if (n) std::memcpy(out.data.data(), p, n * 4);  // an empty vector's data() may be null
        break;
      case DType::bf16:
        for (std::size_t i = 0; i < n; ++i) {
          std::uint16_t h;
          std::memcpy(&h, p + 2 * i, 2);
          out.data[i] = bf16_to_float(h);
        }
        break;
      case DType::f16:
        for (std::size_t i = 0; i < n; ++i) {
          std::uint16_t h;
          std::memcpy(&h, p + 2 * i, 2);
          out.data[i] = f16_to_float(h);
        }
        break;
      case DType::i64:
        fail(ErrorKind::format, path() + ": tensor '" + t.name + "': expected a float dtype, got I64");
    }
    return out;
  }

  std::vector<std::int64_t> to_int64(const TensorView& t) const {
    check(t.dtype == DType::i64, ErrorKind::format,
          path() + ": tensor '" + t.name + "': expected dtype I64, got " + dtype_name(t.dtype));
    std::vector<std::int64_t> out(std::size_t(t.shape.numel()));
    if (!out.empty()) std::memcpy(out.data(), t.bytes.data(), out.size() * 8);
    return out;
  }

 private:
  [[noreturn]] void bad(const std::string& what) const { fail(ErrorKind::format, path() + ": " + what); }

  void parse(const SafeTensorsLimits& limits) {
    auto all = file_.bytes();
    if (all.size() < 8) bad("file is " + std::to_string(all.size()) + " bytes, too short for the 8-byte header length");
    std::uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | std::uint64_t(all[std::size_t(i)]);
    if (n > limits.max_header_bytes) bad("header length " + std::to_string(n) + " exceeds the limit of " + std::to_string(limits.max_header_bytes));
    if (n > all.size() - 8) bad("header length " + std::to_string(n) + " runs past the end of the file (" + std::to_string(all.size()) + " bytes)");
    std::string_view text(reinterpret_cast<const char*>(all.data() + 8), std::size_t(n));
    json::Value header = json::parse(text, path() + " header");
    if (!header.is_object()) bad("header is not a JSON object");
    auto data = all.subspan(8 + std::size_t(n));

    struct Range { std::uint64_t begin, end; std::size_t index; };
    std::vector<Range> ranges;
    for (const auto& [name, entry] : header.as_object()) {
      if (name == "__metadata__") {
        if (!entry.is_object()) bad("__metadata__ is not an object");
        for (const auto& [k, v] : entry.as_object()) {
          if (!v.is_string()) bad("__metadata__ value for '" + k + "' is not a string");
          metadata_[k] = v.as_string();
        }
        continue;
      }
      if (tensors_.size() >= limits.max_tensors) bad("more than " + std::to_string(limits.max_tensors) + " tensors");
      std::string where = "tensor '" + name + "'";
      if (!entry.is_object()) bad(where + ": entry is not an object");
      const json::Value* dt = entry.find("dtype");
      const json::Value* sh = entry.find("shape");
      const json::Value* off = entry.find("data_offsets");
      if (!dt || !dt->is_string()) bad(where + ": missing or non-string dtype");
      auto dtype = parse_dtype(dt->as_string());
      if (!dtype) bad(where + ": dtype " + dt->as_string() + " is not supported (expected F32, F16, BF16 or I64)");
      if (!sh || !sh->is_array()) bad(where + ": missing shape array");
      if (sh->as_array().size() > limits.max_rank) bad(where + ": rank " + std::to_string(sh->as_array().size()) + " exceeds " + std::to_string(limits.max_rank));
      std::vector<std::int64_t> dims;
      std::uint64_t count = 1;
      for (const auto& d : sh->as_array()) {
        if (!d.is_integer() || d.as_int() < 0) bad(where + ": shape entries must be non-negative integers");
        if (!checked_mul(count, std::uint64_t(d.as_int()), count)) bad(where + ": shape product overflows");
        dims.push_back(d.as_int());
      }
      std::uint64_t nbytes = 0;
      if (!checked_mul(count, dtype_size(*dtype), nbytes)) bad(where + ": byte size overflows");
      if (!off || !off->is_array() || off->as_array().size() != 2) bad(where + ": data_offsets must be [begin, end]");
      const auto& o = off->as_array();
      if (!o[0].is_integer() || !o[1].is_integer() || o[0].as_int() < 0 || o[1].as_int() < 0) bad(where + ": data_offsets must be non-negative integers");
      std::uint64_t begin = std::uint64_t(o[0].as_int()), end = std::uint64_t(o[1].as_int());
      if (begin > end) bad(where + ": data_offsets begin " + std::to_string(begin) + " > end " + std::to_string(end));
      if (end > data.size()) bad(where + ": data_offsets end " + std::to_string(end) + " is past the data section (" + std::to_string(data.size()) + " bytes)");
      if (end - begin != nbytes) bad(where + ": data_offsets span " + std::to_string(end - begin) + " bytes, shape " + Shape(dims).str() + " x " + dtype_name(*dtype) + " needs " + std::to_string(nbytes));
      ranges.push_back({begin, end, tensors_.size()});
      index_[name] = tensors_.size();
      tensors_.push_back(TensorView{name, *dtype, Shape(std::move(dims)), data.subspan(std::size_t(begin), std::size_t(nbytes))});
    }
    // Empty tensors (begin == end) hold no bytes and never overlap anything (their offsets were
    // range-checked above); the rest, sorted by (begin, end), must not share a byte.
    std::erase_if(ranges, [](const Range& r) { return r.begin == r.end; });
    std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
    for (std::size_t i = 1; i < ranges.size(); ++i)
      if (ranges[i].begin < ranges[i - 1].end)
        bad("tensors '" + tensors_[ranges[i - 1].index].name + "' and '" + tensors_[ranges[i].index].name + "' overlap");
  }

  MappedFile file_;
  std::vector<TensorView> tensors_;
  std::map<std::string, std::size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// One tensor to write: fp32 data or int64 data.
struct TensorToWrite {
  std::string name;
  Shape shape;
  std::vector<float> f32;
  std::vector<std::int64_t> i64;  // used when non-empty or when is_int is set
  bool is_int = false;
};

// Writes a safetensors file atomically (temporary file + rename). Tensor names and metadata must
// be valid UTF-8 (the header is JSON; Python's safetensors refuses anything else): otherwise an
// argument error names the offending string and no file is created.
inline void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                              const std::map<std::string, std::string>& metadata = {}) {
  auto need_utf8 = [&](const std::string& s, const std::string& what) {
    check(json::is_valid_utf8(s), ErrorKind::argument, path + ": " + what + " " + json::quote_bytes(s) + " is not valid UTF-8");
  };
  for (const auto& [k, v] : metadata) {
    need_utf8(k, "metadata key");
    need_utf8(v, "metadata value for '" + k + "'");
  }
  for (const auto& t : tensors) need_utf8(t.name, "tensor name");
  json::Object header;
  if (!metadata.empty()) {
    json::Object meta;
    for (const auto& [k, v] : metadata) meta.emplace_back(k, json::Value(v));
    header.emplace_back("__metadata__", json::Value(std::move(meta)));
  }
  std::uint64_t offset = 0;
  for (const auto& t : tensors) {
    std::uint64_t bytes = std::uint64_t(t.shape.numel()) * (t.is_int ? 8 : 4);
    json::Array shape;
    for (auto d : t.shape.dims()) shape.emplace_back(d);
    header.emplace_back(t.name, json::Value(json::Object{
                                    {"dtype", json::Value(t.is_int ? "I64" : "F32")},
                                    {"shape", json::Value(std::move(shape))},
                                    {"data_offsets", json::Value(json::Array{json::Value(std::int64_t(offset)), json::Value(std::int64_t(offset + bytes))})}}));
    offset += bytes;
  }
  std::string text = json::dump(json::Value(std::move(header)), 0);
  while (text.size() % 8) text += ' ';
  AtomicFile f(path);
  std::uint64_t n = text.size();
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));
  f.write(len, 8);
  f.write(text.data(), text.size());
  for (const auto& t : tensors) {
    if (t.is_int) {
      check(std::int64_t(t.i64.size()) == t.shape.numel(), ErrorKind::shape, t.name + ": data does not match shape " + t.shape.str());
      f.write(t.i64.data(), t.i64.size() * 8);
    } else {
      check(std::int64_t(t.f32.size()) == t.shape.numel(), ErrorKind::shape, t.name + ": data does not match shape " + t.shape.str());
      f.write(t.f32.data(), t.f32.size() * 4);
    }
  }
  f.commit();
}

}  // namespace vit::io
