// vit::cuda::Backend — the Backend concept on an NVIDIA GPU (nvcc only: include from .cu files).
//
// One device, one stream. Weights are uploaded once by make_linear (converted to bf16/fp16 in
// those modes); activations live in tensors from a caching allocator; GEMMs run through cuBLASLt
// with fused bias / GELU epilogues and residual accumulation (beta = 1); LayerNorm, im2patch,
// token assembly/gather/scatter, activation and fused flash attention are own kernels.
//
// Precisions (Options::precision):
//   fp32  exact path: fp32 GEMMs (CUBLAS_COMPUTE_32F), erf GELU, fp32 FMA attention
//   tf32  GEMMs on tensor cores with TF32 inputs (CUBLAS_COMPUTE_32F_FAST_TF32); the rest as fp32
//   bf16, fp16  GEMM inputs and attention in 16 bits on tensor cores, fp32 accumulation, fp32
//         LayerNorm statistics, fp32 residual stream; every activation as named (the erf GELU in
//         an epilogue kernel; cuBLASLt's fused tanh GELU only for Activation::gelu_tanh)
// In bf16/fp16 mode a tensor also has a 16-bit mirror; producers whose consumers are GEMMs or
// attention (LayerNorm, qkv/fc1 GEMMs, attention) write only the mirror, and any op that needs
// the other copy converts on demand (detail::TensorState). This backend does not have the
// TypedTensors capability yet (vit/backend.hpp): the model hands it fp32 tensors only.
//
// run_graph(key, body) runs body() directly on a key's first call (warm-up: lazy kernel loading,
// index uploads), records it into a CUDA graph on the second call and replays the graph on later
// calls (Options::graphs = false runs body() directly every time).
#pragma once
#include <array>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vit/backend.hpp"
#include "vit/op_checks.hpp"
#include "vit/backends/cuda/attention.cuh"
#include "vit/backends/cuda/check.cuh"
#include "vit/backends/cuda/gemm.cuh"
#include "vit/backends/cuda/kernels.cuh"
#include "vit/backends/cuda/memory.cuh"

namespace vit::cuda {

struct Options {
  int device = 0;                         // CUDA device ordinal
  Precision precision = Precision::fp32;  // arithmetic of GEMMs and attention
  bool graphs = true;                     // capture the model's forward into a CUDA graph
};

class Backend {
 public:
  using Tensor = BasicTensor<std::shared_ptr<detail::TensorState>>;
  // A prepared linear layer: W [n, k] on the device (fp32, or bf16/fp16 in those modes), bias [n].
  struct Linear {
    std::shared_ptr<void> weight, bias_f32, bias_half;
    std::int64_t n = 0, k = 0;
  };

  // What Options::precision may ask for (docs/cuda-backend.md: what each computes in).
  static constexpr std::array precisions{Precision::fp32, Precision::tf32, Precision::bf16, Precision::fp16};

  explicit Backend(Options opt = {}) : opt_(opt) {
    check_precision("cuda", opt_.precision, precisions);
    int count = 0;
    const cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0) {
      cudaGetLastError();
      fail(ErrorKind::backend, "cuda: no CUDA device found (cudaGetDeviceCount: " +
                                   (e != cudaSuccess ? detail::cuda_error_text(e) : std::string("0 devices")) + ")");
    }
    check(opt_.device >= 0 && opt_.device < count, ErrorKind::argument,
          "cuda: device " + std::to_string(opt_.device) + " does not exist (" + std::to_string(count) + " device(s): 0.." +
              std::to_string(count - 1) + ")");
    detail::check_cuda(cudaSetDevice(opt_.device), "cudaSetDevice");
    cudaDeviceProp prop{};
    detail::check_cuda(cudaGetDeviceProperties(&prop, opt_.device), "cudaGetDeviceProperties");
    device_name_ = prop.name;
    sm_ = prop.major * 10 + prop.minor;
    check(sm_ >= 80, ErrorKind::unsupported,
          "cuda: device " + std::to_string(opt_.device) + " (" + device_name_ + ", sm_" + std::to_string(sm_) +
              ") is older than sm_80, which this backend needs");
    detail::check_cuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
    pool_ = std::make_shared<detail::Pool>(opt_.device);
    gemm_ = std::make_unique<detail::Gemm>();
    gemm_workspace_ = detail::make_block(pool_, detail::Gemm::kWorkspaceBytes, false);
    gemm_->set_workspace(gemm_workspace_.get());
    detail::prepare_attention_kernels();
  }

  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;

