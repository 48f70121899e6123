// Ops a backend may lack. Each is found at compile time with a `requires` expression; a backend
// without it runs the op on the host through the reference math below (download, compute,
// upload), so a family that needs a new op works on every backend from its first day, and a
// backend adds the fast kernel when it matters.
//
//   swiglu(x [M, 2H], y [M, H])          y = silu(x[:, :H]) * x[:, H:]   (timm's SwiGLUPacked)
//   cross_attention(q [L, D], kv [B, N, 2D], heads, scale, out [B, L, D])
//       out[b, i] = softmax(scale · q_i k_b^T) v_b per head (scale as attention's); the L queries
//       are shared by the batch; kv rows hold k | v, each head-major (attention pooling with
//       learned queries)
//   activation(x, act, y)                y = act(x) elementwise, y has x's element count
//   scatter_tokens(x, idx (host span), h [B, N, D])
//       h[b, idx[j]] = x[b, j] for x holding B·len(idx)·D values; the other rows of h keep their
//       values; indices are distinct (the inverse of gather_tokens: ViTDet's window layout)
//
// uses_host_fallback<B>(...) tells the model whether an op it needs would take the host path, so
// that it does not capture such an op into a device graph.
#pragma once
#include <algorithm>
#include <cmath>
#include <vector>

#include "vit/backend.hpp"
#include "vit/op_checks.hpp"

namespace vit::nn {

namespace host {

inline void swiglu(const HostTensor& x, HostTensor& y) {
  const std::int64_t h2 = x.shape[x.shape.rank() - 1], h = h2 / 2, m = h2 ? x.shape.numel() / h2 : 0;
  check(h2 % 2 == 0 && y.shape.numel() == m * h, ErrorKind::shape, "swiglu: expected x [M, 2H] and y [M, H], got " + x.shape.str() + " and " + y.shape.str());
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < h; ++j) {
      const double a = x.data[std::size_t(i * h2 + j)], g = x.data[std::size_t(i * h2 + h + j)];
      y.data[std::size_t(i * h + j)] = float(a / (1.0 + std::exp(-a)) * g);
    }
}

// One query of one head, in double: out(k) = Σ_j softmax_j(scale · Σ_c q(c) key(j, c)) value(j, k)
// for j < n, c, k < hd. The accessors read the inputs wherever they are laid out; p is scratch.
// Shared by the reference backend's attention and the host cross_attention below.
template <class Q, class Key, class Value, class Out>
void attend_one(std::int64_t n, std::int64_t hd, double scale, Q q, Key key, Value value, Out out, std::vector<double>& p) {
  p.assign(static_cast<std::size_t>(n), 0.0);
  double mx = -INFINITY;
  for (std::int64_t j = 0; j < n; ++j) {
    double s = 0;
    for (std::int64_t c = 0; c < hd; ++c) s += q(c) * key(j, c);
    p[std::size_t(j)] = s * scale;
    mx = std::max(mx, p[std::size_t(j)]);
  }
  double sum = 0;
  for (auto& v : p) sum += (v = std::exp(v - mx));
  for (std::int64_t k = 0; k < hd; ++k) {
    double acc = 0;
    for (std::int64_t j = 0; j < n; ++j) acc += p[std::size_t(j)] * value(j, k);
    out(k, acc / sum);
  }
}

inline void cross_attention(const HostTensor& q, const HostTensor& kv, int heads, float scale, HostTensor& out) {
  check(q.shape.rank() == 2 && kv.shape.rank() == 3 && kv.shape[2] == 2 * q.shape[1] && heads > 0 && q.shape[1] % heads == 0,
        ErrorKind::shape, "cross_attention: expected q [L, D], kv [B, N, 2D] and D divisible by " + std::to_string(heads) + " heads, got " +
                              q.shape.str() + " and " + kv.shape.str());
  check_attention_scale("host", "cross_attention", scale);
  const std::int64_t l = q.shape[0], d = q.shape[1], batch = kv.shape[0], n = kv.shape[1], hd = d / heads;
  expect_shape(out, Shape{batch, l, d}, "cross_attention output");
  std::vector<double> p;
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t h = 0; h < heads; ++h)
      for (std::int64_t i = 0; i < l; ++i) {
        auto at = [&](std::int64_t j, std::int64_t part, std::int64_t c) { return double(kv.data[std::size_t(((b * n + j) * 2 + part) * d + h * hd + c)]); };
        attend_one(
            n, hd, double(scale), [&](std::int64_t c) { return double(q.data[std::size_t(i * d + h * hd + c)]); },
            [&](std::int64_t j, std::int64_t c) { return at(j, 0, c); }, [&](std::int64_t j, std::int64_t c) { return at(j, 1, c); },
            [&](std::int64_t c, double v) { out.data[std::size_t((b * l + i) * d + h * hd + c)] = float(v); }, p);
      }
}

