// vit::models::radio::Model<B> — the C-RADIO forward pass (docs/radio-spec.md §3), written once
// for every backend B.
//
//   images [B,3,H,W] in [0,1]
//     -> (x - mean) / std, im2patch            [B*T, 3p²]      T = (H/p)(W/p)
//     -> embedder (linear, no bias)            [B*T, D]
//     -> + CPE position embedding, prefix tokens in front   h [B, S+T, D]
//     -> L pre-norm blocks, [final LayerNorm]
//     -> summary  = tokens at summary_idxs, concatenated    [B, n·D]
//        features = tokens after the prefix [-> PHI-S]      [B, T, D]
#pragma once
#include <atomic>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <optional>
#include <vector>

#include "vit/backend.hpp"
#include "vit/nn/layers.hpp"
#include "vit/models/radio/config.hpp"
#include "vit/models/radio/weights.hpp"

namespace vit::models::radio {

enum class Layout { nlc, nchw };

template <Backend B>
struct Output {
  typename B::Tensor summary;   // [B, n, D]: the n summary tokens, i.e. [B, n·D] row-major
  typename B::Tensor features;  // [B, T, D]
  int grid_h = 0, grid_w = 0;   // T = grid_h · grid_w
};

struct HostOutput {
  HostTensor summary;   // [B, n·D] (downloaded as [B, n, D], reshaped)
  HostTensor features;  // [B, T, D] (nlc) or [B, D, grid_h, grid_w] (nchw)
};

// [B, T, D] -> [B, D, gh, gw] (a pure permutation, as RADIO's feature_fmt='NCHW').
inline HostTensor to_nchw(const HostTensor& nlc, int gh, int gw) {
  const std::int64_t b = nlc.shape[0], t = nlc.shape[1], d = nlc.shape[2];
  HostTensor out(Shape{b, d, gh, gw});
  for (std::int64_t i = 0; i < b; ++i)
    for (std::int64_t j = 0; j < t; ++j)
      for (std::int64_t k = 0; k < d; ++k) out.data[std::size_t((i * d + k) * t + j)] = nlc.data[std::size_t((i * t + j) * d + k)];
  return out;
}

template <Backend B>
class Model {
 public:
  using Tensor = typename B::Tensor;