  ~Backend() {
    if (stream_) cudaStreamSynchronize(stream_);
    for (auto& [key, g] : graphs_) cudaGraphExecDestroy(g.exec);
    gemm_.reset();
    if (stream_) cudaStreamDestroy(stream_);
  }

  std::string_view name() const { return "cuda"; }
  // e.g. "cuda: NVIDIA H100 80GB HBM3 (sm_90), bf16, graphs on"
  std::string description() const {
    return "cuda: " + device_name_ + " (sm_" + std::to_string(sm_) + "), " + to_string(opt_.precision) + ", graphs " +
           (opt_.graphs ? "on" : "off");
  }
  Precision precision() const { return opt_.precision; }
  const Options& options() const { return opt_; }
  cudaStream_t stream() const { return stream_; }

  // ---- memory ----------------------------------------------------------------------------------
  Tensor alloc(const Shape& s) {
    not_capturing("alloc");
    auto st = std::make_shared<detail::TensorState>();
    st->n = s.numel();
    st->f32 = detail::make_block(pool_, std::size_t(st->n) * sizeof(float), false);
    if (half_mode()) st->half = detail::make_block(pool_, std::size_t(st->n) * 2, false);
    if (std::size_t(st->n) > scratch_elems_) {
      scratch_.reset();
      scratch_ = detail::make_block(pool_, std::size_t(st->n) * sizeof(float), false);
      scratch_elems_ = std::size_t(st->n);
    }
    return Tensor{s, std::move(st)};
  }

  Tensor upload(const HostTensor& h) {
    Tensor t = alloc(h.shape);
    upload(h, t);
    return t;
  }

  // Copies host data into an existing tensor of equal size (no allocation).
  void upload(const HostTensor& h, Tensor& y) {
    not_capturing("upload");
    check(h.shape.numel() == y.numel() && std::int64_t(h.data.size()) == y.numel(), ErrorKind::shape,
          "upload: " + h.shape.str() + " into " + y.shape.str());
    float* dst = write_f32(y);
    if (y.numel() > 0)
      detail::check_cuda(cudaMemcpyAsync(dst, h.data.data(), std::size_t(y.numel()) * sizeof(float), cudaMemcpyHostToDevice, stream_),
                         "cudaMemcpyAsync(host to device)");
  }

  HostTensor download(const Tensor& t) {
    not_capturing("download");
    const float* src = read_f32(t);
    HostTensor h(t.shape);
    if (t.numel() > 0)
      detail::check_cuda(cudaMemcpyAsync(h.data.data(), src, std::size_t(t.numel()) * sizeof(float), cudaMemcpyDeviceToHost, stream_),
                         "cudaMemcpyAsync(device to host)");
    synchronize();
    return h;
  }

  void synchronize() {
    not_capturing("synchronize");
    detail::check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (a kernel or copy queued earlier failed)");
  }

  void copy(const Tensor& x, Tensor& y) {
    check(x.numel() == y.numel(), ErrorKind::shape, "copy: " + x.shape.str() + " into " + y.shape.str());
    const float* src = read_f32(x);
    float* dst = write_f32(y);
    if (x.numel() > 0 && src != dst)
      detail::check_cuda(cudaMemcpyAsync(dst, src, std::size_t(x.numel()) * sizeof(float), cudaMemcpyDeviceToDevice, stream_),
                         "cudaMemcpyAsync(device to device)");
  }