inline void activation(const HostTensor& x, Activation act, HostTensor& y) {
  check(x.shape.numel() == y.shape.numel(), ErrorKind::shape, "activation: " + x.shape.str() + " into " + y.shape.str());
  for (std::size_t i = 0; i < x.data.size(); ++i) y.data[i] = float(activate(act, double(x.data[i])));
}

inline void scatter_tokens(const HostTensor& x, std::span<const std::int64_t> idx, HostTensor& h) {
  const auto [batch, n, d, len] = check_scatter_tokens("host", x.shape, idx, h.shape);
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t j = 0; j < len; ++j)
      std::copy_n(x.data.begin() + (b * len + j) * d, d, h.data.begin() + (b * n + idx[std::size_t(j)]) * d);
}

}  // namespace host

template <class B>
concept HasSwiglu = requires(B& b, const typename B::Tensor& x, typename B::Tensor& y) { b.swiglu(x, y); };
template <class B>
concept HasCrossAttention = requires(B& b, const typename B::Tensor& x, typename B::Tensor& y) { b.cross_attention(x, x, 1, 1.0f, y); };

template <class B>
concept HasActivation = requires(B& b, const typename B::Tensor& x, typename B::Tensor& y) { b.activation(x, Activation::gelu, y); };
template <class B>
concept HasScatterTokens = requires(B& b, const typename B::Tensor& x, typename B::Tensor& y, std::span<const std::int64_t> idx) {
  b.scatter_tokens(x, idx, y);
};

template <Backend B>
void swiglu(B& b, const typename B::Tensor& x, typename B::Tensor& y) {
  if constexpr (HasSwiglu<B>) {
    b.swiglu(x, y);
  } else {
    HostTensor hy(y.shape);
    host::swiglu(b.download(x), hy);
    b.upload(hy, y);
  }
}

template <Backend B>
void cross_attention(B& b, const typename B::Tensor& q, const typename B::Tensor& kv, int heads, float scale, typename B::Tensor& out) {
  if constexpr (HasCrossAttention<B>) {
    b.cross_attention(q, kv, heads, scale, out);
  } else {
    HostTensor ho(out.shape);
    host::cross_attention(b.download(q), b.download(kv), heads, scale, ho);
    b.upload(ho, out);
  }
}

template <Backend B>
void activation(B& b, const typename B::Tensor& x, Activation act, typename B::Tensor& y) {
  if constexpr (HasActivation<B>) {
    b.activation(x, act, y);
  } else {
    HostTensor hy(y.shape);
    host::activation(b.download(x), act, hy);
    b.upload(hy, y);
  }
}

template <Backend B>
void scatter_tokens(B& b, const typename B::Tensor& x, std::span<const std::int64_t> idx, typename B::Tensor& h) {
  if constexpr (HasScatterTokens<B>) {
    b.scatter_tokens(x, idx, h);
  } else {
    HostTensor hh = b.download(h);
    host::scatter_tokens(b.download(x), idx, hh);
    b.upload(hh, h);
  }
}

// The optional ops a model needs (what uses_host_fallback checks).
struct OptionalNeeds {
  bool swiglu = false, cross_attention = false, activation = false, scatter_tokens = false;
};

// True if any of the named needs would run on the host on backend B.
template <Backend B>
constexpr bool uses_host_fallback(OptionalNeeds n) {
  return (n.swiglu && !HasSwiglu<B>) || (n.cross_attention && !HasCrossAttention<B>) || (n.activation && !HasActivation<B>) ||
         (n.scatter_tokens && !HasScatterTokens<B>);
}

}  // namespace vit::nn
