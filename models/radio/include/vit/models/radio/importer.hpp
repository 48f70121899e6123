// Opens a model folder: a HuggingFace C-RADIO snapshot (config.json with "args" +
// model.safetensors) or the project's own config (config.json with "format_version", with
// model.safetensors for real weights or none for random weights).
// HF rules (docs radio-spec §1–2): sizes from the timm name in args.model + args.model_kwargs,
// cross-checked against tensor shapes; cls tokens = number of distinct teachers (if
// cls_token_per_teacher) else 1; registers = the rest of cls_token.token's rows; optional parts
// (patch bias, layer scale, MLP LayerNorm, final norm, PHI-S) by tensor presence.
#pragma once
#include <algorithm>
#include <cmath>
#include <filesystem>
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
inline std::vector<Adaptor> adaptors_from_hf(const json::Value& hf, const SafeTensorsWeights& st, int d, const std::string& where,
                                             std::vector<std::string>* notes) {
  std::vector<Adaptor> out;
  const json::Value* cfgs = hf.find("adaptor_configs");
  if (!cfgs || cfgs->is_null()) return out;
  if (!cfgs->is_object()) field::wrong(where, "adaptor_configs", "an object", *cfgs);
  for (const auto& [name, cfg] : cfgs->as_object()) {
    const std::string at = "adaptor_configs." + name;
    if (!cfg.is_object()) field::wrong(where, at, "an object", cfg);
    const std::string key = "adaptors." + name + ".";
    if (!st.has(key + "head_mlp.fc1.weight") || !st.has(key + "feat_mlp.fc1.weight")) {
      if (notes) notes->push_back("adaptor '" + name + "' is configured but its weights are not in the checkpoint: not available");
      continue;
    }
    Adaptor a;
    a.name = name;
    if (const json::Value* h = cfg.find("head_idx"); h && !h->is_null()) a.head_idx = field::to_int(*h, where, at + ".head_idx");
    const json::Value* feature = cfg.find("feature");
    if (feature && !feature->is_null()) {
      if (!feature->is_object()) field::wrong(where, at + ".feature", "an object", *feature);
      if (const json::Value* u = feature->find("upsample_factor"); u && !u->is_null()) a.upsample = field::to_int(*u, where, at + ".feature.upsample_factor");
    }
    auto sizes = [&](const std::string& mlp, int& hidden, int& o, int& inner) {
      const Shape fc1 = *st.shape_of(mlp + ".fc1.weight");
      const std::optional<Shape> fin = st.shape_of(mlp + ".final.2.weight");
      if (fc1.rank() != 2 || fc1[1] != d || !fin || fin->rank() != 2 || (*fin)[1] != fc1[0])
        fail(ErrorKind::format, st.describe(mlp + ".fc1.weight") + ": expected an MLP v2 head on width " + std::to_string(d) + " (fc1 [H, " +
                                    std::to_string(d) + "], final.2 [C, H]), got fc1 " + fc1.str() + (fin ? " and final.2 " + fin->str() : " and no final.2"));
      hidden = int(fc1[0]);
      o = int((*fin)[0]);
      inner = 0;
      while (st.has(mlp + ".blocks." + std::to_string(inner) + ".0.weight")) ++inner;
    };
    sizes(key + "head_mlp", a.summary_hidden, a.summary_out, a.summary_inner);
    sizes(key + "feat_mlp", a.feature_hidden, a.feature_out, a.feature_inner);
    out.push_back(std::move(a));
  }
  return out;
}

