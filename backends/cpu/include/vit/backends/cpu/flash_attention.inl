// Fused multi-head attention that never builds the [heads, N, N] score matrix ("flash"
// attention): for each (batch, head, block of up to 64 queries) it walks the keys in blocks of
// kKeyBlock, keeping a running max and sum per query (online softmax) and an fp32 output
// accumulator. The work is done transposed, queries along the vector lanes:
//   S^T[key, q]  = K · (scale·log2(e) · Q)^T        (tile_product, A = packed K rows)
//   P^T          = exp2(S^T - m_new[q]),  l = l·exp2(m - m_new) + Σ_key P^T
//   O^T[c, q]    = O^T · exp2(m - m_new) + V^T · P^T (tile_product, A = packed V read column-wise)
// so every softmax statistic is a vector over queries. Memory per thread: the head's packed K and
// V and its task's pre-scaled Q (up to 3·N·hd floats, 792 KiB at N 1032, hd 64) and four tiles
// (64 KiB at head width 64).
// A fragment, like micro_kernel.inl: flash_attention.hpp includes both once per instruction set.

inline constexpr int kKeyBlock = 64;
inline constexpr std::int64_t kPackAhead = 4;  // rows of qkv prefetched ahead of the packing loop

#ifndef VIT_CPU_PREFETCH
#if defined(__GNUC__) || defined(__clang__)
#define VIT_CPU_PREFETCH(p) __builtin_prefetch(p)
#define VIT_CPU_RESTRICT __restrict__
#else
#define VIT_CPU_PREFETCH(p) ((void)(p))
#define VIT_CPU_RESTRICT
#endif
#endif
inline constexpr float kMinLog2 = -100.0f;  // exp2 below this is taken as 2^-100 (~1e-30): avoids denormals

#if VIT_CPU_AVX512
// All lanes. The maskz_ forms of max/roundscale/scalef avoid GCC 12's false -Wmaybe-uninitialized
// on the plain intrinsics (which pass _mm512_undefined_ps() as the merge source).
inline constexpr __mmask16 kAll = 0xFFFF;

// 2^x for x <= 0 (clamped at kMinLog2): x = n + f, f in [-1/2, 1/2], 2^f by a degree-5 polynomial
// fitted for relative error (max 7.7e-8, 0.65 ulp; weighted least squares on Chebyshev nodes), then
// scaled by 2^n.
inline __m512 exp2_ps(__m512 x) {
  x = _mm512_maskz_max_ps(kAll, x, _mm512_set1_ps(kMinLog2));
  const __m512 n = _mm512_maskz_roundscale_ps(kAll, x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 f = _mm512_sub_ps(x, n);
  __m512 p = _mm512_set1_ps(1.3266979925349478e-03f);
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.675469395426588e-03f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.550742675406942e-02f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4022121576227337e-01f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.931469490692173e-01f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0000000710651662f));
  return _mm512_maskz_scalef_ps(kAll, p, n);
}
#elif VIT_CPU_AVX2
// 2^x for x <= 0 (clamped at kMinLog2), 8 lanes: the AVX-512 build's polynomial; 2^n is added to
// the exponent bits (n >= -100 and 2^f in [0.70, 1.42] keep the result a normal float).
inline __m256 exp2_ps(__m256 x) {
  x = _mm256_max_ps(x, _mm256_set1_ps(kMinLog2));
  const __m256 n = _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m256 f = _mm256_sub_ps(x, n);
  __m256 p = _mm256_set1_ps(1.3266979925349478e-03f);
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(9.675469395426588e-03f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(5.550742675406942e-02f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(2.4022121576227337e-01f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(6.931469490692173e-01f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0000000710651662f));
  const __m256i e = _mm256_slli_epi32(_mm256_cvtps_epi32(n), 23);
  return _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(p), e));
}
#endif

