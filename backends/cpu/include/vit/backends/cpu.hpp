// vit::cpu::Backend — the fast CPU backend: fp32, multi-threaded with ONE OpenMP thread pool
// shared by oneDNN (built with the OpenMP runtime) and the backend's own loops.
//   linear     on AVX2 CPUs without AVX-512: the backend's packed GEMM (cpu/packed_gemm.hpp);
//              elsewhere oneDNN's matmul (cpu/onednn.hpp). Either way the weights are packed or
//              reordered once at make_linear and bias, activation and residual sum are fused.
//   attention  fused tiled "flash" attention with an online softmax and AVX-512 register-blocked
//              tile products; never builds [heads, N, N] (cpu/flash_attention.hpp)
//   activation oneDNN eltwise (the linear epilogue's algorithms)
//   the rest   vectorised loops, parallel over rows when big (cpu/token_ops.hpp)
// Op shapes and semantics are those of the vit::Backend concept (vit/backend.hpp).
#pragma once
#include <array>
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "vit/backend.hpp"
#include "vit/op_checks.hpp"
#include "vit/backends/cpu/buffer.hpp"
#include "vit/backends/cpu/flash_attention.hpp"
#include "vit/backends/cpu/hardware.hpp"
#include "vit/backends/cpu/onednn.hpp"
#include "vit/backends/cpu/packed_gemm.hpp"
#include "vit/backends/cpu/token_ops.hpp"

namespace vit::cpu {

// The GEMM behind `linear`.
enum class Gemm {
  automatic,  // packed where the kernel build is avx2 (AVX2 + FMA, no AVX-512; kernel_build.hpp), else onednn (automatic_gemm)
  onednn,     // oneDNN's matmul: its kernels for this CPU (brgemm with AVX-512, gemm:jit below)
  packed,     // the backend's own packed AVX2 + FMA GEMM (packed_gemm.hpp); needs a CPU with both
};

inline const char* to_string(Gemm g) {
  switch (g) {
    case Gemm::automatic: return "automatic";
    case Gemm::onednn: return "onednn";
    case Gemm::packed: return "packed";
  }
  return "?";
}

// What Gemm::automatic resolves to: VIT_CPU_GEMM=onednn or =packed in the environment (packed only
// where the CPU has AVX2 + FMA), else packed where the kernel build is avx2 and onednn elsewhere.
inline Gemm automatic_gemm() {
  const char* env = std::getenv("VIT_CPU_GEMM");
  const std::string_view forced = env ? env : "";
  if (forced == "onednn") return Gemm::onednn;
  if (forced == "packed" && gemm::available()) return Gemm::packed;
  return kernel::kernel_build() == kernel::KernelBuild::avx2 ? Gemm::packed : Gemm::onednn;
}

struct Options {
  int threads = 0;                        // 0 = number of hardware cores (of this process's CPU affinity)
  Precision precision = Precision::fp32;  // fp32 only, so far (Backend::precisions)
  Gemm gemm = Gemm::automatic;
};

class Backend {
 public:
  using Tensor = BasicTensor<Buffer>;
  // A prepared linear layer (shared by copies): packed weights, or oneDNN's reordered weights and
  // cached primitives, as the backend's Gemm chose.
  struct Linear {
    std::shared_ptr<onednn::Matmul> matmul;
    std::shared_ptr<const gemm::PackedLinear> packed;
  };

  // Prepared weights are read-only after make_linear and matmuls are thread-safe (onednn.hpp):
  // models on several cpu backends may share one set of weights (vit::SharesWeights).
  static constexpr bool shares_weights = true;
  static constexpr std::array precisions{Precision::fp32};  // what Options::precision may ask for

  explicit Backend(Options options = {}) {
    check_precision("cpu", options.precision, precisions);
    check(options.threads >= 0, ErrorKind::argument, "cpu backend: threads must be >= 0 (0 = all cores), got " + std::to_string(options.threads));
    threads_ = options.threads > 0 ? options.threads : hardware_cores();
    gemm_ = options.gemm;
    if (gemm_ == Gemm::automatic) gemm_ = automatic_gemm();
    check(gemm_ != Gemm::packed || gemm::available(), ErrorKind::argument,
          "cpu backend: gemm packed needs a CPU with AVX2 and FMA; this one lacks them");
    omp_set_num_threads(threads_);
  }

