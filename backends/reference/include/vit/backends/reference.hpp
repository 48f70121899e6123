// The reference backend: plain loops, one thread, double accumulation, obvious indexing.
// It is the oracle every other backend is tested against, and it is checked against the
// official PyTorch outputs (tests/data/radio). Never optimise it.
//
// With precision bf16 or fp16 it is the oracle of the 16-bit modes: weights and every operand
// tensor (TypedTensors) hold values rounded to that type — what a 16-bit backend stores — while
// the sums, softmax and LayerNorm statistics stay in double. Its storage is float either way; a
// 16-bit tensor's values are exactly representable in its type (every write goes through store()).
#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <string_view>
#include <vector>

#include "vit/backend.hpp"
#include "vit/nn/optional_ops.hpp"
#include "vit/op_checks.hpp"

namespace vit::reference {

struct Options {
  Precision precision = Precision::fp32;  // fp32, or bf16/fp16 storage of weights and operands
};

class Backend {
 public:
  using Tensor = BasicTensor<std::vector<float>>;
  struct Linear {
    HostTensor weight;  // [N, K]
    std::vector<float> bias;  // [N] or empty
  };

  static constexpr bool shares_weights = true;  // weights are plain host data, read-only after loading

  static constexpr std::array precisions{Precision::fp32, Precision::bf16, Precision::fp16};  // double sums in every mode

  explicit Backend(Options options = {}) : operand_(compute_dtype(options.precision)) {
    check_precision("reference", options.precision, precisions);
  }

  std::string_view name() const { return "reference"; }
  DType operand_dtype() const { return operand_; }

  Tensor alloc(const Shape& s) { return alloc(s, DType::f32); }
  Tensor alloc(const Shape& s, DType t) {
    check_tensor_dtype(name(), t, operand_);
    return Tensor{s, std::vector<float>(std::size_t(s.numel())), t};
  }
  Tensor upload(const HostTensor& h) { return Tensor{h.shape, h.data}; }
  void upload(const HostTensor& h, Tensor& y) {
    check(h.shape.numel() == y.numel(), ErrorKind::shape, "upload: " + h.shape.str() + " into " + y.shape.str());
    for (std::size_t i = 0; i < h.data.size(); ++i) store(y, i, h.data[i]);
  }
  HostTensor download(const Tensor& t) { return HostTensor(t.shape, t.storage); }
  void synchronize() {}
  void copy(const Tensor& x, Tensor& y) {
    check(x.numel() == y.numel(), ErrorKind::shape, "copy: " + x.shape.str() + " into " + y.shape.str());
    for (std::size_t i = 0; i < x.storage.size(); ++i) store(y, i, x.storage[i]);
  }

  // The weights are product operands: rounded to the operand type (the bias stays fp32).
  Linear make_linear(const HostTensor& w, const HostTensor* b) {
    check_make_linear(name(), w.shape, b ? &b->shape : nullptr);
    Linear l{w, {}};
    for (float& v : l.weight.data) v = round_to(operand_, v);
    if (b) l.bias = b->data;
    return l;
  }

  void linear(const Linear& l, const Tensor& x, Tensor& y, Activation act, bool accumulate) {
    const auto [m, n_out, k_in] = check_linear(name(), x.shape, y.shape, l.weight.shape[0], l.weight.shape[1]);
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t o = 0; o < n_out; ++o) {
        double acc = l.bias.empty() ? 0.0 : l.bias[std::size_t(o)];
        for (std::int64_t k = 0; k < k_in; ++k) acc += double(x.storage[std::size_t(i * k_in + k)]) * l.weight.data[std::size_t(o * k_in + k)];
        float v = float(acc);
        if (act != Activation::none) v = float(activate(act, double(v)));
        const std::size_t at = std::size_t(i * n_out + o);
        store(y, at, accumulate ? y.storage[at] + v : v);
      }
  }

