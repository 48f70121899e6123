// vit::Architecture — one ViT's shape and rules in plain values: what a family's importer derives
// from its config and checkpoint, and all that the generic vit::Model<B> needs to build itself.
//
// Token layout entering block 0 (S = prefix tokens, T = gh·gw patch tokens, row-major grid):
//   h[b] = [ cls tokens | registers | patch tokens ]          [B, S + T, D]
//   prefix rows  = the stored cls/register tokens, plus the table's first `pos_prefix_rows`
//                  position rows when the family gives prefix tokens a position (timm's default)
//   patch tokens = patch embedding + the position table resampled to the grid by `position`
#pragma once
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "vit/backend.hpp"

namespace vit {

// How the stored position table becomes positions for a gh×gw grid of patches.
enum class PositionRule {
  none,         // no absolute position embedding
  fixed,        // the table is used as stored: the grid must equal the table's grid
  bicubic,      // timm: bicubic resize with antialias (align_corners=False) to gh×gw
  square_crop,  // C-RADIO CPE: bilinear resize to m×m, m = max(gh, gw), top-left gh×gw crop
};

// The MLP of a block.
enum class MlpKind {
  plain,   // fc1 [H, D] -> activation -> [LayerNorm] -> fc2 [D, H]
  swiglu,  // fc1 [2H, D] -> silu(first H) * (last H) -> fc2 [D, H]   (timm's SwiGLUPacked)
};

// How the summary vector [B, C] is made from the final tokens.
enum class Pooling {
  tokens,     // the tokens at `summary_tokens`, concatenated: C = n·D (cls pooling, C-RADIO)
  attention,  // multi-head attention pooling with one learned query, then an MLP (SigLIP's MAP)
};

// Checkpoint key names, relative to the weight source. Block i's tensors are under
// blocks + i + ".norm1", ".attn.qkv", ".attn.proj", ".norm2", ".mlp.fc1", ".mlp.fc2",
// ".mlp.norm", ".ls1." + layer_scale, ".ls2." + layer_scale (timm's names).
struct WeightKeys {
  std::string patch_embed;   // <key>.weight [D, 3, p, p] or [D, 3p²]; <key>.bias [D]
  std::string pos_embed;     // [1, pos_prefix_rows + H0·W0, D]
  std::string cls_token;     // [1, n, D] or [n, D]: n cls tokens (or cls + registers when `registers_in_cls`)
  std::string reg_token;     // [1, R, D]; unused when registers_in_cls
  std::string blocks;        // e.g. "blocks." -> "blocks.0.norm1.weight"
  std::string layer_scale;   // "gamma" (timm) or "grandma" (C-RADIO)
  std::string final_norm;    // "norm"
  std::string attn_pool;     // "attn_pool" (latent, q, kv, proj, norm, mlp.fc1, mlp.fc2)
  std::string input_mean, input_std;  // [3, 1, 1] input conditioner tensors; empty: Architecture::mean/std
  std::string feature_proj_tx, feature_proj_mean;  // PHI-S: features = (x - mean) @ tx^T
  bool registers_in_cls = false;  // C-RADIO stores cls tokens and registers in one tensor
};

// An MLP head on tokens (C-RADIO's adaptor "MLP v2"; LayerNorm eps 1e-5, activation GELU):
//   h = fc1(x); for each inner block j: h += blocks.j.2(act(blocks.j.0(h)));  y = final.2(act(final.0(h)))
// Keys under <key>: fc1, blocks.<j>.0 (LayerNorm), blocks.<j>.2 (Linear), final.0, final.2.
struct MlpHeadShape {
  int hidden = 0, out = 0, num_inner = 0;

  // Weight values on input width d: fc1, each inner block (LayerNorm + Linear), final LayerNorm + Linear.
  std::int64_t parameter_count(std::int64_t d) const {
    const std::int64_t h = hidden;
    return d * h + h + num_inner * (2 * h + h * h + h) + 2 * h + h * out + out;
  }
};

// A teacher head (C-RADIO adaptor): a summary head on one token and a feature head on the patch
// features, whose u²·c outputs per patch are pixel-shuffled to a (u·gh)×(u·gw) grid of c values.
struct AdaptorHead {
  std::string name;          // e.g. "siglip2-g"
  std::string summary_key;   // e.g. "adaptors.siglip2-g.head_mlp"
  std::string feature_key;   // e.g. "adaptors.siglip2-g.feat_mlp"
  int token = 0;             // the final token the summary head reads (head_idx)
  MlpHeadShape summary, feature;
  int upsample = 1;          // u
  float norm_eps = 1e-5f;
  Activation act = Activation::gelu;

