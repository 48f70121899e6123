// C-RADIO model configuration: every number the forward pass needs, in plain form.
// It is read from the project's own JSON format (format_version 1, see docs/model-config.md),
// or derived from a HuggingFace C-RADIO snapshot (importer.hpp), and can be written back out.
#pragma once
#include <array>
#include <climits>
#include <cstdio>
#include <cstdint>
#include <string>
#include <vector>

#include "vit/io/file.hpp"
#include "vit/io/json.hpp"

namespace vit::models::radio {

// Typed reads of config fields. A field that is present but not of the expected type is a config
// error "<where>: field '<name>': expected <type>, got <what it holds>" — never silently the default.
namespace field {

[[noreturn]] inline void wrong(const std::string& where, const std::string& name, const std::string& expected, const json::Value& got) {
  fail(ErrorKind::config, where + ": field '" + name + "': expected " + expected + ", got " + json::describe(got));
}
// An integer literal that fits in an int (128.0, "128" and 2^70 do not).
inline int to_int(const json::Value& x, const std::string& where, const std::string& name) {
  if (!x.is_integer()) wrong(where, name, "an integer", x);
  if (x.as_int() < INT32_MIN || x.as_int() > INT32_MAX)
    fail(ErrorKind::config, where + ": field '" + name + "': expected a 32-bit integer, got " + std::to_string(x.as_int()));
  return int(x.as_int());
}
inline bool to_bool(const json::Value& x, const std::string& where, const std::string& name) {
  if (!x.is_bool()) wrong(where, name, "true or false", x);
  return x.as_bool();
}
inline const std::string& to_string(const json::Value& x, const std::string& where, const std::string& name) {
  if (!x.is_string()) wrong(where, name, "a string", x);
  return x.as_string();
}
// [height, width]: an array of exactly two integers.
inline std::array<int, 2> to_int_pair(const json::Value& x, const std::string& where, const std::string& name) {
  if (!x.is_array() || x.as_array().size() != 2) wrong(where, name, "[height, width] (2 integers)", x);
  return {to_int(x.as_array()[0], where, name + "[0]"), to_int(x.as_array()[1], where, name + "[1]")};
}

}  // namespace field

// A teacher head of the checkpoint (HF `adaptor_configs.<name>` + `adaptors.<name>.*` tensors).
struct Adaptor {
  std::string name;           // e.g. "siglip2-g"
  int head_idx = 0;           // the token its summary head reads
  int summary_hidden = 0, summary_out = 0, summary_inner = 0;
  int feature_hidden = 0, feature_out = 0, feature_inner = 0;
  int upsample = 1;           // feature_out = upsample² · channels

  // Weight values: fc1, inner blocks (LayerNorm + Linear), final LayerNorm + Linear, both heads.
  std::int64_t parameter_count(std::int64_t d) const {
    auto mlp = [d](std::int64_t h, std::int64_t out, std::int64_t inner) { return d * h + h + inner * (2 * h + h * h + h) + 2 * h + h * out + out; };
    return mlp(summary_hidden, summary_out, summary_inner) + mlp(feature_hidden, feature_out, feature_inner);
  }
};

struct Config {
  static constexpr int kFormatVersion = 1;
  static constexpr int kMaxDim = 1 << 16;          // embed_dim limit (mlp_hidden: 8x this)
  static constexpr int kMaxTokens = 1 << 12;       // cls tokens, registers
  static constexpr int kMaxResolution = 1 << 16;   // max_resolution, preferred_resolution
  // Total weights a config may describe. The per-field limits alone admit absurd models (embed_dim
  // 4096 x depth 1024 x mlp_hidden 16384: 206 G parameters), which would only fail after many GB
  // of allocations. The largest real C-RADIO variant (g) has about 1.16 G; 4 G (16 GB in fp32)
  // leaves ample margin.
  static constexpr std::int64_t kMaxParameters = 4'000'000'000;
  // Activation memory one forward may allocate (Model's workspace), checked before allocating.