  // ---- linear layers ---------------------------------------------------------------------------
  Linear make_linear(const HostTensor& w, const HostTensor* b) {
    not_capturing("make_linear");
    const LinearWeightDims dims = check_make_linear(name(), w.shape, b ? &b->shape : nullptr);
    Linear l;
    l.n = dims.n;
    l.k = dims.k;
    Tensor wt = upload(w);
    if (half_mode()) {
      l.weight = detail::make_block(pool_, std::size_t(w.shape.numel()) * 2, false);
      with_half([&](auto tag) {
        using H = decltype(tag);
        detail::convert(wt.storage->f(), static_cast<H*>(l.weight.get()), w.shape.numel(), stream_);
      });
    } else {
      l.weight = wt.storage->f32;
    }
    if (b) {
      Tensor bt = upload(*b);
      l.bias_f32 = bt.storage->f32;
      if (half_mode()) {
        l.bias_half = detail::make_block(pool_, std::size_t(l.n) * 2, false);
        with_half([&](auto tag) {
          using H = decltype(tag);
          detail::convert(bt.storage->f(), static_cast<H*>(l.bias_half.get()), l.n, stream_);
        });
      }
    }
    synchronize();  // the fp32 staging copies go back to the pool only once converted
    return l;
  }

  // y[M,N] = (accumulate ? y : 0) + act(x[M,K] W^T + b). The activation runs in an epilogue kernel
  // of its own, except gelu_tanh into a 16-bit output, which is cuBLASLt's own GELU epilogue.
  void linear(const Linear& l, const Tensor& x, Tensor& y, Activation act, bool accumulate) {
    const std::int64_t m = check_linear(name(), x.shape, y.shape, l.n, l.k).m;
    check(m <= INT32_MAX && l.n <= INT32_MAX && l.k <= INT32_MAX, ErrorKind::shape, "cuda linear: sizes beyond 2^31 are not supported");
    const bool plain = act == Activation::none;
    const bool has_bias = l.bias_f32 != nullptr;
    const int mi = int(m), ni = int(l.n), ki = int(l.k);
    const auto* bias32 = static_cast<const float*>(l.bias_f32.get());
    if (!half_mode()) {
      const cublasComputeType_t compute = opt_.precision == Precision::tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
      const float* xp = read_f32(x);
      if (accumulate) read_f32(y);
      float* yp = write_f32(y);
      const auto* w = static_cast<const float*>(l.weight.get());
      if (m == 0 || l.n == 0) return;
      if (plain && l.k > 0) {
        const detail::GemmKey key{m, l.n, l.k, CUDA_R_32F, CUDA_R_32F, compute, has_bias ? detail::Epilogue::bias : detail::Epilogue::none};
        if (gemm_->run(key, w, xp, yp, bias32, accumulate ? 1.0f : 0.0f, stream_)) return;
      } else if (l.k > 0) {
        float* t = accumulate ? scratch() : yp;
        const detail::GemmKey key{m, l.n, l.k, CUDA_R_32F, CUDA_R_32F, compute, detail::Epilogue::none};
        if (gemm_->run(key, w, xp, t, nullptr, 0.0f, stream_)) {
          detail::activation_epilogue(t, bias32, yp, m, l.n, act, accumulate, stream_);
          return;
        }
      }
      detail::gemm_fallback(w, xp, yp, bias32, mi, ni, ki, act, accumulate, stream_);
      return;
    }
    with_half([&](auto tag) {
      using H = decltype(tag);
      constexpr cudaDataType_t ht = std::is_same_v<H, __half> ? CUDA_R_16F : CUDA_R_16BF;
      const auto* xp = static_cast<const H*>(read_half(x));
      const auto* w = static_cast<const H*>(l.weight.get());
      if (!accumulate) {
        // 16-bit output into the mirror, bias fused (and gelu_tanh, cuBLASLt's GELU); any other
        // activation in place afterwards.
        H* yp = static_cast<H*>(write_half(y));
        if (m == 0 || l.n == 0) return;
        const auto* biash = static_cast<const H*>(l.bias_half.get());
        const bool fused = act == Activation::gelu_tanh;
        const detail::Epilogue epi = fused ? (has_bias ? detail::Epilogue::gelu_tanh_bias : detail::Epilogue::gelu_tanh)
                                           : (has_bias ? detail::Epilogue::bias : detail::Epilogue::none);
        if (l.k > 0 && gemm_->run(detail::GemmKey{m, l.n, l.k, ht, ht, CUBLAS_COMPUTE_32F, epi}, w, xp, yp, biash, 0.0f, stream_)) {
          if (!fused && !plain) detail::activation_epilogue(yp, static_cast<const H*>(nullptr), yp, m, l.n, act, false, stream_);
          return;
        }
        detail::gemm_fallback(w, xp, yp, biash, mi, ni, ki, act, false, stream_);
        return;
      }
      // Residual accumulation into the fp32 copy of y.
      read_f32(y);
      float* yp = write_f32(y);
      if (m == 0 || l.n == 0) return;
      if (l.k > 0 && plain) {
        const detail::GemmKey key{m, l.n, l.k, ht, CUDA_R_32F, CUBLAS_COMPUTE_32F, has_bias ? detail::Epilogue::bias : detail::Epilogue::none};
        if (gemm_->run(key, w, xp, yp, bias32, 1.0f, stream_)) return;
      } else if (l.k > 0) {
        float* t = scratch();
        if (gemm_->run(detail::GemmKey{m, l.n, l.k, ht, CUDA_R_32F, CUBLAS_COMPUTE_32F, detail::Epilogue::none}, w, xp, t, nullptr, 0.0f, stream_)) {
          detail::activation_epilogue(t, bias32, yp, m, l.n, act, true, stream_);
          return;
        }
      }
      detail::gemm_fallback(w, xp, yp, bias32, mi, ni, ki, act, true, stream_);
    });
  }

