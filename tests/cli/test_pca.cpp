// Robust PCA: directions, the inlier range, robustness to outlier tokens, basis files.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <random>
#include <vector>

#include "vit/io/pca.hpp"

using namespace vit;

namespace {
// Tokens on a 3-D subspace of a c-dimensional space: t = a*e0*3 + b*e1*2 + c*e2 + small noise.
std::vector<float> structured(std::int64_t n, std::int64_t c, std::mt19937& rng) {
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> f(std::size_t(n * c));
  for (std::int64_t t = 0; t < n; ++t) {
    const float a = nd(rng), b = nd(rng), d = nd(rng);
    for (std::int64_t k = 0; k < c; ++k) f[std::size_t(t * c + k)] = 0.01f * nd(rng) + 5.0f;
    f[std::size_t(t * c + 1)] += 3 * a;
    f[std::size_t(t * c + 4)] += 2 * b;
    f[std::size_t(t * c + 7)] += 1 * d;
  }
  return f;
}
}  // namespace

TEST_CASE("robust PCA finds the principal directions in order") {
  std::mt19937 rng(1);
  const std::int64_t n = 400, c = 16;
  auto f = structured(n, c, rng);
  io::PcaBasis b = io::fit_robust_pca(f.data(), n, c);
  REQUIRE(b.channels == c);
  REQUIRE(b.basis.size() == std::size_t(c * 3));
  CHECK(std::abs(b.basis[1 * 3 + 0]) == Approx(1.0).margin(1e-3));
  CHECK(std::abs(b.basis[4 * 3 + 1]) == Approx(1.0).margin(1e-3));
  CHECK(std::abs(b.basis[7 * 3 + 2]) == Approx(1.0).margin(1e-3));
  for (int j = 0; j < 3; ++j) CHECK(b.lo[std::size_t(j)] < b.hi[std::size_t(j)]);

  auto colors = io::pca_colors(f.data(), n, c, b);
  REQUIRE(colors.size() == std::size_t(3 * n));
  for (float v : colors) REQUIRE((v >= 0.0f && v <= 1.0f));
}

TEST_CASE("robust PCA's colour range ignores a few outlier tokens") {
  std::mt19937 rng(2);
  const std::int64_t n = 256, c = 12;
  auto clean = structured(n, c, rng);
  auto dirty = clean;
  for (std::int64_t t : {3, 50, 200}) dirty[std::size_t(t * c + 1)] = 500.0f;  // 3 huge tokens on the main direction
  io::PcaBasis b = io::fit_robust_pca(dirty.data(), n, c);
  // The outliers pull the first direction but not the per-component range of the inliers: the
  // range stays near the clean data's (2 MADs around the median), far below the outliers' 500.
  auto proj = io::pca_project(dirty.data(), n, b);
  CHECK(b.hi[0] - b.lo[0] < 0.1f * std::abs(proj[3 * 3 + 0] - b.lo[0]));
  auto colors = io::pca_colors(dirty.data(), n, c, b);
  CHECK(colors[3] == Approx(proj[9] > b.hi[0] ? 1.0f : 0.0f));  // outlier token 3 saturates
  int mid = 0;  // most inliers land strictly inside (0, 1)
  for (std::int64_t t = 0; t < n; ++t) mid += colors[std::size_t(t)] > 0.0f && colors[std::size_t(t)] < 1.0f;
  CHECK(mid > n / 2);
}

TEST_CASE("a PCA basis survives a save/load round trip; mismatched channels are an error") {
  std::mt19937 rng(3);
  auto f = structured(64, 10, rng);
  io::PcaBasis b = io::fit_robust_pca(f.data(), 64, 10);
  auto path = (std::filesystem::temp_directory_path() / ("vit_pca_" + std::to_string(::getpid()) + ".safetensors")).string();
  io::save_pca_basis(path, b);
  io::PcaBasis l = io::load_pca_basis(path);
  CHECK(l.channels == b.channels);
  CHECK(l.basis == b.basis);
  CHECK(l.lo == b.lo);
  CHECK(l.hi == b.hi);
  CHECK_THROWS_AS(io::pca_colors(f.data(), 32, 20, l), Error);
  std::filesystem::remove(path);
}