  Model(B& backend, Config config, const WeightSource& w) : b_(backend), cfg_(std::move(config)) {
    cfg_.validate("model config");
    const std::int64_t d = cfg_.embed_dim, p = cfg_.patch_size, r = cfg_.pos_grid, m = cfg_.mlp_hidden;
    const std::string pg = "model.patch_generator.";
    mean_ = b_.upload(w.get("input_conditioner.norm_mean", Shape{3, 1, 1}));
    {
      HostTensor sd = w.get("input_conditioner.norm_std", Shape{3, 1, 1});  // the input is divided by it
      for (std::size_t i = 0; i < 3; ++i) {
        char value[32];
        std::snprintf(value, sizeof value, "%g", double(sd.data[i]));
        check(sd.data[i] > 0 && std::isfinite(sd.data[i]), ErrorKind::format,
              w.describe("input_conditioner.norm_std") + ": entry " + std::to_string(i) + " is " + value + ", expected a positive finite value");
      }
      std_ = b_.upload(sd);
    }
    {
      HostTensor weight = w.get(pg + "embedder.weight", Shape{d, 3 * p * p});
      std::optional<HostTensor> bias;
      if (cfg_.patch_bias) bias = w.get(pg + "embedder.bias", Shape{d});
      embedder_ = nn::Linear<B>::make(b_, weight, bias ? &*bias : nullptr);
    }
    HostTensor pos = w.get(pg + "pos_embed", Shape{1, r * r, d});
    pos.shape = Shape{r, r, d};
    pos_grid_ = b_.upload(pos);
    prefix_ = b_.upload(w.get(pg + "cls_token.token", Shape{cfg_.num_prefix_tokens(), d}));

    for (int i = 0; i < cfg_.depth; ++i) {
      const std::string k = "model.blocks." + std::to_string(i) + ".";
      std::optional<HostTensor> ls1, ls2;
      if (cfg_.layer_scale) {
        ls1 = w.get(k + "ls1.grandma", Shape{d});
        ls2 = w.get(k + "ls2.grandma", Shape{d});
      }
      nn::Block<B> blk{layer_norm(w, k + "norm1", d, cfg_.norm_eps), layer_norm(w, k + "norm2", d, cfg_.norm_eps),
                       {linear(w, k + "attn.qkv", 3 * d, d), linear(w, k + "attn.proj", d, d, ls1 ? &*ls1 : nullptr), cfg_.num_heads},
                       {linear(w, k + "mlp.fc1", m, d), linear(w, k + "mlp.fc2", d, m, ls2 ? &*ls2 : nullptr), std::nullopt}};
      if (cfg_.mlp_norm) blk.mlp.norm = layer_norm(w, k + "mlp.norm", m, cfg_.mlp_norm_eps);
      blocks_.push_back(std::move(blk));
    }
    if (cfg_.final_norm) final_norm_ = layer_norm(w, "model.norm", d, cfg_.norm_eps);
    if (cfg_.feature_normalizer) {
      // (x - mean) @ tx^T  ==  x @ tx^T + (-(tx @ mean)): one linear layer with a folded bias.
      HostTensor tx = w.get("feature_normalizer.tx", Shape{d, d});
      HostTensor mean = w.get("feature_normalizer.mean", Shape{d});
      HostTensor bias(Shape{d});
      for (std::int64_t o = 0; o < d; ++o) {
        double acc = 0;
        for (std::int64_t k = 0; k < d; ++k) acc += double(tx.data[std::size_t(o * d + k)]) * mean.data[std::size_t(k)];
        bias.data[std::size_t(o)] = float(-acc);
      }
      phi_s_ = nn::Linear<B>::make(b_, tx, &bias);
    }
  }

  const Config& config() const { return cfg_; }
  B& backend() { return b_; }

  // Runs the model on images [B,3,H,W] (H, W multiples of the patch size) already on the backend.
  // The result lives in the model's workspace: valid until the next forward with another shape.
  const Output<B>& forward(const Tensor& images) {
    Workspace& ws = workspace(images.shape);
    b_.copy(images, ws.input);
    run(ws);
    return ws.out;
  }

  // Host in, host out: images [B,3,H,W] in [0,1] -> summary [B, n·D] and features in `layout`.
  HostOutput forward(const HostTensor& images, Layout layout = Layout::nlc) {
    Workspace& ws = workspace(images.shape);
    b_.upload(images, ws.input);
    run(ws);
    HostOutput h{b_.download(ws.out.summary), b_.download(ws.out.features)};
    h.summary.shape = Shape{ws.shape[0], cfg_.summary_dim()};
    if (layout == Layout::nchw) h.features = to_nchw(h.features, ws.out.grid_h, ws.out.grid_w);
    return h;
  }

 private:
  // Activations for one input shape, allocated once and reused until the shape changes.
  struct Workspace {
    Shape shape;            // input shape [B,3,H,W]
    std::uint64_t id = 0;   // changes with every reallocation (the key of a captured graph)
    int gh = 0, gw = 0;
    Tensor input, patches, tokens, pos, h;
    nn::BlockWorkspace<B> block;
    Output<B> out;
    std::vector<std::int64_t> spatial_idx;
  };

  // The whole forward on the workspace's tensors (one captured graph on backends that can).
  void run(Workspace& ws) {
    auto body = [this, &ws] {
      b_.im2patch(ws.input, cfg_.patch_size, mean_, std_, ws.patches);
      embedder_(b_, ws.patches, ws.tokens);
      b_.assemble_tokens(prefix_, ws.tokens, ws.pos, ws.h);
      for (const auto& blk : blocks_) blk.forward(b_, ws.h, ws.block);
      Tensor* final_tokens = &ws.h;
      if (final_norm_) {
        (*final_norm_)(b_, ws.h, ws.block.normed);
        final_tokens = &ws.block.normed;
      }
      b_.gather_tokens(*final_tokens, cfg_.summary_idxs, ws.out.summary);
      if (phi_s_) {
        b_.gather_tokens(*final_tokens, ws.spatial_idx, ws.tokens);
        (*phi_s_)(b_, ws.tokens, ws.out.features);
      } else {
        b_.gather_tokens(*final_tokens, ws.spatial_idx, ws.out.features);
      }
    };
    if constexpr (GraphCapable<B>) b_.run_graph(ws.id, body);
    else body();
  }

