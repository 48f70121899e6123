// Transformer layers, templated on a Backend and written once for every backend.
// Each layer holds its prepared weights; activations come from a caller-owned workspace.
// Shapes: M = tokens in the batch (B·N), D = width, H = MLP hidden width.
#pragma once
#include <optional>
#include <vector>

#include "vit/architecture.hpp"
#include "vit/backend.hpp"
#include "vit/nn/optional_ops.hpp"

namespace vit::nn {

// The element type b stores product operands in (f32 on a backend without TypedTensors), and a
// tensor of that type: what the model allocates for every tensor whose readers are products
// (LayerNorm outputs, qkv, attention outputs, the MLP hidden layer, the patches).
template <Backend B>
DType operand_dtype(const B& b) {
  if constexpr (TypedTensors<B>) return b.operand_dtype();
  else return DType::f32;
}
template <Backend B>
typename B::Tensor alloc_operand(B& b, const Shape& s) {
  if constexpr (TypedTensors<B>) return b.alloc(s, b.operand_dtype());
  else return b.alloc(s);
}

// y[M,N] = (accumulate ? y : 0) + act(x[M,K] W^T + b)
template <Backend B>
struct Linear {
  typename B::Linear op;
  std::int64_t in = 0, out = 0;

  static Linear make(B& b, const HostTensor& w, const HostTensor* bias) {
    return Linear{b.make_linear(w, bias), w.shape[1], w.shape[0]};
  }
  void operator()(B& b, const typename B::Tensor& x, typename B::Tensor& y, Activation act = Activation::none,
                  bool accumulate = false) const {
    b.linear(op, x, y, act, accumulate);
  }
};

// y[M,D] = LayerNorm(x) with affine weight/bias and epsilon eps.
template <Backend B>
struct LayerNorm {
  typename B::Tensor weight, bias;
  float eps = 1e-6f;

  void operator()(B& b, const typename B::Tensor& x, typename B::Tensor& y) const { b.layer_norm(x, weight, bias, eps, y); }
};

// Activations one transformer block needs, sized for M tokens; reused by every block. All are
// product operands (alloc_operand); the residual stream h is the model's, in f32.
template <Backend B>
struct BlockWorkspace {
  typename B::Tensor normed;  // [B, N, D]
  typename B::Tensor qkv;     // [B, N, 3D]
  typename B::Tensor attn;    // [B, N, D]
  typename B::Tensor hidden;  // [B, N, H]
  typename B::Tensor hidden_normed;  // [B, N, H], only for MLPs with a LayerNorm
  typename B::Tensor gate;    // [B, N, 2H], only for SwiGLU MLPs (fc1's output)

  static BlockWorkspace make(B& b, std::int64_t batch, std::int64_t n, std::int64_t d, std::int64_t hidden, bool mlp_norm,
                             MlpKind kind = MlpKind::plain) {
    auto op = [&b](const Shape& s) { return alloc_operand(b, s); };
    return {op(Shape{batch, n, d}), op(Shape{batch, n, 3 * d}), op(Shape{batch, n, d}), op(Shape{batch, n, hidden}),
            op(Shape{mlp_norm ? batch : 0, n, hidden}), op(Shape{kind == MlpKind::swiglu ? batch : 0, n, 2 * hidden})};
  }
};

// ViTDet's windows for a block's attention: the patch tokens' q | k | v rows gathered in
// window-major order as [B·nw, w², 3D], attention within each window into [B·nw, w², D], the
// outputs scattered back to their tokens' rows. Rows of tokens not in `order` (the prefix tokens)
// keep what they held: the model sets those tokens aside while blocks run windowed.
template <Backend B>
struct Windows {
  std::vector<std::int64_t> order;  // order[k] = the token at window-major position k
  typename B::Tensor qkv, attn;
};

// Multi-head self-attention with fused qkv (timm layout): h += proj(attention(qkv(x))), the
// softmax over scale · q kᵀ (within each window when `windows` is given). The residual add happens
// in the projection's epilogue.
template <Backend B>
struct Attention {
  Linear<B> qkv, proj;
  int heads = 1;
  float scale = 0;  // on q·kᵀ, set by the model (Architecture::qk_scale); 0 is refused by the op

