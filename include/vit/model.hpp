// vit::Model<B> — the generic Vision Transformer forward pass, written once for every backend B
// and every family: a family only describes itself as an Architecture (its sizes, token and
// position rules, pooling and key names; see architecture.hpp).
//
//   images [B,3,H,W] in [0,1]
//     -> (x - mean) / std, im2patch            [B*T, 3p²]      T = gh·gw = (H/p)(W/p)
//     -> patch embedding (linear)              [B*T, D]
//     -> + positions for the grid, prefix tokens in front      h [B, S+T, D]
//     -> L pre-norm blocks, [final LayerNorm]
//        (ViTDet: some blocks attend within w×w windows of patches: Architecture::vitdet_window)
//     -> summary  = pooled tokens                               [B, C]
//        features = tokens after the prefix [-> projection]     [B, T, D]
//     -> [teacher heads: an MLP on one token and on the features (pixel-shuffled when upsampled)]
//   intermediate layers: the tokens after chosen blocks (IntermediateRequest), on the host
//
// What depends only on the input shape (the resampled positions) is computed on the host once
// per shape and uploaded; the activations live in a workspace allocated once per shape; on a
// backend that can capture (CUDA Graphs) the whole trunk is one captured graph.
#pragma once
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <memory>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "vit/architecture.hpp"
#include "vit/backend.hpp"
#include "vit/nn/layers.hpp"
#include "vit/nn/optional_ops.hpp"
#include "vit/nn/position.hpp"
#include "vit/weights.hpp"

namespace vit {

// Gives the heap memory freed so far back to the operating system. Loading frees one host copy of
// each weight after the backend has prepared its own; glibc keeps most of that memory in its heap
// (its mmap threshold rises to the size of the first large block freed), so without this a loaded
// C-RADIOv4-SO400M held 267 MiB more (2288 vs 2021 MiB max RSS on cpu at 512², measured with
// MALLOC_MMAP_THRESHOLD_ pinned). A no-op elsewhere than glibc.
inline void release_free_heap() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

enum class Layout { nlc, nchw };

// A teacher head's outputs on the backend.
template <Backend B>
struct HeadOutput {
  std::string name;
  typename B::Tensor summary;   // [B, 1, Cs]
  typename B::Tensor features;  // [B, grid_h·grid_w, Cf] (the patch grid upsampled by the head's factor)
  int grid_h = 0, grid_w = 0;
};

template <Backend B>
struct Output {
  typename B::Tensor summary;   // [B, n, D]: n pooled vectors, i.e. [B, n·D] row-major
  typename B::Tensor features;  // [B, T, D]
  int grid_h = 0, grid_w = 0;   // T = grid_h · grid_w
  std::vector<HeadOutput<B>> adaptors;  // one per Architecture::adaptors entry, in that order
};

// Intermediate layers (forward_intermediates): the token set after chosen blocks.
enum class Aggregation {
  sparse,  // entry k = the output of block k
  dense,   // entry for the j-th chosen block k_j = the mean of the outputs of blocks k_{j-1}+1 .. k_j
};
struct IntermediateRequest {
  std::vector<int> blocks;  // block numbers; negative ones count from the end (-1 = the last block)
  Aggregation aggregation = Aggregation::sparse;
};

struct HostHeadOutput {
  std::string name;
  HostTensor summary;   // [B, Cs]
  HostTensor features;  // [B, grid_h·grid_w, Cf] (nlc) or [B, Cf, grid_h, grid_w] (nchw)
  int grid_h = 0, grid_w = 0;
};

struct HostIntermediate {
  int block = 0;        // after resolving negatives
  HostTensor summary;   // [B, n·D]: the summary tokens of this entry (token pooling), [B, 0] otherwise
  HostTensor features;  // [B, T, D] (nlc) or [B, D, gh, gw] (nchw): its patch tokens, no final norm
};

struct HostOutput {
  HostTensor summary;   // [B, C] (downloaded as [B, n, D], reshaped)
  HostTensor features;  // [B, T, D] (nlc) or [B, D, grid_h, grid_w] (nchw)
  std::vector<HostHeadOutput> adaptors;
  std::vector<HostIntermediate> intermediates;  // in ascending block order
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
  float scale = 0;  // on q·kᵀ, set by the model (Architecture::qk_scale); 0 is refused by the op

  struct Workspace {
    typename B::Tensor kv, attn;  // [B, N, 2D], [B, 1, D]
    BlockWorkspace<B> mlp;        // [B, 1, ...]
  };

