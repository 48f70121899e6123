// RADIO's "robust PCA" picture of spatial features (RADIO's get_robust_pca / get_pca_map):
//
// fit_robust_pca(f [N, C])   the top-3 principal directions of the centred tokens (basis [C, 3]);
//                            projections p = f @ basis (not centred, as RADIO); per component the
//                            colour range [lo, hi] is the min/max over the inliers, the tokens with
//                            |p - median| / MAD < m (m = 2; median = the lower middle value, as
//                            torch.median). A component without inliers uses its full range.
// pca_colors(f [N, C], basis) -> [3, N] = clamp((f @ basis - lo) / (hi - lo), 0, 1)
// save_pca_basis / load_pca_basis: a small safetensors file (pca.basis [C,3], pca.lo [3], pca.hi [3])
// so that several images or video frames share one colouring.
//
// The directions come from subspace iteration on the centred data in double precision (RADIO uses
// torch.pca_lowrank, a randomised solver); each direction's sign is fixed so that its largest
// entry is positive, which makes the colours deterministic.
#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "vit/io/safetensors.hpp"

namespace vit::io {

struct PcaBasis {
  int channels = 0;
  std::vector<float> basis;  // [channels, 3] row-major: column j is direction j
  std::array<float, 3> lo{}, hi{};
};

namespace detail {
inline float lower_median(std::vector<float> v) {
  const std::size_t k = (v.size() - 1) / 2;
  std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(k), v.end());
  return v[k];
}

// Symmetric 3x3 eigen-decomposition by Jacobi rotations: a -> diagonal, v -> eigenvectors (columns).
inline void jacobi3(double a[3][3], double v[3][3]) {
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) v[i][j] = i == j ? 1.0 : 0.0;
  for (int sweep = 0; sweep < 50; ++sweep) {
    double off = std::abs(a[0][1]) + std::abs(a[0][2]) + std::abs(a[1][2]);
    if (off < 1e-300) break;
    for (int p = 0; p < 2; ++p)
      for (int q = p + 1; q < 3; ++q) {
        if (a[p][q] == 0.0) continue;
        const double theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
        const double t = (theta >= 0 ? 1.0 : -1.0) / (std::abs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (int k = 0; k < 3; ++k) {
          const double akp = a[k][p], akq = a[k][q];
          a[k][p] = c * akp - s * akq;
          a[k][q] = s * akp + c * akq;
        }
        for (int k = 0; k < 3; ++k) {
          const double apk = a[p][k], aqk = a[q][k];
          a[p][k] = c * apk - s * aqk;
          a[q][k] = s * apk + c * aqk;
        }
        for (int k = 0; k < 3; ++k) {
          const double vkp = v[k][p], vkq = v[k][q];
          v[k][p] = c * vkp - s * vkq;
          v[k][q] = s * vkp + c * vkq;
        }
      }
  }
}

// Orthonormalises the 3 columns of q [c, 3] (modified Gram-Schmidt).
inline void orthonormalise(std::vector<double>& q, std::int64_t c) {
  for (int j = 0; j < 3; ++j) {
    for (int i = 0; i < j; ++i) {
      double dot = 0;
      for (std::int64_t r = 0; r < c; ++r) dot += q[std::size_t(r * 3 + i)] * q[std::size_t(r * 3 + j)];
      for (std::int64_t r = 0; r < c; ++r) q[std::size_t(r * 3 + j)] -= dot * q[std::size_t(r * 3 + i)];
    }
    double norm = 0;
    for (std::int64_t r = 0; r < c; ++r) norm += q[std::size_t(r * 3 + j)] * q[std::size_t(r * 3 + j)];
    norm = std::sqrt(norm);
    for (std::int64_t r = 0; r < c; ++r) q[std::size_t(r * 3 + j)] = norm > 0 ? q[std::size_t(r * 3 + j)] / norm : (r == j ? 1.0 : 0.0);
  }
}
}  // namespace detail