// Derives a Config from an HF RADIOConfig JSON and the checkpoint's tensors. Every field read
// must have its type (see namespace field); null in an optional field means "not set".
inline Config config_from_hf(const json::Value& hf, const SafeTensorsWeights& st, const std::string& where,
                             std::vector<std::string>* notes = nullptr) {
  auto bad = [&](const std::string& what) { fail(ErrorKind::config, where + ": " + what); };
  auto optional = [](const json::Value& obj, const char* key) -> const json::Value* {
    const json::Value* x = obj.find(key);
    return x && !x->is_null() ? x : nullptr;
  };
  const json::Value* args = optional(hf, "args");
  if (!args && hf.find("architecture"))
    bad("this is a timm model config, not a C-RADIO one (open it with vit::models::open_model or timm::open_snapshot)");
  if (!args) bad("missing object 'args' (not a C-RADIO config.json?)");
  if (!args->is_object()) field::wrong(where, "args", "an object", *args);
  const json::Value* model = optional(*args, "model");
  if (!model) bad("missing string 'args.model'");
  field::to_string(*model, where, "args.model");
  auto it = timm_models().find(model->as_string());
  if (it == timm_models().end()) {
    std::string known;
    for (const auto& [k, v] : timm_models()) known += (known.empty() ? "" : ", ") + k;
    bad("unknown args.model '" + model->as_string() + "' (known: " + known + ")");
  }
  TimmVit arch = it->second;
  if (const json::Value* kw = optional(*args, "model_kwargs")) {
    if (!kw->is_object()) field::wrong(where, "args.model_kwargs", "an object", *kw);
    for (const auto& [k, v] : kw->as_object()) {
      if (k == "embed_dim" || k == "depth" || k == "num_heads") {
        int n = field::to_int(v, where, "args.model_kwargs." + k);
        if (n < 0 || n > Config::kMaxDim) bad("args.model_kwargs." + k + " must be in [0, " + std::to_string(Config::kMaxDim) + "], got " + std::to_string(n));
        (k == "embed_dim" ? arch.embed_dim : k == "depth" ? arch.depth : arch.num_heads) = n;
      } else if (notes) {
        notes->push_back("args.model_kwargs." + k + " not needed for inference (taken from tensor shapes)");
      }
    }
  }

  Config c;
  c.timm_model = model->as_string();
  c.mlp_norm = arch.mlp_norm;
  c.num_heads = arch.num_heads;
  if (const json::Value* v = optional(hf, "version")) c.version = c.name = field::to_string(*v, where, "version");

  auto shape_of = [&](const std::string& key) -> const Shape& {
    const io::TensorView* t = st.file().find(st.prefix() + key);
    if (!t) fail(ErrorKind::format, st.file().path() + ": tensor '" + st.prefix() + key + "' is missing");
    return t->shape;
  };
  const Shape& pos = shape_of("model.patch_generator.pos_embed");
  if (pos.rank() != 3 || pos[0] != 1) bad("pos_embed: expected shape [1, R*R, D], got " + pos.str());
  c.embed_dim = int(pos[2]);
  c.pos_grid = int(std::lround(std::sqrt(double(pos[1]))));
  if (std::int64_t(c.pos_grid) * c.pos_grid != pos[1]) bad("pos_embed: " + std::to_string(pos[1]) + " positions is not a square grid");
  if (c.embed_dim != arch.embed_dim)
    bad(c.timm_model + " has embed_dim " + std::to_string(arch.embed_dim) + ", but pos_embed has " + std::to_string(c.embed_dim));

  const Shape& emb = shape_of("model.patch_generator.embedder.weight");
  if (emb.rank() != 2 || emb[0] != c.embed_dim || emb[1] % 3 != 0) bad("embedder.weight: expected [D, 3*p*p], got " + emb.str());
  c.patch_size = int(std::lround(std::sqrt(double(emb[1] / 3))));
  if (std::int64_t(3) * c.patch_size * c.patch_size != emb[1]) bad("embedder.weight: " + std::to_string(emb[1]) + " is not 3*p*p");
  if (const json::Value* ps = optional(hf, "patch_size"); ps && field::to_int(*ps, where, "patch_size") != c.patch_size)
    bad("patch_size " + std::to_string(ps->as_int()) + " disagrees with embedder.weight (patch " + std::to_string(c.patch_size) + ")");

  int depth = 0;
  while (st.has("model.blocks." + std::to_string(depth) + ".norm1.weight")) ++depth;
  if (depth != arch.depth) bad(c.timm_model + " has depth " + std::to_string(arch.depth) + ", but the checkpoint has " + std::to_string(depth) + " blocks");
  c.depth = depth;
  c.mlp_hidden = depth > 0 ? int(shape_of("model.blocks.0.mlp.fc1.weight")[0]) : 4 * c.embed_dim;

  const Shape& tok = shape_of("model.patch_generator.cls_token.token");
  if (tok.rank() != 2 || tok[1] != c.embed_dim) bad("cls_token.token: expected [S, D], got " + tok.str());
  int prefix = int(tok[0]);
  int num_cls = 1;
  bool per_teacher = false;
  if (const json::Value* pt = optional(*args, "cls_token_per_teacher")) per_teacher = field::to_bool(*pt, where, "args.cls_token_per_teacher");
  struct Teacher {
    const std::string* name = nullptr;  // absent: null or missing
    bool use_summary = true;
  };
  std::vector<Teacher> teachers;
  const json::Value* teacher_list = optional(*args, "teachers");
  if (teacher_list) {
    if (!teacher_list->is_array()) field::wrong(where, "args.teachers", "an array", *teacher_list);
    for (std::size_t i = 0; i < teacher_list->as_array().size(); ++i) {
      const json::Value& t = teacher_list->as_array()[i];
      const std::string at = "args.teachers[" + std::to_string(i) + "]";
      if (!t.is_object()) field::wrong(where, at, "an object", t);
      Teacher teacher;
      if (const json::Value* n = t.find("name"); n && (per_teacher || !n->is_null())) teacher.name = &field::to_string(*n, where, at + ".name");
      if (const json::Value* us = optional(t, "use_summary")) teacher.use_summary = field::to_bool(*us, where, at + ".use_summary");
      teachers.push_back(teacher);
    }
  }
  if (per_teacher) {
    if (!teacher_list) bad("cls_token_per_teacher is set but args.teachers is missing");
    std::set<std::string> names;
    for (const Teacher& t : teachers) {
      if (!t.name) bad("args.teachers entries need a 'name'");
      names.insert(*t.name);
    }
    num_cls = int(names.size());
  }
  if (num_cls > prefix) bad(std::to_string(num_cls) + " cls tokens expected from the teachers, but cls_token.token has " + std::to_string(prefix) + " rows");
  c.num_cls_tokens = num_cls;
  c.num_registers = prefix - num_cls;

  if (st.has("summary_idxs")) {
    const io::TensorView* t = st.file().find(st.prefix() + "summary_idxs");
    c.summary_idxs = st.file().to_int64(*t);
  } else {
    c.summary_idxs.clear();
    if (num_cls > 1) {
      for (std::size_t i = 0; i < teachers.size(); ++i)
        if (teachers[i].use_summary) c.summary_idxs.push_back(std::int64_t(i));
    } else {
      c.summary_idxs.push_back(0);
    }
    if (notes) notes->push_back("no summary_idxs tensor: derived from args.teachers");
  }

  c.patch_bias = st.has("model.patch_generator.embedder.bias");
  c.layer_scale = depth > 0 && st.has("model.blocks.0.ls1.grandma");
  bool has_mlp_norm = depth > 0 && st.has("model.blocks.0.mlp.norm.weight");
  if (has_mlp_norm != c.mlp_norm && notes)
    notes->push_back(std::string("MLP LayerNorm ") + (has_mlp_norm ? "present" : "absent") + " in the checkpoint; following the checkpoint");
  c.mlp_norm = has_mlp_norm;
  c.final_norm = st.has("model.norm.weight");
  c.feature_normalizer = st.has("feature_normalizer.tx");

  c.adaptors = adaptors_from_hf(hf, st, c.embed_dim, where, notes);
  if (const json::Value* v = optional(hf, "vitdet_window_size"); v && notes)
    notes->push_back("config.json sets vitdet_window_size " + std::to_string(field::to_int(*v, where, "vitdet_window_size")) +
                     ": the HF model does not window (it only checks the input size); ask for ViTDet explicitly (--vitdet)");
  if (notes && st.has("inter_feature_normalizer.alphas"))
    notes->push_back("inter_feature_normalizer present: intermediate layers are returned without it (norm_alpha_scheme='none')");

  // validate() checks the ranges.
  if (const json::Value* m = optional(hf, "max_resolution")) c.max_resolution = field::to_int(*m, where, "max_resolution");
  if (const json::Value* pr = optional(hf, "preferred_resolution")) c.preferred_resolution = field::to_int_pair(*pr, where, "preferred_resolution");
  c.validate(where);
  return c;
}

