// Register-blocked tile products for the fused attention: C[R x 16·NV] (=|+=) A[R x K] · B[K x 16·NV],
// optionally rescaling the old C by a factor per column first (C = C·diag(col_scale) + A·B) and
// tracking the column max of the new C.
// A is read by broadcast through two strides (row, k), so the same kernel serves S^T = K·Q^T (A = K
// rows of the fused qkv tensor) and O^T += V^T·P^T (A = V read column-wise). B and C are dense
// row-major tiles whose width is a multiple of 16 floats (one AVX-512 vector).
// AVX-512 intrinsics in the avx512 build of this file, AVX2 + FMA intrinsics in the avx2 build, a
// plain loop nest (auto-vectorised) in the portable one. A fragment: flash_attention.hpp includes
// it once per instruction set, inside that set's namespace (VIT_CPU_AVX512 / VIT_CPU_AVX2 say which).

inline constexpr int kLanes = 16;    // floats per column group of a tile
inline constexpr int kMaxVecs = 4;   // widest tile: 64 columns
inline constexpr int kTileRows = 6;  // rows per register block (6 x 4 vectors = 24 accumulators)

// One register block: R rows, NV column vectors, K steps.
template <int R, int NV, bool Accumulate>
inline void micro_tile(const float* a, std::ptrdiff_t a_row, std::ptrdiff_t a_k, const float* b, std::ptrdiff_t ldb, float* c,
                       std::ptrdiff_t ldc, int k, const float* col_scale, float* col_max) {
#if VIT_CPU_AVX512
  __m512 acc[R][NV];
  VIT_CPU_UNROLL for (int r = 0; r < R; ++r)
    VIT_CPU_UNROLL for (int v = 0; v < NV; ++v) acc[r][v] = Accumulate ? _mm512_loadu_ps(c + r * ldc + v * kLanes) : _mm512_setzero_ps();
  if (Accumulate && col_scale)
    VIT_CPU_UNROLL for (int v = 0; v < NV; ++v) {
      const __m512 f = _mm512_loadu_ps(col_scale + v * kLanes);
      VIT_CPU_UNROLL for (int r = 0; r < R; ++r) acc[r][v] = _mm512_mul_ps(acc[r][v], f);
    }
  for (int kk = 0; kk < k; ++kk) {
    __m512 bv[NV];
    VIT_CPU_UNROLL for (int v = 0; v < NV; ++v) bv[v] = _mm512_loadu_ps(b + kk * ldb + v * kLanes);
    const float* ak = a + kk * a_k;
    VIT_CPU_UNROLL for (int r = 0; r < R; ++r) {
      const __m512 av = _mm512_set1_ps(ak[r * a_row]);
      VIT_CPU_UNROLL for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
    }
  }
  VIT_CPU_UNROLL for (int r = 0; r < R; ++r)
    VIT_CPU_UNROLL for (int v = 0; v < NV; ++v) _mm512_storeu_ps(c + r * ldc + v * kLanes, acc[r][v]);
  if (col_max)
    VIT_CPU_UNROLL for (int v = 0; v < NV; ++v) {
      __m512 mx = _mm512_loadu_ps(col_max + v * kLanes);
      VIT_CPU_UNROLL for (int r = 0; r < R; ++r) mx = _mm512_maskz_max_ps(0xFFFF, mx, acc[r][v]);  // maskz: see kAll in flash_attention.hpp
      _mm512_storeu_ps(col_max + v * kLanes, mx);
    }
#elif VIT_CPU_AVX2
  // 16 registers: a block of R rows x 16 columns (2R accumulators, 12 at R = 6) per lane group,
  // the NV groups one after another (A is broadcast again for each).
  for (int v = 0; v < NV; ++v) {
    const int c0 = v * kLanes;
    __m256 acc[R][2];
    VIT_CPU_UNROLL for (int r = 0; r < R; ++r)
      VIT_CPU_UNROLL for (int h = 0; h < 2; ++h) acc[r][h] = Accumulate ? _mm256_loadu_ps(c + r * ldc + c0 + 8 * h) : _mm256_setzero_ps();
    if (Accumulate && col_scale)
      VIT_CPU_UNROLL for (int h = 0; h < 2; ++h) {
        const __m256 f = _mm256_loadu_ps(col_scale + c0 + 8 * h);
        VIT_CPU_UNROLL for (int r = 0; r < R; ++r) acc[r][h] = _mm256_mul_ps(acc[r][h], f);
      }
#pragma GCC unroll 4  // measured on Zen 3: 2-10% more attention GFLOP/s than one K step per iteration
    for (int kk = 0; kk < k; ++kk) {
      const float* bk = b + kk * ldb + c0;
      const __m256 b0 = _mm256_loadu_ps(bk), b1 = _mm256_loadu_ps(bk + 8);
      const float* ak = a + kk * a_k;
      VIT_CPU_UNROLL for (int r = 0; r < R; ++r) {
        const __m256 av = _mm256_broadcast_ss(ak + r * a_row);
        acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
        acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);
      }
    }
    VIT_CPU_UNROLL for (int r = 0; r < R; ++r)
      VIT_CPU_UNROLL for (int h = 0; h < 2; ++h) _mm256_storeu_ps(c + r * ldc + c0 + 8 * h, acc[r][h]);
    if (col_max)
      VIT_CPU_UNROLL for (int h = 0; h < 2; ++h) {
        __m256 mx = _mm256_loadu_ps(col_max + c0 + 8 * h);
        VIT_CPU_UNROLL for (int r = 0; r < R; ++r) mx = _mm256_max_ps(mx, acc[r][h]);
        _mm256_storeu_ps(col_max + c0 + 8 * h, mx);
      }
  }