  // ---- row and token ops -----------------------------------------------------------------------
  void layer_norm(const Tensor& x, const Tensor& g, const Tensor& b, float eps, Tensor& y) {
    const LayerNormDims dims = check_layer_norm(name(), x.shape, g.shape, b.shape, y.shape);
    const std::int64_t m = dims.rows, d = dims.d;
    check(d <= INT32_MAX, ErrorKind::shape, "cuda layer_norm: width beyond 2^31");
    const float* gp = read_f32(g);
    const float* bp = read_f32(b);
    if (!half_mode()) {
      const float* xp = read_f32(x);
      detail::layer_norm(xp, gp, bp, eps, write_f32(y), m, int(d), stream_);
      return;
    }
    with_half([&](auto tag) {
      using H = decltype(tag);
      if (x.storage->f32_fresh) {
        const float* xp = read_f32(x);
        detail::layer_norm(xp, gp, bp, eps, static_cast<H*>(write_half(y)), m, int(d), stream_);
      } else {
        const auto* xp = static_cast<const H*>(read_half(x));
        detail::layer_norm(xp, gp, bp, eps, static_cast<H*>(write_half(y)), m, int(d), stream_);
      }
    });
  }

  // out[B,N,D] = softmax(scale · q k^T) v per head, from the fused qkv [B,N,3D].
  void attention(const Tensor& qkv, int heads, float scale, Tensor& out) {
    const AttentionDims dims = check_attention(name(), qkv.shape, heads, scale, out.shape);
    const std::int64_t batch = dims.batch, n = dims.n;
    check(batch <= 65535 && heads <= 65535 && n <= INT32_MAX / 2, ErrorKind::shape,
          "cuda attention: batch and heads must be <= 65535 and N < 2^30, got " + qkv.shape.str() + " with " + std::to_string(heads) + " heads");
    const int hd = int(dims.head_dim);
    if (half_mode() && detail::attention_mma_supports(hd)) {
      with_half([&](auto tag) {
        using H = decltype(tag);
        const auto* q = static_cast<const H*>(read_half(qkv));
        detail::attention_mma(q, static_cast<H*>(write_half(out)), int(batch), int(n), heads, hd, scale, stream_);
      });
      return;
    }
    check(hd <= detail::kMaxHeadDimF32, ErrorKind::unsupported,
          "cuda attention: head dim " + std::to_string(hd) + " is above the supported " + std::to_string(detail::kMaxHeadDimF32));
    const float* q = read_f32(qkv);
    detail::attention_f32(q, write_f32(out), int(batch), int(n), heads, hd, scale, stream_);
  }

