// The CUDA backend's element-wise and row kernels (everything except GEMMs and attention).
// Each kernel is a template (so the header can be included by many .cu files) with its shapes in
// a comment; launch helpers check the launch.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "vit/backend.hpp"
#include "vit/backends/cuda/check.cuh"

namespace vit::cuda::detail {

// 16-bit float conversions usable in templates: to_float(x), from_float<T>(f).
__device__ __forceinline__ float to_float(float x) { return x; }
__device__ __forceinline__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ float to_float(__half x) { return __half2float(x); }
template <class T> __device__ __forceinline__ T from_float(float f);
template <> __device__ __forceinline__ float from_float<float>(float f) { return f; }
template <> __device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float f) { return __float2bfloat16_rn(f); }
template <> __device__ __forceinline__ __half from_float<__half>(float f) { return __float2half_rn(f); }

// Exact GELU, x/2 (1 + erf(x/√2)), as the reference and PyTorch's nn.GELU() compute it.
__device__ __forceinline__ float gelu_erf(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }

// vit::Activation on the device, computed as named (see vit/backend.hpp).
__device__ __forceinline__ float activate(Activation act, float x) {
  switch (act) {
    case Activation::gelu: return gelu_erf(x);
    case Activation::gelu_tanh: return 0.5f * x * (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
    case Activation::quick_gelu: return x / (1.0f + expf(-1.702f * x));
    case Activation::none: break;
  }
  return x;
}

constexpr int kThreads = 256;

inline unsigned grid_for(std::int64_t n, int threads = kThreads) {
  return unsigned(std::max<std::int64_t>(1, std::min<std::int64_t>((n + threads - 1) / threads, std::int64_t(1) << 30)));
}

#define VIT_CUDA_GRID_STRIDE(i, n) \
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); i += std::int64_t(gridDim.x) * blockDim.x)

// dst[i] = src[i] converted (n elements).
template <class From, class To>
__global__ void convert_kernel(const From* __restrict__ src, To* __restrict__ dst, std::int64_t n) {
  VIT_CUDA_GRID_STRIDE(i, n) dst[i] = from_float<To>(to_float(src[i]));
}

template <class From, class To>
void convert(const From* src, To* dst, std::int64_t n, cudaStream_t s) {
  if (n == 0) return;
  convert_kernel<<<grid_for(n), kThreads, 0, s>>>(src, dst, n);
  check_launch("convert kernel");
}

// y[M,N] = (accumulate ? y : 0) + act(t[M,N] + bias[N]); t may alias y when !accumulate; bias may be null.
template <class T, class TBias>
__global__ void activation_epilogue_kernel(const T* t, const TBias* __restrict__ bias, T* y, std::int64_t m, std::int64_t n,
                                           Activation act, bool accumulate) {
  VIT_CUDA_GRID_STRIDE(i, m * n) {
    const float v = activate(act, to_float(t[i]) + (bias ? to_float(bias[i % n]) : 0.0f));
    y[i] = from_float<T>(accumulate ? to_float(y[i]) + v : v);
  }
}

template <class T, class TBias>
void activation_epilogue(const T* t, const TBias* bias, T* y, std::int64_t m, std::int64_t n, Activation act, bool accumulate, cudaStream_t s) {
  if (m * n == 0) return;
  activation_epilogue_kernel<<<grid_for(m * n), kThreads, 0, s>>>(t, bias, y, m, n, act, accumulate);
  check_launch("activation epilogue kernel");
}

// y[M,D] = (x - mean) / sqrt(var + eps) * g + b per row, fp32 statistics (two passes over the row).
// One warp per row, four rows per block.
template <class TIn, class TOut>
__global__ void layer_norm_kernel(const TIn* __restrict__ x, const float* __restrict__ g, const float* __restrict__ b, float eps,
                                  TOut* __restrict__ y, std::int64_t m, int d) {
  const std::int64_t row = std::int64_t(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= m) return;
  const TIn* xr = x + row * d;
  float sum = 0;
  for (int k = lane; k < d; k += 32) sum += to_float(xr[k]);
  for (int o = 16; o > 0; o /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, o);
  const float mean = sum / float(d);
  float sq = 0;
  for (int k = lane; k < d; k += 32) {
    const float c = to_float(xr[k]) - mean;
    sq += c * c;
  }
  for (int o = 16; o > 0; o /= 2) sq += __shfl_xor_sync(0xffffffffu, sq, o);
  const float inv = rsqrtf(sq / float(d) + eps);
  TOut* yr = y + row * d;
  for (int k = lane; k < d; k += 32) yr[k] = from_float<TOut>((to_float(xr[k]) - mean) * inv * g[k] + b[k]);
}

template <class TIn, class TOut>
void layer_norm(const TIn* x, const float* g, const float* b, float eps, TOut* y, std::int64_t m, int d, cudaStream_t s) {
  if (m == 0) return;
  constexpr int rows_per_block = 4;
  const std::int64_t blocks = (m + rows_per_block - 1) / rows_per_block;
  layer_norm_kernel<<<unsigned(blocks), 32 * rows_per_block, 0, s>>>(x, g, b, eps, y, m, d);
  check_launch("layer_norm kernel");
}

