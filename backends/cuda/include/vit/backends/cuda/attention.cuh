// Fused ("flash") multi-head self-attention for the CUDA backend: online softmax over key tiles
// held in shared memory; the [heads, N, N] score matrix never exists.
//
//   qkv [B, N, 3D] (rows hold q | k | v, each head-major)  ->  out [B, N, D]
//   out[b, i, h] = softmax_j(scale · q_i · k_j) v_j       per head h, hd = D / heads (scale > 0: ViTs use 1/sqrt(hd))
//
// attention_f32: fp32 in, fp32 FMA arithmetic (the exact path), any head dim up to 256.
// attention_mma: bf16/fp16 in and out, tensor cores (mma.sync m16n8k16) with fp32 accumulation
//                and fp32 softmax statistics, head dims that are multiples of 8 up to 128. Two
//                kernels serve it, picked by attention_kernel() (default v1):
//                  v1  attention_mma_kernel (below): 4 warps x 16 rows, plain shared loads.
//                      Proven on an H200 (docs/gpu-results/2026-11-28-h200).
//                  v2  flash_attention_kernel (flash_attention.cuh): FlashAttention-2 style,
//                      8 warps x 16 rows, cp.async double buffering, ldmatrix operands.
//                      EXPERIMENTAL: compiled and reviewed, not yet run on a GPU; opt in with
//                      VIT_CUDA_ATTENTION=v2. The op tests check it against the reference.
//                The environment variable VIT_CUDA_ATTENTION=v1|v2, read once at the first
//                backend construction, selects it; set_attention_kernel() overrides it (tests).
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <type_traits>

#include <cstdlib>
#include <string>

#include "vit/backends/cuda/check.cuh"
#include "vit/backends/cuda/flash_attention.cuh"

namespace vit::cuda::detail {

// ---- fp32 path -------------------------------------------------------------------------------
// Block: 4 warps, 32 query rows (8 per warp), key tiles of 32. Lane j scores key j of the tile
// for each of its warp's rows; lane l accumulates output dims l, l+32, ... (DPL of them).
constexpr int kF32Rows = 32, kF32Keys = 32, kF32RowsPerWarp = 8;

inline std::size_t attention_f32_smem(int hd) {
  return sizeof(float) * (std::size_t(kF32Keys) * (hd | 1) + std::size_t(kF32Keys) * hd + std::size_t(kF32Rows) * hd +
                          std::size_t(kF32Rows) * (kF32Keys + 1));
}

template <int DPL>
__global__ void __launch_bounds__(128) attention_f32_kernel(const float* __restrict__ qkv, float* __restrict__ out, int n, int heads,
                                                             int hd, float scale) {
  extern __shared__ float smem[];
  const int ks_stride = hd | 1;
  float* ks = smem;                              // [32][hd|1]
  float* vs = ks + kF32Keys * ks_stride;         // [32][hd]
  float* qs = vs + kF32Keys * hd;                // [32][hd]
  float* ps = qs + kF32Rows * hd;                // [32][33]
  const int d = heads * hd;
  const int h = blockIdx.y, b = blockIdx.z, q0 = blockIdx.x * kF32Rows;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const float* base = qkv + std::int64_t(b) * n * 3 * d + std::int64_t(h) * hd;

  for (int i = threadIdx.x; i < kF32Rows * hd; i += blockDim.x) {
    const int r = i / hd, k = i % hd;
    qs[i] = q0 + r < n ? base[std::int64_t(q0 + r) * 3 * d + k] : 0.0f;
  }
  float m[kF32RowsPerWarp], l[kF32RowsPerWarp], o[kF32RowsPerWarp][DPL];
#pragma unroll
  for (int r = 0; r < kF32RowsPerWarp; ++r) {
    m[r] = -INFINITY;
    l[r] = 0;
#pragma unroll
    for (int c = 0; c < DPL; ++c) o[r][c] = 0;
  }
  for (int k0 = 0; k0 < n; k0 += kF32Keys) {
    __syncthreads();
    for (int i = threadIdx.x; i < kF32Keys * hd; i += blockDim.x) {
      const int j = i / hd, k = i % hd;
      const bool ok = k0 + j < n;
      const std::int64_t row = std::int64_t(k0 + j) * 3 * d;
      ks[j * ks_stride + k] = ok ? base[row + d + k] : 0.0f;
      vs[j * hd + k] = ok ? base[row + 2 * d + k] : 0.0f;
    }
    __syncthreads();
    const bool key_ok = k0 + lane < n;
#pragma unroll
    for (int r = 0; r < kF32RowsPerWarp; ++r) {
      const int qr = warp * kF32RowsPerWarp + r;
      float s = 0;
      for (int k = 0; k < hd; ++k) s = fmaf(qs[qr * hd + k], ks[lane * ks_stride + k], s);
      s = key_ok ? s * scale : -INFINITY;
      float mx = s;
      for (int off = 16; off > 0; off /= 2) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, off));
      const float m_new = fmaxf(m[r], mx);
      const float alpha = expf(m[r] - m_new);
      const float p = key_ok ? expf(s - m_new) : 0.0f;
      float sum = p;
      for (int off = 16; off > 0; off /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, off);
      l[r] = l[r] * alpha + sum;
      m[r] = m_new;
      ps[qr * (kF32Keys + 1) + lane] = p;
#pragma unroll
      for (int c = 0; c < DPL; ++c) o[r][c] *= alpha;
    }
    __syncwarp();
#pragma unroll
    for (int r = 0; r < kF32RowsPerWarp; ++r) {
      const int qr = warp * kF32RowsPerWarp + r;
      for (int j = 0; j < kF32Keys; ++j) {
        const float p = ps[qr * (kF32Keys + 1) + j];
#pragma unroll
        for (int c = 0; c < DPL; ++c) {
          const int k = lane + 32 * c;
          if (k < hd) o[r][c] = fmaf(p, vs[j * hd + k], o[r][c]);
        }
      }
    }
  }
