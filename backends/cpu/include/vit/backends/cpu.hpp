// vit::cpu::Backend — the fast CPU backend: fp32, multi-threaded with ONE OpenMP thread pool
// shared by oneDNN (built with the OpenMP runtime) and the backend's own loops.
//   linear     oneDNN matmul, weights reordered once at make_linear into the primitive's preferred
//              layout; bias, GELU(erf) and the residual sum fused as post-ops (cpu/onednn.hpp)
//   attention  fused tiled "flash" attention with an online softmax and AVX-512 register-blocked
//              tile products; never builds [heads, N, N] (cpu/flash_attention.hpp)
//   the rest   vectorised loops, parallel over rows when big (cpu/token_ops.hpp)
// Op shapes and semantics are those of the vit::Backend concept (vit/backend.hpp).
#pragma once
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "vit/backend.hpp"
#include "vit/backends/cpu/buffer.hpp"
#include "vit/backends/cpu/flash_attention.hpp"
#include "vit/backends/cpu/hardware.hpp"
#include "vit/backends/cpu/onednn.hpp"
#include "vit/backends/cpu/token_ops.hpp"

namespace vit::cpu {

struct Options {
  int threads = 0;  // 0 = number of hardware cores (of this process's CPU affinity)
};

class Backend {
 public:
  using Tensor = BasicTensor<Buffer>;
  // A prepared linear layer: the reordered weights and bias plus cached primitives (shared by copies).
  struct Linear {
    std::shared_ptr<onednn::Matmul> matmul;
  };

  explicit Backend(Options options = {}) {
    check(options.threads >= 0, ErrorKind::argument, "cpu backend: threads must be >= 0 (0 = all cores), got " + std::to_string(options.threads));
    threads_ = options.threads > 0 ? options.threads : hardware_cores();
    omp_set_num_threads(threads_);
  }

  std::string_view name() const { return "cpu"; }
  int threads() const { return threads_; }
  // e.g. "cpu: 2 threads, oneDNN 2.6.3 (avx512_core_amx), attention avx512"
  std::string description() const {
#if defined(__AVX512F__)
    const char* attention = "avx512";
#else
    const char* attention = "portable";
#endif
    return "cpu: " + std::to_string(threads_) + (threads_ == 1 ? " thread" : " threads") + ", oneDNN " + onednn::version_string() +
           ", attention " + attention;
  }

  Tensor alloc(const Shape& s) { return Tensor{s, Buffer(std::size_t(s.numel()))}; }
  Tensor upload(const HostTensor& h) { return Tensor{h.shape, Buffer(h.data.begin(), h.data.end())}; }
  void upload(const HostTensor& h, Tensor& y) {
    check(h.shape.numel() == y.numel(), ErrorKind::shape, "cpu upload: " + h.shape.str() + " into " + y.shape.str());
    std::copy(h.data.begin(), h.data.end(), y.storage.begin());
  }
  HostTensor download(const Tensor& t) { return HostTensor(t.shape, std::vector<float>(t.storage.begin(), t.storage.end())); }
  void synchronize() {}
  void copy(const Tensor& x, Tensor& y) {
    check(x.numel() == y.numel(), ErrorKind::shape, "cpu copy: " + x.shape.str() + " into " + y.shape.str());
    std::copy(x.storage.begin(), x.storage.end(), y.storage.begin());
  }

  // W [N, K], b [N] or null -> weights reordered once for oneDNN's matmul.
  Linear make_linear(const HostTensor& w, const HostTensor* b) {
    check(w.shape.rank() == 2 && w.shape[0] > 0 && w.shape[1] > 0, ErrorKind::shape, "cpu linear weight: expected [N, K], got " + w.shape.str());
    if (b) expect_shape(*b, Shape{w.shape[0]}, "cpu linear bias");
    omp_set_num_threads(threads_);
    return Linear{std::make_shared<onednn::Matmul>(w.data.data(), b ? b->data.data() : nullptr, w.shape[0], w.shape[1])};
  }

  // y [M, N] = (accumulate ? y : 0) + act(x [M, K] W^T + b)
  void linear(const Linear& l, const Tensor& x, Tensor& y, Activation act, bool accumulate) {
    check(l.matmul != nullptr, ErrorKind::argument, "cpu linear: empty Linear (not made by make_linear)");
    const std::int64_t n = l.matmul->n(), k = l.matmul->k();
    const std::int64_t m = rows(x, k, "cpu linear input");
    check(y.numel() == m * n, ErrorKind::shape,
          "cpu linear output: expected " + std::to_string(m) + "x" + std::to_string(n) + " values, got " + y.shape.str());
    omp_set_num_threads(threads_);
    l.matmul->run(x.storage.data(), y.storage.data(), m, act == Activation::gelu, accumulate);
  }

  // y [M, D] = LayerNorm(x [M, D]) · g [D] + b [D]
  void layer_norm(const Tensor& x, const Tensor& g, const Tensor& b, float eps, Tensor& y) {
    const std::int64_t d = g.numel();
    check(b.numel() == d, ErrorKind::shape, "cpu layer_norm: bias " + b.shape.str() + " does not match weight " + g.shape.str());
    const std::int64_t m = rows(x, d, "cpu layer_norm input");
    check(y.shape == x.shape, ErrorKind::shape, "cpu layer_norm output: expected " + x.shape.str() + ", got " + y.shape.str());
    kernel::layer_norm(x.storage.data(), g.storage.data(), b.storage.data(), eps, y.storage.data(), m, d, threads_);
  }