  void add_to(B& b, const typename B::Tensor& x, typename B::Tensor& h, BlockWorkspace<B>& ws, Windows<B>* windows = nullptr) const {
    qkv(b, x, ws.qkv);
    if (windows) {
      b.gather_tokens(ws.qkv, windows->order, windows->qkv);
      b.attention(windows->qkv, heads, scale, windows->attn);
      scatter_tokens(b, windows->attn, windows->order, ws.attn);
    } else {
      b.attention(ws.qkv, heads, scale, ws.attn);
    }
    proj(b, ws.attn, h, Activation::none, /*accumulate=*/true);
  }
};

// MLP: h += fc2([LayerNorm](act(fc1(x)))). The LayerNorm is C-RADIO v1's `_mlpnorm` variant.
// SwiGLU: h += fc2(silu(a) * g) with [a | g] = fc1(x) (fc1 has 2H outputs).
template <Backend B>
struct Mlp {
  Linear<B> fc1, fc2;
  std::optional<LayerNorm<B>> norm;
  MlpKind kind = MlpKind::plain;
  Activation act = Activation::gelu;

  void add_to(B& b, const typename B::Tensor& x, typename B::Tensor& h, BlockWorkspace<B>& ws) const {
    if (kind == MlpKind::swiglu) {
      fc1(b, x, ws.gate);
      nn::swiglu(b, ws.gate, ws.hidden);
      fc2(b, ws.hidden, h, Activation::none, true);
      return;
    }
    fc1(b, x, ws.hidden, act);
    if (norm) {
      (*norm)(b, ws.hidden, ws.hidden_normed);
      fc2(b, ws.hidden_normed, h, Activation::none, true);
    } else {
      fc2(b, ws.hidden, h, Activation::none, true);
    }
  }
};

// Pre-norm transformer block (timm Block): h += attn(LN1(h)); h += mlp(LN2(h)), the attention
// within ViTDet windows when `windows` is given. Layer scale, when a checkpoint has it, is folded
// into proj and fc2 at load time.
template <Backend B>
struct Block {
  LayerNorm<B> norm1, norm2;
  Attention<B> attn;
  Mlp<B> mlp;

  void forward(B& b, typename B::Tensor& h, BlockWorkspace<B>& ws, Windows<B>* windows = nullptr) const {
    norm1(b, h, ws.normed);
    attn.add_to(b, ws.normed, h, ws, windows);
    norm2(b, h, ws.normed);
    mlp.add_to(b, ws.normed, h, ws);
  }
};

// An MLP head (C-RADIO's adaptor MLP v2), x [M, D] -> y [M, C]:
//   h = fc1(x); for each inner block: h += lin(act(LN(h)));  y = out(act(LN_out(h)))
template <Backend B>
struct MlpHead {
  struct Inner {
    LayerNorm<B> norm;
    Linear<B> linear;
  };
  Linear<B> fc1;
  std::vector<Inner> inner;
  LayerNorm<B> final_norm;
  Linear<B> final;
  Activation act = Activation::gelu;

  struct Workspace {
    typename B::Tensor h, normed, activated;  // [M, H]; h (summed into) f32, the others operands
  };
  static Workspace workspace(B& b, std::int64_t rows, std::int64_t hidden) {
    return {b.alloc(Shape{rows, hidden}), alloc_operand(b, Shape{rows, hidden}), alloc_operand(b, Shape{rows, hidden})};
  }

  void forward(B& b, const typename B::Tensor& x, Workspace& ws, typename B::Tensor& y) const {
    fc1(b, x, ws.h);
    for (const Inner& blk : inner) {
      blk.norm(b, ws.h, ws.normed);
      activation(b, ws.normed, act, ws.activated);
      blk.linear(b, ws.activated, ws.h, Activation::none, /*accumulate=*/true);
    }
    final_norm(b, ws.h, ws.normed);
    activation(b, ws.normed, act, ws.activated);
    final(b, ws.activated, y);
  }
};

}  // namespace vit::nn
