// FlashAttention-2 style fused attention for bf16/fp16 on sm_80+ (mma.sync m16n8k16, fp32
// accumulate): the "v2" tensor-core kernel. Same contract as attention_mma_kernel (attention.cuh):
//
//   qkv [B, N, 3D] (rows hold q | k | v, each head-major), 16-bit  ->  out [B, N, D], 16-bit
//   out[b, i, h] = softmax_j(scale · q_i · k_j) v_j       per head h, hd = D / heads (scale > 0: ViTs use 1/sqrt(hd)),
//   hd a multiple of 8 up to 128, any N >= 1.
//
// Block: 8 warps, 128 query rows (16 per warp = one mma row tile), grid (ceil(N/128), heads, B).
// The Q tile is loaded once (cp.async) and kept in registers as A fragments; K and V tiles of 64
// keys stream through shared memory with 16-byte cp.async, double-buffered (tile j+1 loads while
// tile j is computed). S = Q K^T and O += P V run on mma.sync; the online softmax works on the fp32
// S fragments in registers, and P becomes the A operand of P V without leaving registers.
// Head dims are zero-padded to HDP (a multiple of 16: 32, 64, 80, 96 or 128) by cp.async zero-fill,
// so hd = 72 runs as 80 with zero columns (they add 0 to every score; their outputs are not written).
// Keys past N are zero-filled (so V rows past N are 0, never garbage) and their scores masked to
// -inf; query rows past N are computed from zeros and not written; a warp whose 16 rows all lie
// past N skips the arithmetic (it still loads its share of the tiles and meets every barrier).
//
// Fragment layouts relied on (PTX ISA, "Matrix Fragments for mma.m16n8k16" and ldmatrix), with
// lane = 4 g + t (g = lane / 4 in 0..7, t = lane % 4), each register holding two 16-bit values,
// the lower column / k index in the low half:
//   A 16x16 (row-major):  a0 = A[g][2t..2t+1]     a1 = A[g+8][2t..2t+1]
//                         a2 = A[g][2t+8..2t+9]   a3 = A[g+8][2t+8..2t+9]
//   B 16x8  ("col"):      b0 = B[2t..2t+1][g]     b1 = B[2t+8..2t+9][g]
//   C 16x8  (fp32):       c0,c1 = C[g][2t], C[g][2t+1]     c2,c3 = C[g+8][2t], C[g+8][2t+1]
//   ldmatrix.x4: lanes 8i..8i+7 give the 16-byte row addresses of 8x8 matrix i (rows 0..7);
//                register ri of lane receives M_i[g][2t..2t+1]; with .trans it receives
//                M_i[2t][g], M_i[2t+1][g] (the transpose of the matrix as addressed).
// Hence:
//   Q (A of S = Q K^T), smem row-major [row][dim]: lane addresses row (lane % 16), dim 8 (lane / 16):
//     M0 = rows 0-7/dims 0-7 = a0, M1 = rows 8-15/dims 0-7 = a1, M2 = rows 0-7/dims 8-15 = a2, M3 = a3.
//   K (B of S, B[k][n] = K[key n][dim k]), smem row-major [key][dim], no transpose: b0 of key tile
//     n0 = M(keys n0..n0+7, dims k0..k0+7), b1 = M(keys n0..n0+7, dims k0+8..). One x4 serves two
//     key tiles: lane addresses key n0 + (lane % 8) + 8 (lane / 16), dim k0 + 8 ((lane / 8) % 2).
//   V (B of O += P V, B[k][n] = V[key k][dim n]), smem row-major [key][dim], .trans: b0 of dim tile
//     n0 = M(keys k0..k0+7, dims n0..n0+7)^T, b1 = M(keys k0+8.., dims n0..)^T. One x4.trans serves
//     two dim tiles: lane addresses key k0 + (lane % 8) + 8 ((lane / 8) % 2), dim n0 + 8 (lane / 16).
//   P (A of P V) from the S accumulators of key tiles 2kk and 2kk+1 (keys 16kk..16kk+15):
//     a0 = S[2kk].c0c1, a1 = S[2kk].c2c3, a2 = S[2kk+1].c0c1, a3 = S[2kk+1].c2c3 (the C layout of
//     two adjacent n-tiles is the A layout of one k16 step).
// Shared-memory rows are HDP + 8 halves, a pitch that is an odd multiple of 16 bytes modulo 128 for
// every HDP used, so the 8 rows one ldmatrix phase reads hit 8 distinct 16-byte bank groups.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "vit/backends/cuda/check.cuh"