// Projections f @ basis: [n, 3].
inline std::vector<float> pca_project(const float* f, std::int64_t n, const PcaBasis& b) {
  std::vector<float> p(std::size_t(n) * 3);
  for (std::int64_t t = 0; t < n; ++t)
    for (int j = 0; j < 3; ++j) {
      double acc = 0;
      for (std::int64_t k = 0; k < b.channels; ++k) acc += double(f[t * b.channels + k]) * b.basis[std::size_t(k * 3 + j)];
      p[std::size_t(t * 3 + j)] = float(acc);
    }
  return p;
}

// f: n tokens of c channels, row-major. m: the inlier threshold in MADs (RADIO: 2).
inline PcaBasis fit_robust_pca(const float* f, std::int64_t n, std::int64_t c, float m = 2.0f) {
  check(n >= 1 && c >= 3, ErrorKind::shape,
        "robust PCA: need at least 1 token and 3 channels, got " + std::to_string(n) + " x " + std::to_string(c));
  std::vector<double> mean(std::size_t(c), 0.0);
  for (std::int64_t t = 0; t < n; ++t)
    for (std::int64_t k = 0; k < c; ++k) mean[std::size_t(k)] += f[t * c + k];
  for (auto& v : mean) v /= double(n);
  std::vector<double> x(std::size_t(n * c));
  for (std::int64_t t = 0; t < n; ++t)
    for (std::int64_t k = 0; k < c; ++k) x[std::size_t(t * c + k)] = f[t * c + k] - mean[std::size_t(k)];

  // Subspace iteration: q <- orth(X^T X q), deterministic start.
  std::vector<double> q(std::size_t(c * 3)), xq(std::size_t(n * 3));
  for (std::int64_t r = 0; r < c; ++r)
    for (int j = 0; j < 3; ++j) q[std::size_t(r * 3 + j)] = std::cos(double(r + 1) * (j + 1) * 0.7853981) + (r % 3 == j ? 1.0 : 0.0);
  detail::orthonormalise(q, c);
  std::vector<double> prev;
  for (int it = 0; it < 300; ++it) {
    prev = q;
    std::fill(xq.begin(), xq.end(), 0.0);
    for (std::int64_t t = 0; t < n; ++t)
      for (std::int64_t k = 0; k < c; ++k) {
        const double v = x[std::size_t(t * c + k)];
        for (int j = 0; j < 3; ++j) xq[std::size_t(t * 3 + j)] += v * q[std::size_t(k * 3 + j)];
      }
    std::fill(q.begin(), q.end(), 0.0);
    for (std::int64_t t = 0; t < n; ++t)
      for (std::int64_t k = 0; k < c; ++k) {
        const double v = x[std::size_t(t * c + k)];
        for (int j = 0; j < 3; ++j) q[std::size_t(k * 3 + j)] += v * xq[std::size_t(t * 3 + j)];
      }
    detail::orthonormalise(q, c);
    double change = 0;
    for (std::size_t i = 0; i < q.size(); ++i) change = std::max(change, std::abs(q[i] - prev[i]));
    if (change < 1e-9) break;
  }
  // Rayleigh-Ritz: rotate q so that its columns are eigenvectors, by decreasing variance.
  std::fill(xq.begin(), xq.end(), 0.0);
  for (std::int64_t t = 0; t < n; ++t)
    for (std::int64_t k = 0; k < c; ++k)
      for (int j = 0; j < 3; ++j) xq[std::size_t(t * 3 + j)] += x[std::size_t(t * c + k)] * q[std::size_t(k * 3 + j)];
  double a[3][3] = {}, v[3][3];
  for (std::int64_t t = 0; t < n; ++t)
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) a[i][j] += xq[std::size_t(t * 3 + i)] * xq[std::size_t(t * 3 + j)];
  detail::jacobi3(a, v);
  std::array<int, 3> order{0, 1, 2};
  std::sort(order.begin(), order.end(), [&](int i, int j) { return a[i][i] > a[j][j]; });

  PcaBasis b;
  b.channels = int(c);
  b.basis.assign(std::size_t(c * 3), 0.0f);
  for (int j = 0; j < 3; ++j) {
    std::vector<double> dir(std::size_t(c), 0.0);
    for (std::int64_t k = 0; k < c; ++k)
      for (int i = 0; i < 3; ++i) dir[std::size_t(k)] += q[std::size_t(k * 3 + i)] * v[i][order[std::size_t(j)]];
    const auto big = std::max_element(dir.begin(), dir.end(), [](double l, double r) { return std::abs(l) < std::abs(r); });
    const double sign = *big < 0 ? -1.0 : 1.0;
    for (std::int64_t k = 0; k < c; ++k) b.basis[std::size_t(k * 3 + j)] = float(sign * dir[std::size_t(k)]);
  }

  const std::vector<float> p = pca_project(f, n, b);
  for (int j = 0; j < 3; ++j) {
    std::vector<float> col(static_cast<std::size_t>(n));
    for (std::int64_t t = 0; t < n; ++t) col[std::size_t(t)] = p[std::size_t(t * 3 + j)];
    const float med = detail::lower_median(col);
    std::vector<float> dev(static_cast<std::size_t>(n));
    for (std::int64_t t = 0; t < n; ++t) dev[std::size_t(t)] = std::abs(col[std::size_t(t)] - med);
    const float mad = detail::lower_median(dev);
    float lo = INFINITY, hi = -INFINITY;
    for (std::int64_t t = 0; t < n; ++t)
      if (dev[std::size_t(t)] / mad < m) {  // MAD 0: 0/0 is NaN (not an inlier), x/0 is inf
        lo = std::min(lo, col[std::size_t(t)]);
        hi = std::max(hi, col[std::size_t(t)]);
      }
    if (!(lo <= hi)) {
      lo = *std::min_element(col.begin(), col.end());
      hi = *std::max_element(col.begin(), col.end());
    }
    b.lo[std::size_t(j)] = lo;
    b.hi[std::size_t(j)] = hi;
  }
  return b;
}

