// vit::models::radio::Model<B> — C-RADIO on the generic vit::Model<B> (docs/radio-spec.md §3):
// what is RADIO's own is only its Architecture, built from a radio::Config:
//   tokens   = [cls tokens | registers | patches], one stored tensor for cls + registers
//   position = the CPE rule: the R×R table bilinear-resized to max(gh, gw)², top-left crop
//              (patches only; prefix tokens take no position)
//   input    = the checkpoint's input conditioner (mean/std tensors)
//   summary  = the cls tokens at summary_idxs, concatenated                [B, n·D]
//   features = the patch tokens [-> PHI-S: (x - mean) @ tx^T]               [B, T, D]
#pragma once
#include "vit/model.hpp"
#include "vit/models/radio/config.hpp"
#include "vit/models/radio/weights.hpp"

namespace vit::models::radio {

using vit::HostOutput;
using vit::Layout;
using vit::Output;
using vit::to_nchw;

// The generic architecture of a C-RADIO config, with RADIO's key names.
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

// The generic heads of the config's teacher adaptors (MLP v2, LayerNorm eps 1e-5, exact GELU).
inline std::vector<AdaptorHead> adaptor_heads(const Config& c) {
  std::vector<AdaptorHead> heads;
  for (const Adaptor& a : c.adaptors) {
    AdaptorHead h;
    h.name = a.name;
    h.summary_key = "adaptors." + a.name + ".head_mlp";
    h.feature_key = "adaptors." + a.name + ".feat_mlp";
    h.token = a.head_idx;
    h.summary = {a.summary_hidden, a.summary_out, a.summary_inner};
    h.feature = {a.feature_hidden, a.feature_out, a.feature_inner};
    h.upsample = a.upsample;
    heads.push_back(std::move(h));
  }
  return heads;
}

template <Backend B>
class Model : public vit::Model<B> {
 public:
  Model(B& backend, Config config, const WeightSource& w) : vit::Model<B>(backend, checked(config), w), cfg_(std::move(config)) {}

  const Config& config() const { return cfg_; }

 private:
  static Architecture checked(const Config& c) {
    c.validate("model config");
    return architecture(c);
  }
  Config cfg_;
};

}  // namespace vit::models::radio
