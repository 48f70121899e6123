// Argument and shape validation of the vit::Backend ops, shared by every backend so that all of
// them accept the same inputs and reject bad ones with the same one-line messages. Each function
// takes the backend's name (the message prefix: "cpu attention input: expected [B, N, 3D], got
// [1, 5, 25]"), the shapes and arguments of one op, throws vit::Error (ErrorKind::shape; argument
// for a bad value such as attention's scale) on the first problem, and returns the sizes the op
// derives from them. Limits of one backend only (CUDA's 32-bit grid sizes, Vulkan's head dim) stay
// in that backend. Plain C++20: nvcc compiles it too.
#pragma once
#include <cmath>
#include <cstdint>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "vit/tensor.hpp"

namespace vit {

namespace detail {
inline std::string op_label(std::string_view backend, const char* what) { return std::string(backend) + " " + what; }
// A float as in a message: "0.125", "nan", "-inf".
inline std::string float_str(float v) {
  std::ostringstream os;
  os << v;
  return os.str();
}
// Rows of a [..., width] tensor (0 when width is 0).
inline std::int64_t rows_of(const Shape& x, std::int64_t width) { return width == 0 ? 0 : x.numel() / width; }
// Throws "<backend> <what>: expected last dimension <width>, got <x>" unless x is [..., width].
inline void expect_last_dim(std::string_view backend, const char* what, const Shape& x, std::int64_t width) {
  check(x.rank() >= 1 && x[x.rank() - 1] == width, ErrorKind::shape,
        op_label(backend, what) + ": expected last dimension " + std::to_string(width) + ", got " + x.str());
}
// Throws "<backend> <what>: expected <want> (<n> values), got <got>" unless got has want's element count.
inline void expect_numel(std::string_view backend, const char* what, const Shape& got, const Shape& want) {
  check(got.numel() == want.numel(), ErrorKind::shape,
        op_label(backend, what) + ": expected " + want.str() + " (" + std::to_string(want.numel()) + " values), got " + got.str());
}
}  // namespace detail

struct LinearWeightDims { std::int64_t n, k; };
// make_linear: weight W is [N, K]; bias (when given) is [N].
inline LinearWeightDims check_make_linear(std::string_view backend, const Shape& weight, const Shape* bias) {
  check(weight.rank() == 2, ErrorKind::shape, detail::op_label(backend, "linear weight") + ": expected [N, K], got " + weight.str());
  if (bias) expect_shape(*bias, Shape{weight[0]}, detail::op_label(backend, "linear bias"));
  return {weight[0], weight[1]};
}

struct LinearDims { std::int64_t m, n, k; };
// linear with a prepared W [n, k]: x is [..., k] (M rows) and y holds M·n values.
inline LinearDims check_linear(std::string_view backend, const Shape& x, const Shape& y, std::int64_t n, std::int64_t k) {
  detail::expect_last_dim(backend, "linear input", x, k);
  const std::int64_t m = detail::rows_of(x, k);
  detail::expect_numel(backend, "linear output", y, Shape{m, n});
  return {m, n, k};
}

struct LayerNormDims { std::int64_t rows, d; };
// layer_norm: D = numel(g); bias b has D values; x is [..., D]; y has x's shape.
inline LayerNormDims check_layer_norm(std::string_view backend, const Shape& x, const Shape& g, const Shape& b, const Shape& y) {
  const std::int64_t d = g.numel();
  detail::expect_last_dim(backend, "layer_norm input", x, d);
  check(b.numel() == d, ErrorKind::shape,
        detail::op_label(backend, "layer_norm bias") + ": expected " + std::to_string(d) + " values (as the weight " + g.str() + "), got " + b.str());
  expect_shape(y, x, detail::op_label(backend, "layer_norm output"));
  return {detail::rows_of(x, d), d};
}

// The factor on q·kᵀ of attention and cross_attention (`op`): finite and > 0 (ErrorKind::argument).
inline void check_attention_scale(std::string_view backend, const char* op, float scale) {
  check(std::isfinite(scale) && scale > 0, ErrorKind::argument,
        detail::op_label(backend, op) + ": scale must be finite and > 0, got " + detail::float_str(scale));
}

struct AttentionDims { std::int64_t batch, n, d, head_dim; };
// attention: qkv is [B, N, 3D]; heads > 0 divides D; scale is finite and > 0; out is [B, N, D].
inline AttentionDims check_attention(std::string_view backend, const Shape& qkv, int heads, float scale, const Shape& out) {
  check(qkv.rank() == 3 && qkv[2] % 3 == 0, ErrorKind::shape, detail::op_label(backend, "attention input") + ": expected [B, N, 3D], got " + qkv.str());
  const std::int64_t batch = qkv[0], n = qkv[1], d = qkv[2] / 3;
  check(heads > 0 && d % heads == 0, ErrorKind::shape,
        detail::op_label(backend, "attention") + ": width " + std::to_string(d) + " is not divisible by " + std::to_string(heads) + " heads");
  check_attention_scale(backend, "attention", scale);
  expect_shape(out, Shape{batch, n, d}, detail::op_label(backend, "attention output"));
  return {batch, n, d, d / heads};
}

struct Im2PatchDims { std::int64_t batch, c, h, w, gh, gw; };
// im2patch: img is [B, C, H, W] with H and W multiples of p > 0; mean and std have C values;
// out is [B·(H/p)·(W/p), C·p·p].
inline Im2PatchDims check_im2patch(std::string_view backend, const Shape& img, int p, const Shape& mean, const Shape& stddev, const Shape& out) {
  check(img.rank() == 4, ErrorKind::shape, detail::op_label(backend, "im2patch input") + ": expected [B, C, H, W], got " + img.str());
  const std::int64_t batch = img[0], c = img[1], h = img[2], w = img[3];
  check(p > 0 && h % p == 0 && w % p == 0, ErrorKind::shape,
        detail::op_label(backend, "im2patch") + ": image " + img.str() + " is not a multiple of patch " + std::to_string(p));
  check(mean.numel() == c && stddev.numel() == c, ErrorKind::shape,
        detail::op_label(backend, "im2patch") + ": mean/std must have " + std::to_string(c) + " values, got " + mean.str() + " and " + stddev.str());
  expect_shape(out, Shape{batch * (h / p) * (w / p), c * p * p}, detail::op_label(backend, "im2patch output"));
  return {batch, c, h, w, h / p, w / p};
}

struct AssembleTokensDims { std::int64_t batch, s, t, d; };
// assemble_tokens: h is [B, S+T, D] with D > 0; prefix holds S·D values, pos T·D, patches B·T·D.
inline AssembleTokensDims check_assemble_tokens(std::string_view backend, const Shape& prefix, const Shape& patches, const Shape& pos,
                                                const Shape& h) {
  check(h.rank() == 3 && h[2] > 0, ErrorKind::shape, detail::op_label(backend, "assemble_tokens output") + ": expected [B, S+T, D], got " + h.str());
  const std::int64_t batch = h[0], n = h[1], d = h[2];
  const std::int64_t s = prefix.numel() / d, t = pos.numel() / d;
  check(prefix.numel() == s * d && pos.numel() == t * d && s + t == n && patches.numel() == batch * t * d, ErrorKind::shape,
        detail::op_label(backend, "assemble_tokens") + ": prefix " + prefix.str() + " + patches " + patches.str() + " + pos " + pos.str() +
            " do not make " + h.str());
  return {batch, s, t, d};
}

struct GatherTokensDims { std::int64_t batch, n, d, len; };
// gather_tokens: h is [B, N, D]; every index is in [0, N); out holds B·len(idx)·D values.
inline GatherTokensDims check_gather_tokens(std::string_view backend, const Shape& h, std::span<const std::int64_t> idx, const Shape& out) {
  check(h.rank() == 3, ErrorKind::shape, detail::op_label(backend, "gather_tokens input") + ": expected [B, N, D], got " + h.str());
  const std::int64_t batch = h[0], n = h[1], d = h[2], len = std::int64_t(idx.size());
  detail::expect_numel(backend, "gather_tokens output", out, Shape{batch, len, d});
  for (const std::int64_t i : idx)
    check(i >= 0 && i < n, ErrorKind::shape,
          detail::op_label(backend, "gather_tokens") + ": index " + std::to_string(i) + " outside [0, " + std::to_string(n) + ")");
  return {batch, n, d, len};
}

// scatter_tokens: h is [B, N, D]; x holds B·len(idx)·D values; every index is in [0, N) and
// appears once (two writes to one row would race on a parallel backend).
inline GatherTokensDims check_scatter_tokens(std::string_view backend, const Shape& x, std::span<const std::int64_t> idx, const Shape& h) {
  check(h.rank() == 3, ErrorKind::shape, detail::op_label(backend, "scatter_tokens output") + ": expected [B, N, D], got " + h.str());
  const std::int64_t batch = h[0], n = h[1], d = h[2], len = std::int64_t(idx.size());
  detail::expect_numel(backend, "scatter_tokens input", x, Shape{batch, len, d});
  std::vector<bool> seen(std::size_t(n > 0 ? n : 0));
  for (const std::int64_t i : idx) {
    check(i >= 0 && i < n, ErrorKind::shape,
          detail::op_label(backend, "scatter_tokens") + ": index " + std::to_string(i) + " outside [0, " + std::to_string(n) + ")");
    check(!seen[std::size_t(i)], ErrorKind::shape, detail::op_label(backend, "scatter_tokens") + ": index " + std::to_string(i) + " appears twice");
    seen[std::size_t(i)] = true;
  }
  return {batch, n, d, len};
}

}  // namespace vit