// Colours [3, n] (planar) in [0, 1]; a component with hi == lo maps to 0.
inline std::vector<float> pca_colors(const float* f, std::int64_t n, std::int64_t c, const PcaBasis& b) {
  check(c == b.channels, ErrorKind::shape,
        "PCA basis: made for " + std::to_string(b.channels) + " channels, the features have " + std::to_string(c));
  const std::vector<float> p = pca_project(f, n, b);
  std::vector<float> out(std::size_t(n) * 3);
  for (int j = 0; j < 3; ++j) {
    const float range = b.hi[std::size_t(j)] - b.lo[std::size_t(j)];
    for (std::int64_t t = 0; t < n; ++t) {
      const float v = range > 0 ? (p[std::size_t(t * 3 + j)] - b.lo[std::size_t(j)]) / range : 0.0f;
      out[std::size_t(j * n + t)] = std::clamp(v, 0.0f, 1.0f);
    }
  }
  return out;
}

inline void save_pca_basis(const std::string& path, const PcaBasis& b) {
  write_safetensors(path,
                    {TensorToWrite{"pca.basis", Shape{b.channels, 3}, b.basis, {}, false},
                     TensorToWrite{"pca.lo", Shape{3}, {b.lo.begin(), b.lo.end()}, {}, false},
                     TensorToWrite{"pca.hi", Shape{3}, {b.hi.begin(), b.hi.end()}, {}, false}},
                    {{"format", "vit robust PCA basis"}});
}

inline PcaBasis load_pca_basis(const std::string& path) {
  SafeTensors st(path);
  PcaBasis b;
  const TensorView& basis = st.at("pca.basis");
  check(basis.shape.rank() == 2 && basis.shape[1] == 3 && basis.shape[0] >= 3, ErrorKind::shape,
        path + ": tensor 'pca.basis': expected [C, 3], got " + basis.shape.str());
  b.channels = int(basis.shape[0]);
  b.basis = st.to_float(basis).data;
  for (const char* key : {"pca.lo", "pca.hi"}) {
    const TensorView& t = st.at(key);
    check(t.shape == Shape{3}, ErrorKind::shape, path + ": tensor '" + key + "': expected [3], got " + t.shape.str());
    HostTensor h = st.to_float(t);
    std::copy(h.data.begin(), h.data.end(), (std::string(key) == "pca.lo" ? b.lo : b.hi).begin());
  }
  return b;
}

}  // namespace vit::io
