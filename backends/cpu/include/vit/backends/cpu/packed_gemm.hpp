// The cpu backend's own fp32 GEMM for linear layers on AVX2 + FMA CPUs without AVX-512, where
// Debian's oneDNN 2.6 has only its older gemm:jit kernels (measured on a 2-core Zen 3: they run a
// ViT's ~200-row GEMMs on two threads hardly faster than on one):
//
//   PackedLinear(W [N, K], b [N] or null)      W packed once (below)
//   run(x [M, K], y [M, N], M, act, accumulate, threads)
//                                               y = (accumulate ? y : 0) + act(x Wᵀ + b)
//
// The classic blocked GEMM: W is packed once into column panels of kCols, cut into blocks of
// kDepth along K (a kDepth x kCols panel, 16 KiB, stays in L1 while it is used); each call packs x
// into row panels of kRows the same way (a block of up to kMaxBlockRows rows stays in L2), and a
// kRows x kCols register tile (12 AVX2 accumulators) runs down each block. The bias, the activation
// and the residual sum are applied to the tile in registers after the last K block. The work is
// cut into (row block, panel range) pieces, independent of each other, as many as the threads.
//
// Only an AVX2 + FMA build exists (compiled with target attributes, whatever the program's
// -march; kernel_build.hpp); available() says whether this CPU can run it.
#pragma once
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <numeric>

#include "vit/backend.hpp"
#include "vit/error.hpp"
#include "vit/backends/cpu/buffer.hpp"
#include "vit/backends/cpu/flash_attention.hpp"

namespace vit::cpu::gemm {

inline constexpr int kRows = 6;                      // rows of a register tile (and of a packed x panel)
inline constexpr int kCols = 16;                     // columns of a register tile (and of a packed W panel)
inline constexpr std::int64_t kDepth = 256;          // K block
inline constexpr std::int64_t kMaxBlockRows = 192;   // rows of x one piece of work packs for L2 (192 x 256 floats: 192 KiB)

// Where x, W and y of one call live, and how the work is cut (see run()).
struct Problem {
  const float* a;          // x packed: per K block, per row panel, [kl][kRows]
  const float* w;          // W packed: per K block, per column panel, [kl][kCols]
  const float* bias;       // [panels·kCols], zero padded
  float* y;                // [m, n]
  float* partial;          // [m, n]: the sums of the K blocks before the last (y unless accumulating)
  std::int64_t m, n, k, row_panels, col_panels;
  Activation act;
  bool accumulate;         // y += act(x Wᵀ + b)
};

}  // namespace vit::cpu::gemm

#if VIT_CPU_HAVE_AVX2_BUILD
VIT_CPU_BEGIN_AVX2
namespace vit::cpu::gemm::avx2 {

// e^x for x <= 0 (the attention's exp2 polynomial, relative error < 1e-7).
inline __m256 exp_nonpositive(__m256 x) { return kernel::avx2::exp2_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.4426950408889634f))); }

// erf by Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7), odd-extended.
inline __m256 erf(__m256 x) {
  const __m256 sign = _mm256_and_ps(x, _mm256_set1_ps(-0.0f)), ax = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(_mm256_set1_ps(0.3275911f), ax, one));
  __m256 p = _mm256_set1_ps(1.061405429f);
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.453152027f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.421413741f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.284496736f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.254829592f));
  const __m256 e = exp_nonpositive(_mm256_mul_ps(_mm256_mul_ps(ax, ax), _mm256_set1_ps(-1.0f)));
  return _mm256_or_ps(_mm256_fnmadd_ps(_mm256_mul_ps(p, t), e, one), sign);
}