  int feature_channels() const { return feature.out / (upsample * upsample); }
  std::int64_t parameter_count(std::int64_t d) const { return summary.parameter_count(d) + feature.parameter_count(d); }
};

// ViTDet's window order on a gh×gw patch grid behind `prefix` tokens: the patch tokens of each w×w
// window in turn (windows row-major, then row-major inside a window), as indices into the
// [prefix + gh·gw] tokens — what gathers the patches into [B·nw, w², D] and scatters them back.
inline std::vector<std::int64_t> vitdet_window_order(std::int64_t prefix, std::int64_t gh, std::int64_t gw, std::int64_t w) {
  std::vector<std::int64_t> order;
  for (std::int64_t wy = 0; wy < gh / w; ++wy)
    for (std::int64_t wx = 0; wx < gw / w; ++wx)
      for (std::int64_t y = 0; y < w; ++y)
        for (std::int64_t x = 0; x < w; ++x) order.push_back(prefix + (wy * w + y) * gw + wx * w + x);
  return order;
}

struct Architecture {
  std::string family;          // "radio", "timm", ... (for messages)
  int patch_size = 16;         // p
  int embed_dim = 768;         // D
  int depth = 12;              // L
  int num_heads = 12;
  float attention_scale = 0;   // the factor on q·kᵀ before the softmax; 0: 1/sqrt(head_dim)
  int mlp_hidden = 3072;       // H
  MlpKind mlp = MlpKind::plain;
  Activation mlp_act = Activation::gelu;
  bool mlp_norm = false;       // LayerNorm between activation and fc2 (C-RADIO v1)
  float norm_eps = 1e-6f;
  float mlp_norm_eps = 1e-5f;
  bool patch_bias = true;
  bool qkv_bias = true;
  bool layer_scale = false;    // folded into proj and fc2 at load
  bool final_norm = true;

  int num_cls_tokens = 1;
  int num_registers = 0;
  PositionRule position = PositionRule::bicubic;
  int pos_grid_h = 14, pos_grid_w = 14;  // the stored table's grid
  int pos_prefix_rows = 1;     // rows in front of the grid, added to the first prefix tokens

  std::array<float, 3> mean{0.5f, 0.5f, 0.5f}, std{0.5f, 0.5f, 0.5f};  // when not in the weights

  Pooling pooling = Pooling::tokens;
  std::vector<std::int64_t> summary_tokens{0};
  int pool_mlp_hidden = 0;     // attention pooling's MLP width
  bool feature_projection = false;  // PHI-S linear map on the features

  WeightKeys keys;

  std::vector<AdaptorHead> adaptors;  // teacher heads to load and run (a family may offer more)

  // ViTDet windowed attention: 0 = every block attends globally. With window w the patch grid is
  // cut into w×w windows; the blocks of vitdet_schedule() marked windowed attend within each window
  // (prefix tokens set aside, unchanged), the others over all tokens. Grids must be multiples of w.
  int vitdet_window = 0;
  int vitdet_num_global = 4;  // global blocks in the schedule (C-RADIO's default)

  // Which blocks run windowed: period P = depth / num_global (>= 2); a windowed run starts at every
  // multiple of P and ends with a global block at P-1 mod P; the last block is always global.
  std::vector<bool> vitdet_schedule() const {
    std::vector<bool> windowed(std::size_t(depth > 0 ? depth : 0), false);
    const int period = vitdet_num_global > 0 ? depth / vitdet_num_global : 0;
    if (vitdet_window <= 0 || period < 2) return windowed;  // (validate() refuses period < 2)
    bool on = false;
    for (int i = 0; i + 1 < depth; ++i) {
      if (i % period == 0) on = true;
      else if (i % period == period - 1) on = false;
      windowed[std::size_t(i)] = on;
    }
    return windowed;
  }

  static constexpr std::uint64_t kMaxActivationBytes = 64ull << 30;  // one forward's workspace: 64 GiB
  // Limits that make a hostile or mistyped config fail in validate(), not as std::bad_alloc later.
  // Per field: width, MLP width (8x), depth, token counts, position grid side. Each alone admits
  // absurd models (width 4096 x depth 1024 x MLP 16384: 206 G parameters), so the whole model is
  // capped too: 4 G parameters (16 GB in fp32); the largest C-RADIO (g) has about 1.16 G.
  static constexpr int kMaxDim = 1 << 16, kMaxDepth = 1024, kMaxTokens = 1 << 12, kMaxGrid = 4096;
  static constexpr std::int64_t kMaxParameters = 4'000'000'000;

