// vit::Model<B> — the generic Vision Transformer forward pass, written once for every backend B
// and every family: a family only describes itself as an Architecture (its sizes, token and
// position rules, pooling and key names; see architecture.hpp).
//
//   images [B,3,H,W] in [0,1]
//     -> (x - mean) / std, im2patch            [B*T, 3p²]      T = gh·gw = (H/p)(W/p)
//     -> patch embedding (linear)              [B*T, D]
//     -> + positions for the grid, prefix tokens in front      h [B, S+T, D]
//     -> L pre-norm blocks, [final LayerNorm]
//     -> summary  = pooled tokens                               [B, C]
//        features = tokens after the prefix [-> projection]     [B, T, D]
//
// What depends only on the input shape (the resampled positions) is computed on the host once
// per shape and uploaded; the activations live in a workspace allocated once per shape; on a
// backend that can capture (CUDA Graphs) the whole trunk is one captured graph.
#pragma once
#include <atomic>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <optional>
#include <vector>

#include "vit/architecture.hpp"
#include "vit/backend.hpp"
#include "vit/nn/layers.hpp"
#include "vit/nn/optional_ops.hpp"
#include "vit/nn/position.hpp"
#include "vit/weights.hpp"

namespace vit {

enum class Layout { nlc, nchw };

template <Backend B>
struct Output {
  typename B::Tensor summary;   // [B, n, D]: n pooled vectors, i.e. [B, n·D] row-major
  typename B::Tensor features;  // [B, T, D]
  int grid_h = 0, grid_w = 0;   // T = grid_h · grid_w
};

struct HostOutput {
  HostTensor summary;   // [B, C] (downloaded as [B, n, D], reshaped)
  HostTensor features;  // [B, T, D] (nlc) or [B, D, grid_h, grid_w] (nchw)
};

// [B, T, D] -> [B, D, gh, gw] (a pure permutation, as feature_fmt='NCHW').
inline HostTensor to_nchw(const HostTensor& nlc, int gh, int gw) {
  const std::int64_t b = nlc.shape[0], t = nlc.shape[1], d = nlc.shape[2];
  HostTensor out(Shape{b, d, gh, gw});
  for (std::int64_t i = 0; i < b; ++i)
    for (std::int64_t j = 0; j < t; ++j)
      for (std::int64_t k = 0; k < d; ++k) out.data[std::size_t((i * d + k) * t + j)] = nlc.data[std::size_t((i * t + j) * d + k)];
  return out;
}

namespace nn {

// Attention pooling with one learned query (timm's AttentionPoolLatent, SigLIP's MAP head):
//   x = proj(attention(q, kv(h)))  with q = latent Wq^T + bq fixed at load   [B, 1, D]
//   x = x + mlp(norm(x))
template <Backend B>
struct AttentionPool {
  typename B::Tensor query;  // [1, D]
  Linear<B> kv, proj;
  LayerNorm<B> norm;
  Mlp<B> mlp;
  int heads = 1;

  struct Workspace {
    typename B::Tensor kv, attn;  // [B, N, 2D], [B, 1, D]
    BlockWorkspace<B> mlp;        // [B, 1, ...]
  };

  // h [B, N, D] -> out [B, 1, D]
  void forward(B& b, const typename B::Tensor& h, Workspace& ws, typename B::Tensor& out) const {
    kv(b, h, ws.kv);
    cross_attention(b, query, ws.kv, heads, ws.attn);
    proj(b, ws.attn, out);
    norm(b, out, ws.mlp.normed);
    mlp.add_to(b, ws.mlp.normed, out, ws.mlp);
  }
};

}  // namespace nn

template <Backend B>
class Model {
 public:
  using Tensor = typename B::Tensor;