  void im2patch(const Tensor& img, int p, const Tensor& mean, const Tensor& std, Tensor& out) {
    const Im2PatchDims dims = check_im2patch(name(), img.shape, p, mean.shape, std.shape, out.shape);
    const std::int64_t batch = dims.batch, c = dims.c, h = dims.h, w = dims.w;
    check(c <= INT32_MAX && h <= INT32_MAX && w <= INT32_MAX, ErrorKind::shape, "cuda im2patch: image too large " + img.shape.str());
    const float* ip = read_f32(img);
    const float* mp = read_f32(mean);
    const float* sp = read_f32(std);
    detail::im2patch(ip, mp, sp, write_f32(out), batch, int(c), int(h), int(w), p, stream_);
  }

  void assemble_tokens(const Tensor& prefix, const Tensor& patches, const Tensor& pos, Tensor& h) {
    const AssembleTokensDims dims = check_assemble_tokens(name(), prefix.shape, patches.shape, pos.shape, h.shape);
    const float* a = read_f32(prefix);
    const float* pa = read_f32(patches);
    const float* po = read_f32(pos);
    detail::assemble_tokens(a, pa, po, write_f32(h), dims.batch, dims.s, dims.t, dims.d, stream_);
  }

  // out[b, j] = h[b, idx[j]]. Contiguous or evenly strided index lists need no device copy; others
  // are uploaded once and cached by content (token_index).
  void gather_tokens(const Tensor& h, std::span<const std::int64_t> idx, Tensor& out) {
    const GatherTokensDims dims = check_gather_tokens(name(), h.shape, idx, out.shape);
    detail::GatherIndex gi;
    if (!token_index(idx, gi)) return;  // capture spoiled: run_graph re-runs the body uncaptured
    const float* hp = read_f32(h);
    detail::gather_tokens(hp, gi, write_f32(out), dims.batch, dims.n, dims.len, dims.d, stream_);
  }

  // ---- optional ops (vit/nn/optional_ops.hpp) ----------------------------------------------------

  // y = act(x) elementwise in fp32 (y has x's element count; y may be x), erf GELU as linear's
  // epilogue. Reads x's current copy (the 16-bit mirror when only that is current), writes y's
  // fp32 copy.
  void activation(const Tensor& x, Activation act, Tensor& y) {
    vit::detail::expect_numel(name(), "activation output", y.shape, x.shape);
    const std::int64_t n = x.numel();
    if (half_mode() && !x.storage->f32_fresh) {
      with_half([&](auto tag) {
        using H = decltype(tag);
        const auto* xp = static_cast<const H*>(read_half(x));
        detail::activation(xp, write_f32(y), n, act, stream_);
      });
      return;
    }
    const float* xp = read_f32(x);
    detail::activation(xp, write_f32(y), n, act, stream_);
  }

  // h[b, idx[j]] = x[b, j] for x holding B·len(idx)·D values and h [B, N, D]; the other rows of h
  // keep their values; indices distinct (the inverse of gather_tokens). A partial write of h: its
  // fp32 copy is made current first (converted from the mirror if need be), then written, and the
  // mirror marked stale. Index lists as gather_tokens (capture-safe). x may be h itself (a
  // permutation in place: x is copied to the scratch buffer first).
  void scatter_tokens(const Tensor& x, std::span<const std::int64_t> idx, Tensor& h) {
    const GatherTokensDims dims = check_scatter_tokens(name(), x.shape, idx, h.shape);
    detail::GatherIndex gi;
    if (!token_index(idx, gi)) return;  // capture spoiled: run_graph re-runs the body uncaptured
    const float* xp = read_f32(x);
    read_f32(h);
    float* hp = write_f32(h);
    if (xp == hp && x.numel() > 0) {
      detail::check_cuda(cudaMemcpyAsync(scratch(), xp, std::size_t(x.numel()) * sizeof(float), cudaMemcpyDeviceToDevice, stream_),
                         "cudaMemcpyAsync(scatter_tokens in place)");
      xp = scratch();
    }
    detail::scatter_tokens(xp, gi, hp, dims.batch, dims.n, dims.len, dims.d, stream_);
  }

