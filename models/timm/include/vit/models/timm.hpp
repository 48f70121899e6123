// The timm family: timm's VisionTransformer checkpoints as the hub publishes them — a folder with
// config.json ("architecture", optional "model_args", "pretrained_cfg") and model.safetensors.
// ViT/DeiT (cls token with its own position row), DINOv2 with or without registers (patch 14,
// layer scale, SwiGLU for giant), SigLIP (no cls token, attention pooling). Sizes come from the
// tensors; what tensors cannot tell (heads, activation, which tokens own a position row) from
// model_args, else from the architecture's defaults below.
//
//   vit::models::timm::Snapshot s = vit::models::timm::open_snapshot("vit_base_patch16_224");
//   vit::Model<B> model(backend, s.architecture, *s.weights);
//   out.summary  = forward_head(forward_features(x), pre_logits=True)      [B, D]
//   out.features = forward_features(x) without prefix/register tokens     [B, T, D]
#pragma once
#include <array>
#include <optional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "vit/architecture.hpp"
#include "vit/io/file.hpp"
#include "vit/io/json_fields.hpp"
#include "vit/weights.hpp"

namespace vit::models::timm {

// What timm's model function sets beyond sizes (the tensors give the sizes).
struct Defaults {
  int num_heads;
  bool class_token = true;
  int reg_tokens = 0;
  bool no_embed_class = false;
  const char* global_pool = "token";
  Activation act = Activation::gelu;
  int img_size = 224;
};

// Architectures whose defaults are known, by timm's name.
inline const std::map<std::string, Defaults>& architectures() {
  static const std::map<std::string, Defaults> table{
      {"vit_tiny_patch16_224", {3}},
      {"vit_small_patch16_224", {6}},
      {"vit_base_patch16_224", {12}},
      {"vit_base_patch32_224", {12}},
      {"vit_large_patch16_224", {16}},
      {"vit_huge_patch14_224", {16}},
      {"vit_base_patch16_384", {12, true, 0, false, "token", Activation::gelu, 384}},
      {"deit_tiny_patch16_224", {3}},
      {"deit_small_patch16_224", {6}},
      {"deit_base_patch16_224", {12}},
      {"deit_base_patch16_384", {12, true, 0, false, "token", Activation::gelu, 384}},
      {"vit_small_patch14_dinov2", {6, true, 0, false, "token", Activation::gelu, 518}},
      {"vit_base_patch14_dinov2", {12, true, 0, false, "token", Activation::gelu, 518}},
      {"vit_large_patch14_dinov2", {16, true, 0, false, "token", Activation::gelu, 518}},
      {"vit_giant_patch14_dinov2", {24, true, 0, false, "token", Activation::gelu, 518}},
      {"vit_small_patch14_reg4_dinov2", {6, true, 4, true, "token", Activation::gelu, 518}},
      {"vit_base_patch14_reg4_dinov2", {12, true, 4, true, "token", Activation::gelu, 518}},
      {"vit_large_patch14_reg4_dinov2", {16, true, 4, true, "token", Activation::gelu, 518}},
      {"vit_giant_patch14_reg4_dinov2", {24, true, 4, true, "token", Activation::gelu, 518}},
      {"vit_base_patch16_siglip_224", {12, false, 0, false, "map", Activation::gelu, 224}},
      {"vit_base_patch16_siglip_256", {12, false, 0, false, "map", Activation::gelu, 256}},
      {"vit_base_patch16_siglip_384", {12, false, 0, false, "map", Activation::gelu, 384}},
      {"vit_base_patch16_siglip_512", {12, false, 0, false, "map", Activation::gelu, 512}},
      {"vit_large_patch16_siglip_256", {16, false, 0, false, "map", Activation::gelu, 256}},
      {"vit_large_patch16_siglip_384", {16, false, 0, false, "map", Activation::gelu, 384}},
      {"vit_so400m_patch14_siglip_224", {16, false, 0, false, "map", Activation::gelu, 224}},
      {"vit_so400m_patch14_siglip_384", {16, false, 0, false, "map", Activation::gelu, 384}},
      {"vit_base_patch32_siglip_256", {12, false, 0, false, "map", Activation::gelu_tanh, 256}},
      {"vit_large_patch16_siglip_512", {16, false, 0, false, "map", Activation::gelu_tanh, 512}},
      {"vit_so400m_patch16_siglip_256", {16, false, 0, false, "map", Activation::gelu_tanh, 256}},
  };
  return table;
}

struct Snapshot {
  Architecture architecture;
  std::unique_ptr<WeightSource> weights;
  std::string name;                    // the architecture name
  std::array<int, 2> input_size{0, 0};  // pretrained_cfg.input_size (H, W)
  std::vector<std::string> notes;      // what the importer decided (for --verbose)
};

namespace detail {

inline Activation activation_named(const std::string& name, const std::string& where) {
  if (name == "gelu") return Activation::gelu;
  if (name == "gelu_tanh") return Activation::gelu_tanh;
  if (name == "quick_gelu") return Activation::quick_gelu;
  fail(ErrorKind::config, where + ": field 'model_args.act_layer': expected gelu, gelu_tanh or quick_gelu, got '" + name + "'");
}

}  // namespace detail

// Derives the Architecture of a timm hub config.json (parsed) and its checkpoint's tensors.
inline Architecture architecture_from_hub(const json::Value& cfg, const SafeTensorsWeights& st, const std::string& where,
                                          std::vector<std::string>* notes = nullptr) {
  auto bad = [&](const std::string& what) -> void { fail(ErrorKind::config, where + ": " + what); };
  if (!cfg.is_object()) bad("expected a JSON object");
  const json::Fields top(cfg, where, "", /*null_is_absent=*/true);
  const auto name = top.string("architecture");
  if (!name && (cfg.find("args") || cfg.find("format_version")))
    bad("this is a C-RADIO model config, not a timm one (open it with vit::models::open_model or radio::open_snapshot)");
  if (!name) bad("missing 'architecture' (not a timm hub config.json?)");
  auto it = architectures().find(*name);
  if (it == architectures().end())
    bad("architecture '" + *name + "' is not a supported timm VisionTransformer (supported: " +
        joined(architectures(), [](const auto& e) { return e.first; }) + ")");
  Defaults def = it->second;
  const json::Fields args = top.object("model_args");
  auto shape = [&](const std::string& key) { return st.shape(key); };
  for (const char* unsupported : {"norm_pre.weight", "fc_norm.weight", "blocks.0.attn.q_norm.weight", "dist_token"})
    if (st.has(unsupported)) bad(std::string("tensor '") + unsupported + "' belongs to a ViT variant this library does not run yet");

  Architecture a;
  a.family = "timm";
  const Shape patch = shape("patch_embed.proj.weight");
  if (patch.rank() != 4 || patch[1] != 3 || patch[2] != patch[3]) bad("patch_embed.proj.weight: expected [D, 3, p, p], got " + patch.str());
  a.embed_dim = int(patch[0]);
  a.patch_size = int(patch[2]);
  a.patch_bias = st.has("patch_embed.proj.bias");
  a.num_heads = int(args.integer("num_heads", 1, 1 << 16).value_or(def.num_heads));
  const int depth = st.numbered("blocks.", ".norm1.weight");
  a.depth = depth;
  if (auto d = args.integer("depth", 0, 1 << 16); d && *d != depth)
    bad("model_args.depth is " + std::to_string(*d) + ", but the checkpoint has " + std::to_string(depth) + " blocks");
  if (depth > 0) {
    const Shape fc1 = shape("blocks.0.mlp.fc1.weight"), fc2 = shape("blocks.0.mlp.fc2.weight");
    a.mlp_hidden = int(fc2[1]);
    if (fc1[0] == 2 * fc2[1]) a.mlp = MlpKind::swiglu;  // timm's SwiGLUPacked: fc1 holds both halves
    else if (fc1[0] != fc2[1]) bad("blocks.0.mlp: fc1 " + fc1.str() + " does not feed fc2 " + fc2.str());
    a.qkv_bias = st.has("blocks.0.attn.qkv.bias");
    a.layer_scale = st.has("blocks.0.ls1.gamma");
  }
  a.mlp_act = def.act;
  if (auto act = args.string("act_layer")) a.mlp_act = detail::activation_named(*act, where);
  a.norm_eps = 1e-6f;  // timm's ViT LayerNorm
  a.final_norm = st.has("norm.weight");

  a.num_cls_tokens = st.has("cls_token") ? 1 : 0;
  if (auto ct = args.boolean("class_token"); ct && *ct != (a.num_cls_tokens == 1))
    bad("model_args.class_token disagrees with the checkpoint (cls_token " + std::string(a.num_cls_tokens ? "present" : "absent") + ")");
  a.num_registers = st.has("reg_token") ? int(shape("reg_token")[1]) : 0;
  const bool no_embed_class = args.boolean("no_embed_class").value_or(def.no_embed_class);

  a.position = args.boolean("dynamic_img_size").value_or(false) ? PositionRule::bicubic : PositionRule::fixed;
  if (!st.has("pos_embed")) {
    a.position = PositionRule::none;
  } else {
    const Shape pos = shape("pos_embed");
    a.pos_prefix_rows = no_embed_class ? 0 : a.num_prefix_tokens();
    std::int64_t img_h = def.img_size, img_w = def.img_size;
    if (const json::Value* is = args.find("img_size")) {
      if (is->is_integer()) img_h = img_w = is->as_int();
      else if (auto hw = args.numbers("img_size", 2)) img_h = std::int64_t((*hw)[0]), img_w = std::int64_t((*hw)[1]);
    }
    a.pos_grid_h = int(img_h / a.patch_size);
    a.pos_grid_w = int(img_w / a.patch_size);
    if (pos.rank() != 3 || pos[2] != a.embed_dim || pos[1] != a.pos_prefix_rows + std::int64_t(a.pos_grid_h) * a.pos_grid_w)
      bad("pos_embed " + pos.str() + " does not hold " + std::to_string(a.pos_prefix_rows) + " prefix rows and a " +
          std::to_string(a.pos_grid_h) + "x" + std::to_string(a.pos_grid_w) + " grid (img_size " + std::to_string(img_h) + "x" +
          std::to_string(img_w) + ", patch " + std::to_string(a.patch_size) + ")");
  }

  std::string pool = def.global_pool;
  if (auto p = top.string("global_pool")) pool = *p;
  if (auto p = args.string("global_pool")) pool = *p;
  if (pool == "token") {
    if (a.num_cls_tokens == 0) bad("global_pool 'token' needs a cls token, and the checkpoint has none");
    a.pooling = Pooling::tokens;
    a.summary_tokens = {0};
  } else if (pool == "map") {
    a.pooling = Pooling::attention;
    const Shape fc1 = shape("attn_pool.mlp.fc1.weight");
    a.pool_mlp_hidden = int(fc1[0]);
  } else {
    bad("global_pool '" + pool + "' is not supported yet (supported: token, map)");
  }

  const json::Fields pcfg = top.object("pretrained_cfg");
  auto mean = pcfg.numbers("mean", 3), stdv = pcfg.numbers("std", 3);
  if (!mean || !stdv) {
    if (notes) notes->push_back("pretrained_cfg has no mean/std: using timm's default 0.5/0.5");
  } else {
    for (int c = 0; c < 3; ++c) {
      a.mean[std::size_t(c)] = float((*mean)[std::size_t(c)]);
      a.std[std::size_t(c)] = float((*stdv)[std::size_t(c)]);
      if (!(a.std[std::size_t(c)] > 0.0f)) bad("pretrained_cfg.std must be positive, got " + std::to_string((*stdv)[std::size_t(c)]));
    }
  }

  a.keys = WeightKeys{"patch_embed.proj", "pos_embed", "cls_token", "reg_token", "blocks.", "gamma", "norm", "attn_pool", "", "", "", "", false};
  a.validate(where);
  return a;
}

// Opens a timm hub snapshot folder (config.json + model.safetensors).
inline Snapshot open_snapshot(const std::string& dir) {
  const ModelFiles files = model_files(dir);
  if (files.weights.empty()) fail(ErrorKind::io, dir + ": not a model folder (expected config.json and model.safetensors)");
  if (!files.has_weights) fail(ErrorKind::io, files.weights + ": missing (a timm snapshot needs model.safetensors)");
  const json::Value cfg = json::parse(io::read_text_file(files.config), files.config);
  Snapshot s;
  auto st = std::make_unique<SafeTensorsWeights>(std::make_shared<io::SafeTensors>(files.weights), "");
  s.architecture = architecture_from_hub(cfg, *st, files.config, &s.notes);
  s.name = cfg.find("architecture")->as_string();
  if (auto in = json::Fields(cfg, files.config, "", true).object("pretrained_cfg").numbers("input_size", 3)) s.input_size = {int((*in)[1]), int((*in)[2])};
  s.weights = std::move(st);
  return s;
}

}  // namespace vit::models::timm