  Model(B& backend, Architecture arch, const WeightSource& w) : b_(backend), arch_(std::move(arch)) {
    arch_.validate(arch_.family + " model");
    const Architecture& a = arch_;
    const WeightKeys& k = a.keys;
    const std::int64_t d = a.embed_dim, p = a.patch_size;
    if (k.input_mean.empty()) {
      mean_ = b_.upload(HostTensor(Shape{3}, {a.mean[0], a.mean[1], a.mean[2]}));
      std_ = b_.upload(HostTensor(Shape{3}, {a.std[0], a.std[1], a.std[2]}));
    } else {
      mean_ = b_.upload(w.get(k.input_mean, Shape{3, 1, 1}));
      HostTensor sd = w.get(k.input_std, Shape{3, 1, 1});  // the input is divided by it
      for (std::size_t i = 0; i < 3; ++i) {
        char value[32];
        std::snprintf(value, sizeof value, "%g", double(sd.data[i]));
        check(sd.data[i] > 0 && std::isfinite(sd.data[i]), ErrorKind::format,
              w.describe(k.input_std) + ": entry " + std::to_string(i) + " is " + value + ", expected a positive finite value");
      }
      std_ = b_.upload(sd);
    }
    {  // a Conv2d weight [D, 3, p, p] flattens row by row to im2patch's columns c·p² + ky·p + kx
      const auto stored = w.shape_of(k.patch_embed + ".weight");
      HostTensor weight = w.get(k.patch_embed + ".weight", stored && stored->rank() == 4 ? Shape{d, 3, p, p} : Shape{d, 3 * p * p});
      weight.shape = Shape{d, 3 * p * p};
      std::optional<HostTensor> bias;
      if (a.patch_bias) bias = w.get(k.patch_embed + ".bias", Shape{d});
      patch_embed_ = nn::Linear<B>::make(b_, weight, bias ? &*bias : nullptr);
    }
    HostTensor prefix = prefix_tokens(w);
    if (a.position != PositionRule::none) {
      HostTensor table = w.get(k.pos_embed, Shape{1, a.pos_prefix_rows + std::int64_t(a.pos_grid_h) * a.pos_grid_w, d});
      for (std::int64_t i = 0; i < a.pos_prefix_rows * d; ++i) prefix.data[std::size_t(i)] += table.data[std::size_t(i)];
      pos_table_ = HostTensor(Shape{a.pos_grid_h, a.pos_grid_w, d},
                              std::vector<float>(table.data.begin() + std::ptrdiff_t(a.pos_prefix_rows * d), table.data.end()));
    }
    prefix_ = b_.upload(prefix);
    for (int i = 0; i < a.depth; ++i) blocks_.push_back(block(w, k.blocks + std::to_string(i) + "."));
    if (a.final_norm) final_norm_ = layer_norm(w, k.final_norm, d, a.norm_eps);
    if (a.pooling == Pooling::attention) pool_ = attention_pool(w);
    if (a.feature_projection) feature_proj_ = feature_projection(w);
  }

  const Architecture& architecture() const { return arch_; }
  B& backend() { return b_; }

  // Runs the model on images [B,3,H,W] (H, W multiples of the patch size) already on the backend.
  // The result lives in the model's workspace: valid until the next forward with another shape.
  const Output<B>& forward(const Tensor& images) {
    Workspace& ws = workspace(images.shape);
    b_.copy(images, ws.input);
    run(ws);
    return ws.out;
  }

  // Host in, host out: images [B,3,H,W] in [0,1] -> summary [B, C] and features in `layout`.
  HostOutput forward(const HostTensor& images, Layout layout = Layout::nlc) {
    Workspace& ws = workspace(images.shape);
    b_.upload(images, ws.input);
    run(ws);
    HostOutput h{b_.download(ws.out.summary), b_.download(ws.out.features)};
    h.summary.shape = Shape{ws.shape[0], arch_.summary_dim()};
    if (layout == Layout::nchw) h.features = to_nchw(h.features, ws.out.grid_h, ws.out.grid_w);
    return h;
  }