  int num_prefix_tokens() const { return num_cls_tokens + num_registers; }
  int head_dim() const { return embed_dim / num_heads; }
  // The scale every attention of the model (blocks and attention pooling) applies to q·kᵀ.
  float qk_scale() const { return attention_scale > 0 ? attention_scale : default_attention_scale(head_dim()); }

  // Bytes of the workspace one forward of a [batch, 3, height, width] input allocates (what
  // vit::Model checks against kMaxActivationBytes before allocating anything): fp32 tensors, and the
  // product operands (nn::alloc_operand) at operand_bytes each (2 on a backend that stores them in
  // 16 bits, see TypedTensors).
  double activation_bytes(std::int64_t batch, std::int64_t height, std::int64_t width, int operand_bytes = 4) const {
    const double b = double(batch), p = patch_size, d = embed_dim, m = mlp_hidden, s = num_prefix_tokens();
    const double t = double(height / patch_size) * double(width / patch_size), n = s + t;
    double f32 = b * 3 * double(height) * double(width) + b * t * d + t * d  // input, tokens, pos
                 + b * n * d                                                // h
                 + b * summary_count() * d + b * t * d                      // summary, features
                 + (final_norm && operand_bytes < 4 ? b * n * d : 0)        // the final norm's fp32 output
                 + (vitdet_window > 0 ? b * s * d : 0);                     // prefix set aside
    double operands = b * t * 3 * p * p                                                            // patches
                      + b * n * d * 5                                                              // normed, qkv (3), attn
                      + b * n * m * (1 + (mlp_norm ? 1 : 0) + (mlp == MlpKind::swiglu ? 2 : 0))   // MLP hidden [+ normed | gate]
                      + (pooling == Pooling::attention ? b * n * 2 * d + b * (6 * d + pool_mlp_hidden) : 0)  // pooling: kv, attn, its MLP's block workspace
                      + (vitdet_window > 0 ? b * t * d * 4 + b * s * d : 0);  // windows' qkv, attention; the zero prefix rows written once
    for (const AdaptorHead& h : adaptors) {  // per head: the token in, summed hidden and outputs fp32 (the
      // feature head's output twice when upsampled: before and after the pixel shuffle); normed, activated operands
      f32 += b * (d + h.summary.hidden + h.summary.out) + b * t * (h.feature.hidden + h.feature.out * (h.upsample > 1 ? 2.0 : 1.0));
      operands += 2.0 * (b * h.summary.hidden + b * t * h.feature.hidden);
    }
    return 4 * f32 + double(operand_bytes) * operands;
  }
  int summary_dim() const { return pooling == Pooling::tokens ? int(summary_tokens.size()) * embed_dim : embed_dim; }
  int summary_count() const { return pooling == Pooling::tokens ? int(summary_tokens.size()) : 1; }

  // Exactly the number of weight values the model loads (input mean/std when in the weights, patch
  // embedding, position table, prefix tokens, blocks, final norm, pooling, feature projection, the
  // adaptor heads in `adaptors`). Exact in int64 for any architecture within the limits above.
  std::int64_t parameter_count() const {
    const std::int64_t d = embed_dim, h = mlp_hidden, p = patch_size, fc1 = mlp == MlpKind::swiglu ? 2 * h : h;
    std::int64_t block = 3 * d * d + (qkv_bias ? 3 * d : 0) + d * d + d  // qkv, proj
                         + d * fc1 + fc1 + h * d + d + 4 * d;            // fc1, fc2, norm1, norm2
    if (layer_scale) block += 2 * d;
    if (mlp_norm) block += 2 * h;
    std::int64_t n = 3 * p * p * d + (patch_bias ? d : 0) + std::int64_t(num_prefix_tokens()) * d + depth * block;
    if (!keys.input_mean.empty()) n += 6;
    if (position != PositionRule::none) n += (pos_prefix_rows + std::int64_t(pos_grid_h) * pos_grid_w) * d;
    if (final_norm) n += 2 * d;
    if (pooling == Pooling::attention)  // latent, q, kv, proj, norm, MLP
      n += d + (d * d + d) + (2 * d * d + 2 * d) + (d * d + d) + 2 * d + (d * pool_mlp_hidden + pool_mlp_hidden + pool_mlp_hidden * d + d);
    if (feature_projection) n += d * d + d;
    for (const AdaptorHead& a : adaptors) n += a.parameter_count(d);
    return n;
  }