  std::string name;            // e.g. "C-RADIOv3-B"
  std::string version;         // HF RESOURCE_MAP key, e.g. "c-radio_v3-b"
  std::string timm_model;      // e.g. "vit_base_patch16_224"
  int patch_size = 16;
  int embed_dim = 768;         // D
  int depth = 12;              // L
  int num_heads = 12;
  int mlp_hidden = 3072;       // M
  int pos_grid = 128;          // R: the stored position-embedding grid is R×R (cpe_max_size / patch)
  int num_cls_tokens = 4;
  int num_registers = 4;
  std::vector<std::int64_t> summary_idxs{0, 1, 2};
  bool patch_bias = false;     // embedder.bias present
  bool layer_scale = false;    // blocks.i.ls{1,2}.grandma present
  bool mlp_norm = false;       // LayerNorm (eps 1e-5) between GELU and fc2 (C-RADIO v1)
  bool final_norm = false;     // model.norm present
  bool feature_normalizer = false;  // PHI-S: spatial = (spatial - mean) @ tx^T
  int max_resolution = 2048;
  std::array<int, 2> preferred_resolution{512, 512};
  float norm_eps = 1e-6f;
  float mlp_norm_eps = 1e-5f;
  std::vector<Adaptor> adaptors;  // teacher heads the weights hold (C-RADIOv4's adaptor_configs)

  int num_prefix_tokens() const { return num_cls_tokens + num_registers; }
  int summary_dim() const { return int(summary_idxs.size()) * embed_dim; }

  // Exact number of weight values the model loads: input conditioner mean/std (3 + 3), patch
  // embedder [+ bias], the R×R position grid, prefix tokens, per block qkv/proj/fc1/fc2 with biases,
  // norm1/norm2 [, layer scales][, MLP LayerNorm], [final norm], [PHI-S tx + mean].
  // Exact in int64 for any config within the per-field limits (validate() checks those first).
  std::int64_t parameter_count() const {
    const std::int64_t d = embed_dim, m = mlp_hidden, p = patch_size, r = pos_grid;
    std::int64_t block = 3 * d * d + 3 * d + d * d + d  // qkv, proj
                         + d * m + m + m * d + d        // fc1, fc2
                         + 4 * d;                       // norm1, norm2
    if (layer_scale) block += 2 * d;
    if (mlp_norm) block += 2 * m;
    std::int64_t n = 6 + 3 * p * p * d + (patch_bias ? d : 0) + r * r * d + std::int64_t(num_prefix_tokens()) * d + depth * block;
    if (final_norm) n += 2 * d;
    if (feature_normalizer) n += d * d + d;
    for (const Adaptor& a : adaptors) n += a.parameter_count(d);
    return n;
  }