 private:
  // Activations for one input shape, allocated once and reused until the shape changes.
  struct Workspace {
    Shape shape;            // input shape [B,3,H,W]
    std::uint64_t id = 0;   // changes with every reallocation (the key of a captured graph)
    Tensor input, patches, tokens, pos, h;
    nn::BlockWorkspace<B> block;
    Output<B> out;
    std::vector<std::int64_t> spatial_idx;
    std::optional<typename nn::AttentionPool<B>::Workspace> pool;
  };

  // The whole forward on the workspace's tensors. The trunk is one captured graph on backends
  // that can, unless an op of it takes the host path there.
  void run(Workspace& ws) {
    auto trunk = [this, &ws] {
      b_.im2patch(ws.input, arch_.patch_size, mean_, std_, ws.patches);
      patch_embed_(b_, ws.patches, ws.tokens);
      b_.assemble_tokens(prefix_, ws.tokens, ws.pos, ws.h);
      for (const auto& blk : blocks_) blk.forward(b_, ws.h, ws.block);
      const Tensor& final_tokens = final_norm_ ? ((*final_norm_)(b_, ws.h, ws.block.normed), ws.block.normed) : ws.h;
      if (!pool_) b_.gather_tokens(final_tokens, arch_.summary_tokens, ws.out.summary);
      if (feature_proj_) {
        b_.gather_tokens(final_tokens, ws.spatial_idx, ws.tokens);
        (*feature_proj_)(b_, ws.tokens, ws.out.features);
      } else {
        b_.gather_tokens(final_tokens, ws.spatial_idx, ws.out.features);
      }
    };
    constexpr bool swiglu_on_host = nn::uses_host_fallback<B>({.swiglu = true});
    if constexpr (GraphCapable<B>) {
      if (swiglu_on_host && arch_.mlp == MlpKind::swiglu) trunk();
      else b_.run_graph(ws.id, trunk);
    } else {
      trunk();
    }
    if (pool_) pool_->forward(b_, arch_.final_norm ? ws.block.normed : ws.h, *ws.pool, ws.out.summary);
  }

  Workspace& workspace(const Shape& s) {
    check(s.rank() == 4 && s[1] == 3, ErrorKind::shape, "input: expected [B, 3, H, W] RGB, got " + s.str());
    check(s[0] > 0 && s[2] > 0 && s[3] > 0, ErrorKind::shape, "input: empty image batch " + s.str());
    const int p = arch_.patch_size;
    check(s[2] % p == 0 && s[3] % p == 0, ErrorKind::shape,
          "input: height and width must be multiples of the patch size " + std::to_string(p) + ", got " + std::to_string(s[2]) + "x" +
              std::to_string(s[3]) + " (resize to the nearest supported resolution first)");
    if (ws_ && ws_->shape == s) return *ws_;
    const double bytes = arch_.activation_bytes(s[0], s[2], s[3]);
    check(bytes <= double(Architecture::kMaxActivationBytes), ErrorKind::out_of_memory,
          "input " + s.str() + " needs " + std::to_string(std::llround(bytes / 1e9)) + " GB of activations, more than the limit of " +
              std::to_string(Architecture::kMaxActivationBytes >> 30) + " GiB (use a smaller batch or resolution)");
    const int gh = int(s[2] / p), gw = int(s[3] / p);
    HostTensor pos = positions(gh, gw);  // may refuse the grid: before the old workspace goes
    ws_.reset();  // free the old activations before allocating new ones
    const std::int64_t batch = s[0], d = arch_.embed_dim, t = std::int64_t(gh) * gw, n = arch_.num_prefix_tokens() + t;
    static std::atomic<std::uint64_t> next_id{0};
    Workspace w{s,
                ++next_id,
                b_.alloc(s),
                b_.alloc(Shape{batch * t, std::int64_t(3) * p * p}),
                b_.alloc(Shape{batch * t, d}),
                b_.alloc(Shape{t, d}),
                b_.alloc(Shape{batch, n, d}),
                nn::BlockWorkspace<B>::make(b_, batch, n, d, arch_.mlp_hidden, arch_.mlp_norm, arch_.mlp),
                Output<B>{b_.alloc(Shape{batch, arch_.summary_count(), d}), b_.alloc(Shape{batch, t, d}), gh, gw},
                std::vector<std::int64_t>(std::size_t(t)),
                std::nullopt};
    std::iota(w.spatial_idx.begin(), w.spatial_idx.end(), arch_.num_prefix_tokens());
    if (pool_)
      w.pool.emplace(typename nn::AttentionPool<B>::Workspace{b_.alloc(Shape{batch, n, 2 * d}), b_.alloc(Shape{batch, 1, d}),
                                                              nn::BlockWorkspace<B>::make(b_, batch, 1, d, arch_.pool_mlp_hidden, false)});
    b_.upload(pos, w.pos);
    ws_.emplace(std::move(w));
    return *ws_;
  }