  // Throws a config error naming `where` if the numbers cannot describe a working model.
  void validate(const std::string& where) const {
    auto need = [&](bool ok, const std::string& what) { check(ok, ErrorKind::config, where + ": " + what); };
    need(patch_size > 0 && patch_size <= 64, "patch_size must be in [1, 64], got " + std::to_string(patch_size));
    need(embed_dim > 0 && num_heads > 0 && embed_dim % num_heads == 0,
         "embed_dim " + std::to_string(embed_dim) + " must be a positive multiple of num_heads " + std::to_string(num_heads));
    need(std::isfinite(attention_scale) && attention_scale >= 0,
         "attention_scale must be finite and >= 0 (0: 1/sqrt(head_dim)), got " + std::to_string(attention_scale));
    need(depth >= 0 && depth <= kMaxDepth, "depth must be in [0, " + std::to_string(kMaxDepth) + "], got " + std::to_string(depth));
    need(mlp_hidden > 0, "mlp_hidden must be positive, got " + std::to_string(mlp_hidden));
    need(embed_dim <= kMaxDim && mlp_hidden <= kMaxDim * 8 && pool_mlp_hidden <= kMaxDim * 8,
         "embed_dim " + std::to_string(embed_dim) + " / mlp_hidden " + std::to_string(mlp_hidden) + " exceed the limits " +
             std::to_string(kMaxDim) + " / " + std::to_string(kMaxDim * 8));
    need(num_cls_tokens >= 0 && num_registers >= 0, "negative token count");
    need(num_cls_tokens <= kMaxTokens && num_registers <= kMaxTokens, "cls tokens / registers must be at most " + std::to_string(kMaxTokens));
    need(pos_grid_h <= kMaxGrid && pos_grid_w <= kMaxGrid, "the position table's grid must be at most " + std::to_string(kMaxGrid) + " a side");
    need(position == PositionRule::none || (pos_grid_h > 0 && pos_grid_w > 0 && pos_prefix_rows >= 0 &&
                                            pos_prefix_rows <= num_prefix_tokens()),
         "position table grid " + std::to_string(pos_grid_h) + "x" + std::to_string(pos_grid_w) + " with " +
             std::to_string(pos_prefix_rows) + " prefix rows does not fit " + std::to_string(num_prefix_tokens()) + " prefix tokens");
    if (pooling == Pooling::tokens) {
      need(!summary_tokens.empty(), "no summary tokens");
      for (auto i : summary_tokens)
        need(i >= 0 && i < num_prefix_tokens(), "summary token " + std::to_string(i) + " is outside the " +
                                                    std::to_string(num_prefix_tokens()) + " prefix tokens");
    } else {
      need(pool_mlp_hidden > 0, "attention pooling needs pool_mlp_hidden > 0");
    }
    need(!(mlp == MlpKind::swiglu && mlp_norm), "a SwiGLU MLP has no MLP LayerNorm");
    if (vitdet_window != 0) {
      need(vitdet_window > 0, "ViTDet window must be positive, got " + std::to_string(vitdet_window));
      need(vitdet_num_global > 0 && depth >= 2 * vitdet_num_global,
           "ViTDet with " + std::to_string(vitdet_num_global) + " global blocks needs a depth of at least " +
               std::to_string(2 * vitdet_num_global) + " (a windowed run and a global block per period), this model has " +
               std::to_string(depth) + " blocks");
    }
    for (const AdaptorHead& h : adaptors) {
      for (const MlpHeadShape& m : {h.summary, h.feature}) {
        need(m.hidden > 0 && m.out > 0 && m.hidden <= kMaxDim * 8 && m.out <= kMaxDim * 8,
             "adaptor '" + h.name + "': head sizes must be in [1, " + std::to_string(kMaxDim * 8) + "], got " + std::to_string(m.hidden) + " / " + std::to_string(m.out));
        need(m.num_inner >= 0 && m.num_inner <= 64, "adaptor '" + h.name + "': inner blocks must be in [0, 64]");
      }
      need(h.upsample >= 1 && h.upsample <= 16 && h.feature.out % (h.upsample * h.upsample) == 0,
           "adaptor '" + h.name + "': feature output " + std::to_string(h.feature.out) + " is not a multiple of upsample_factor² (" +
               std::to_string(h.upsample) + "², upsample_factor in [1, 16])");
      need(h.token >= 0 && h.token < num_prefix_tokens(), "adaptor '" + h.name + "': token " + std::to_string(h.token) +
                                                              " is outside the " + std::to_string(num_prefix_tokens()) + " prefix tokens");
    }
    // The whole model, once each field is known to be in range (so the count cannot overflow).
    const std::int64_t params = parameter_count();
    char size[96];
    std::snprintf(size, sizeof size, "%.1f G parameters (%.1f GB in fp32)", double(params) / 1e9, double(params) * 4 / 1e9);
    need(params <= kMaxParameters, std::string(size) + " exceed the limit of " + std::to_string(kMaxParameters / 1'000'000'000) + " G parameters");
  }
};

}  // namespace vit