#pragma unroll
  for (int r = 0; r < kF32RowsPerWarp; ++r) {
    const int row = q0 + warp * kF32RowsPerWarp + r;
    if (row >= n) continue;
    float* dst = out + (std::int64_t(b) * n + row) * d + std::int64_t(h) * hd;
#pragma unroll
    for (int c = 0; c < DPL; ++c) {
      const int k = lane + 32 * c;
      if (k < hd) dst[k] = o[r][c] / l[r];
    }
  }
}

template <int DPL>
void set_attention_f32_smem() {
  check_cuda(cudaFuncSetAttribute(attention_f32_kernel<DPL>, cudaFuncAttributeMaxDynamicSharedMemorySize, int(attention_f32_smem(32 * DPL))),
             "cudaFuncSetAttribute(attention_f32_kernel)");
}

// Which tensor-core attention kernel serves bf16/fp16 (see the top of this file).
enum class AttentionKernel { v1, v2 };

inline const char* to_string(AttentionKernel k) { return k == AttentionKernel::v1 ? "v1" : "v2"; }

// VIT_CUDA_ATTENTION: unset or empty -> v1; "v1" or "v2"; anything else is an argument error.
inline AttentionKernel attention_kernel_from_env() {
  const char* v = std::getenv("VIT_CUDA_ATTENTION");
  const std::string s = v ? v : "";
  if (s.empty() || s == "v1") return AttentionKernel::v1;
  if (s == "v2") return AttentionKernel::v2;
  fail(ErrorKind::argument, "cuda: VIT_CUDA_ATTENTION must be v1 or v2, got '" + s + "'");
}

// The process-wide choice: initialised from the environment on first use.
inline AttentionKernel& attention_kernel_slot() {
  static AttentionKernel k = attention_kernel_from_env();
  return k;
}
inline AttentionKernel attention_kernel() { return attention_kernel_slot(); }
inline void set_attention_kernel(AttentionKernel k) { attention_kernel_slot() = k; }

// Raises the dynamic shared memory limit of every attention kernel and reads the kernel choice
// (once, at backend start).
inline void prepare_attention_kernels() {
  set_attention_f32_smem<1>();
  set_attention_f32_smem<2>();
  set_attention_f32_smem<3>();
  set_attention_f32_smem<4>();
  set_attention_f32_smem<8>();
  prepare_flash_attention_kernels();
  (void)attention_kernel();
}

constexpr int kMaxHeadDimF32 = 256;

inline void attention_f32(const float* qkv, float* out, int batch, int n, int heads, int hd, float scale, cudaStream_t s) {
  if (batch == 0 || n == 0) return;
  const dim3 grid(unsigned((n + kF32Rows - 1) / kF32Rows), unsigned(heads), unsigned(batch));
  const std::size_t smem = attention_f32_smem(hd);
  if (hd <= 32) attention_f32_kernel<1><<<grid, 128, smem, s>>>(qkv, out, n, heads, hd, scale);
  else if (hd <= 64) attention_f32_kernel<2><<<grid, 128, smem, s>>>(qkv, out, n, heads, hd, scale);
  else if (hd <= 96) attention_f32_kernel<3><<<grid, 128, smem, s>>>(qkv, out, n, heads, hd, scale);  // 72, 80: no idle 4th column
  else if (hd <= 128) attention_f32_kernel<4><<<grid, 128, smem, s>>>(qkv, out, n, heads, hd, scale);
  else attention_f32_kernel<8><<<grid, 128, smem, s>>>(qkv, out, n, heads, hd, scale);
  check_launch("attention_f32 kernel");
}

