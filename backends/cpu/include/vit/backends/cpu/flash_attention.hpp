// Fused multi-head attention that never builds the [heads, N, N] score matrix ("flash"
// attention): for each (batch, head, block of up to 64 queries) it walks the keys in blocks of
// kKeyBlock, keeping a running max and sum per query (online softmax) and an fp32 output
// accumulator. The work is done transposed, queries along the vector lanes:
//   S^T[key, q]  = K · (scale·log2(e) · Q)^T        (tile_product, A = K rows of qkv)
//   P^T          = exp2(S^T - m_new[q]),  l = l·exp2(m - m_new) + Σ_key P^T
//   O^T[c, q]    = O^T · exp2(m - m_new) + V^T · P^T (tile_product, A = V read column-wise)
// so every softmax statistic is a vector over queries. Memory per thread: four tiles (64 KiB at
// head width 64), whatever N is.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "vit/backends/cpu/buffer.hpp"
#include "vit/backends/cpu/micro_kernel.hpp"

namespace vit::cpu::kernel {

inline constexpr int kKeyBlock = 64;
inline constexpr float kMinLog2 = -100.0f;  // exp2 below this is taken as 2^-100 (~1e-30): avoids denormals

#if defined(__AVX512F__)
// All lanes. The maskz_ forms of max/roundscale/scalef avoid GCC 12's false -Wmaybe-uninitialized
// on the plain intrinsics (which pass _mm512_undefined_ps() as the merge source).
inline constexpr __mmask16 kAll = 0xFFFF;

// 2^x for x <= 0 (clamped at kMinLog2): x = n + f, f in [-1/2, 1/2], 2^f by its degree-7 Taylor
// series (relative error < 1e-8), then scaled by 2^n.
inline __m512 exp2_ps(__m512 x) {
  x = _mm512_maskz_max_ps(kAll, x, _mm512_set1_ps(kMinLog2));
  const __m512 n = _mm512_maskz_roundscale_ps(kAll, x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 f = _mm512_sub_ps(x, n);
  __m512 p = _mm512_set1_ps(1.525273380405984e-05f);
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.5403530393381606e-04f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.3333558146428443e-03f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.618129107628477e-03f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.550410866482158e-02f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.402265069591007e-01f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.931471805599453e-01f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
  return _mm512_maskz_scalef_ps(kAll, p, n);
}
#endif

// One key block of the online softmax on s [nk x w] (row-major, w = 16·nv query lanes):
// updates the running max m[w] and sum l[w], writes P = exp2(s - m_new) into s and the factor
// exp2(m_old - m_new) that rescales the output accumulator into alpha[w].
inline void online_softmax_block(float* s, int nk, int w, float* m, float* l, float* alpha) {
#if defined(__AVX512F__)
  for (int q = 0; q < w; q += kLanes) {
    __m512 mx = _mm512_loadu_ps(m + q);
    const __m512 m_old = mx;
    for (int j = 0; j < nk; ++j) mx = _mm512_maskz_max_ps(kAll, mx, _mm512_loadu_ps(s + std::ptrdiff_t(j) * w + q));
    __m512 sum = _mm512_setzero_ps();
    for (int j = 0; j < nk; ++j) {
      float* sj = s + std::ptrdiff_t(j) * w + q;
      const __m512 p = exp2_ps(_mm512_sub_ps(_mm512_loadu_ps(sj), mx));
      _mm512_storeu_ps(sj, p);
      sum = _mm512_add_ps(sum, p);
    }
    const __m512 a = exp2_ps(_mm512_sub_ps(m_old, mx));
    _mm512_storeu_ps(alpha + q, a);
    _mm512_storeu_ps(l + q, _mm512_fmadd_ps(_mm512_loadu_ps(l + q), a, sum));
    _mm512_storeu_ps(m + q, mx);
  }
#else
  for (int q = 0; q < w; ++q) {
    float mx = m[q];
    for (int j = 0; j < nk; ++j) mx = std::max(mx, s[std::ptrdiff_t(j) * w + q]);
    float sum = 0.0f;
    for (int j = 0; j < nk; ++j) {
      float& v = s[std::ptrdiff_t(j) * w + q];
      v = std::exp2(std::max(v - mx, kMinLog2));
      sum += v;
    }
    alpha[q] = std::exp2(std::max(m[q] - mx, kMinLog2));
    l[q] = l[q] * alpha[q] + sum;
    m[q] = mx;
  }
#endif
}

// out[b, i, h·hd + c] = softmax_j(q_i · k_j / sqrt(hd)) v_j[c] for the fused qkv [batch, n, 3d]
// (q | k | v per row, each head-major). Parallel over (batch, head, query block) with OpenMP.
inline void flash_attention(const float* qkv, float* out, std::int64_t batch, std::int64_t n, std::int64_t d, int heads, int threads) {
  const std::int64_t hd = d / heads, ld = 3 * d;
  const float q_scale = float(1.0 / std::sqrt(double(hd)) / std::log(2.0));  // scores in the log2 domain
  // Query blocks: n rounded up to 16-lane vectors, split evenly into blocks of at most 4 vectors.
  const std::int64_t vecs = (n + kLanes - 1) / kLanes;
  const std::int64_t blocks = (vecs + kMaxVecs - 1) / kMaxVecs;
  const std::int64_t tasks = batch * heads * blocks;

#pragma omp parallel num_threads(threads) if (tasks > 1)
  {
    constexpr int wmax = kMaxVecs * kLanes;
    Buffer qt(std::size_t(hd * wmax)), ot(std::size_t(hd * wmax)), s(std::size_t(kKeyBlock * wmax)), vp(std::size_t(kKeyBlock * hd));
    Buffer m(wmax), l(wmax), alpha(wmax);
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t task = 0; task < tasks; ++task) {
      const std::int64_t blk = task % blocks, bh = task / blocks, h = bh % heads, b = bh / heads;
      const std::int64_t v0 = blk * vecs / blocks, v1 = (blk + 1) * vecs / blocks;
      const int nv = int(v1 - v0), w = nv * kLanes;
      const std::int64_t q0 = v0 * kLanes, nq = std::min<std::int64_t>(n - q0, w);
      const float* base = qkv + b * n * ld + h * hd;  // q of token 0; k at +d, v at +2d

      // Q^T [hd x w], pre-scaled; lanes past the last query are zero.
      for (std::int64_t c = 0; c < hd; ++c) {
        float* row = qt.data() + c * w;
        for (std::int64_t i = 0; i < nq; ++i) row[i] = base[(q0 + i) * ld + c] * q_scale;
        for (std::int64_t i = nq; i < w; ++i) row[i] = 0.0f;
      }
      std::fill(ot.begin(), ot.begin() + hd * w, 0.0f);
      std::fill(m.begin(), m.end(), -1e30f);
      std::fill(l.begin(), l.end(), 0.0f);

      for (std::int64_t j0 = 0; j0 < n; j0 += kKeyBlock) {
        const int nk = int(std::min<std::int64_t>(kKeyBlock, n - j0));
        const float* kb = base + j0 * ld + d;
        const float* vb = base + j0 * ld + 2 * d;
        tile_product<false>(nk, nv, kb, ld, 1, qt.data(), w, s.data(), w, int(hd));
        online_softmax_block(s.data(), nk, w, m.data(), l.data(), alpha.data());
        // V block packed densely: its rows in qkv are 3D floats apart, a stride that maps them onto
        // a few L1 sets, and the block is re-read once per 6 output rows.
        for (int j = 0; j < nk; ++j) std::copy(vb + j * ld, vb + j * ld + hd, vp.data() + j * hd);
        tile_product<true>(int(hd), nv, vp.data(), 1, hd, s.data(), w, ot.data(), w, nk, j0 > 0 ? alpha.data() : nullptr);
      }

      for (std::int64_t i = 0; i < nq; ++i) {
        const float inv = 1.0f / l[std::size_t(i)];
        float* dst = out + (b * n + q0 + i) * d + h * hd;
        for (std::int64_t c = 0; c < hd; ++c) dst[c] = ot[std::size_t(c * w + i)] * inv;
      }
    }
  }
}

}  // namespace vit::cpu::kernel