  // Positions of the patch tokens for a gh×gw grid by the family's rule: [gh·gw, D].
  HostTensor positions(int gh, int gw) const {
    const std::int64_t d = arch_.embed_dim;
    switch (arch_.position) {
      case PositionRule::none: return HostTensor(Shape{std::int64_t(gh) * gw, d});
      case PositionRule::fixed:
        check(gh == arch_.pos_grid_h && gw == arch_.pos_grid_w, ErrorKind::shape,
              "input: this model takes a fixed " + std::to_string(arch_.pos_grid_h * arch_.patch_size) + "x" +
                  std::to_string(arch_.pos_grid_w * arch_.patch_size) + " input, got " + std::to_string(gh * arch_.patch_size) + "x" +
                  std::to_string(gw * arch_.patch_size) + " (its position table is not resampled; resize the image)");
        return HostTensor(Shape{std::int64_t(gh) * gw, d}, pos_table_.data);
      case PositionRule::bicubic: return nn::resample_bicubic(pos_table_, gh, gw);
      case PositionRule::square_crop: return nn::resample_square_crop(pos_table_, gh, gw);
    }
    return {};
  }

  // The prefix tokens [S, D]: cls tokens then registers, as stored.
  HostTensor prefix_tokens(const WeightSource& w) const {
    const Architecture& a = arch_;
    const std::int64_t d = a.embed_dim, s = a.num_prefix_tokens();
    if (a.keys.registers_in_cls) {
      HostTensor t = w.get(a.keys.cls_token, Shape{s, d});
      return t;
    }
    HostTensor out(Shape{s, d});
    if (a.num_cls_tokens > 0) {
      HostTensor cls = w.get(a.keys.cls_token, Shape{1, a.num_cls_tokens, d});
      std::copy(cls.data.begin(), cls.data.end(), out.data.begin());
    }
    if (a.num_registers > 0) {
      HostTensor reg = w.get(a.keys.reg_token, Shape{1, a.num_registers, d});
      std::copy(reg.data.begin(), reg.data.end(), out.data.begin() + std::ptrdiff_t(a.num_cls_tokens * d));
    }
    return out;
  }

  nn::Block<B> block(const WeightSource& w, const std::string& k) {
    const Architecture& a = arch_;
    const std::int64_t d = a.embed_dim, m = a.mlp_hidden;
    std::optional<HostTensor> ls1, ls2;
    if (a.layer_scale) {
      ls1 = w.get(k + "ls1." + a.keys.layer_scale, Shape{d});
      ls2 = w.get(k + "ls2." + a.keys.layer_scale, Shape{d});
    }
    nn::Block<B> blk{layer_norm(w, k + "norm1", d, a.norm_eps),
                     layer_norm(w, k + "norm2", d, a.norm_eps),
                     {linear(w, k + "attn.qkv", 3 * d, d, nullptr, a.qkv_bias), linear(w, k + "attn.proj", d, d, ls1 ? &*ls1 : nullptr), a.num_heads},
                     {linear(w, k + "mlp.fc1", a.mlp == MlpKind::swiglu ? 2 * m : m, d), linear(w, k + "mlp.fc2", d, m, ls2 ? &*ls2 : nullptr),
                      std::nullopt, a.mlp, a.mlp_act}};
    if (a.mlp_norm) blk.mlp.norm = layer_norm(w, k + "mlp.norm", m, a.mlp_norm_eps);
    return blk;
  }

