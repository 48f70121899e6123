// The Backend concept: what a compute backend must provide for a ViT forward pass.
//
// A backend owns its memory (B::Tensor: a Shape plus backend storage) and prepared weights
// (B::Linear: a weight matrix and optional bias, laid out however the backend likes — reordered,
// converted to bf16, uploaded to a device). Tensors are dense and row-major; alloc(shape) gives
// fp32. A backend with TypedTensors (below) also stores the operands of its products in 16 bits
// when asked to compute in bf16/fp16; host tensors (upload/download) are always fp32.
//
// Ops (shapes row-major; M = rows, any leading dims flattened):
//   alloc(shape)                      -> uninitialised tensor
//   upload(host) / download(t)        host <-> backend copies (download waits for pending work)
//   upload(host, y)                   copies host data into an existing tensor of equal size
//   synchronize()                     waits until all queued work is done
//   copy(x, y)                        y = x (same element count; backend to backend)
//   make_linear(W [N,K], b [N]|null)  -> Linear (weights prepared once)
//   linear(L, x [M,K], y [M,N], act, accumulate)
//                                     y = (accumulate ? y : 0) + act(x W^T + b)
//   layer_norm(x [M,D], g [D], b [D], eps, y [M,D])
//                                     y = (x - mean) / sqrt(var + eps) * g + b   (biased var)
//   attention(qkv [B,N,3D], heads, scale, out [B,N,D])
//                                     softmax(scale · q k^T) v per head; qkv rows hold q | k | v,
//                                     each head-major (timm's fused qkv layout); scale > 0, finite
//                                     (ViTs use default_attention_scale(D/heads) = 1/sqrt(D/heads))
//   im2patch(img [B,C,H,W], p, mean [C], std [C], out [B*(H/p)*(W/p), C*p*p])
//                                     (img - mean[c]) / std[c], patch (gy,gx) -> row gy*(W/p)+gx,
//                                     column c*p*p + ky*p + kx
//   assemble_tokens(prefix [S,D], patches [B*T,D], pos [T,D], h [B,S+T,D])
//                                     h[b] = concat(prefix, patches[b] + pos)
//   gather_tokens(h [B,N,D], idx (host span), out [B,len(idx),D])
//                                     out[b,j] = h[b, idx[j]]
#pragma once
#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "vit/dtype.hpp"
#include "vit/tensor.hpp"