// The activations of vit::Activation, 8 lanes (the reference backend's formulas).
inline __m256 activate(__m256 x, Activation act) {
  const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f), sign_bit = _mm256_set1_ps(-0.0f);
  switch (act) {
    case Activation::gelu:  // x/2 · (1 + erf(x/√2))
      return _mm256_mul_ps(_mm256_mul_ps(half, x), _mm256_add_ps(one, erf(_mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f)))));
    case Activation::gelu_tanh: {  // x/2 · (1 + tanh(√(2/π)(x + 0.044715 x³))); tanh(u) = sign(u)(1 - e)/(1 + e), e = e^(-2|u|)
      const __m256 x3 = _mm256_mul_ps(_mm256_mul_ps(x, x), x);
      const __m256 u = _mm256_mul_ps(_mm256_set1_ps(0.7978845608028654f), _mm256_fmadd_ps(_mm256_set1_ps(0.044715f), x3, x));
      const __m256 au = _mm256_andnot_ps(sign_bit, u);
      const __m256 e = exp_nonpositive(_mm256_mul_ps(au, _mm256_set1_ps(-2.0f)));
      const __m256 th = _mm256_or_ps(_mm256_div_ps(_mm256_sub_ps(one, e), _mm256_add_ps(one, e)), _mm256_and_ps(u, sign_bit));
      return _mm256_mul_ps(_mm256_mul_ps(half, x), _mm256_add_ps(one, th));
    }
    case Activation::quick_gelu: {  // x · sigmoid(1.702 x); sigmoid(z) = 1/(1 + e) for z >= 0, e/(1 + e) below, e = e^(-|z|)
      const __m256 z = _mm256_mul_ps(_mm256_set1_ps(1.702f), x);
      const __m256 e = exp_nonpositive(_mm256_or_ps(z, sign_bit));
      const __m256 r = _mm256_div_ps(one, _mm256_add_ps(one, e));
      const __m256 s = _mm256_blendv_ps(r, _mm256_mul_ps(e, r), z);  // z's sign bit picks e/(1 + e)
      return _mm256_mul_ps(x, s);
    }
    case Activation::none: break;
  }
  return x;
}

// One kRows x kCols tile (row stride ld at part, out and residual): acc = a·b over kl steps
// (+ part when LoadPartial) (a: [kl][kRows], b: [kl][kCols]); when Last, acc = act(acc + bias), then
// + residual (when given). Stored to out (which may be part). While it runs, the partial sums and
// the residual it adds at the end are fetched into L1, and b_next (the next W panel, or b itself)
// into L2, one cache line per K step: W and y come from memory, and the first tile on a panel
// otherwise waits for each of its 256 lines (measured on a 2-core Zen 3 with the K loop unrolled
// by 4: 10-20% more GFLOP/s on a ViT's linears).
template <bool LoadPartial, bool Last>
inline void tile(const float* a, const float* b, std::int64_t kl, const float* part, float* out, const float* residual, std::int64_t ld,
                 const float* bias, Activation act, const float* b_next) {
  VIT_CPU_UNROLL for (int r = 0; r < kRows; ++r) {
    if (LoadPartial) _mm_prefetch(reinterpret_cast<const char*>(part + r * ld), _MM_HINT_T0);
    if (Last && residual) _mm_prefetch(reinterpret_cast<const char*>(residual + r * ld), _MM_HINT_T0);
  }
  __m256 acc[kRows][2];
  VIT_CPU_UNROLL for (int r = 0; r < kRows; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
#pragma GCC unroll 4  // four K steps per loop iteration (fewer pointer and loop instructions per FMA)
  for (std::int64_t kk = 0; kk < kl; ++kk, a += kRows, b += kCols, b_next += kCols) {
    _mm_prefetch(reinterpret_cast<const char*>(b_next), _MM_HINT_T1);
    const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
    VIT_CPU_UNROLL for (int r = 0; r < kRows; ++r) {
      const __m256 av = _mm256_broadcast_ss(a + r);
      acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);
    }
  }
  if (LoadPartial)  // each K block summed on its own, then added: rounding grows with kDepth + K/kDepth, not K
    VIT_CPU_UNROLL for (int r = 0; r < kRows; ++r) {
      acc[r][0] = _mm256_add_ps(_mm256_loadu_ps(part + r * ld), acc[r][0]);
      acc[r][1] = _mm256_add_ps(_mm256_loadu_ps(part + r * ld + 8), acc[r][1]);
    }
  if (Last) {
    const __m256 bias0 = _mm256_loadu_ps(bias), bias1 = _mm256_loadu_ps(bias + 8);
    VIT_CPU_UNROLL for (int r = 0; r < kRows; ++r) {
      acc[r][0] = _mm256_add_ps(acc[r][0], bias0);
      acc[r][1] = _mm256_add_ps(acc[r][1], bias1);
    }
    if (act != Activation::none)
      VIT_CPU_UNROLL for (int r = 0; r < kRows; ++r) {
        acc[r][0] = activate(acc[r][0], act);
        acc[r][1] = activate(acc[r][1], act);
      }
    if (residual)  // the residual sum last, as y + (x Wᵀ + b): a large residual never swallows the products' low bits
      VIT_CPU_UNROLL for (int r = 0; r < kRows; ++r) {
        acc[r][0] = _mm256_add_ps(_mm256_loadu_ps(residual + r * ld), acc[r][0]);
        acc[r][1] = _mm256_add_ps(_mm256_loadu_ps(residual + r * ld + 8), acc[r][1]);
      }
  }
  VIT_CPU_UNROLL for (int r = 0; r < kRows; ++r) {
    _mm256_storeu_ps(out + r * ld, acc[r][0]);
    _mm256_storeu_ps(out + r * ld + 8, acc[r][1]);
  }
}

