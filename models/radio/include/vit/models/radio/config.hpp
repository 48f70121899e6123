// C-RADIO model configuration: every number the forward pass needs, in plain form.
// It is read from the project's own JSON format (format_version 1, see docs/model-config.md),
// or derived from a HuggingFace C-RADIO snapshot (importer.hpp), and can be written back out.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "vit/architecture.hpp"
#include "vit/io/file.hpp"
#include "vit/io/json_fields.hpp"

namespace vit::models::radio {

struct Config {
  static constexpr int kFormatVersion = 1;
  static constexpr int kMaxResolution = 1 << 16;   // max_resolution, preferred_resolution

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
  std::vector<AdaptorHead> adaptors;  // teacher heads the weights hold (C-RADIOv4's adaptor_configs)

  int num_prefix_tokens() const { return num_cls_tokens + num_registers; }
  int summary_dim() const { return int(summary_idxs.size()) * embed_dim; }

  // The plain fields of the project's JSON format, each once (read and written from this list):
  // visit(key, member, required).
  template <class Self, class Visit>
  static void fields(Self& c, Visit&& visit) {
    visit("name", c.name, false);
    visit("version", c.version, false);
    visit("timm_model", c.timm_model, false);
    for (auto [key, member] : {std::pair{"patch_size", &c.patch_size}, {"embed_dim", &c.embed_dim}, {"depth", &c.depth},
                               {"num_heads", &c.num_heads}, {"mlp_hidden", &c.mlp_hidden}, {"pos_grid", &c.pos_grid},
                               {"num_cls_tokens", &c.num_cls_tokens}, {"num_registers", &c.num_registers}})
      visit(key, *member, true);
    visit("summary_idxs", c.summary_idxs, true);
    for (auto [key, member] : {std::pair{"patch_bias", &c.patch_bias}, {"layer_scale", &c.layer_scale}, {"mlp_norm", &c.mlp_norm},
                               {"final_norm", &c.final_norm}, {"feature_normalizer", &c.feature_normalizer}})
      visit(key, *member, false);
    visit("max_resolution", c.max_resolution, false);
    visit("preferred_resolution", c.preferred_resolution, false);
  }

  // Throws a config error if the numbers cannot describe a working model: RADIO's own rules here,
  // the generic ones (ranges, the parameter budget) in Architecture::validate.
  void validate(const std::string& where) const;
  // Exactly the number of weight values the model loads, every teacher head included.
  std::int64_t parameter_count() const;

  json::Value to_json() const {
    json::Object o{{"format_version", kFormatVersion}, {"family", std::string("radio")}};
    fields(*this, [&](const char* key, const auto& member, bool) { o.emplace_back(key, json::to_value(member)); });
    json::Array heads;
    for (const AdaptorHead& a : adaptors) {
      auto shape = [](const MlpHeadShape& m) { return json::Value(json::Array{m.hidden, m.out, m.num_inner}); };
      heads.emplace_back(json::Object{{"name", a.name}, {"head_idx", a.token}, {"summary", shape(a.summary)}, {"feature", shape(a.feature)},
                                      {"upsample_factor", a.upsample}});
    }
    o.emplace_back("adaptors", json::Value(std::move(heads)));
    return json::Value(std::move(o));
  }

  // Reads the project's JSON config; every field must have its type (json::Fields).
  static Config from_json(const json::Value& v, const std::string& where) {
    if (!v.is_object()) fail(ErrorKind::config, where + ": expected a JSON object");
    const json::Fields f(v, where);
    if (auto version = f.as_integer(f.need("format_version"), "format_version"); version != kFormatVersion)
      fail(ErrorKind::config, where + ": format_version " + std::to_string(version) + " is not supported (expected " + std::to_string(kFormatVersion) + ")");
    std::string family = "radio";  // files written before the field existed are C-RADIO
    f.read("family", family);
    if (family != "radio")
      fail(ErrorKind::config, where + ": field 'family': this is a " + family + " config, not a C-RADIO (\"radio\") one");
    Config c;
    fields(c, [&](const char* key, auto& member, bool required) { f.read(key, member, required); });
    if (const json::Value* list = f.find("adaptors")) {  // [{"name", "head_idx", "summary": [hidden, out, inner], "feature": [...], "upsample_factor"}]
      const json::Array& heads = f.as_array(*list, "adaptors");
      for (std::size_t i = 0; i < heads.size(); ++i) {
        const std::string at = "adaptors[" + std::to_string(i) + "]";
        if (!heads[i].is_object()) f.wrong(at, "an object", heads[i]);
        const json::Fields h(heads[i], where, at + ".");
        AdaptorHead a = adaptor(h.as_string(h.need("name"), "name"));
        h.read("head_idx", a.token, true);
        for (auto [key, shape] : {std::pair{"summary", &a.summary}, {"feature", &a.feature}}) {
          const auto n = h.integers(key, 3, "[hidden, out, inner blocks] (3 integers)");
          if (!n) h.need(key);
          *shape = {int((*n)[0]), int((*n)[1]), int((*n)[2])};
        }
        h.read("upsample_factor", a.upsample, true);
        c.adaptors.push_back(std::move(a));
      }
    }
    c.validate(where);
    return c;
  }