  void layer_norm(const Tensor& x, const Tensor& g, const Tensor& b, float eps, Tensor& y) {
    const auto [m, d] = check_layer_norm(name(), x.shape, g.shape, b.shape, y.shape);
    for (std::int64_t i = 0; i < m; ++i) {
      const float* row = &x.storage[std::size_t(i * d)];
      double mean = 0, var = 0;
      for (std::int64_t k = 0; k < d; ++k) mean += row[k];
      mean /= double(d);
      for (std::int64_t k = 0; k < d; ++k) var += (row[k] - mean) * (row[k] - mean);
      var /= double(d);
      double inv = 1.0 / std::sqrt(var + double(eps));
      for (std::int64_t k = 0; k < d; ++k)
        store(y, std::size_t(i * d + k), (row[k] - mean) * inv * g.storage[std::size_t(k)] + b.storage[std::size_t(k)]);
    }
  }

  void attention(const Tensor& qkv, int heads, float scale, Tensor& out) {
    const auto [batch, n, d, hd] = check_attention(name(), qkv.shape, heads, scale, out.shape);
    std::vector<double> p;
    for (std::int64_t b = 0; b < batch; ++b)
      for (std::int64_t h = 0; h < heads; ++h)
        for (std::int64_t i = 0; i < n; ++i) {
          auto at = [&](std::int64_t tok, int part, std::int64_t k) {
            return double(qkv.storage[std::size_t(((b * n + tok) * 3 + part) * d + h * hd + k)]);
          };
          nn::host::attend_one(
              n, hd, double(scale), [&](std::int64_t c) { return at(i, 0, c); },
              [&](std::int64_t j, std::int64_t c) { return at(j, 1, c); }, [&](std::int64_t j, std::int64_t c) { return at(j, 2, c); },
              [&](std::int64_t c, double v) { store(out, std::size_t((b * n + i) * d + h * hd + c), v); }, p);
        }
  }

  void im2patch(const Tensor& img, int p, const Tensor& mean, const Tensor& std, Tensor& out) {
    const auto [batch, c, h, w, gh, gw] = check_im2patch(name(), img.shape, p, mean.shape, std.shape, out.shape);
    const std::int64_t cols = c * p * p;
    for (std::int64_t b = 0; b < batch; ++b)
      for (std::int64_t gy = 0; gy < gh; ++gy)
        for (std::int64_t gx = 0; gx < gw; ++gx)
          for (std::int64_t ch = 0; ch < c; ++ch)
            for (std::int64_t ky = 0; ky < p; ++ky)
              for (std::int64_t kx = 0; kx < p; ++kx) {
                float v = img.storage[std::size_t(((b * c + ch) * h + gy * p + ky) * w + gx * p + kx)];
                store(out, std::size_t(((b * gh + gy) * gw + gx) * cols + (ch * p + ky) * p + kx),
                      (v - mean.storage[std::size_t(ch)]) / std.storage[std::size_t(ch)]);
              }
  }

  void assemble_tokens(const Tensor& prefix, const Tensor& patches, const Tensor& pos, Tensor& h) {
    const auto [batch, s, t, d] = check_assemble_tokens(name(), prefix.shape, patches.shape, pos.shape, h.shape);
    const std::int64_t n = s + t;
    for (std::int64_t b = 0; b < batch; ++b) {
      for (std::int64_t i = 0; i < s * d; ++i) store(h, std::size_t(b * n * d + i), prefix.storage[std::size_t(i)]);
      for (std::int64_t i = 0; i < t * d; ++i)
        store(h, std::size_t(b * n * d + s * d + i), patches.storage[std::size_t(b * t * d + i)] + pos.storage[std::size_t(i)]);
    }
  }

  void gather_tokens(const Tensor& h, std::span<const std::int64_t> idx, Tensor& out) {
    const auto [batch, n, d, len] = check_gather_tokens(name(), h.shape, idx, out.shape);
    for (std::int64_t b = 0; b < batch; ++b)
      for (std::int64_t j = 0; j < len; ++j)
        for (std::int64_t k = 0; k < d; ++k)
          store(out, std::size_t((b * len + j) * d + k), h.storage[std::size_t((b * n + idx[std::size_t(j)]) * d + k)]);
  }

 private:
  // Every write of a tensor element: v as the tensor's type holds it.
  static void store(Tensor& t, std::size_t i, double v) { t.storage[i] = round_to(t.dtype, float(v)); }

  DType operand_;
};

static_assert(vit::Backend<Backend>);
static_assert(vit::TypedTensors<Backend>);

}  // namespace vit::reference