// ---- tensor-core path ------------------------------------------------------------------------
// Block: 4 warps, 64 query rows (16 per warp, one mma row tile), key tiles of 64 in shared memory
// (K row-major, V transposed so both mma B operands are contiguous 32-bit pairs). Head dims are
// zero-padded to HDP (a multiple of 16).
constexpr int kMmaRows = 64, kMmaKeys = 64, kMmaPad = 8;

// pack_half2 and mma_m16n8k16 (the tensor-core helpers) come from flash_attention.cuh.

template <class H, int HDP>
__global__ void __launch_bounds__(128) attention_mma_kernel(const H* __restrict__ qkv, H* __restrict__ out, int n, int heads, int hd,
                                                             float scale_log2) {
  constexpr int KS = HDP / 16;   // k-steps over the head dim
  constexpr int DN = HDP / 8;    // n-tiles over the head dim
  constexpr int NT = kMmaKeys / 8;
  __shared__ alignas(16) H ks[kMmaKeys][HDP + kMmaPad];
  __shared__ alignas(16) H vt[HDP][kMmaKeys + kMmaPad];

  const int d = heads * hd;
  const int h = blockIdx.y, b = blockIdx.z;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const H* base = qkv + std::int64_t(b) * n * 3 * d + std::int64_t(h) * hd;
  const int row0 = blockIdx.x * kMmaRows + warp * 16;

  // Q fragments for this warp's 16 rows (zero beyond n rows / hd dims).
  std::uint32_t qf[KS][4];
  auto q_pair = [&](int row, int dim) -> std::uint32_t {
    if (row >= n || dim >= hd) return 0u;
    return *reinterpret_cast<const std::uint32_t*>(base + std::int64_t(row) * 3 * d + dim);
  };
#pragma unroll
  for (int k = 0; k < KS; ++k) {
    qf[k][0] = q_pair(row0 + g, k * 16 + 2 * t);
    qf[k][1] = q_pair(row0 + g + 8, k * 16 + 2 * t);
    qf[k][2] = q_pair(row0 + g, k * 16 + 2 * t + 8);
    qf[k][3] = q_pair(row0 + g + 8, k * 16 + 2 * t + 8);
  }

  float o[DN][4];
#pragma unroll
  for (int i = 0; i < DN; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.0f;
  float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.0f, l1 = 0.0f;

  for (int k0 = 0; k0 < n; k0 += kMmaKeys) {
    __syncthreads();
    // K and V tiles: 16-byte vectors of 8 head dims.
    for (int i = threadIdx.x; i < kMmaKeys * (HDP / 8); i += blockDim.x) {
      const int j = i / (HDP / 8), dv = (i % (HDP / 8)) * 8;
      uint4 kv = make_uint4(0, 0, 0, 0), vv = make_uint4(0, 0, 0, 0);
      if (k0 + j < n && dv < hd) {
        const H* row = base + std::int64_t(k0 + j) * 3 * d + dv;
        kv = *reinterpret_cast<const uint4*>(row + d);
        vv = *reinterpret_cast<const uint4*>(row + 2 * d);
      }
      *reinterpret_cast<uint4*>(&ks[j][dv]) = kv;
      const H* vh = reinterpret_cast<const H*>(&vv);
#pragma unroll
      for (int e = 0; e < 8; ++e) vt[dv + e][j] = vh[e];
    }
    __syncthreads();

    float s[NT][4];
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
      s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
#pragma unroll
      for (int k = 0; k < KS; ++k) {
        const std::uint32_t b0 = *reinterpret_cast<const std::uint32_t*>(&ks[nt * 8 + g][k * 16 + 2 * t]);
        const std::uint32_t b1 = *reinterpret_cast<const std::uint32_t*>(&ks[nt * 8 + g][k * 16 + 2 * t + 8]);
        mma_m16n8k16<H>(s[nt], qf[k], b0, b1);
      }
    }
    // Scale into the log2 domain, mask keys past n, row maxima (rows g and g+8).
    float mx0 = -INFINITY, mx1 = -INFINITY;
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int key = k0 + nt * 8 + 2 * t + (e & 1);
        s[nt][e] = key < n ? s[nt][e] * scale_log2 : -INFINITY;
      }
      mx0 = fmaxf(mx0, fmaxf(s[nt][0], s[nt][1]));
      mx1 = fmaxf(mx1, fmaxf(s[nt][2], s[nt][3]));
    }
#pragma unroll
    for (int off = 1; off < 4; off *= 2) {
      mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, off));
      mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, off));
    }
    const float mn0 = fmaxf(m0, mx0), mn1 = fmaxf(m1, mx1);
    const float a0 = exp2f(m0 - mn0), a1 = exp2f(m1 - mn1);
    m0 = mn0;
    m1 = mn1;
    l0 *= a0;
    l1 *= a1;