  // qkv [B, N, 3D] -> out [B, N, D], fused flash attention.
  void attention(const Tensor& qkv, int heads, Tensor& out) {
    check(qkv.shape.rank() == 3 && qkv.shape[2] % 3 == 0, ErrorKind::shape, "cpu attention input: expected [B, N, 3D], got " + qkv.shape.str());
    const std::int64_t batch = qkv.shape[0], n = qkv.shape[1], d = qkv.shape[2] / 3;
    check(heads > 0 && d > 0 && d % heads == 0, ErrorKind::shape,
          "cpu attention: width " + std::to_string(d) + " is not divisible by " + std::to_string(heads) + " heads");
    expect_shape(out, Shape{batch, n, d}, "cpu attention output");
    if (batch * n == 0) return;
    kernel::flash_attention(qkv.storage.data(), out.storage.data(), batch, n, d, heads, threads_);
  }

  // img [B, C, H, W] -> out [B·(H/p)·(W/p), C·p·p], normalised by mean/std per channel.
  void im2patch(const Tensor& img, int p, const Tensor& mean, const Tensor& std, Tensor& out) {
    check(img.shape.rank() == 4, ErrorKind::shape, "cpu im2patch input: expected [B, C, H, W], got " + img.shape.str());
    const std::int64_t batch = img.shape[0], c = img.shape[1], h = img.shape[2], w = img.shape[3];
    check(p > 0 && h % p == 0 && w % p == 0, ErrorKind::shape, "cpu im2patch: image " + img.shape.str() + " is not a multiple of patch " + std::to_string(p));
    check(mean.numel() == c && std.numel() == c, ErrorKind::shape, "cpu im2patch: mean/std must have " + std::to_string(c) + " values, got " +
                                                                       mean.shape.str() + " and " + std.shape.str());
    expect_shape(out, Shape{batch * (h / p) * (w / p), c * p * p}, "cpu im2patch output");
    kernel::im2patch(img.storage.data(), batch, c, h, w, p, mean.storage.data(), std.storage.data(), out.storage.data(), threads_);
  }

  // pos [R, R, D] -> out [gh·gw, D]: bilinear resize to max(gh, gw)², top-left crop.
  void resample_pos_embed(const Tensor& pos, int gh, int gw, Tensor& out) {
    check(pos.shape.rank() == 3 && pos.shape[0] == pos.shape[1] && pos.shape[0] > 0, ErrorKind::shape,
          "cpu resample_pos_embed input: expected [R, R, D], got " + pos.shape.str());
    check(gh > 0 && gw > 0, ErrorKind::shape, "cpu resample_pos_embed: empty grid " + std::to_string(gh) + "x" + std::to_string(gw));
    expect_shape(out, Shape{std::int64_t(gh) * gw, pos.shape[2]}, "cpu resample_pos_embed output");
    kernel::resample_pos_embed(pos.storage.data(), pos.shape[0], pos.shape[2], gh, gw, out.storage.data(), threads_);
  }

  // h [B, S+T, D] = concat(prefix [S, D], patches [B·T, D] + pos [T, D])
  void assemble_tokens(const Tensor& prefix, const Tensor& patches, const Tensor& pos, Tensor& h) {
    check(h.shape.rank() == 3 && h.shape[2] > 0, ErrorKind::shape, "cpu assemble_tokens output: expected [B, S+T, D], got " + h.shape.str());
    const std::int64_t batch = h.shape[0], n = h.shape[1], d = h.shape[2];
    const std::int64_t s = prefix.numel() / d, t = pos.numel() / d;
    check(prefix.numel() == s * d && pos.numel() == t * d && s + t == n && patches.numel() == batch * t * d, ErrorKind::shape,
          "cpu assemble_tokens: prefix " + prefix.shape.str() + " + patches " + patches.shape.str() + " + pos " + pos.shape.str() +
              " do not make " + h.shape.str());
    kernel::assemble_tokens(prefix.storage.data(), patches.storage.data(), pos.storage.data(), h.storage.data(), batch, s, t, d, threads_);
  }

  // out [B, len(idx), D] = h [B, N, D] at token indices idx
  void gather_tokens(const Tensor& h, std::span<const std::int64_t> idx, Tensor& out) {
    check(h.shape.rank() == 3, ErrorKind::shape, "cpu gather_tokens input: expected [B, N, D], got " + h.shape.str());
    const std::int64_t batch = h.shape[0], n = h.shape[1], d = h.shape[2];
    check(out.numel() == batch * std::int64_t(idx.size()) * d, ErrorKind::shape,
          "cpu gather_tokens output: expected " + std::to_string(batch) + "x" + std::to_string(idx.size()) + "x" + std::to_string(d) +
              " values, got " + out.shape.str());
    for (std::int64_t i : idx)
      check(i >= 0 && i < n, ErrorKind::shape, "cpu gather_tokens: index " + std::to_string(i) + " outside [0, " + std::to_string(n) + ")");
    kernel::gather_tokens(h.storage.data(), idx, out.storage.data(), batch, n, d, threads_);
  }

 private:
  static std::int64_t rows(const Tensor& x, std::int64_t width, const char* what) {
    check(x.shape.rank() >= 1 && x.shape[x.shape.rank() - 1] == width, ErrorKind::shape,
          std::string(what) + ": expected last dimension " + std::to_string(width) + ", got " + x.shape.str());
    return x.numel() / width;
  }

  int threads_ = 1;
};

static_assert(vit::Backend<Backend>);

}  // namespace vit::cpu