  // ---- CUDA graphs (vit::GraphCapable) ---------------------------------------------------------
  template <class F>
  void run_graph(std::uint64_t key, F&& body) {
    if (!opt_.graphs || capturing_) {
      body();
      return;
    }
    if (auto it = graphs_.find(key); it != graphs_.end()) {
      detail::check_cuda(cudaGraphLaunch(it->second.exec, stream_), "cudaGraphLaunch");
      apply_flags(it->second.flags);
      return;
    }
    if (warmed_.insert(key).second) {  // first call: run uncaptured (loads kernels, fills caches)
      body();
      return;
    }
    cudaGraph_t graph = nullptr;
    begin_capture();
    try {
      body();
    } catch (...) {
      abort_capture();
      throw;
    }
    std::vector<FlagState> flags = end_capture(graph);
    if (capture_spoiled_) {
      cudaGraphDestroy(graph);
      capture_spoiled_ = false;
      body();
      return;
    }
    cudaGraphExec_t exec = nullptr;
    const cudaError_t e = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
    detail::check_cuda(e, "cudaGraphInstantiate");
    if (graphs_.size() >= kMaxGraphs) {  // drop the oldest capture (keys grow with each workspace)
      cudaStreamSynchronize(stream_);
      cudaGraphExecDestroy(graphs_.begin()->second.exec);
      graphs_.erase(graphs_.begin());
    }
    graphs_.emplace(key, Graph{exec, std::move(flags)});
    detail::check_cuda(cudaGraphLaunch(exec, stream_), "cudaGraphLaunch");
  }

 private:
  static constexpr std::size_t kMaxGraphs = 16;

  bool half_mode() const { return opt_.precision == Precision::bf16 || opt_.precision == Precision::fp16; }

  template <class F>
  void with_half(F&& f) {
    if (opt_.precision == Precision::fp16) f(__half{});
    else f(__nv_bfloat16{});
  }

  void not_capturing(const char* op) const {
    check(!capturing_, ErrorKind::backend, std::string("cuda: ") + op + " is not allowed inside a graph body (run_graph)");
  }

  float* scratch() { return static_cast<float*>(scratch_.get()); }

  // The device form of a token index list for gather/scatter: start + j·step when the list is
  // evenly strided (no copy), else a device copy uploaded once and cached by content. Inside a
  // capture a list not yet uploaded cannot be: the capture is marked spoiled and false returned
  // (run_graph discards it and runs the body uncaptured, which uploads it).
  bool token_index(std::span<const std::int64_t> idx, detail::GatherIndex& gi) {
    const std::size_t j = idx.size();
    bool affine = true;
    for (std::size_t k = 2; k < j && affine; ++k) affine = idx[k] - idx[k - 1] == idx[1] - idx[0];
    if (affine) {
      gi.start = j > 0 ? idx[0] : 0;
      gi.step = j > 1 ? idx[1] - idx[0] : 1;
      return true;
    }
    std::vector<std::int64_t> key(idx.begin(), idx.end());
    auto it = index_cache_.find(key);
    if (it == index_cache_.end()) {
      if (capturing_) {
        capture_spoiled_ = true;
        return false;
      }
      auto block = detail::make_block(pool_, key.size() * sizeof(std::int64_t), false);
      detail::check_cuda(cudaMemcpyAsync(block.get(), key.data(), key.size() * sizeof(std::int64_t), cudaMemcpyHostToDevice, stream_),
                         "cudaMemcpyAsync(token indices)");
      it = index_cache_.emplace(std::move(key), std::move(block)).first;
    }
    gi.dev = static_cast<const std::int64_t*>(it->second.get());
    return true;
  }

  // Flag bookkeeping. During a capture every change is logged, so a discarded capture can undo
  // it and a kept one knows the flags its replays leave behind (apply_flags after each launch).
  struct FlagState {
    std::weak_ptr<detail::TensorState> st;
    bool f32_fresh, half_fresh;
    std::uint64_t half_epoch;
  };
  struct Graph {
    cudaGraphExec_t exec;
    std::vector<FlagState> flags;  // tensor flags as the capture left them
  };

  void touch(const std::shared_ptr<detail::TensorState>& st) {
    if (capturing_) undo_.push_back({st, st->f32_fresh, st->half_fresh, st->half_epoch});
  }

  static void apply_flags(const std::vector<FlagState>& flags) {
    for (const auto& f : flags)
      if (auto st = f.st.lock()) {
        st->f32_fresh = f.f32_fresh;
        st->half_fresh = f.half_fresh;
        st->half_epoch = f.half_epoch;
      }
  }