#pragma unroll
    for (int i = 0; i < DN; ++i) {
      o[i][0] *= a0;
      o[i][1] *= a0;
      o[i][2] *= a1;
      o[i][3] *= a1;
    }
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
      s[nt][0] = exp2f(s[nt][0] - mn0);
      s[nt][1] = exp2f(s[nt][1] - mn0);
      s[nt][2] = exp2f(s[nt][2] - mn1);
      s[nt][3] = exp2f(s[nt][3] - mn1);
      l0 += s[nt][0] + s[nt][1];
      l1 += s[nt][2] + s[nt][3];
    }
    // O += P V: P (16 x 64 keys) from the score registers, V^T from shared memory.
#pragma unroll
    for (int kk = 0; kk < kMmaKeys / 16; ++kk) {
      const std::uint32_t pa[4] = {pack_half2<H>(s[2 * kk][0], s[2 * kk][1]), pack_half2<H>(s[2 * kk][2], s[2 * kk][3]),
                                   pack_half2<H>(s[2 * kk + 1][0], s[2 * kk + 1][1]), pack_half2<H>(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
      for (int dn = 0; dn < DN; ++dn) {
        const std::uint32_t b0 = *reinterpret_cast<const std::uint32_t*>(&vt[dn * 8 + g][kk * 16 + 2 * t]);
        const std::uint32_t b1 = *reinterpret_cast<const std::uint32_t*>(&vt[dn * 8 + g][kk * 16 + 2 * t + 8]);
        mma_m16n8k16<H>(o[dn], pa, b0, b1);
      }
    }
  }
  // Row sums live spread over the quad of lanes that share a row.
#pragma unroll
  for (int off = 1; off < 4; off *= 2) {
    l0 += __shfl_xor_sync(0xffffffffu, l0, off);
    l1 += __shfl_xor_sync(0xffffffffu, l1, off);
  }
  const float inv0 = 1.0f / l0, inv1 = 1.0f / l1;
  const int r0 = row0 + g, r1 = row0 + g + 8;
#pragma unroll
  for (int dn = 0; dn < DN; ++dn) {
    const int dim = dn * 8 + 2 * t;
    if (dim >= hd) continue;
    if (r0 < n)
      *reinterpret_cast<std::uint32_t*>(out + (std::int64_t(b) * n + r0) * d + std::int64_t(h) * hd + dim) = pack_half2<H>(o[dn][0] * inv0, o[dn][1] * inv0);
    if (r1 < n)
      *reinterpret_cast<std::uint32_t*>(out + (std::int64_t(b) * n + r1) * d + std::int64_t(h) * hd + dim) = pack_half2<H>(o[dn][2] * inv1, o[dn][3] * inv1);
  }
}

constexpr int kMaxHeadDimMma = 128;

// True when the tensor-core kernel serves head dim hd.
inline bool attention_mma_supports(int hd) { return hd % 8 == 0 && hd >= 8 && hd <= kMaxHeadDimMma; }

template <class H>
void attention_mma_v1(const H* qkv, H* out, int batch, int n, int heads, int hd, float scale, cudaStream_t s) {
  if (batch == 0 || n == 0) return;
  const dim3 grid(unsigned((n + kMmaRows - 1) / kMmaRows), unsigned(heads), unsigned(batch));
  const float scale_log2 = float(1.4426950408889634 * double(scale));
  if (hd <= 16) attention_mma_kernel<H, 16><<<grid, 128, 0, s>>>(qkv, out, n, heads, hd, scale_log2);
  else if (hd <= 32) attention_mma_kernel<H, 32><<<grid, 128, 0, s>>>(qkv, out, n, heads, hd, scale_log2);
  else if (hd <= 64) attention_mma_kernel<H, 64><<<grid, 128, 0, s>>>(qkv, out, n, heads, hd, scale_log2);
  else if (hd <= 80) attention_mma_kernel<H, 80><<<grid, 128, 0, s>>>(qkv, out, n, heads, hd, scale_log2);
  else if (hd <= 96) attention_mma_kernel<H, 96><<<grid, 128, 0, s>>>(qkv, out, n, heads, hd, scale_log2);
  else attention_mma_kernel<H, 128><<<grid, 128, 0, s>>>(qkv, out, n, heads, hd, scale_log2);
  check_launch("attention_mma kernel");
}

// bf16/fp16 attention for head dims with attention_mma_supports(hd), on the selected kernel.
template <class H>
void attention_mma(const H* qkv, H* out, int batch, int n, int heads, int hd, float scale, cudaStream_t s) {
  if (attention_kernel() == AttentionKernel::v1) attention_mma_v1(qkv, out, batch, n, heads, hd, scale, s);
  else attention_flash(qkv, out, batch, n, heads, hd, scale, s);
}

}  // namespace vit::cuda::detail