  std::string_view name() const { return "cpu"; }
  int threads() const { return threads_; }
  Gemm gemm() const { return gemm_; }  // onednn or packed (automatic resolved)
  // e.g. "cpu: 2 threads, oneDNN 2.6.3 (avx512_core_amx), attention avx512, linear onednn"
  std::string description() const {
    return "cpu: " + std::to_string(threads_) + (threads_ == 1 ? " thread" : " threads") + ", oneDNN " + onednn::version_string() +
           ", attention " + kernel::kernel_build_name() + ", linear " + (gemm_ == Gemm::packed ? "packed avx2" : "onednn");
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

  // W [N, K], b [N] or null -> weights packed (or reordered for oneDNN's matmul) once.
  Linear make_linear(const HostTensor& w, const HostTensor* b) {
    const auto [n, k] = check_make_linear(name(), w.shape, b ? &b->shape : nullptr);
    check(n > 0 && k > 0, ErrorKind::shape, "cpu linear weight: expected [N, K] with N, K > 0, got " + w.shape.str());  // oneDNN's limit
    const float* bias = b ? b->data.data() : nullptr;
    if (gemm_ == Gemm::packed) return Linear{nullptr, std::make_shared<const gemm::PackedLinear>(w.data.data(), bias, n, k)};
    omp_set_num_threads(threads_);
    return Linear{std::make_shared<onednn::Matmul>(w.data.data(), bias, n, k), nullptr};
  }

  // y [M, N] = (accumulate ? y : 0) + act(x [M, K] W^T + b)
  void linear(const Linear& l, const Tensor& x, Tensor& y, Activation act, bool accumulate) {
    check(l.matmul != nullptr || l.packed != nullptr, ErrorKind::argument, "cpu linear: empty Linear (not made by make_linear)");
    const std::int64_t n = l.packed ? l.packed->n() : l.matmul->n(), k = l.packed ? l.packed->k() : l.matmul->k();
    const std::int64_t m = check_linear(name(), x.shape, y.shape, n, k).m;
    if (l.packed) return l.packed->run(x.storage.data(), y.storage.data(), m, act, accumulate, threads_);
    omp_set_num_threads(threads_);
    l.matmul->run(x.storage.data(), y.storage.data(), m, act, accumulate);
  }

  // y [M, D] = LayerNorm(x [M, D]) · g [D] + b [D]
  void layer_norm(const Tensor& x, const Tensor& g, const Tensor& b, float eps, Tensor& y) {
    const auto [m, d] = check_layer_norm(name(), x.shape, g.shape, b.shape, y.shape);
    kernel::layer_norm(x.storage.data(), g.storage.data(), b.storage.data(), eps, y.storage.data(), m, d, threads_);
  }

  // qkv [B, N, 3D] -> out [B, N, D] = softmax(scale · q kᵀ) v per head, fused flash attention.
  void attention(const Tensor& qkv, int heads, float scale, Tensor& out) {
    const auto [batch, n, d, head_dim] = check_attention(name(), qkv.shape, heads, scale, out.shape);
    check(d > 0, ErrorKind::shape, "cpu attention input: expected [B, N, 3D] with D > 0, got " + qkv.shape.str());  // the kernel's limit
    if (batch * n == 0) return;
    kernel::flash_attention(qkv.storage.data(), out.storage.data(), batch, n, d, heads, scale, threads_);
  }

  // img [B, C, H, W] -> out [B·(H/p)·(W/p), C·p·p], normalised by mean/std per channel.
  void im2patch(const Tensor& img, int p, const Tensor& mean, const Tensor& std, Tensor& out) {
    const Im2PatchDims dims = check_im2patch(name(), img.shape, p, mean.shape, std.shape, out.shape);
    kernel::im2patch(img.storage.data(), dims.batch, dims.c, dims.h, dims.w, p, mean.storage.data(), std.storage.data(), out.storage.data(), threads_);
  }

  // pos [R, R, D] -> out [gh·gw, D]: bilinear resize to max(gh, gw)², top-left crop.
  void assemble_tokens(const Tensor& prefix, const Tensor& patches, const Tensor& pos, Tensor& h) {
    const auto [batch, s, t, d] = check_assemble_tokens(name(), prefix.shape, patches.shape, pos.shape, h.shape);
    kernel::assemble_tokens(prefix.storage.data(), patches.storage.data(), pos.storage.data(), h.storage.data(), batch, s, t, d, threads_);
  }

  // out [B, len(idx), D] = h [B, N, D] at token indices idx
  void gather_tokens(const Tensor& h, std::span<const std::int64_t> idx, Tensor& out) {
    const GatherTokensDims dims = check_gather_tokens(name(), h.shape, idx, out.shape);
    kernel::gather_tokens(h.storage.data(), idx, out.storage.data(), dims.batch, dims.n, dims.d, threads_);
  }

  // Optional ops (vit/nn/optional_ops.hpp).

  // y = act(x) elementwise (y has x's element count; y may be x): oneDNN's eltwise primitive, the
  // same algorithms as linear's fused epilogue (exact-erf GELU).
  void activation(const Tensor& x, Activation act, Tensor& y) {
    vit::detail::expect_numel(name(), "activation output", y.shape, x.shape);
    if (act == Activation::none) {
      if (x.storage.data() != y.storage.data()) std::copy(x.storage.begin(), x.storage.end(), y.storage.begin());
      return;
    }
    omp_set_num_threads(threads_);
    eltwise_.run(x.storage.data(), y.storage.data(), x.numel(), act);
  }

  // h[b, idx[j]] = x[b, j] for x holding B·len(idx)·D values and h [B, N, D]; the other rows of h
  // keep their values; indices distinct (the inverse of gather_tokens). x may be h itself.
  void scatter_tokens(const Tensor& x, std::span<const std::int64_t> idx, Tensor& h) {
    const GatherTokensDims dims = check_scatter_tokens(name(), x.shape, idx, h.shape);
    const float* src = x.storage.data();
    Buffer copy;
    if (src == h.storage.data() && x.numel() > 0) {  // a permutation in place: read from a copy
      copy.assign(x.storage.begin(), x.storage.end());
      src = copy.data();
    }
    kernel::scatter_tokens(src, idx, h.storage.data(), dims.batch, dims.n, dims.d, threads_);
  }

 private:
  int threads_ = 1;
  Gemm gemm_ = Gemm::onednn;
  onednn::Eltwise eltwise_;  // activation's primitives, cached per (size, activation)
};

static_assert(vit::Backend<Backend>);

}  // namespace vit::cpu