  // The fp32 copy, converted from the 16-bit mirror first when that holds the current values.
  const float* read_f32(const Tensor& t) {
    detail::TensorState& st = *t.storage;
    if (!st.f32_fresh) {
      touch(t.storage);
      with_half([&](auto tag) {
        using H = decltype(tag);
        detail::convert(static_cast<const H*>(st.h()), st.f(), st.n, stream_);
      });
      st.f32_fresh = true;
    }
    return st.f();
  }

  // The 16-bit mirror, converted from fp32 unless it is current (inside a capture: made current
  // by this capture; the fp32 copy is what outside writers such as upload update).
  const void* read_half(const Tensor& t) {
    detail::TensorState& st = *t.storage;
    const bool trusted = st.half_fresh && (!capturing_ || st.half_epoch == epoch_ || !st.f32_fresh);
    if (!trusted) {
      touch(t.storage);
      with_half([&](auto tag) {
        using H = decltype(tag);
        detail::convert(st.f(), static_cast<H*>(st.h()), st.n, stream_);
      });
      st.half_fresh = true;
      st.half_epoch = epoch_;
    }
    return st.h();
  }

  float* write_f32(Tensor& t) {
    detail::TensorState& st = *t.storage;
    touch(t.storage);
    st.f32_fresh = true;
    st.half_fresh = false;
    return st.f();
  }

  void* write_half(Tensor& t) {
    detail::TensorState& st = *t.storage;
    touch(t.storage);
    st.half_fresh = true;
    st.half_epoch = epoch_;
    st.f32_fresh = false;
    return st.h();
  }

  void begin_capture() {
    epoch_ = ++captures_;
    capture_spoiled_ = false;
    undo_.clear();
    detail::check_cuda(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
    capturing_ = true;
  }

  // Ends the capture; returns the flags the captured work leaves (restores the old ones instead
  // when the capture failed or was spoiled).
  std::vector<FlagState> end_capture(cudaGraph_t& graph) {
    capturing_ = false;
    epoch_ = 0;
    const cudaError_t e = cudaStreamEndCapture(stream_, &graph);
    std::vector<FlagState> final_flags;
    if (e != cudaSuccess || capture_spoiled_) {
      restore_flags();
    } else {
      for (const auto& u : undo_)
        if (auto st = u.st.lock()) final_flags.push_back({st, st->f32_fresh, st->half_fresh, st->half_epoch});
    }
    undo_.clear();
    detail::check_cuda(e, "cudaStreamEndCapture");
    return final_flags;
  }

  void abort_capture() {
    cudaGraph_t graph = nullptr;
    capturing_ = false;
    epoch_ = 0;
    cudaStreamEndCapture(stream_, &graph);
    cudaGetLastError();
    if (graph) cudaGraphDestroy(graph);
    restore_flags();
    undo_.clear();
    capture_spoiled_ = false;
  }

  void restore_flags() {
    for (auto it = undo_.rbegin(); it != undo_.rend(); ++it)
      if (auto st = it->st.lock()) {
        st->f32_fresh = it->f32_fresh;
        st->half_fresh = it->half_fresh;
        st->half_epoch = it->half_epoch;
      }
  }

  Options opt_;
  std::string device_name_;
  int sm_ = 0;
  cudaStream_t stream_ = nullptr;
  std::shared_ptr<detail::Pool> pool_;
  std::unique_ptr<detail::Gemm> gemm_;
  std::shared_ptr<void> gemm_workspace_, scratch_;
  std::size_t scratch_elems_ = 0;
  std::map<std::vector<std::int64_t>, std::shared_ptr<void>> index_cache_;
  std::map<std::uint64_t, Graph> graphs_;
  std::set<std::uint64_t> warmed_;  // keys whose warm-up (uncaptured) call has run
  bool capturing_ = false, capture_spoiled_ = false;
  std::uint64_t epoch_ = 0, captures_ = 0;
  std::vector<FlagState> undo_;  // flags before each change made during the current capture
};

static_assert(vit::Backend<Backend>);
static_assert(vit::GraphCapable<Backend>);

}  // namespace vit::cuda