// One key block of the online softmax on s [nk x w] (row-major, w = 16·NV query lanes) whose
// column max block_max[w] the tile product already took: m_new = max(m, block_max); updates the
// running max m[w] and sum l[w], writes P = exp2(s - m_new) into s and the factor
// exp2(m_old - m_new) that rescales the output accumulator into alpha[w]. The query vectors are
// the inner loop so that NV independent sum chains run side by side.
template <int NV>
inline void online_softmax_block(float* s, int nk, const float* block_max, float* m, float* l, float* alpha) {
  constexpr int w = NV * kLanes;
#if VIT_CPU_AVX512
  __m512 mx[NV], m_old[NV], sum[NV];
  VIT_CPU_UNROLL for (int v = 0; v < NV; ++v) {
    m_old[v] = _mm512_loadu_ps(m + v * kLanes);
    mx[v] = _mm512_maskz_max_ps(kAll, m_old[v], _mm512_loadu_ps(block_max + v * kLanes));
  }
  VIT_CPU_UNROLL for (int v = 0; v < NV; ++v) sum[v] = _mm512_setzero_ps();
  for (int j = 0; j < nk; ++j)
    VIT_CPU_UNROLL for (int v = 0; v < NV; ++v) {
      float* sj = s + std::ptrdiff_t(j) * w + v * kLanes;
      const __m512 p = exp2_ps(_mm512_sub_ps(_mm512_loadu_ps(sj), mx[v]));
      _mm512_storeu_ps(sj, p);
      sum[v] = _mm512_add_ps(sum[v], p);
    }
  VIT_CPU_UNROLL for (int v = 0; v < NV; ++v) {
    const __m512 a = exp2_ps(_mm512_sub_ps(m_old[v], mx[v]));
    _mm512_storeu_ps(alpha + v * kLanes, a);
    _mm512_storeu_ps(l + v * kLanes, _mm512_fmadd_ps(_mm512_loadu_ps(l + v * kLanes), a, sum[v]));
    _mm512_storeu_ps(m + v * kLanes, mx[v]);
  }
#elif VIT_CPU_AVX2
  // One 8-lane group of queries at a time down the nk rows (the exp2 polynomial, not the sum
  // chain, bounds this loop).
  for (int g = 0; g < 2 * NV; ++g) {
    const int q = g * 8;
    const __m256 m_old = _mm256_loadu_ps(m + q), mx = _mm256_max_ps(m_old, _mm256_loadu_ps(block_max + q));
    __m256 sum0 = _mm256_setzero_ps(), sum1 = _mm256_setzero_ps();
    int j = 0;
    for (; j + 1 < nk; j += 2) {
      float* s0 = s + std::ptrdiff_t(j) * w + q;
      const __m256 p0 = exp2_ps(_mm256_sub_ps(_mm256_loadu_ps(s0), mx)), p1 = exp2_ps(_mm256_sub_ps(_mm256_loadu_ps(s0 + w), mx));
      _mm256_storeu_ps(s0, p0);
      _mm256_storeu_ps(s0 + w, p1);
      sum0 = _mm256_add_ps(sum0, p0);
      sum1 = _mm256_add_ps(sum1, p1);
    }
    if (j < nk) {
      float* s0 = s + std::ptrdiff_t(j) * w + q;
      const __m256 p0 = exp2_ps(_mm256_sub_ps(_mm256_loadu_ps(s0), mx));
      _mm256_storeu_ps(s0, p0);
      sum0 = _mm256_add_ps(sum0, p0);
    }
    const __m256 a = exp2_ps(_mm256_sub_ps(m_old, mx));
    _mm256_storeu_ps(alpha + q, a);
    _mm256_storeu_ps(l + q, _mm256_fmadd_ps(_mm256_loadu_ps(l + q), a, _mm256_add_ps(sum0, sum1)));
    _mm256_storeu_ps(m + q, mx);
  }
#else
  for (int q = 0; q < w; ++q) {
    const float mx = std::max(m[q], block_max[q]);
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

inline void online_softmax_block(float* s, int nk, int nv, const float* block_max, float* m, float* l, float* alpha) {
  switch (nv) {
    case 1: online_softmax_block<1>(s, nk, block_max, m, l, alpha); break;
    case 2: online_softmax_block<2>(s, nk, block_max, m, l, alpha); break;
    case 3: online_softmax_block<3>(s, nk, block_max, m, l, alpha); break;
    default: online_softmax_block<4>(s, nk, block_max, m, l, alpha); break;
  }
}

// How many tasks each (batch, head) pair is split into along its query blocks: 1 (a task packs
// its head's K and V once and walks all of its queries) unless that leaves threads idle — then
// the fewest groups that share the tasks evenly among the threads or make at least 8 per thread.
inline std::int64_t query_groups(std::int64_t heads_total, std::int64_t blocks, int threads) {
  std::int64_t groups = 1;
  while (groups < blocks && (heads_total * groups) % threads != 0 && heads_total * groups < 8 * std::int64_t(threads)) ++groups;
  return groups;
}

// out[b, i, h·hd + c] = softmax_j(scale · q_i · k_j) v_j[c] for the fused qkv [batch, n, 3d]
// (q | k | v per row, each head-major). Parallel with OpenMP over tasks = (batch, head, group of
// query blocks). A task first packs its head's K and V and its own queries' Q (scaled) densely,
// in one pass down the rows of qkv (rows hd floats apart instead of 3d, so that tiles do not
// collide in L1 sets; up to 3·n·hd floats per thread; reading Q per query block
// instead, strided and unprefetched, took about 10% of the AVX2 build's time), then for each
// block of up to 64 queries walks the keys in blocks of kKeyBlock.
inline void flash_attention(const float* qkv, float* out, std::int64_t batch, std::int64_t n, std::int64_t d, int heads, float scale,
                            int threads) {
  const std::int64_t hd = d / heads, ld = 3 * d, heads_total = batch * heads;
  const float q_scale = float(double(scale) / std::log(2.0));  // scores in the log2 domain
  // Query blocks: n rounded up to 16-lane vectors, split evenly into blocks of at most 4 vectors.
  const std::int64_t vecs = (n + kLanes - 1) / kLanes;
  const std::int64_t blocks = (vecs + kMaxVecs - 1) / kMaxVecs;
  const std::int64_t groups = query_groups(heads_total, blocks, threads);
  const std::int64_t tasks = heads_total * groups;

#pragma omp parallel num_threads(threads) if (tasks > 1)
  {
    constexpr int wmax = kMaxVecs * kLanes;
    Buffer kp(std::size_t(n * hd)), vp(std::size_t(n * hd)), qp(std::size_t(n * hd));
    Buffer qt(std::size_t(hd * wmax)), ot(std::size_t(hd * wmax)), s(std::size_t(kKeyBlock * wmax));
    Buffer m(wmax), l(wmax), alpha(wmax), bmax(wmax);
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t task = 0; task < tasks; ++task) {
      const std::int64_t group = task % groups, bh = task / groups, h = bh % heads, b = bh / heads;
      const float* base = qkv + b * n * ld + h * hd;  // q of token 0; k at +d, v at +2d
      const std::int64_t blk0 = group * blocks / groups, blk1 = (group + 1) * blocks / groups;
      // This task's queries: tokens [qa, qb), packed from qp[0].
      const std::int64_t qa = blk0 * vecs / blocks * kLanes, qb = std::min<std::int64_t>(n, blk1 * vecs / blocks * kLanes);
      for (std::int64_t j = 0; j < n; ++j) {
        if (j + kPackAhead < n) {  // rows are 3d floats apart: too far for the hardware prefetchers
          const float* ahead = base + (j + kPackAhead) * ld;
          const bool with_q = j + kPackAhead >= qa && j + kPackAhead < qb;
          for (std::int64_t c = 0; c < hd; c += 16) {
            if (with_q) VIT_CPU_PREFETCH(ahead + c);
            VIT_CPU_PREFETCH(ahead + d + c);
            VIT_CPU_PREFETCH(ahead + 2 * d + c);
          }
          if (with_q) VIT_CPU_PREFETCH(ahead + hd - 1);
          VIT_CPU_PREFETCH(ahead + d + hd - 1);
          VIT_CPU_PREFETCH(ahead + 2 * d + hd - 1);
        }
        const float* VIT_CPU_RESTRICT q = base + j * ld;
        const float* VIT_CPU_RESTRICT k = q + d;
        const float* VIT_CPU_RESTRICT v = k + d;
        float* VIT_CPU_RESTRICT kd = kp.data() + j * hd;
        float* VIT_CPU_RESTRICT vd = vp.data() + j * hd;
        for (std::int64_t c = 0; c < hd; ++c) {  // one loop for both, so that it is not turned into memcpy calls
          kd[c] = k[c];
          vd[c] = v[c];
        }
        if (j >= qa && j < qb) {
          float* VIT_CPU_RESTRICT qd = qp.data() + (j - qa) * hd;
          for (std::int64_t c = 0; c < hd; ++c) qd[c] = q[c] * q_scale;
        }
      }

      for (std::int64_t blk = blk0; blk < blk1; ++blk) {
        const std::int64_t v0 = blk * vecs / blocks, v1 = (blk + 1) * vecs / blocks;
        const int nv = int(v1 - v0), w = nv * kLanes;
        const std::int64_t q0 = v0 * kLanes, nq = std::min<std::int64_t>(n - q0, w);

        // Q^T [hd x w] from the packed, pre-scaled Q; lanes past the last query are zero.
        if (nq < w) std::fill(qt.begin(), qt.begin() + hd * w, 0.0f);
        for (std::int64_t i = 0; i < nq; ++i) {
          const float* q = qp.data() + (q0 - qa + i) * hd;
          for (std::int64_t c = 0; c < hd; ++c) qt[std::size_t(c * w + i)] = q[c];
        }
        std::fill(ot.begin(), ot.begin() + hd * w, 0.0f);
        std::fill(m.begin(), m.end(), -1e30f);
        std::fill(l.begin(), l.end(), 0.0f);

        for (std::int64_t j0 = 0; j0 < n; j0 += kKeyBlock) {
          const int nk = int(std::min<std::int64_t>(kKeyBlock, n - j0));
          std::fill(bmax.begin(), bmax.end(), -1e30f);
          tile_product<false>(nk, nv, kp.data() + j0 * hd, hd, 1, qt.data(), w, s.data(), w, int(hd), nullptr, bmax.data());
          online_softmax_block(s.data(), nk, nv, bmax.data(), m.data(), l.data(), alpha.data());
          tile_product<true>(int(hd), nv, vp.data() + j0 * hd, 1, hd, s.data(), w, ot.data(), w, nk, j0 > 0 ? alpha.data() : nullptr);
        }

        for (std::int64_t i = 0; i < nq; ++i) {
          const float inv = 1.0f / l[std::size_t(i)];
          float* dst = out + (b * n + q0 + i) * d + h * hd;
          for (std::int64_t c = 0; c < hd; ++c) dst[c] = ot[std::size_t(c * w + i)] * inv;
        }
      }
    }
  }
}