  // h [B, N, D] -> out [B, 1, D]
  void forward(B& b, const typename B::Tensor& h, Workspace& ws, typename B::Tensor& out) const {
    kv(b, h, ws.kv);
    cross_attention(b, query, ws.kv, heads, scale, ws.attn);
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
    auto built = std::make_shared<Weights>();
    Weights& wt = *built;
    const Architecture& a = arch_;
    const WeightKeys& k = a.keys;
    const std::int64_t d = a.embed_dim, p = a.patch_size;
    if (k.input_mean.empty()) {
      wt.mean = b_.upload(HostTensor(Shape{3}, {a.mean[0], a.mean[1], a.mean[2]}));
      wt.std = b_.upload(HostTensor(Shape{3}, {a.std[0], a.std[1], a.std[2]}));
    } else {
      wt.mean = b_.upload(w.get(k.input_mean, Shape{3, 1, 1}));
      HostTensor sd = w.get(k.input_std, Shape{3, 1, 1});  // the input is divided by it
      for (std::size_t i = 0; i < 3; ++i) {
        char value[32];
        std::snprintf(value, sizeof value, "%g", double(sd.data[i]));
        check(sd.data[i] > 0 && std::isfinite(sd.data[i]), ErrorKind::format,
              w.describe(k.input_std) + ": entry " + std::to_string(i) + " is " + value + ", expected a positive finite value");
      }
      wt.std = b_.upload(sd);
    }
    {  // a Conv2d weight [D, 3, p, p] flattens row by row to im2patch's columns c·p² + ky·p + kx
      const auto stored = w.shape_of(k.patch_embed + ".weight");
      HostTensor weight = w.get(k.patch_embed + ".weight", stored && stored->rank() == 4 ? Shape{d, 3, p, p} : Shape{d, 3 * p * p});
      weight.shape = Shape{d, 3 * p * p};
      std::optional<HostTensor> bias;
      if (a.patch_bias) bias = w.get(k.patch_embed + ".bias", Shape{d});
      wt.patch_embed = nn::Linear<B>::make(b_, weight, bias ? &*bias : nullptr);
    }
    HostTensor prefix = prefix_tokens(w);
    if (a.position != PositionRule::none) {
      HostTensor table = w.get(k.pos_embed, Shape{1, a.pos_prefix_rows + std::int64_t(a.pos_grid_h) * a.pos_grid_w, d});
      for (std::int64_t i = 0; i < a.pos_prefix_rows * d; ++i) prefix.data[std::size_t(i)] += table.data[std::size_t(i)];
      wt.pos_table = HostTensor(Shape{a.pos_grid_h, a.pos_grid_w, d},
                              std::vector<float>(table.data.begin() + std::ptrdiff_t(a.pos_prefix_rows * d), table.data.end()));
    }
    wt.prefix = b_.upload(prefix);
    for (int i = 0; i < a.depth; ++i) {
      wt.blocks.push_back(block(w, k.blocks + std::to_string(i) + "."));
      release_free_heap();  // the block's host copies (see release_free_heap): so that they never pile up
    }
    if (a.final_norm) wt.final_norm = layer_norm(w, k.final_norm, d, a.norm_eps);
    if (a.pooling == Pooling::attention) wt.pool = attention_pool(w);
    if (a.feature_projection) wt.feature_proj = feature_projection(w);
    for (const AdaptorHead& h : a.adaptors) wt.heads.push_back({mlp_head(w, h.summary_key, h.summary, h), mlp_head(w, h.feature_key, h.feature, h)});
    wt_ = std::move(built);
    release_free_heap();
  }

  // Another model over the same weights, with its own workspace: the two may run at the same time
  // from different threads (one set of weights, many streams). `backend` is this stream's own
  // backend object (e.g. a cpu backend with its share of the threads); B must be able to use
  // weights another instance prepared (SharesWeights<B>: cpu and reference). Per-model settings
  // (ViTDet window) are copied and then independent.
  Model(B& backend, const Model& other)
    requires SharesWeights<B>
      : b_(backend), arch_(other.arch_), wt_(other.wt_) {}

  bool shares_weights_with(const Model& other) const { return wt_ == other.wt_; }

  const Architecture& architecture() const { return arch_; }
  B& backend() { return b_; }