struct OpenOptions {
  std::string key_prefix = "radio_model.";  // where the RADIO module sits in the checkpoint
  std::uint64_t random_seed = 0;            // for a config without weights
};

// Opens a model: a folder (config.json [+ model.safetensors]) or a project JSON config file.
inline Snapshot open_snapshot(const std::string& path, const OpenOptions& opt = {}) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::string config_path = path, weights_path;
  if (fs::is_directory(path, ec)) {
    config_path = (fs::path(path) / "config.json").string();
    weights_path = (fs::path(path) / "model.safetensors").string();
    if (!fs::exists(config_path, ec)) fail(ErrorKind::io, path + ": no config.json in the model folder");
  } else if (!fs::exists(path, ec)) {
    fail(ErrorKind::io, path + ": no such file or folder");
  }
  json::Value cfg = json::parse(io::read_text_file(config_path), config_path);
  Snapshot snap;
  bool own_format = cfg.find("format_version") != nullptr;
  bool have_weights = !weights_path.empty() && fs::exists(weights_path, ec);
  if (!own_format && !have_weights)
    fail(ErrorKind::io, weights_path.empty() ? config_path + ": a HuggingFace config needs its folder with model.safetensors"
                                             : weights_path + ": missing (a HuggingFace C-RADIO snapshot needs model.safetensors)");
  if (own_format) {
    snap.config = Config::from_json(cfg, config_path);
    if (have_weights) {
      snap.weights = std::make_unique<SafeTensorsWeights>(std::make_shared<io::SafeTensors>(weights_path), opt.key_prefix);
    } else {
      snap.weights = std::make_unique<RandomWeights>(opt.random_seed);
      snap.notes.push_back("no model.safetensors: random weights (seed " + std::to_string(opt.random_seed) + ")");
    }
  } else {
    auto st = std::make_unique<SafeTensorsWeights>(std::make_shared<io::SafeTensors>(weights_path), opt.key_prefix);
    snap.config = config_from_hf(cfg, *st, config_path, &snap.notes);
    snap.weights = std::move(st);
  }
  return snap;
}

}  // namespace vit::models::radio