namespace vit::cuda::detail {

constexpr int kFlashWarps = 8, kFlashRows = 16 * kFlashWarps, kFlashKeys = 64, kFlashThreads = 32 * kFlashWarps;

// Row pitch (halves) and dynamic shared memory (bytes) of the v2 kernel for padded head dim HDP:
// Q [128][HDP+8], K [2][64][HDP+8], V [2][64][HDP+8].
__host__ __device__ constexpr int flash_pitch(int hdp) { return hdp + 8; }
constexpr std::size_t flash_smem_bytes(int hdp) {
  return std::size_t(2) * std::size_t(kFlashRows + 4 * kFlashKeys) * std::size_t(flash_pitch(hdp));
}

__device__ __forceinline__ std::uint32_t smem_addr(const void* p) { return static_cast<std::uint32_t>(__cvta_generic_to_shared(p)); }

// 16-byte global -> shared copy; when !valid nothing is read and the 16 bytes are zero-filled.
__device__ __forceinline__ void cp_async_16(std::uint32_t dst, const void* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void ldmatrix_x4(std::uint32_t (&r)[4], std::uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
__device__ __forceinline__ void ldmatrix_x4_trans(std::uint32_t (&r)[4], std::uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

// 2^x (MUFU.EX2); exp2(-inf) = 0.
__device__ __forceinline__ float fast_exp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

template <class H>
__device__ __forceinline__ std::uint32_t pack_half2(float lo, float hi) {
  if constexpr (std::is_same_v<H, __nv_bfloat16>) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<std::uint32_t*>(&v);
  } else {
    __half2 v = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<std::uint32_t*>(&v);
  }
}

// c[16x8] += a[16x16] b[16x8] on the tensor cores, fp32 accumulate.
template <class H>
__device__ __forceinline__ void mma_m16n8k16(float (&c)[4], const std::uint32_t (&a)[4], std::uint32_t b0, std::uint32_t b1) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  if constexpr (std::is_same_v<H, __nv_bfloat16>) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
#else
  __trap();
#endif
}

// Issues the cp.async copies of `rows` rows (from row `first`) of one q/k/v part into a shared tile
// of pitch flash_pitch(HDP): chunk c of a row holds dims 8c..8c+7; chunks past hd and rows past n
// are zero-filled. src points at row 0 of this (batch, head, part); rows are `stride` apart.
template <class H, int HDP, int ROWS>
__device__ __forceinline__ void flash_load_tile(std::uint32_t dst, const H* src, int first, int n, int hd, std::int64_t stride) {
  constexpr int kChunks = HDP / 8, kTotal = ROWS * kChunks, kSteps = (kTotal + kFlashThreads - 1) / kFlashThreads;
#pragma unroll
  for (int step = 0; step < kSteps; ++step) {
    const int i = step * kFlashThreads + int(threadIdx.x);
    if (kTotal % kFlashThreads != 0 && i >= kTotal) break;
    const int r = i / kChunks, c = i % kChunks;
    const bool ok = first + r < n && c * 8 < hd;
    const H* p = ok ? src + std::int64_t(first + r) * stride + c * 8 : src;
    cp_async_16(dst + std::uint32_t((r * flash_pitch(HDP) + c * 8) * 2), p, ok);
  }
}

template <class H, int HDP>
__global__ void __launch_bounds__(kFlashThreads, HDP <= 96 ? 2 : 1)
    flash_attention_kernel(const H* __restrict__ qkv, H* __restrict__ out, int n, int heads, int hd, float scale_log2) {
  constexpr int KS = HDP / 16;                    // k16 steps over the head dim (S = Q K^T)
  constexpr int DN = HDP / 8;                     // n8 tiles over the head dim (O)
  constexpr int NT = kFlashKeys / 8;              // n8 tiles over the keys of a tile (S)
  constexpr int P = flash_pitch(HDP);             // row pitch, halves
  constexpr std::uint32_t kTileBytes = std::uint32_t(kFlashKeys * P * 2);
  extern __shared__ __align__(16) unsigned char flash_smem[];
  const std::uint32_t q_s = smem_addr(flash_smem);
  const std::uint32_t k_s = q_s + std::uint32_t(kFlashRows * P * 2);  // two K tiles
  const std::uint32_t v_s = k_s + 2 * kTileBytes;                     // two V tiles

  const int d = heads * hd;
  const std::int64_t stride = 3 * std::int64_t(d);
  const int h = int(blockIdx.y), b = int(blockIdx.z), q0 = int(blockIdx.x) * kFlashRows;
  const int warp = int(threadIdx.x) / 32, lane = int(threadIdx.x) % 32, g = lane / 4, t = lane % 4;
  const H* base = qkv + std::int64_t(b) * n * stride + std::int64_t(h) * hd;
  const int row0 = q0 + warp * 16;
  const bool active = row0 < n;  // warp-uniform
  const int tiles = (n + kFlashKeys - 1) / kFlashKeys;

  flash_load_tile<H, HDP, kFlashRows>(q_s, base, q0, n, hd, stride);
  flash_load_tile<H, HDP, kFlashKeys>(k_s, base + d, 0, n, hd, stride);
  flash_load_tile<H, HDP, kFlashKeys>(v_s, base + 2 * d, 0, n, hd, stride);
  cp_async_commit();

  // Per-lane ldmatrix offsets (bytes) inside a tile, see the layout notes above.
  const std::uint32_t q_off = std::uint32_t(((warp * 16 + lane % 16) * P + 8 * (lane / 16)) * 2);
  const std::uint32_t k_off = std::uint32_t(((lane % 8 + 8 * (lane / 16)) * P + 8 * ((lane / 8) % 2)) * 2);
  const std::uint32_t v_off = std::uint32_t(((lane % 8 + 8 * ((lane / 8) % 2)) * P + 8 * (lane / 16)) * 2);

  std::uint32_t qf[KS][4] = {};
  float o[DN][4];
#pragma unroll
  for (int i = 0; i < DN; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.0f;
  float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.0f, l1 = 0.0f;  // rows g and g+8: max (raw score), partial sum

  for (int j = 0; j < tiles; ++j) {
    if (j + 1 < tiles) {
      const std::uint32_t buf = std::uint32_t((j + 1) & 1) * kTileBytes;
      flash_load_tile<H, HDP, kFlashKeys>(k_s + buf, base + d, (j + 1) * kFlashKeys, n, hd, stride);
      flash_load_tile<H, HDP, kFlashKeys>(v_s + buf, base + 2 * d, (j + 1) * kFlashKeys, n, hd, stride);
      cp_async_commit();
      cp_async_wait<1>();  // every group but the newest (tile j+1) has landed
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    if (active) {
      if (j == 0) {
#pragma unroll
        for (int k = 0; k < KS; ++k) ldmatrix_x4(qf[k], q_s + q_off + std::uint32_t(k * 32));
      }
      const std::uint32_t kb = k_s + std::uint32_t(j & 1) * kTileBytes + k_off;
      const std::uint32_t vb = v_s + std::uint32_t(j & 1) * kTileBytes + v_off;

      // S = Q K^T for 16 rows x 64 keys.
      float s[NT][4];
#pragma unroll
      for (int nt = 0; nt < NT; ++nt) s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
#pragma unroll
      for (int k = 0; k < KS; ++k) {
#pragma unroll
        for (int np = 0; np < NT / 2; ++np) {
          std::uint32_t kf[4];
          ldmatrix_x4(kf, kb + std::uint32_t((np * 16 * P + k * 16) * 2));
          mma_m16n8k16<H>(s[2 * np], qf[k], kf[0], kf[1]);
          mma_m16n8k16<H>(s[2 * np + 1], qf[k], kf[2], kf[3]);
        }
      }
      // Keys past n (only in the last tile) score -inf.
      if ((j + 1) * kFlashKeys > n) {
#pragma unroll
        for (int nt = 0; nt < NT; ++nt) {
          const int key = j * kFlashKeys + nt * 8 + 2 * t;
          if (key >= n) s[nt][0] = s[nt][2] = -INFINITY;
          if (key + 1 >= n) s[nt][1] = s[nt][3] = -INFINITY;
        }
      }
      // Online softmax: row maxima over the quad of lanes sharing a row, rescale O and the sums.
      float mx0 = m0, mx1 = m1;
#pragma unroll
      for (int nt = 0; nt < NT; ++nt) {
        mx0 = fmaxf(mx0, fmaxf(s[nt][0], s[nt][1]));
        mx1 = fmaxf(mx1, fmaxf(s[nt][2], s[nt][3]));
      }
      mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
      mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
      mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
      mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
      const float a0 = fast_exp2((m0 - mx0) * scale_log2), a1 = fast_exp2((m1 - mx1) * scale_log2);  // 0 on the first tile
      m0 = mx0;
      m1 = mx1;
      const float ms0 = mx0 * scale_log2, ms1 = mx1 * scale_log2;
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
        s[nt][0] = fast_exp2(fmaf(s[nt][0], scale_log2, -ms0));
        s[nt][1] = fast_exp2(fmaf(s[nt][1], scale_log2, -ms0));
        s[nt][2] = fast_exp2(fmaf(s[nt][2], scale_log2, -ms1));
        s[nt][3] = fast_exp2(fmaf(s[nt][3], scale_log2, -ms1));
        l0 += s[nt][0] + s[nt][1];
        l1 += s[nt][2] + s[nt][3];
      }
      // O += P V, P straight from the S registers.
#pragma unroll
      for (int kk = 0; kk < kFlashKeys / 16; ++kk) {
        const std::uint32_t pa[4] = {pack_half2<H>(s[2 * kk][0], s[2 * kk][1]), pack_half2<H>(s[2 * kk][2], s[2 * kk][3]),
                                     pack_half2<H>(s[2 * kk + 1][0], s[2 * kk + 1][1]), pack_half2<H>(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
        for (int dp = 0; dp < DN / 2; ++dp) {
          std::uint32_t vf[4];
          ldmatrix_x4_trans(vf, vb + std::uint32_t((kk * 16 * P + dp * 16) * 2));
          mma_m16n8k16<H>(o[2 * dp], pa, vf[0], vf[1]);
          mma_m16n8k16<H>(o[2 * dp + 1], pa, vf[2], vf[3]);
        }
      }
    }
    __syncthreads();  // tile j's buffers are refilled by the next iteration
  }
  if (!active) return;
  l0 += __shfl_xor_sync(0xffffffffu, l0, 1);
  l1 += __shfl_xor_sync(0xffffffffu, l1, 1);
  l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
  l1 += __shfl_xor_sync(0xffffffffu, l1, 2);
  const float inv0 = 1.0f / l0, inv1 = 1.0f / l1;
  const int r0 = row0 + g, r1 = row0 + g + 8;
  H* dst0 = out + (std::int64_t(b) * n + r0) * d + std::int64_t(h) * hd;
  H* dst1 = out + (std::int64_t(b) * n + r1) * d + std::int64_t(h) * hd;
#pragma unroll
  for (int dn = 0; dn < DN; ++dn) {
    const int dim = dn * 8 + 2 * t;
    if (dim >= hd) continue;
    if (r0 < n) *reinterpret_cast<std::uint32_t*>(dst0 + dim) = pack_half2<H>(o[dn][0] * inv0, o[dn][1] * inv0);
    if (r1 < n) *reinterpret_cast<std::uint32_t*>(dst1 + dim) = pack_half2<H>(o[dn][2] * inv1, o[dn][3] * inv1);
  }
}

template <class H, int HDP>
void set_flash_attention_smem() {
  check_cuda(cudaFuncSetAttribute(flash_attention_kernel<H, HDP>, cudaFuncAttributeMaxDynamicSharedMemorySize, int(flash_smem_bytes(HDP))),
             "cudaFuncSetAttribute(flash_attention_kernel)");
  check_cuda(cudaFuncSetAttribute(flash_attention_kernel<H, HDP>, cudaFuncAttributePreferredSharedMemoryCarveout, int(cudaSharedmemCarveoutMaxShared)),
             "cudaFuncSetAttribute(flash_attention_kernel carveout)");
}

// Raises the dynamic shared-memory limit of every v2 instantiation (once per backend start).
inline void prepare_flash_attention_kernels() {
  set_flash_attention_smem<__nv_bfloat16, 32>();
  set_flash_attention_smem<__nv_bfloat16, 64>();
  set_flash_attention_smem<__nv_bfloat16, 80>();
  set_flash_attention_smem<__nv_bfloat16, 96>();
  set_flash_attention_smem<__nv_bfloat16, 128>();
  set_flash_attention_smem<__half, 32>();
  set_flash_attention_smem<__half, 64>();
  set_flash_attention_smem<__half, 80>();
  set_flash_attention_smem<__half, 96>();
  set_flash_attention_smem<__half, 128>();
}

template <class H, int HDP>
void launch_flash_attention(const H* qkv, H* out, int batch, int n, int heads, int hd, float scale_log2, cudaStream_t s) {
  const dim3 grid(unsigned((n + kFlashRows - 1) / kFlashRows), unsigned(heads), unsigned(batch));
  flash_attention_kernel<H, HDP><<<grid, kFlashThreads, flash_smem_bytes(HDP), s>>>(qkv, out, n, heads, hd, scale_log2);
}

// The v2 launcher: head dims that are multiples of 8 up to 128 (attention_mma_supports).
template <class H>
void attention_flash(const H* qkv, H* out, int batch, int n, int heads, int hd, float scale, cudaStream_t s) {
  if (batch == 0 || n == 0) return;
  const float scale_log2 = float(1.4426950408889634 * double(scale));
  if (hd <= 32) launch_flash_attention<H, 32>(qkv, out, batch, n, heads, hd, scale_log2, s);
  else if (hd <= 64) launch_flash_attention<H, 64>(qkv, out, batch, n, heads, hd, scale_log2, s);
  else if (hd <= 80) launch_flash_attention<H, 80>(qkv, out, batch, n, heads, hd, scale_log2, s);
  else if (hd <= 96) launch_flash_attention<H, 96>(qkv, out, batch, n, heads, hd, scale_log2, s);
  else launch_flash_attention<H, 128>(qkv, out, batch, n, heads, hd, scale_log2, s);
  check_launch("flash_attention kernel (v2)");
}

}  // namespace vit::cuda::detail