namespace vit {

// Activation applied in a linear layer's epilogue. Every backend computes each exactly as named:
//   gelu        x/2 (1 + erf(x / sqrt 2))                      (PyTorch nn.GELU())
//   gelu_tanh   x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))  (nn.GELU(approximate='tanh'))
//   quick_gelu  x sigmoid(1.702 x)                             (OpenAI CLIP's QuickGELU)
enum class Activation { none, gelu, gelu_tanh, quick_gelu };

inline const char* to_string(Activation a) {
  switch (a) {
    case Activation::none: return "none";
    case Activation::gelu: return "gelu";
    case Activation::gelu_tanh: return "gelu_tanh";
    case Activation::quick_gelu: return "quick_gelu";
  }
  return "?";
}

// The activation in double precision on the host (the reference for every backend's kernel).
inline double activate(Activation a, double x) {
  switch (a) {
    case Activation::none: return x;
    case Activation::gelu: return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    case Activation::gelu_tanh: return 0.5 * x * (1.0 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
    case Activation::quick_gelu: return x / (1.0 + std::exp(-1.702 * x));
  }
  return x;
}

// The usual factor on q·kᵀ before the softmax: 1/sqrt(head_dim).
inline float default_attention_scale(std::int64_t head_dim) { return float(1.0 / std::sqrt(double(head_dim))); }

// Arithmetic precision a backend is asked to use for matrix products and attention.
// fp32 is the default and the exact path; the others are opt-in (LayerNorm/softmax statistics
// stay fp32 in every mode).
enum class Precision { fp32, tf32, bf16, fp16 };

inline const char* to_string(Precision p) {
  switch (p) {
    case Precision::fp32: return "fp32";
    case Precision::tf32: return "tf32";
    case Precision::bf16: return "bf16";
    case Precision::fp16: return "fp16";
  }
  return "?";
}

// The element type of matrix-product and attention operands in precision p: f32 for fp32 and tf32
// (tf32 is a product mode, not a storage type), bf16 and f16 for the 16-bit modes.
inline DType compute_dtype(Precision p) {
  switch (p) {
    case Precision::bf16: return DType::bf16;
    case Precision::fp16: return DType::f16;
    default: return DType::f32;
  }
}

// Parses a precision name ("fp32", "tf32", "bf16", "fp16"); an argument error otherwise.
inline Precision parse_precision(std::string_view name) {
  for (Precision p : {Precision::fp32, Precision::tf32, Precision::bf16, Precision::fp16})
    if (name == to_string(p)) return p;
  fail(ErrorKind::argument, "precision: expected fp32, tf32, bf16 or fp16, got '" + std::string(name) + "'");
}

// The one check of a precision option, the same on every backend (each lists what it computes in
// as `static constexpr std::array precisions`): an unsupported error otherwise, e.g.
//   "vulkan backend: precision bf16 is not supported (supported: fp32, fp16)"
inline void check_precision(std::string_view backend, Precision p, std::span<const Precision> supported) {
  if (std::find(supported.begin(), supported.end(), p) != supported.end()) return;
  fail(ErrorKind::unsupported, std::string(backend) + " backend: precision " + to_string(p) + " is not supported (supported: " +
                                   joined(supported, [](Precision s) { return to_string(s); }) + ")");
}

template <class B>
concept Backend = requires(B& b, const typename B::Tensor& x, typename B::Tensor& y, const HostTensor& h,
                           const typename B::Linear& lin, const Shape& shape, Activation act,
                           std::span<const std::int64_t> idx) {
  typename B::Tensor;
  typename B::Linear;
  { b.name() } -> std::convertible_to<std::string_view>;
  { x.shape } -> std::convertible_to<Shape>;
  { b.alloc(shape) } -> std::same_as<typename B::Tensor>;
  { b.upload(h) } -> std::same_as<typename B::Tensor>;
  b.upload(h, y);
  { b.download(x) } -> std::same_as<HostTensor>;
  b.synchronize();
  b.copy(x, y);
  { b.make_linear(h, &h) } -> std::same_as<typename B::Linear>;
  b.linear(lin, x, y, act, true);
  b.layer_norm(x, x, x, 1e-6f, y);
  b.attention(x, 1, 1.0f, y);
  b.im2patch(x, 16, x, x, y);
  b.assemble_tokens(x, x, x, y);
  b.gather_tokens(x, idx, y);
};

// Optional capability: typed activations. operand_dtype() is the element type the backend wants
// the operands of its products in (compute_dtype of its precision); alloc(shape, dtype) allocates a
// tensor of f32 or that type. The model then stores by role (vit/nn/layers.hpp): the residual
// stream, positions, LayerNorm parameters and the outputs in f32; LayerNorm outputs, qkv, attention
// outputs, the MLP hidden layer and the patches in operand_dtype(). Every op takes either type
// wherever the model puts it; copy and upload convert (rounding to nearest even), download widens.
// A backend without this capability gets f32 everywhere.
template <class B>
concept TypedTensors = Backend<B> && requires(B& b, const Shape& shape) {
  { b.operand_dtype() } -> std::same_as<DType>;
  { b.alloc(shape, DType::f32) } -> std::same_as<typename B::Tensor>;
};

// The one check of alloc(shape, t) on a TypedTensors backend: t must be f32 or its operand type,
// else an unsupported error, e.g. "vulkan backend: cannot allocate a BF16 tensor (expected F32 or F16)".
inline void check_tensor_dtype(std::string_view backend, DType t, DType operand) {
  if (t == DType::f32 || t == operand) return;
  fail(ErrorKind::unsupported, std::string(backend) + " backend: cannot allocate a " + dtype_name(t) + " tensor (expected F32" +
                                   (operand == DType::f32 ? std::string(")") : std::string(" or ") + dtype_name(operand) + ")"));
}

// Optional capability: weights one instance of B prepared (Linear, uploaded tensors) may be read by
// other instances, from other threads, at the same time — what vit::Model's weight-sharing
// constructor needs (one set of weights, many concurrent forwards). A backend opts in with
// `static constexpr bool shares_weights = true;`.
template <class B>
concept SharesWeights = Backend<B> && requires { requires B::shares_weights; };

// Optional capability: a backend that can record a sequence of ops once and replay it (CUDA
// Graphs). run_graph(key, body) runs body() the first time a key is seen (capturing it) and
// replays the capture on later calls with the same key. The model guarantees that every tensor
// body() touches keeps its address for the life of the key.
template <class B>
concept GraphCapable = Backend<B> && requires(B& b, std::uint64_t key, void (*body)()) { b.run_graph(key, body); };

}  // namespace vit