  Workspace& workspace(const Shape& s) {
    check(s.rank() == 4 && s[1] == 3, ErrorKind::shape, "input: expected [B, 3, H, W] RGB, got " + s.str());
    check(s[0] > 0 && s[2] > 0 && s[3] > 0, ErrorKind::shape, "input: empty image batch " + s.str());
    const int p = cfg_.patch_size;
    check(s[2] % p == 0 && s[3] % p == 0, ErrorKind::shape,
          "input: height and width must be multiples of the patch size " + std::to_string(p) + ", got " +
              std::to_string(s[2]) + "x" + std::to_string(s[3]) + " (resize to the nearest supported resolution first)");
    if (ws_ && ws_->shape == s) return *ws_;
    const double bytes = cfg_.activation_bytes(s[0], s[2], s[3]);
    check(bytes <= double(Config::kMaxActivationBytes), ErrorKind::out_of_memory,
          "input " + s.str() + " needs " + std::to_string(std::llround(bytes / 1e9)) + " GB of activations, more than the limit of " +
              std::to_string(Config::kMaxActivationBytes >> 30) + " GiB (use a smaller batch or resolution)");
    ws_.reset();  // free the old activations before allocating new ones
    const std::int64_t batch = s[0], d = cfg_.embed_dim, t = (s[2] / p) * (s[3] / p), n = cfg_.num_prefix_tokens() + t;
    const int gh = int(s[2] / p), gw = int(s[3] / p);
    static std::atomic<std::uint64_t> next_id{0};
    Workspace w{s, ++next_id, gh, gw,
                b_.alloc(s), b_.alloc(Shape{batch * t, std::int64_t(3) * p * p}), b_.alloc(Shape{batch * t, d}), b_.alloc(Shape{t, d}),
                b_.alloc(Shape{batch, n, d}),
                nn::BlockWorkspace<B>::make(b_, batch, n, d, cfg_.mlp_hidden, cfg_.mlp_norm),
                Output<B>{b_.alloc(Shape{batch, std::int64_t(cfg_.summary_idxs.size()), d}), b_.alloc(Shape{batch, t, d}), gh, gw},
                std::vector<std::int64_t>(std::size_t(t))};
    std::iota(w.spatial_idx.begin(), w.spatial_idx.end(), cfg_.num_prefix_tokens());
    b_.resample_pos_embed(pos_grid_, gh, gw, w.pos);
    ws_.emplace(std::move(w));
    return *ws_;
  }

  nn::LayerNorm<B> layer_norm(const WeightSource& w, const std::string& key, std::int64_t n, float eps) {
    return {b_.upload(w.get(key + ".weight", Shape{n})), b_.upload(w.get(key + ".bias", Shape{n})), eps};
  }

  // Loads `key`.weight [out, in] and .bias [out]; a layer scale `ls` is folded in: ls ⊙ (xW^T + b).
  nn::Linear<B> linear(const WeightSource& w, const std::string& key, std::int64_t out, std::int64_t in, const HostTensor* ls = nullptr) {
    HostTensor weight = w.get(key + ".weight", Shape{out, in});
    HostTensor bias = w.get(key + ".bias", Shape{out});
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
  Config cfg_;
  Tensor mean_, std_, pos_grid_, prefix_;
  nn::Linear<B> embedder_;
  std::vector<nn::Block<B>> blocks_;
  std::optional<nn::LayerNorm<B>> final_norm_;
  std::optional<nn::Linear<B>> phi_s_;
  std::optional<Workspace> ws_;
};

}  // namespace vit::models::radio