  // Switches ViTDet windowed attention on (window w > 0) or off (0) for later forwards. Refused
  // with the reason when the model's depth cannot take the schedule (Architecture::validate).
  void set_vitdet_window(int window) {
    Architecture a = arch_;
    a.vitdet_window = window;
    a.validate(arch_.family + " model");
    arch_ = std::move(a);
    ws_.reset();
  }

  // The blocks an IntermediateRequest names: negatives + depth, duplicates removed, ascending.
  std::vector<int> resolve_blocks(const std::vector<int>& blocks) const {
    std::vector<int> out;
    for (int k : blocks) {
      const int r = k < 0 ? k + arch_.depth : k;
      check(r >= 0 && r < arch_.depth, ErrorKind::config,
            "intermediates: block " + std::to_string(k) + " is outside the model's " + std::to_string(arch_.depth) + " blocks (0.." +
                std::to_string(arch_.depth - 1) + ", or -1..-" + std::to_string(arch_.depth) + " from the end)");
      out.push_back(r);
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }

  // Runs the model on images [B,3,H,W] (H, W multiples of the patch size) already on the backend.
  // The result lives in the model's workspace: valid until the next forward with another shape.
  const Output<B>& forward(const Tensor& images) {
    Workspace& ws = workspace(images.shape);
    b_.copy(images, ws.input);
    run(ws, nullptr);
    return ws.out;
  }

  // Host in, host out: images [B,3,H,W] in [0,1] -> summary [B, C], features in `layout`, every
  // loaded adaptor head, and the intermediate layers asked for (not with ViTDet windows).
  HostOutput forward(const HostTensor& images, Layout layout = Layout::nlc, const IntermediateRequest& intermediates = {}) {
    Collector collect{resolve_blocks(intermediates.blocks), intermediates.aggregation, {}, {}, 0, 0};
    check(collect.blocks.empty() || arch_.vitdet_window == 0, ErrorKind::config,
          "intermediates: not available with ViTDet windowed attention (the official model returns empty tensors there); "
          "run without the ViTDet window");
    Workspace& ws = workspace(images.shape);
    b_.upload(images, ws.input);
    run(ws, collect.blocks.empty() ? nullptr : &collect);
    const std::int64_t batch = ws.shape[0];
    HostOutput h{b_.download(ws.out.summary), b_.download(ws.out.features), {}, {}};
    h.summary.shape = Shape{batch, arch_.summary_dim()};
    if (layout == Layout::nchw) h.features = to_nchw(h.features, ws.out.grid_h, ws.out.grid_w);
    for (const HeadOutput<B>& head : ws.out.adaptors) {
      HostHeadOutput o{head.name, b_.download(head.summary), b_.download(head.features), head.grid_h, head.grid_w};
      o.summary.shape = Shape{batch, o.summary.shape.numel() / batch};
      if (layout == Layout::nchw) o.features = to_nchw(o.features, head.grid_h, head.grid_w);
      h.adaptors.push_back(std::move(o));
    }
    for (std::size_t j = 0; j < collect.blocks.size(); ++j) {
      HostIntermediate e = split_tokens(collect.entries[j], ws.out.grid_h, ws.out.grid_w, layout);
      e.block = collect.blocks[j];
      h.intermediates.push_back(std::move(e));
    }
    return h;
  }

 private:
  // A head's activations: its summary input token and both heads' scratch.
  struct HeadWorkspace {
    std::vector<std::int64_t> token;   // {head token}
    Tensor token_in;                   // [B, 1, D]
    typename nn::MlpHead<B>::Workspace summary, feature;
    Tensor shuffled_in;                // [B, T·u², c]: the feature head's output before the pixel shuffle (u > 1)
    std::vector<std::int64_t> shuffle; // pixel-shuffle order (u > 1)
  };

  // ViTDet: the attention's windows, and the prefix tokens [B, S, D] set aside while blocks run
  // windowed (those blocks run on all of h; what they do to the prefix rows is undone by putting
  // the tokens back).
  struct WindowWorkspace {
    nn::Windows<B> attention;
    std::vector<std::int64_t> prefix_idx;  // 0 … S-1
    Tensor prefix;
  };

  // Activations for one input shape, allocated once and reused until the shape changes.
  struct Workspace {
    Shape shape;            // input shape [B,3,H,W]
    std::uint64_t id = 0;   // changes with every reallocation (the key of a captured graph)
    Tensor input, patches, tokens, pos, h;  // patches: an operand; h: the residual stream (f32)
    nn::BlockWorkspace<B> block;
    Tensor final_normed;  // [B, N, D] f32 where operands are 16-bit, else empty
    // Where the final norm writes: f32 (the outputs are read from it), so block.normed only when
    // that is f32 too.
    Tensor& normed_out() { return final_normed.numel() ? final_normed : block.normed; }
    Output<B> out;
    std::vector<std::int64_t> spatial_idx;
    std::optional<typename nn::AttentionPool<B>::Workspace> pool;
    std::optional<WindowWorkspace> windows;
    std::vector<HeadWorkspace> heads;
  };

  // Intermediate layers gathered on the host during one forward.
  struct Collector {
    std::vector<int> blocks;
    Aggregation aggregation;
    std::vector<HostTensor> entries;
    std::vector<double> sum;  // dense: running sum of the current group
    int group_size = 0;
    std::size_t next = 0;     // the next entry to fill

    void after_block(int i, const HostTensor& h) {
      if (next >= blocks.size()) return;
      if (aggregation == Aggregation::dense) {
        if (sum.empty()) sum.assign(h.data.size(), 0.0);
        for (std::size_t k = 0; k < h.data.size(); ++k) sum[k] += h.data[k];
        ++group_size;
      }
      if (i != blocks[next]) return;
      HostTensor e = h;
      if (aggregation == Aggregation::dense) {
        for (std::size_t k = 0; k < sum.size(); ++k) e.data[k] = float(sum[k] / group_size);
        sum.assign(sum.size(), 0.0);
        group_size = 0;
      }
      entries.push_back(std::move(e));
      ++next;
    }
    bool wants(int i) const { return next < blocks.size() && (aggregation == Aggregation::dense || i == blocks[next]); }
  };

  // Tokens [B, S+T, D] -> summary tokens [B, n·D] and patch tokens [B, T, D] (or NCHW).
  HostIntermediate split_tokens(const HostTensor& h, int gh, int gw, Layout layout) const {
    const std::int64_t batch = h.shape[0], n = h.shape[1], d = h.shape[2], s = arch_.num_prefix_tokens(), t = n - s;
    const bool tokens = arch_.pooling == Pooling::tokens;
    const std::int64_t ns = tokens ? std::int64_t(arch_.summary_tokens.size()) : 0;
    HostIntermediate e{0, HostTensor(Shape{batch, ns * d}), HostTensor(Shape{batch, t, d})};
    for (std::int64_t b = 0; b < batch; ++b) {
      const float* src = h.data.data() + b * n * d;
      for (std::int64_t j = 0; j < ns; ++j)
        std::copy_n(src + arch_.summary_tokens[std::size_t(j)] * d, d, e.summary.data.begin() + (b * ns + j) * d);
      std::copy_n(src + s * d, t * d, e.features.data.begin() + b * t * d);
    }
    if (layout == Layout::nchw) e.features = to_nchw(e.features, gh, gw);
    return e;
  }

  // The whole forward on the workspace's tensors. The trunk is one captured graph on backends
  // that can, unless an op of it takes the host path there or intermediate layers are collected.
  void run(Workspace& ws, Collector* collect) {
    const std::vector<bool> windowed = arch_.vitdet_schedule();
    auto trunk = [this, &ws, &windowed, collect] {
      b_.im2patch(ws.input, arch_.patch_size, wt_->mean, wt_->std, ws.patches);
      wt_->patch_embed(b_, ws.patches, ws.tokens);
      b_.assemble_tokens(wt_->prefix, ws.tokens, ws.pos, ws.h);
      bool in_windows = false;  // the prefix tokens wait in ws.windows->prefix, unchanged while windowed
      for (std::size_t i = 0; i < wt_->blocks.size(); ++i) {
        if (windowed[i] != in_windows && !ws.windows->prefix_idx.empty()) {
          if (windowed[i]) b_.gather_tokens(ws.h, ws.windows->prefix_idx, ws.windows->prefix);
          else nn::scatter_tokens(b_, ws.windows->prefix, ws.windows->prefix_idx, ws.h);
        }
        in_windows = windowed[i];
        wt_->blocks[i].forward(b_, ws.h, ws.block, in_windows ? &ws.windows->attention : nullptr);
        if (collect && collect->wants(int(i))) collect->after_block(int(i), b_.download(ws.h));
      }
      const Tensor& final_tokens = wt_->final_norm ? ((*wt_->final_norm)(b_, ws.h, ws.normed_out()), ws.normed_out()) : ws.h;
      if (!wt_->pool) b_.gather_tokens(final_tokens, arch_.summary_tokens, ws.out.summary);
      if (wt_->feature_proj) {
        b_.gather_tokens(final_tokens, ws.spatial_idx, ws.tokens);
        (*wt_->feature_proj)(b_, ws.tokens, ws.out.features);
      } else {
        b_.gather_tokens(final_tokens, ws.spatial_idx, ws.out.features);
      }
      for (std::size_t j = 0; j < wt_->heads.size(); ++j) {
        HeadWorkspace& hw = ws.heads[j];
        HeadOutput<B>& out = ws.out.adaptors[j];
        b_.gather_tokens(final_tokens, hw.token, hw.token_in);
        wt_->heads[j].summary.forward(b_, hw.token_in, hw.summary, out.summary);
        if (hw.shuffle.empty()) {
          wt_->heads[j].feature.forward(b_, ws.out.features, hw.feature, out.features);
        } else {
          wt_->heads[j].feature.forward(b_, ws.out.features, hw.feature, hw.shuffled_in);
          b_.gather_tokens(hw.shuffled_in, hw.shuffle, out.features);
        }
      }
    };
    const nn::OptionalNeeds needs{.swiglu = arch_.mlp == MlpKind::swiglu, .activation = !wt_->heads.empty(), .scatter_tokens = arch_.vitdet_window > 0};
    if constexpr (GraphCapable<B>) {
      if (collect || nn::uses_host_fallback<B>(needs)) trunk();
      else b_.run_graph(ws.id, trunk);
    } else {
      trunk();
    }
    if (wt_->pool) wt_->pool->forward(b_, arch_.final_norm ? ws.normed_out() : ws.h, *ws.pool, ws.out.summary);
  }

  Workspace& workspace(const Shape& s) {
    check(s.rank() == 4 && s[1] == 3, ErrorKind::shape, "input: expected [B, 3, H, W] RGB, got " + s.str());
    check(s[0] > 0 && s[2] > 0 && s[3] > 0, ErrorKind::shape, "input: empty image batch " + s.str());
    const int p = arch_.patch_size;
    check(s[2] % p == 0 && s[3] % p == 0, ErrorKind::shape,
          "input: height and width must be multiples of the patch size " + std::to_string(p) + ", got " + std::to_string(s[2]) + "x" +
              std::to_string(s[3]) + " (resize to the nearest supported resolution first)");
    if (const int w = arch_.vitdet_window; w > 0)
      check(s[2] % (std::int64_t(p) * w) == 0 && s[3] % (std::int64_t(p) * w) == 0, ErrorKind::shape,
            "input: with ViTDet window " + std::to_string(w) + " height and width must be multiples of " + std::to_string(p * w) +
                " (patch " + std::to_string(p) + " x window " + std::to_string(w) + "), got " + std::to_string(s[2]) + "x" +
                std::to_string(s[3]));
    if (ws_ && ws_->shape == s) return *ws_;
    const double bytes = arch_.activation_bytes(s[0], s[2], s[3], int(dtype_size(nn::operand_dtype(b_))));
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
                nn::alloc_operand(b_, Shape{batch * t, std::int64_t(3) * p * p}),
                b_.alloc(Shape{batch * t, d}),
                b_.alloc(Shape{t, d}),
                b_.alloc(Shape{batch, n, d}),
                nn::BlockWorkspace<B>::make(b_, batch, n, d, arch_.mlp_hidden, arch_.mlp_norm, arch_.mlp),
                b_.alloc(Shape{arch_.final_norm && nn::operand_dtype(b_) != DType::f32 ? batch : 0, n, d}),
                Output<B>{b_.alloc(Shape{batch, arch_.summary_count(), d}), b_.alloc(Shape{batch, t, d}), gh, gw, {}},
                std::vector<std::int64_t>(std::size_t(t)),
                std::nullopt,
                std::nullopt,
                {}};
    std::iota(w.spatial_idx.begin(), w.spatial_idx.end(), arch_.num_prefix_tokens());
    if (const int win = arch_.vitdet_window; win > 0) {
      const std::int64_t nw = t / (std::int64_t(win) * win), prefix = arch_.num_prefix_tokens();
      w.windows.emplace(WindowWorkspace{{vitdet_window_order(prefix, gh, gw, win), nn::alloc_operand(b_, Shape{batch * nw, std::int64_t(win) * win, 3 * d}),
                                         nn::alloc_operand(b_, Shape{batch * nw, std::int64_t(win) * win, d})},
                                        std::vector<std::int64_t>(std::size_t(prefix)),
                                        b_.alloc(Shape{batch, prefix, d})});
      std::iota(w.windows->prefix_idx.begin(), w.windows->prefix_idx.end(), 0);
      if (prefix > 0) {  // the attention's prefix rows, which windowed blocks do not write: zeros until a global block does
        Tensor zeros = nn::alloc_operand(b_, Shape{batch, prefix, d});  // of the attention output's type
        b_.upload(HostTensor(Shape{batch, prefix, d}), zeros);
        nn::scatter_tokens(b_, zeros, w.windows->prefix_idx, w.block.attn);
        b_.synchronize();  // before `zeros` goes
      }
    }
    for (const AdaptorHead& a : arch_.adaptors) {  // summary [B, 1, Cs]; features [B, (u·gh)(u·gw), c]
      const int u = a.upsample;
      const std::int64_t c = a.feature_channels();
      HeadWorkspace hw{{a.token},
                       b_.alloc(Shape{batch, 1, d}),
                       nn::MlpHead<B>::workspace(b_, batch, a.summary.hidden),
                       nn::MlpHead<B>::workspace(b_, batch * t, a.feature.hidden),
                       b_.alloc(Shape{u > 1 ? batch : 0, t * u * u, c}),
                       {}};
      // out[(gy·u + u1)·(gw·u) + gx·u + u2] = in[(gy·gw + gx)·u² + u1·u + u2]  (rows of c values)
      if (u > 1)
        for (int y = 0; y < gh * u; ++y)
          for (int x = 0; x < gw * u; ++x) hw.shuffle.push_back((std::int64_t(y / u) * gw + x / u) * u * u + (y % u) * u + x % u);
      w.out.adaptors.push_back({a.name, b_.alloc(Shape{batch, 1, a.summary.out}), b_.alloc(Shape{batch, t * u * u, c}), gh * u, gw * u});
      w.heads.push_back(std::move(hw));
    }
    if (wt_->pool)
      w.pool.emplace(typename nn::AttentionPool<B>::Workspace{nn::alloc_operand(b_, Shape{batch, n, 2 * d}), nn::alloc_operand(b_, Shape{batch, 1, d}),
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
        return HostTensor(Shape{std::int64_t(gh) * gw, d}, wt_->pos_table.data);
      case PositionRule::bicubic: return nn::resample_bicubic(wt_->pos_table, gh, gw);
      case PositionRule::square_crop: return nn::resample_square_crop(wt_->pos_table, gh, gw);
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
                     {linear(w, k + "attn.qkv", 3 * d, d, nullptr, a.qkv_bias), linear(w, k + "attn.proj", d, d, ls1 ? &*ls1 : nullptr), a.num_heads, a.qk_scale()},
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
            arch_.num_heads,
            arch_.qk_scale()};
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

  nn::MlpHead<B> mlp_head(const WeightSource& w, const std::string& key, const MlpHeadShape& shape, const AdaptorHead& h) {
    const std::int64_t d = arch_.embed_dim, hid = shape.hidden;
    nn::MlpHead<B> m{linear(w, key + ".fc1", hid, d), {}, layer_norm(w, key + ".final.0", hid, h.norm_eps),
                     linear(w, key + ".final.2", shape.out, hid), h.act};
    for (int j = 0; j < shape.num_inner; ++j) {
      const std::string k = key + ".blocks." + std::to_string(j);
      m.inner.push_back({layer_norm(w, k + ".0", hid, h.norm_eps), linear(w, k + ".2", hid, hid)});
    }
    return m;
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

  // Everything loaded from the weights, prepared on the backend once; shared by streams.
  struct Weights {
    Tensor mean, std, prefix;
    HostTensor pos_table;  // [H0, W0, D] (the grid part of the stored table)
    nn::Linear<B> patch_embed;
    std::vector<nn::Block<B>> blocks;
    std::optional<nn::LayerNorm<B>> final_norm;
    std::optional<nn::AttentionPool<B>> pool;
    std::optional<nn::Linear<B>> feature_proj;
    struct Heads {
      nn::MlpHead<B> summary, feature;
    };
    std::vector<Heads> heads;  // one per Architecture::adaptors entry
  };

  B& b_;
  Architecture arch_;
  std::shared_ptr<const Weights> wt_;
  std::optional<Workspace> ws_;
};

}  // namespace vit