  nn::AttentionPool<B> attention_pool(const WeightSource& w) {
    const std::int64_t d = arch_.embed_dim;
    const std::string k = arch_.keys.attn_pool + ".";
    // The query is the same for every input: q = latent Wq^T + bq, once, on the host.
    const HostTensor latent = w.get(k + "latent", Shape{1, 1, d});
    const HostTensor wq = w.get(k + "q.weight", Shape{d, d}), bq = w.get(k + "q.bias", Shape{d});
    HostTensor q(Shape{1, d});
    for (std::int64_t o = 0; o < d; ++o) {
      double acc = bq.data[std::size_t(o)];
      for (std::int64_t i = 0; i < d; ++i) acc += double(latent.data[std::size_t(i)]) * wq.data[std::size_t(o * d + i)];
      q.data[std::size_t(o)] = float(acc);
    }
    return {b_.upload(q),
            linear(w, k + "kv", 2 * d, d),
            linear(w, k + "proj", d, d),
            layer_norm(w, k + "norm", d, arch_.norm_eps),
            {linear(w, k + "mlp.fc1", arch_.pool_mlp_hidden, d), linear(w, k + "mlp.fc2", d, arch_.pool_mlp_hidden), std::nullopt, MlpKind::plain,
             arch_.mlp_act},
            arch_.num_heads};
  }

  // PHI-S: (x - mean) @ tx^T  ==  x @ tx^T + (-(tx @ mean)): one linear layer with a folded bias.
  nn::Linear<B> feature_projection(const WeightSource& w) {
    const std::int64_t d = arch_.embed_dim;
    HostTensor tx = w.get(arch_.keys.feature_proj_tx, Shape{d, d});
    HostTensor mean = w.get(arch_.keys.feature_proj_mean, Shape{d});
    HostTensor bias(Shape{d});
    for (std::int64_t o = 0; o < d; ++o) {
      double acc = 0;
      for (std::int64_t i = 0; i < d; ++i) acc += double(tx.data[std::size_t(o * d + i)]) * mean.data[std::size_t(i)];
      bias.data[std::size_t(o)] = float(-acc);
    }
    return nn::Linear<B>::make(b_, tx, &bias);
  }

  nn::LayerNorm<B> layer_norm(const WeightSource& w, const std::string& key, std::int64_t n, float eps) {
    return {b_.upload(w.get(key + ".weight", Shape{n})), b_.upload(w.get(key + ".bias", Shape{n})), eps};
  }

  // Loads `key`.weight [out, in] and .bias [out]; a layer scale `ls` is folded in: ls ⊙ (xW^T + b).
  nn::Linear<B> linear(const WeightSource& w, const std::string& key, std::int64_t out, std::int64_t in, const HostTensor* ls = nullptr,
                       bool has_bias = true) {
    HostTensor weight = w.get(key + ".weight", Shape{out, in});
    HostTensor bias = has_bias ? w.get(key + ".bias", Shape{out}) : HostTensor(Shape{out});
    if (ls) {
      for (std::int64_t o = 0; o < out; ++o) {
        const float g = ls->data[std::size_t(o)];
        for (std::int64_t k = 0; k < in; ++k) weight.data[std::size_t(o * in + k)] *= g;
        bias.data[std::size_t(o)] *= g;
      }
    }
    return nn::Linear<B>::make(b_, weight, &bias);
  }

  B& b_;
  Architecture arch_;
  Tensor mean_, std_, prefix_;
  HostTensor pos_table_;  // [H0, W0, D] (the grid part of the stored table)
  nn::Linear<B> patch_embed_;
  std::vector<nn::Block<B>> blocks_;
  std::optional<nn::LayerNorm<B>> final_norm_;
  std::optional<nn::AttentionPool<B>> pool_;
  std::optional<nn::Linear<B>> feature_proj_;
  std::optional<Workspace> ws_;
};

}  // namespace vit