  // Throws a config error if the numbers cannot describe a working model.
  void validate(const std::string& where) const {
    auto need = [&](bool ok, const std::string& what) { check(ok, ErrorKind::config, where + ": " + what); };
    need(patch_size > 0 && patch_size <= 64, "patch_size must be in [1, 64], got " + std::to_string(patch_size));
    need(embed_dim > 0 && num_heads > 0 && embed_dim % num_heads == 0,
         "embed_dim " + std::to_string(embed_dim) + " must be a positive multiple of num_heads " + std::to_string(num_heads));
    need(depth >= 0 && depth <= 1024, "depth must be in [0, 1024], got " + std::to_string(depth));
    need(mlp_hidden > 0, "mlp_hidden must be positive, got " + std::to_string(mlp_hidden));
    need(pos_grid > 0 && pos_grid <= 4096, "pos_grid must be in [1, 4096], got " + std::to_string(pos_grid));
    need(num_cls_tokens > 0 && num_registers >= 0, "need at least one cls token and no negative register count");
    need(!summary_idxs.empty(), "summary_idxs is empty");
    for (auto i : summary_idxs)
      need(i >= 0 && i < num_cls_tokens, "summary index " + std::to_string(i) + " is outside the " + std::to_string(num_cls_tokens) + " cls tokens");
    need(max_resolution > 0, "max_resolution must be positive");
    for (const Adaptor& a : adaptors) {
      const std::string at = "adaptor '" + a.name + "': ";
      for (int v : {a.summary_hidden, a.summary_out, a.feature_hidden, a.feature_out})
        need(v > 0 && v <= kMaxDim * 8, at + "head sizes must be in [1, " + std::to_string(kMaxDim * 8) + "], got " + std::to_string(v));
      need(a.summary_inner >= 0 && a.summary_inner <= 64 && a.feature_inner >= 0 && a.feature_inner <= 64, at + "inner blocks must be in [0, 64]");
      need(a.upsample >= 1 && a.upsample <= 16 && a.feature_out % (a.upsample * a.upsample) == 0,
           at + "feature output " + std::to_string(a.feature_out) + " must be a multiple of upsample_factor² (upsample_factor " +
               std::to_string(a.upsample) + ", in [1, 16])");
      need(a.head_idx >= 0 && a.head_idx < num_cls_tokens + num_registers,
           at + "head_idx " + std::to_string(a.head_idx) + " is outside the " + std::to_string(num_cls_tokens + num_registers) + " prefix tokens");
    }
    // Upper bounds: a hostile or mistyped config must fail here, not as std::bad_alloc later.
    need(embed_dim <= kMaxDim && mlp_hidden <= kMaxDim * 8, "embed_dim " + std::to_string(embed_dim) + " / mlp_hidden " +
                                                                std::to_string(mlp_hidden) + " exceed the limits " + std::to_string(kMaxDim) +
                                                                " / " + std::to_string(kMaxDim * 8));
    need(num_cls_tokens <= kMaxTokens && num_registers <= kMaxTokens,
         "num_cls_tokens / num_registers must be at most " + std::to_string(kMaxTokens));
    need(max_resolution <= kMaxResolution, "max_resolution must be at most " + std::to_string(kMaxResolution) + ", got " + std::to_string(max_resolution));
    need(preferred_resolution[0] > 0 && preferred_resolution[1] > 0 && preferred_resolution[0] <= kMaxResolution &&
             preferred_resolution[1] <= kMaxResolution,
         "preferred_resolution must be in [1, " + std::to_string(kMaxResolution) + "], got " + std::to_string(preferred_resolution[0]) +
             "x" + std::to_string(preferred_resolution[1]));
    // The whole model, once each field is known to be in range (so the count cannot overflow).
    const std::int64_t params = parameter_count();
    char size[96];
    std::snprintf(size, sizeof size, "%.1f G parameters (%.1f GB in fp32)", double(params) / 1e9, double(params) * 4 / 1e9);
    need(params <= kMaxParameters, std::string(size) + " exceed the limit of " + std::to_string(kMaxParameters / 1'000'000'000) + " G parameters");
  }

  json::Value to_json() const {
    json::Array idx;
    for (auto i : summary_idxs) idx.emplace_back(i);
    return json::Value(json::Object{
        {"format_version", kFormatVersion},
        {"family", std::string("radio")},
        {"name", name},
        {"version", version},
        {"timm_model", timm_model},
        {"patch_size", patch_size},
        {"embed_dim", embed_dim},
        {"depth", depth},
        {"num_heads", num_heads},
        {"mlp_hidden", mlp_hidden},
        {"pos_grid", pos_grid},
        {"num_cls_tokens", num_cls_tokens},
        {"num_registers", num_registers},
        {"summary_idxs", json::Value(std::move(idx))},
        {"patch_bias", patch_bias},
        {"layer_scale", layer_scale},
        {"mlp_norm", mlp_norm},
        {"final_norm", final_norm},
        {"feature_normalizer", feature_normalizer},
        {"max_resolution", max_resolution},
        {"preferred_resolution", json::Value(json::Array{preferred_resolution[0], preferred_resolution[1]})},
        {"adaptors", adaptors_json()},
    });
  }

  json::Value adaptors_json() const {
    json::Array list;
    for (const Adaptor& a : adaptors)
      list.emplace_back(json::Object{{"name", a.name},
                                     {"head_idx", a.head_idx},
                                     {"summary", json::Value(json::Array{a.summary_hidden, a.summary_out, a.summary_inner})},
                                     {"feature", json::Value(json::Array{a.feature_hidden, a.feature_out, a.feature_inner})},
                                     {"upsample_factor", a.upsample}});
    return json::Value(std::move(list));
  }

  // "adaptors": [{"name", "head_idx", "summary": [hidden, out, inner], "feature": [...], "upsample_factor"}]
  static std::vector<Adaptor> adaptors_from_json(const json::Value& v, const std::string& where) {
    if (!v.is_array()) field::wrong(where, "adaptors", "an array", v);
    std::vector<Adaptor> out;
    for (std::size_t i = 0; i < v.as_array().size(); ++i) {
      const json::Value& x = v.as_array()[i];
      const std::string at = "adaptors[" + std::to_string(i) + "]";
      if (!x.is_object()) field::wrong(where, at, "an object", x);
      auto need = [&](const char* key) -> const json::Value& {
        const json::Value* f = x.find(key);
        if (!f) fail(ErrorKind::config, where + ": " + at + ": missing '" + key + "'");
        return *f;
      };
      auto triple = [&](const char* key, int& hidden, int& o, int& inner) {
        const json::Value& t = need(key);
        if (!t.is_array() || t.as_array().size() != 3) field::wrong(where, at + "." + key, "[hidden, out, inner blocks] (3 integers)", t);
        hidden = field::to_int(t.as_array()[0], where, at + "." + key + "[0]");
        o = field::to_int(t.as_array()[1], where, at + "." + key + "[1]");
        inner = field::to_int(t.as_array()[2], where, at + "." + key + "[2]");
      };
      Adaptor a;
      a.name = field::to_string(need("name"), where, at + ".name");
      a.head_idx = field::to_int(need("head_idx"), where, at + ".head_idx");
      triple("summary", a.summary_hidden, a.summary_out, a.summary_inner);
      triple("feature", a.feature_hidden, a.feature_out, a.feature_inner);
      a.upsample = field::to_int(need("upsample_factor"), where, at + ".upsample_factor");
      out.push_back(std::move(a));
    }
    return out;
  }

  // Reads the project's JSON config; every field must have its type (see namespace field).
  static Config from_json(const json::Value& v, const std::string& where) {
    auto bad = [&](const std::string& what) -> void { fail(ErrorKind::config, where + ": " + what); };
    if (!v.is_object()) bad("expected a JSON object");
    const json::Value* fv = v.find("format_version");
    if (!fv) bad("missing integer 'format_version'");
    if (int version = field::to_int(*fv, where, "format_version"); version != kFormatVersion)
      bad("format_version " + std::to_string(version) + " is not supported (expected " + std::to_string(kFormatVersion) + ")");
    Config c;
    auto get_int = [&](const char* key, int& dst, bool required = true) {
      const json::Value* x = v.find(key);
      if (!x && required) bad(std::string("missing '") + key + "'");
      if (x) dst = field::to_int(*x, where, key);
    };
    auto get_bool = [&](const char* key, bool& dst) {  // optional parts default to absent
      if (const json::Value* x = v.find(key)) dst = field::to_bool(*x, where, key);
    };
    auto get_str = [&](const char* key, std::string& dst) {
      if (const json::Value* x = v.find(key)) dst = field::to_string(*x, where, key);
    };
    std::string family = "radio";  // files written before the field existed are C-RADIO
    get_str("family", family);
    if (family != "radio")
      fail(ErrorKind::config, where + ": field 'family': this is a " + family + " config, not a C-RADIO (\"radio\") one");
    get_str("name", c.name);
    get_str("version", c.version);
    get_str("timm_model", c.timm_model);
    get_int("patch_size", c.patch_size);
    get_int("embed_dim", c.embed_dim);
    get_int("depth", c.depth);
    get_int("num_heads", c.num_heads);
    get_int("mlp_hidden", c.mlp_hidden);
    get_int("pos_grid", c.pos_grid);
    get_int("num_cls_tokens", c.num_cls_tokens);
    get_int("num_registers", c.num_registers);
    get_bool("patch_bias", c.patch_bias);
    get_bool("layer_scale", c.layer_scale);
    get_bool("mlp_norm", c.mlp_norm);
    get_bool("final_norm", c.final_norm);
    get_bool("feature_normalizer", c.feature_normalizer);
    get_int("max_resolution", c.max_resolution, /*required=*/false);
    const json::Value* idx = v.find("summary_idxs");
    if (!idx) bad("missing array 'summary_idxs'");
    if (!idx->is_array()) field::wrong(where, "summary_idxs", "an array of integers", *idx);
    c.summary_idxs.clear();
    for (std::size_t i = 0; i < idx->as_array().size(); ++i) {
      const json::Value& x = idx->as_array()[i];
      if (!x.is_integer()) field::wrong(where, "summary_idxs[" + std::to_string(i) + "]", "an integer", x);
      c.summary_idxs.push_back(x.as_int());
    }
    if (const json::Value* pr = v.find("preferred_resolution")) c.preferred_resolution = field::to_int_pair(*pr, where, "preferred_resolution");
    if (const json::Value* ad = v.find("adaptors")) c.adaptors = adaptors_from_json(*ad, where);
    c.validate(where);
    return c;
  }

  static Config load(const std::string& path) { return from_json(json::parse(io::read_text_file(path), path), path); }

  void save(const std::string& path) const {
    std::string text = json::dump(to_json()) + "\n";
    io::AtomicFile f(path);
    f.write(text.data(), text.size());
    f.commit();
  }
};

}  // namespace vit::models::radio
