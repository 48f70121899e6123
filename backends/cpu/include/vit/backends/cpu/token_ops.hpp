// The CPU backend's memory-bound ops: LayerNorm, im2patch, token assembly, gathering and
// scattering. Plain loops the compiler vectorises (`omp simd`), OpenMP-parallel over
// rows when the op is big enough to pay for the fork.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <span>

namespace vit::cpu::kernel {

inline constexpr std::int64_t kParallelMinValues = 1 << 14;  // smaller ops run on the calling thread

// y[m, :] = (x[m, :] - mean) / sqrt(var + eps) * g + b, per row of width dim (biased variance,
// two passes over the row in fp32).
inline void layer_norm(const float* x, const float* g, const float* b, float eps, float* y, std::int64_t rows, std::int64_t dim,
                       int threads) {
#pragma omp parallel for num_threads(threads) schedule(static) if (rows * dim >= kParallelMinValues)
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * dim;
    float* yr = y + r * dim;
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (std::int64_t k = 0; k < dim; ++k) sum += xr[k];
    const float mean = sum / float(dim);
    float var = 0.0f;
#pragma omp simd reduction(+ : var)
    for (std::int64_t k = 0; k < dim; ++k) var += (xr[k] - mean) * (xr[k] - mean);
    const float inv = 1.0f / std::sqrt(var / float(dim) + eps);
#pragma omp simd
    for (std::int64_t k = 0; k < dim; ++k) yr[k] = (xr[k] - mean) * inv * g[k] + b[k];
  }
}

// out[(b·gh + gy)·gw + gx, (ch·p + ky)·p + kx] = (img[b, ch, gy·p + ky, gx·p + kx] - mean[ch]) / std[ch]
inline void im2patch(const float* img, std::int64_t batch, std::int64_t channels, std::int64_t h, std::int64_t w, std::int64_t p,
                     const float* mean, const float* stddev, float* out, int threads) {
  const std::int64_t gh = h / p, gw = w / p, cols = channels * p * p;
#pragma omp parallel for collapse(2) num_threads(threads) schedule(static) if (batch * h * w * channels >= kParallelMinValues)
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t gy = 0; gy < gh; ++gy)
      for (std::int64_t ch = 0; ch < channels; ++ch) {
        const float mu = mean[ch], inv = 1.0f / stddev[ch];
        for (std::int64_t ky = 0; ky < p; ++ky) {
          const float* src = img + ((b * channels + ch) * h + gy * p + ky) * w;
          for (std::int64_t gx = 0; gx < gw; ++gx) {
            float* dst = out + ((b * gh + gy) * gw + gx) * cols + (ch * p + ky) * p;
#pragma omp simd
            for (std::int64_t kx = 0; kx < p; ++kx) dst[kx] = (src[gx * p + kx] - mu) * inv;
          }
        }
      }
}

// h[b] = concat(prefix [s, d], patches[b] [t, d] + pos [t, d])
inline void assemble_tokens(const float* prefix, const float* patches, const float* pos, float* h, std::int64_t batch, std::int64_t s,
                            std::int64_t t, std::int64_t d, int threads) {
#pragma omp parallel for collapse(2) num_threads(threads) schedule(static) if (batch * t * d >= kParallelMinValues)
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t i = 0; i < s + t; ++i) {
      float* dst = h + (b * (s + t) + i) * d;
      if (i < s) {
        std::memcpy(dst, prefix + i * d, std::size_t(d) * sizeof(float));
      } else {
        const float* src = patches + (b * t + i - s) * d;
        const float* pe = pos + (i - s) * d;
#pragma omp simd
        for (std::int64_t k = 0; k < d; ++k) dst[k] = src[k] + pe[k];
      }
    }
}

// out[b, j] = h[b, idx[j]] for h [batch, n, d] (indices already validated).
inline void gather_tokens(const float* h, std::span<const std::int64_t> idx, float* out, std::int64_t batch, std::int64_t n,
                          std::int64_t d, int threads) {
  const std::int64_t len = std::int64_t(idx.size());
#pragma omp parallel for collapse(2) num_threads(threads) schedule(static) if (batch * len * d >= kParallelMinValues)
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t j = 0; j < len; ++j)
      std::memcpy(out + (b * len + j) * d, h + (b * n + idx[std::size_t(j)]) * d, std::size_t(d) * sizeof(float));
}

// h[b, idx[j]] = x[b, j] for h [batch, n, d] and x [batch, len(idx), d] (indices already validated
// and distinct, so parallel rows never write the same place).
inline void scatter_tokens(const float* x, std::span<const std::int64_t> idx, float* h, std::int64_t batch, std::int64_t n,
                           std::int64_t d, int threads) {
  const std::int64_t len = std::int64_t(idx.size());
#pragma omp parallel for collapse(2) num_threads(threads) schedule(static) if (batch * len * d >= kParallelMinValues)
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t j = 0; j < len; ++j)
      std::memcpy(h + (b * n + idx[std::size_t(j)]) * d, x + (b * len + j) * d, std::size_t(d) * sizeof(float));
}

}  // namespace vit::cpu::kernel
