// C-RADIO model configuration: the generic vit::Architecture with C-RADIO's rules filled in (the
// constructor), plus what only RADIO names: its release names and resolution limits.
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

struct Config : Architecture {
  static constexpr int kFormatVersion = 1;
  static constexpr int kMaxResolution = 1 << 16;   // max_resolution, preferred_resolution

  std::string name;            // e.g. "C-RADIOv3-B"
  std::string version;         // HF RESOURCE_MAP key, e.g. "c-radio_v3-b"
  std::string timm_model;      // e.g. "vit_base_patch16_224"
  int max_resolution = 2048;
  std::array<int, 2> preferred_resolution{512, 512};

  // C-RADIO's rules (docs/radio-spec.md): tokens [cls | registers | patches] from one stored tensor;
  // the CPE position rule on a square R×R table (patches only); the summary = chosen cls tokens;
  // optional parts (patch bias, layer scale, MLP LayerNorm, final norm, PHI-S) off until present.
  Config() {
    family = "radio";
    patch_bias = final_norm = false;
    num_cls_tokens = num_registers = 4;
    position = PositionRule::square_crop;
    pos_grid_h = pos_grid_w = 128;  // "pos_grid": cpe_max_size / patch
    pos_prefix_rows = 0;
    summary_tokens = {0, 1, 2};     // "summary_idxs"
    keys = WeightKeys{"model.patch_generator.embedder", "model.patch_generator.pos_embed", "model.patch_generator.cls_token.token", "",
                      "model.blocks.", "grandma", "model.norm", "", "input_conditioner.norm_mean", "input_conditioner.norm_std",
                      "feature_normalizer.tx", "feature_normalizer.mean", true};
  }

  // The plain fields of the project's JSON format, each once (read and written from this list):
  // visit(key, member, required).
  template <class Self, class Visit>
  static void fields(Self& c, Visit&& visit) {
    visit("name", c.name, false);
    visit("version", c.version, false);
    visit("timm_model", c.timm_model, false);
    for (auto [key, member] : {std::pair{"patch_size", &c.patch_size}, {"embed_dim", &c.embed_dim}, {"depth", &c.depth},
                               {"num_heads", &c.num_heads}, {"mlp_hidden", &c.mlp_hidden}, {"pos_grid", &c.pos_grid_h},
                               {"num_cls_tokens", &c.num_cls_tokens}, {"num_registers", &c.num_registers}})
      visit(key, *member, true);
    visit("summary_idxs", c.summary_tokens, true);
    for (auto [key, member] : {std::pair{"patch_bias", &c.patch_bias}, {"layer_scale", &c.layer_scale}, {"mlp_norm", &c.mlp_norm},
                               {"final_norm", &c.final_norm}, {"feature_normalizer", &c.feature_projection}})
      visit(key, *member, false);
    visit("max_resolution", c.max_resolution, false);
    visit("preferred_resolution", c.preferred_resolution, false);
  }

  // Throws a config error if the numbers cannot describe a working model: RADIO's own rules here,
  // the generic ones (ranges, the parameter budget) in Architecture::validate.
  void validate(const std::string& where) const {
    auto need = [&](bool ok, const std::string& what) { check(ok, ErrorKind::config, where + ": " + what); };
    need(num_cls_tokens > 0, "need at least one cls token, got " + std::to_string(num_cls_tokens));
    for (auto i : summary_tokens)
      need(i >= 0 && i < num_cls_tokens, "summary index " + std::to_string(i) + " is outside the " + std::to_string(num_cls_tokens) + " cls tokens");
    for (int side : {max_resolution, preferred_resolution[0], preferred_resolution[1]})
      need(side > 0 && side <= kMaxResolution, "max_resolution and preferred_resolution must be in [1, " + std::to_string(kMaxResolution) +
                                                   "], got " + std::to_string(max_resolution) + " and " + std::to_string(preferred_resolution[0]) +
                                                   "x" + std::to_string(preferred_resolution[1]));
    Architecture::validate(where);
  }

  json::Value to_json() const {
    json::Object o{{"format_version", kFormatVersion}, {"family", std::string("radio")}};
    fields(*this, [&](const char* key, const auto& member, bool) { o.emplace_back(key, json::to_value(member)); });
    if (attention_scale > 0) o.emplace_back("attention_scale", double(attention_scale));  // absent: 1/sqrt(head dim)
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
    c.pos_grid_w = c.pos_grid_h;
    if (auto scale = f.number("attention_scale")) c.attention_scale = float(*scale);
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

// The generic architecture of a C-RADIO config without its teacher heads (a program chooses those,
// see models::Snapshot::choose_adaptors); the config itself is the architecture with all of them.
inline Architecture architecture(const Config& c) {
  Architecture a = c;
  a.adaptors.clear();
  return a;
}

}  // namespace vit::models::radio