#else
  constexpr int W = NV * kLanes;
  float acc[R][W];
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < W; ++j) acc[r][j] = Accumulate ? c[r * ldc + j] * (col_scale ? col_scale[j] : 1.0f) : 0.0f;
  for (int kk = 0; kk < k; ++kk) {
    const float* bk = b + kk * ldb;
    for (int r = 0; r < R; ++r) {
      const float av = a[r * a_row + kk * a_k];
      for (int j = 0; j < W; ++j) acc[r][j] += av * bk[j];
    }
  }
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < W; ++j) c[r * ldc + j] = acc[r][j];
  if (col_max)
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < W; ++j) col_max[j] = acc[r][j] > col_max[j] ? acc[r][j] : col_max[j];
#endif
}

template <int R, bool Accumulate>
inline void micro_tile_nv(int nv, const float* a, std::ptrdiff_t a_row, std::ptrdiff_t a_k, const float* b, std::ptrdiff_t ldb,
                          float* c, std::ptrdiff_t ldc, int k, const float* col_scale, float* col_max) {
  switch (nv) {
    case 1: micro_tile<R, 1, Accumulate>(a, a_row, a_k, b, ldb, c, ldc, k, col_scale, col_max); break;
    case 2: micro_tile<R, 2, Accumulate>(a, a_row, a_k, b, ldb, c, ldc, k, col_scale, col_max); break;
    case 3: micro_tile<R, 3, Accumulate>(a, a_row, a_k, b, ldb, c, ldc, k, col_scale, col_max); break;
    default: micro_tile<R, 4, Accumulate>(a, a_row, a_k, b, ldb, c, ldc, k, col_scale, col_max); break;
  }
}

// C[rows x 16·nv] (=|+=) A[rows x k] · B[k x 16·nv], A(r, kk) = a[r*a_row + kk*a_k]; nv in [1, 4].
// With Accumulate and a non-null col_scale [16·nv], the old C is scaled per column before adding.
// With a non-null col_max [16·nv], col_max = max(col_max, max over rows of the new C) per column
// (the attention's softmax takes its block max from there instead of re-reading C).
template <bool Accumulate>
inline void tile_product(int rows, int nv, const float* a, std::ptrdiff_t a_row, std::ptrdiff_t a_k, const float* b,
                         std::ptrdiff_t ldb, float* c, std::ptrdiff_t ldc, int k, const float* col_scale = nullptr,
                         float* col_max = nullptr) {
  int r = 0;
  for (; r + kTileRows <= rows; r += kTileRows)
    micro_tile_nv<kTileRows, Accumulate>(nv, a + r * a_row, a_row, a_k, b, ldb, c + r * ldc, ldc, k, col_scale, col_max);
  const float* ar = a + r * a_row;
  float* cr = c + r * ldc;
  switch (rows - r) {
    case 1: micro_tile_nv<1, Accumulate>(nv, ar, a_row, a_k, b, ldb, cr, ldc, k, col_scale, col_max); break;
    case 2: micro_tile_nv<2, Accumulate>(nv, ar, a_row, a_k, b, ldb, cr, ldc, k, col_scale, col_max); break;
    case 3: micro_tile_nv<3, Accumulate>(nv, ar, a_row, a_k, b, ldb, cr, ldc, k, col_scale, col_max); break;
    case 4: micro_tile_nv<4, Accumulate>(nv, ar, a_row, a_k, b, ldb, cr, ldc, k, col_scale, col_max); break;
    case 5: micro_tile_nv<5, Accumulate>(nv, ar, a_row, a_k, b, ldb, cr, ldc, k, col_scale, col_max); break;
    default: break;
  }
}