// One piece of the work: row panels [p0, p1) x column panels [q0, q1), every K block. The sums of
// all but the last K block go to g.partial (y itself unless accumulating).
inline void piece(const Problem& g, std::int64_t p0, std::int64_t p1, std::int64_t q0, std::int64_t q1) {
  // A tile that sticks out of y (bottom or right edge) runs on these copies: partial sums, the
  // residual, the result.
  alignas(32) float edge_part[kRows * kCols], edge_residual[kRows * kCols], edge_out[kRows * kCols];
  for (std::int64_t k0 = 0; k0 < g.k; k0 += kDepth) {
    const std::int64_t kl = std::min(kDepth, g.k - k0);
    const bool first = k0 == 0, last = k0 + kl == g.k;
    const float* a_block = g.a + k0 * g.row_panels * kRows;
    const float* w_block = g.w + k0 * g.col_panels * kCols;
    for (std::int64_t q = q0; q < q1; ++q) {
      const float* b = w_block + q * kl * kCols;
      const std::int64_t col = q * kCols, cols = std::min<std::int64_t>(kCols, g.n - col);
      for (std::int64_t p = p0; p < p1; ++p) {
        const float* a = a_block + p * kl * kRows;
        const std::int64_t row = p * kRows, rows = std::min<std::int64_t>(kRows, g.m - row);
        const std::int64_t at = row * g.n + col;
        const float* part = g.partial + at;
        float* out = last ? g.y + at : g.partial + at;
        const float* residual = last && g.accumulate ? g.y + at : nullptr;
        std::int64_t ld = g.n;
        const bool whole = rows == kRows && cols == kCols;
        if (!whole) {
          for (std::int64_t r = 0; r < rows; ++r) {
            if (!first) std::copy(part + r * g.n, part + r * g.n + cols, edge_part + r * kCols);
            if (residual) std::copy(residual + r * g.n, residual + r * g.n + cols, edge_residual + r * kCols);
          }
          part = edge_part;
          residual = residual ? edge_residual : nullptr;
          out = edge_out;
          ld = kCols;
        }
        const float* bias = g.bias + col;
        const float* b_next = p == p0 && q + 1 < q1 ? b + kl * kCols : b;
        if (first) last ? tile<false, true>(a, b, kl, part, out, residual, ld, bias, g.act, b_next) : tile<false, false>(a, b, kl, part, out, residual, ld, bias, g.act, b_next);
        else last ? tile<true, true>(a, b, kl, part, out, residual, ld, bias, g.act, b_next) : tile<true, false>(a, b, kl, part, out, residual, ld, bias, g.act, b_next);
        if (!whole) {
          float* dst = (last ? g.y : g.partial) + at;
          for (std::int64_t r = 0; r < rows; ++r) std::copy(edge_out + r * kCols, edge_out + r * kCols + cols, dst + r * g.n);
        }
      }
    }
  }
}

}  // namespace vit::cpu::gemm::avx2
VIT_CPU_END_TARGET
#endif  // VIT_CPU_HAVE_AVX2_BUILD

namespace vit::cpu::gemm {

// True where this CPU (and OS) can run the AVX2 + FMA build.
inline bool available() { return kernel::cpu_has_avx2(); }

class PackedLinear {
 public:
  // W [n, k] row-major and b [n] (or null): packed once (n·k floats, padded to whole panels).
  PackedLinear(const float* w, const float* bias, std::int64_t n, std::int64_t k)
      : n_(n), k_(k), panels_((n + kCols - 1) / kCols), w_(std::size_t(panels_ * kCols * k)), bias_(std::size_t(panels_ * kCols), 0.0f) {
    check(available(), ErrorKind::argument, "cpu packed GEMM: needs a CPU with AVX2 and FMA; this one lacks them");
    for (std::int64_t k0 = 0; k0 < k; k0 += kDepth) {
      const std::int64_t kl = std::min(kDepth, k - k0);
      float* block = w_.data() + k0 * panels_ * kCols;
      for (std::int64_t q = 0; q < panels_; ++q)
        for (std::int64_t kk = 0; kk < kl; ++kk)
          for (std::int64_t j = 0; j < kCols; ++j) {
            const std::int64_t col = q * kCols + j;
            block[(q * kl + kk) * kCols + j] = col < n ? w[col * k + k0 + kk] : 0.0f;
          }
    }
    if (bias) std::copy(bias, bias + n, bias_.begin());
  }

