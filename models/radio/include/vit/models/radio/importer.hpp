// Opens a model folder: a HuggingFace C-RADIO snapshot (config.json with "args" +
// model.safetensors) or the project's own config (config.json with "format_version", with
// model.safetensors for real weights or none for random weights).
// HF rules (docs radio-spec §1–2): sizes from the timm name in args.model + args.model_kwargs,
// cross-checked against tensor shapes; cls tokens = number of distinct teachers (if
// cls_token_per_teacher) else 1; registers = the rest of cls_token.token's rows; optional parts
// (patch bias, layer scale, MLP LayerNorm, final norm, PHI-S) by tensor presence.
#pragma once
#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "vit/models/radio/config.hpp"
#include "vit/models/radio/weights.hpp"

namespace vit::models::radio {

struct TimmVit {
  int embed_dim, depth, num_heads;
  bool mlp_norm;
};

// Known timm ViT names (RADIO's own registrations included) -> their default sizes.
inline const std::map<std::string, TimmVit>& timm_models() {
  static const std::map<std::string, TimmVit> table{
      {"vit_tiny_patch16_224", {192, 12, 3, false}},
      {"vit_small_patch16_224", {384, 12, 6, false}},
      {"vit_base_patch16_224", {768, 12, 12, false}},
      {"vit_large_patch16_224", {1024, 24, 16, false}},
      {"vit_huge_patch16_224", {1280, 32, 16, false}},
      {"vit_huge_patch16_224_mlpnorm", {1280, 32, 16, true}},
      {"vit_giant_patch16_224", {1536, 40, 24, false}},
      {"vit_so400m_patch16_224", {1152, 27, 16, false}},     // C-RADIOv4-SO400M (MLP 4304)
      {"vit_so400m_v2_patch16_224", {1152, 27, 16, false}},  // MLP rounded up to 4320
  };
  return table;
}

struct Snapshot {
  Config config;
  std::unique_ptr<WeightSource> weights;
  std::vector<std::string> notes;  // what the importer decided or ignored (for --verbose)
};

// The teacher heads whose weights the checkpoint holds (`adaptors.<name>.{head_mlp,feat_mlp}.*`),
// with their token (head_idx) and upsampling from `adaptor_configs.<name>`; sizes from the tensors.
inline std::vector<AdaptorHead> adaptors_from_hf(const json::Fields& hf, const SafeTensorsWeights& st, int d, std::vector<std::string>* notes) {
  std::vector<AdaptorHead> out;
  const json::Fields cfgs = hf.object("adaptor_configs");
  for (const auto& entry : cfgs.entries()) {
    const std::string& name = entry.first;
    const json::Fields f = cfgs.object(name);
    AdaptorHead a = Config::adaptor(name);
    if (!st.has(a.summary_key + ".fc1.weight") || !st.has(a.feature_key + ".fc1.weight")) {
      if (notes) notes->push_back("adaptor '" + name + "' is configured but its weights are not in the checkpoint: not available");
      continue;
    }
    f.read("head_idx", a.token);
    f.object("feature").read("upsample_factor", a.upsample);
    for (auto [key, shape] : {std::pair{a.summary_key, &a.summary}, {a.feature_key, &a.feature}}) {
      const Shape fc1 = st.shape(key + ".fc1.weight");
      const std::optional<Shape> fin = st.shape_of(key + ".final.2.weight");
      if (fc1.rank() != 2 || fc1[1] != d || !fin || fin->rank() != 2 || (*fin)[1] != fc1[0])
        fail(ErrorKind::format, st.describe(key + ".fc1.weight") + ": expected an MLP v2 head on width " + std::to_string(d) + " (fc1 [H, " +
                                    std::to_string(d) + "], final.2 [C, H]), got fc1 " + fc1.str() + (fin ? " and final.2 " + fin->str() : " and no final.2"));
      *shape = {int(fc1[0]), int((*fin)[0]), st.numbered(key + ".blocks.", ".0.weight")};
    }
    out.push_back(std::move(a));
  }
  return out;
}

// Derives a Config from an HF RADIOConfig JSON and the checkpoint's tensors. Every field read
// must have its type (json::Fields); null in a field means "not set".
inline Config config_from_hf(const json::Value& hf, const SafeTensorsWeights& st, const std::string& where,
                             std::vector<std::string>* notes = nullptr) {
  auto bad = [&](const std::string& what) { fail(ErrorKind::config, where + ": " + what); };
  if (!hf.is_object()) bad("expected a JSON object");
  const json::Fields top(hf, where, "", /*null_is_absent=*/true);
  if (!top.find("args") && hf.find("architecture"))
    bad("this is a timm model config, not a C-RADIO one (open it with vit::models::open_model or timm::open_snapshot)");
  if (!top.find("args")) bad("missing object 'args' (not a C-RADIO config.json?)");
  const json::Fields args = top.object("args");
  const auto model = args.string("model");
  if (!model) bad("missing string 'args.model'");
  auto it = timm_models().find(*model);
  if (it == timm_models().end())
    bad("unknown args.model '" + *model + "' (known: " + joined(timm_models(), [](const auto& e) { return e.first; }) + ")");
  TimmVit arch = it->second;
  const json::Fields kwargs = args.object("model_kwargs");
  for (const auto& [k, v] : kwargs.entries()) {
    if (k == "embed_dim" || k == "depth" || k == "num_heads")
      (k == "embed_dim" ? arch.embed_dim : k == "depth" ? arch.depth : arch.num_heads) = int(kwargs.as_integer(v, k, 0, Architecture::kMaxDim));
    else if (notes)
      notes->push_back("args.model_kwargs." + k + " not needed for inference (taken from tensor shapes)");
  }

  Config c;
  c.timm_model = *model;
  c.mlp_norm = arch.mlp_norm;
  c.num_heads = arch.num_heads;
  top.read("version", c.version);
  c.name = c.version;

  const Shape pos = st.shape("model.patch_generator.pos_embed");
  if (pos.rank() != 3 || pos[0] != 1) bad("pos_embed: expected shape [1, R*R, D], got " + pos.str());
  c.embed_dim = int(pos[2]);
  c.pos_grid_h = c.pos_grid_w = int(std::lround(std::sqrt(double(pos[1]))));
  if (std::int64_t(c.pos_grid_h) * c.pos_grid_w != pos[1]) bad("pos_embed: " + std::to_string(pos[1]) + " positions is not a square grid");
  if (c.embed_dim != arch.embed_dim)
    bad(c.timm_model + " has embed_dim " + std::to_string(arch.embed_dim) + ", but pos_embed has " + std::to_string(c.embed_dim));

  const Shape emb = st.shape("model.patch_generator.embedder.weight");
  if (emb.rank() != 2 || emb[0] != c.embed_dim || emb[1] % 3 != 0) bad("embedder.weight: expected [D, 3*p*p], got " + emb.str());
  c.patch_size = int(std::lround(std::sqrt(double(emb[1] / 3))));
  if (std::int64_t(3) * c.patch_size * c.patch_size != emb[1]) bad("embedder.weight: " + std::to_string(emb[1]) + " is not 3*p*p");
  if (auto ps = top.integer("patch_size"); ps && *ps != c.patch_size)
    bad("patch_size " + std::to_string(*ps) + " disagrees with embedder.weight (patch " + std::to_string(c.patch_size) + ")");

  const int depth = st.numbered("model.blocks.", ".norm1.weight");
  if (depth != arch.depth) bad(c.timm_model + " has depth " + std::to_string(arch.depth) + ", but the checkpoint has " + std::to_string(depth) + " blocks");
  c.depth = depth;
  c.mlp_hidden = depth > 0 ? int(st.shape("model.blocks.0.mlp.fc1.weight")[0]) : 4 * c.embed_dim;

  const Shape tok = st.shape("model.patch_generator.cls_token.token");
  if (tok.rank() != 2 || tok[1] != c.embed_dim) bad("cls_token.token: expected [S, D], got " + tok.str());
  const int prefix = int(tok[0]);
  // cls tokens: one per distinct teacher name with cls_token_per_teacher, else one.
  const bool per_teacher = args.boolean("cls_token_per_teacher").value_or(false);
  std::vector<bool> use_summary;
  std::set<std::string> names;
  const json::Value* teachers = args.find("teachers");
  if (per_teacher && !teachers) bad("cls_token_per_teacher is set but args.teachers is missing");
  if (teachers) {
    const json::Array& list = args.as_array(*teachers, "teachers");
    for (std::size_t i = 0; i < list.size(); ++i) {
      const std::string at = "teachers[" + std::to_string(i) + "]";
      if (!list[i].is_object()) args.wrong(at, "an object", list[i]);
      const json::Fields t(list[i], where, "args." + at + ".", true);
      const json::Value* name = list[i].find("name");  // null: no name, which per-teacher tokens need
      if (name && (per_teacher || !name->is_null())) names.insert(t.as_string(*name, "name"));
      else if (per_teacher) bad("args.teachers entries need a 'name'");
      use_summary.push_back(t.boolean("use_summary").value_or(true));
    }
  }
  const int num_cls = per_teacher ? int(names.size()) : 1;
  if (num_cls > prefix) bad(std::to_string(num_cls) + " cls tokens expected from the teachers, but cls_token.token has " + std::to_string(prefix) + " rows");
  c.num_cls_tokens = num_cls;
  c.num_registers = prefix - num_cls;

  c.summary_tokens.clear();
  if (st.has("summary_idxs")) {
    c.summary_tokens = st.file().to_int64(*st.file().find(st.prefix() + "summary_idxs"));
  } else {
    for (std::size_t i = 0; i < use_summary.size() && num_cls > 1; ++i)
      if (use_summary[i]) c.summary_tokens.push_back(std::int64_t(i));
    if (num_cls == 1) c.summary_tokens.push_back(0);
    if (notes) notes->push_back("no summary_idxs tensor: derived from args.teachers");
  }

  c.patch_bias = st.has("model.patch_generator.embedder.bias");
  c.layer_scale = depth > 0 && st.has("model.blocks.0.ls1.grandma");
  const bool has_mlp_norm = depth > 0 && st.has("model.blocks.0.mlp.norm.weight");
  if (has_mlp_norm != c.mlp_norm && notes)
    notes->push_back(std::string("MLP LayerNorm ") + (has_mlp_norm ? "present" : "absent") + " in the checkpoint; following the checkpoint");
  c.mlp_norm = has_mlp_norm;
  c.final_norm = st.has("model.norm.weight");
  c.feature_projection = st.has("feature_normalizer.tx");

  c.adaptors = adaptors_from_hf(top, st, c.embed_dim, notes);
  if (auto w = top.integer("vitdet_window_size"); w && notes)
    notes->push_back("config.json sets vitdet_window_size " + std::to_string(*w) +
                     ": the HF model does not window (it only checks the input size); ask for ViTDet explicitly (--vitdet)");
  if (notes && st.has("inter_feature_normalizer.alphas"))
    notes->push_back("inter_feature_normalizer present: intermediate layers are returned without it (norm_alpha_scheme='none')");

  top.read("max_resolution", c.max_resolution);  // validate() checks the ranges
  top.read("preferred_resolution", c.preferred_resolution);
  c.validate(where);
  return c;
}

struct OpenOptions {
  std::string key_prefix = "radio_model.";  // where the RADIO module sits in the checkpoint
  std::uint64_t random_seed = 0;            // for a config without weights
};

// Opens a model: a folder (config.json [+ model.safetensors]) or a project JSON config file.
inline Snapshot open_snapshot(const std::string& path, const OpenOptions& opt = {}) {
  const ModelFiles files = model_files(path);
  json::Value cfg = json::parse(io::read_text_file(files.config), files.config);
  Snapshot snap;
  const bool own_format = cfg.find("format_version") != nullptr;
  if (!own_format && !files.has_weights)
    fail(ErrorKind::io, files.weights.empty() ? files.config + ": a HuggingFace config needs its folder with model.safetensors"
                                              : files.weights + ": missing (a HuggingFace C-RADIO snapshot needs model.safetensors)");
  if (own_format && !files.has_weights) {
    snap.config = Config::from_json(cfg, files.config);
    snap.weights = std::make_unique<RandomWeights>(opt.random_seed);
    snap.notes.push_back("no model.safetensors: random weights (seed " + std::to_string(opt.random_seed) + ")");
    return snap;
  }
  auto st = std::make_unique<SafeTensorsWeights>(std::make_shared<io::SafeTensors>(files.weights), opt.key_prefix);
  snap.config = own_format ? Config::from_json(cfg, files.config) : config_from_hf(cfg, *st, files.config, &snap.notes);
  snap.weights = std::move(st);
  return snap;
}

}  // namespace vit::models::radio