// out[B*gh*gw, C*p*p]: row (b*gh+gy)*gw+gx, column (c*p+ky)*p+kx = (img[b,c,gy*p+ky,gx*p+kx] - mean[c]) / std[c].
template <class T>
__global__ void im2patch_kernel(const T* __restrict__ img, const T* __restrict__ mean, const T* __restrict__ sd, T* __restrict__ out,
                                std::int64_t batch, int c, int h, int w, int p) {
  const int gh = h / p, gw = w / p, cols = c * p * p;
  VIT_CUDA_GRID_STRIDE(i, batch * gh * gw * cols) {
    const std::int64_t row = i / cols;
    const int col = int(i % cols);
    const int ch = col / (p * p), ky = (col / p) % p, kx = col % p;
    const int gx = int(row % gw), gy = int((row / gw) % gh);
    const std::int64_t b = row / (std::int64_t(gw) * gh);
    const float v = img[((b * c + ch) * h + gy * p + ky) * w + gx * p + kx];
    out[i] = __fdiv_rn(__fsub_rn(v, mean[ch]), sd[ch]);
  }
}

inline void im2patch(const float* img, const float* mean, const float* sd, float* out, std::int64_t batch, int c, int h, int w, int p,
                     cudaStream_t s) {
  const std::int64_t n = batch * (h / p) * (w / p) * c * p * p;
  if (n == 0) return;
  im2patch_kernel<float><<<grid_for(n), kThreads, 0, s>>>(img, mean, sd, out, batch, c, h, w, p);
  check_launch("im2patch kernel");
}

// h[B, S+T, D]: h[b, :S] = prefix[S, D]; h[b, S+t] = patches[b*T+t] + pos[t].
template <class T>
__global__ void assemble_tokens_kernel(const T* __restrict__ prefix, const T* __restrict__ patches, const T* __restrict__ pos,
                                       T* __restrict__ h, std::int64_t batch, std::int64_t s, std::int64_t t, std::int64_t d) {
  const std::int64_t n = s + t;
  VIT_CUDA_GRID_STRIDE(i, batch * n * d) {
    const std::int64_t b = i / (n * d), rem = i % (n * d), tok = rem / d, k = rem % d;
    h[i] = tok < s ? prefix[tok * d + k] : __fadd_rn(patches[(b * t + tok - s) * d + k], pos[(tok - s) * d + k]);
  }
}

inline void assemble_tokens(const float* prefix, const float* patches, const float* pos, float* h, std::int64_t batch, std::int64_t s,
                            std::int64_t t, std::int64_t d, cudaStream_t st) {
  const std::int64_t n = batch * (s + t) * d;
  if (n == 0) return;
  assemble_tokens_kernel<float><<<grid_for(n), kThreads, 0, st>>>(prefix, patches, pos, h, batch, s, t, d);
  check_launch("assemble_tokens kernel");
}

// Token indices for gather: idx[j] = dev ? dev[j] : start + j*step.
struct GatherIndex {
  const std::int64_t* dev = nullptr;
  std::int64_t start = 0, step = 1;
};

// out[B, J, D]: out[b, j] = h[b, idx[j]].
template <class T>
__global__ void gather_tokens_kernel(const T* __restrict__ h, GatherIndex idx, T* __restrict__ out, std::int64_t batch, std::int64_t n,
                                     std::int64_t j_count, std::int64_t d) {
  VIT_CUDA_GRID_STRIDE(i, batch * j_count * d) {
    const std::int64_t b = i / (j_count * d), j = (i / d) % j_count, k = i % d;
    const std::int64_t src = idx.dev ? idx.dev[j] : idx.start + j * idx.step;
    out[i] = h[(b * n + src) * d + k];
  }
}

inline void gather_tokens(const float* h, GatherIndex idx, float* out, std::int64_t batch, std::int64_t n, std::int64_t j_count,
                          std::int64_t d, cudaStream_t s) {
  const std::int64_t total = batch * j_count * d;
  if (total == 0) return;
  gather_tokens_kernel<float><<<grid_for(total), kThreads, 0, s>>>(h, idx, out, batch, n, j_count, d);
  check_launch("gather_tokens kernel");
}

// The inverse of gather_tokens: h[B, N, D]: h[b, idx[j]] = x[b, j] for x [B, J, D]; the other
// rows of h are not touched (indices distinct, x not inside h).
template <class T>
__global__ void scatter_tokens_kernel(const T* __restrict__ x, GatherIndex idx, T* __restrict__ h, std::int64_t batch, std::int64_t n,
                                      std::int64_t j_count, std::int64_t d) {
  VIT_CUDA_GRID_STRIDE(i, batch * j_count * d) {
    const std::int64_t b = i / (j_count * d), j = (i / d) % j_count, k = i % d;
    const std::int64_t dst = idx.dev ? idx.dev[j] : idx.start + j * idx.step;
    h[(b * n + dst) * d + k] = x[i];
  }
}

inline void scatter_tokens(const float* x, GatherIndex idx, float* h, std::int64_t batch, std::int64_t n, std::int64_t j_count,
                           std::int64_t d, cudaStream_t s) {
  const std::int64_t total = batch * j_count * d;
  if (total == 0) return;
  scatter_tokens_kernel<float><<<grid_for(total), kThreads, 0, s>>>(x, idx, h, batch, n, j_count, d);
  check_launch("scatter_tokens kernel");
}

// y[i] = act(x[i]) in fp32 (x fp32 or 16-bit; y fp32; x may be y when both are fp32).
template <class T>
__global__ void activation_kernel(const T* x, float* y, std::int64_t n, Activation act) {
  VIT_CUDA_GRID_STRIDE(i, n) y[i] = activate(act, to_float(x[i]));
}

template <class T>
void activation(const T* x, float* y, std::int64_t n, Activation act, cudaStream_t s) {
  if (n == 0) return;
  activation_kernel<T><<<grid_for(n), kThreads, 0, s>>>(x, y, n, act);
  check_launch("activation kernel");
}

}  // namespace vit::cuda::detail