  // A teacher head named `name` with RADIO's key names (sizes to fill in).
  static AdaptorHead adaptor(const std::string& name) {
    AdaptorHead a;
    a.name = name;
    a.summary_key = "adaptors." + name + ".head_mlp";
    a.feature_key = "adaptors." + name + ".feat_mlp";
    return a;
  }

  static Config load(const std::string& path) { return from_json(json::parse(io::read_text_file(path), path), path); }

  void save(const std::string& path) const {
    std::string text = json::dump(to_json()) + "\n";
    io::AtomicFile f(path);
    f.write(text.data(), text.size());
    f.commit();
  }
};

// The generic architecture of a C-RADIO config, with RADIO's key names (no adaptor heads: a
// program chooses those, see models::Snapshot::choose_adaptors).
inline Architecture architecture(const Config& c) {
  Architecture a;
  a.family = "radio";
  a.patch_size = c.patch_size;
  a.embed_dim = c.embed_dim;
  a.depth = c.depth;
  a.num_heads = c.num_heads;
  a.mlp_hidden = c.mlp_hidden;
  a.mlp_norm = c.mlp_norm;
  a.norm_eps = c.norm_eps;
  a.mlp_norm_eps = c.mlp_norm_eps;
  a.patch_bias = c.patch_bias;
  a.layer_scale = c.layer_scale;
  a.final_norm = c.final_norm;
  a.num_cls_tokens = c.num_cls_tokens;
  a.num_registers = c.num_registers;
  a.position = PositionRule::square_crop;
  a.pos_grid_h = a.pos_grid_w = c.pos_grid;
  a.pos_prefix_rows = 0;
  a.pooling = Pooling::tokens;
  a.summary_tokens = c.summary_idxs;
  a.feature_projection = c.feature_normalizer;
  a.keys = WeightKeys{"model.patch_generator.embedder", "model.patch_generator.pos_embed", "model.patch_generator.cls_token.token", "",
                      "model.blocks.", "grandma", "model.norm", "", "input_conditioner.norm_mean", "input_conditioner.norm_std",
                      "feature_normalizer.tx", "feature_normalizer.mean", true};
  return a;
}

// The architecture with every teacher head the config holds (what validation and the parameter
// count cover; a program runs only the heads it chooses).
inline Architecture with_all_adaptors(const Config& c) {
  Architecture a = architecture(c);
  a.adaptors = c.adaptors;
  return a;
}

inline void Config::validate(const std::string& where) const {
  auto need = [&](bool ok, const std::string& what) { check(ok, ErrorKind::config, where + ": " + what); };
  need(num_cls_tokens > 0, "need at least one cls token, got " + std::to_string(num_cls_tokens));
  for (auto i : summary_idxs)
    need(i >= 0 && i < num_cls_tokens, "summary index " + std::to_string(i) + " is outside the " + std::to_string(num_cls_tokens) + " cls tokens");
  need(max_resolution > 0 && max_resolution <= kMaxResolution,
       "max_resolution must be in [1, " + std::to_string(kMaxResolution) + "], got " + std::to_string(max_resolution));
  for (int side : preferred_resolution)
    need(side > 0 && side <= kMaxResolution, "preferred_resolution must be in [1, " + std::to_string(kMaxResolution) + "], got " +
                                                 std::to_string(preferred_resolution[0]) + "x" + std::to_string(preferred_resolution[1]));
  with_all_adaptors(*this).validate(where);
}

inline std::int64_t Config::parameter_count() const { return with_all_adaptors(*this).parameter_count(); }

}  // namespace vit::models::radio