  std::int64_t n() const { return n_; }
  std::int64_t k() const { return k_; }

  // y [m, n] = (accumulate ? y : 0) + act(x [m, k] Wᵀ + b) on `threads` OpenMP threads. Thread-safe:
  // the packed x lives in the calling thread's scratch, so models sharing weights may run at once.
  void run(const float* x, float* y, std::int64_t m, Activation act, bool accumulate, int threads) const {
    if (m == 0) return;
    const std::int64_t row_panels = (m + kRows - 1) / kRows;
    thread_local Buffer packed_x;  // the calling thread's (the parallel region below uses this pointer, not its own)
    packed_x.resize(std::size_t(row_panels * kRows * k_));
    float* const packed = packed_x.data();
    // Accumulating over several K blocks: the partial sums need their own [m, n] (y holds the residual).
    thread_local Buffer partial_sums;
    float* partial = y;
    if (accumulate && k_ > kDepth) {
      partial_sums.resize(std::size_t(m * n_));
      partial = partial_sums.data();
    }
    // Row blocks of at most kMaxBlockRows, as even as possible; column ranges so that the pieces
    // are a multiple of the threads (e.g. 204 rows on 2 threads: 2 blocks of 17 panels x all columns).
    const std::int64_t row_blocks = (m + kMaxBlockRows - 1) / kMaxBlockRows;
    const std::int64_t panels_per_block = (row_panels + row_blocks - 1) / row_blocks;
    const std::int64_t col_ranges = std::min<std::int64_t>(panels_, threads / std::gcd(row_blocks, std::int64_t(threads)));
    const std::int64_t pieces = row_blocks * col_ranges;
    const Problem g{packed, w_.data(), bias_.data(), y, partial, m, n_, k_, row_panels, panels_, act, accumulate};
    // When no two pieces share rows, each packs its own rows of x: no barrier between packing and
    // computing (a barrier is a sleep and a wake-up per thread with OMP_WAIT_POLICY=PASSIVE).
    const bool own_rows = col_ranges == 1;
#pragma omp parallel num_threads(threads)
    {
      if (!own_rows) {
#pragma omp for schedule(static)
        for (std::int64_t p = 0; p < row_panels; ++p) pack_rows(x, m, p, row_panels, packed);
      }
#pragma omp for schedule(static)
      for (std::int64_t i = 0; i < pieces; ++i) {
        const std::int64_t rb = i / col_ranges, cr = i % col_ranges;
        const std::int64_t p0 = rb * panels_per_block, p1 = std::min(row_panels, p0 + panels_per_block);
        const std::int64_t q0 = panels_ * cr / col_ranges, q1 = panels_ * (cr + 1) / col_ranges;
        if (own_rows)
          for (std::int64_t p = p0; p < p1; ++p) pack_rows(x, m, p, row_panels, packed);
#if VIT_CPU_HAVE_AVX2_BUILD
        avx2::piece(g, p0, p1, q0, q1);
#endif
      }
    }
  }

 private:
  // Row panel p of x [m, k] into its K blocks of the packed layout (rows past m are zeros).
  void pack_rows(const float* x, std::int64_t m, std::int64_t p, std::int64_t row_panels, float* packed) const {
    for (std::int64_t k0 = 0; k0 < k_; k0 += kDepth) {
      const std::int64_t kl = std::min(kDepth, k_ - k0);
      float* dst = packed + k0 * row_panels * kRows + p * kl * kRows;
      for (int r = 0; r < kRows; ++r) {
        const std::int64_t row = p * kRows + r;
        if (row < m) {
          const float* src = x + row * k_ + k0;
          for (std::int64_t kk = 0; kk < kl; ++kk) dst[kk * kRows + r] = src[kk];
        } else {
          for (std::int64_t kk = 0; kk < kl; ++kk) dst[kk * kRows + r] = 0.0f;
        }
      }
    }
  }

  std::int64_t n_, k_, panels_;
  Buffer w_;     // per K block, per column panel: [kl][kCols]
  Buffer bias_;  // [panels·kCols], zero padded
};

}  // namespace vit::cpu::gemm
