// Op tests shared by every backend (the ggml test-backend-ops pattern): each op of the Backend
// concept runs on backend B and on the reference backend over the test cases of the op case table
// (op_cases.hpp: odd sizes, single rows, tile boundaries), and the results must agree within a
// per-op tolerance.
#pragma once
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "op_cases.hpp"
#include "vit/backends/reference.hpp"

namespace vit::testing {

// Error bound: |got - want| <= atol + rtol * |want|, elementwise. Scale with the precision.
struct Tolerance {
  float atol = 1e-5f;
  float rtol = 1e-4f;
};

inline HostTensor random_tensor(const Shape& s, std::uint32_t seed, float mean = 0.0f, float stddev = 1.0f) {
  HostTensor t(s);
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(mean, stddev);
  for (auto& v : t.data) v = dist(rng);
  return t;
}

// Largest violation ratio: max |got-want| / (atol + rtol|want|); <= 1 passes. NaN fails.
inline double worst_ratio(const HostTensor& got, const HostTensor& want, Tolerance tol, double* max_abs = nullptr) {
  REQUIRE(got.shape == want.shape);
  double worst = 0, mabs = 0;
  for (std::size_t i = 0; i < want.data.size(); ++i) {
    double diff = std::fabs(double(got.data[i]) - want.data[i]);
    if (std::isnan(got.data[i]) || std::isnan(diff)) return INFINITY;
    mabs = std::max(mabs, diff);
    worst = std::max(worst, diff / (tol.atol + tol.rtol * std::fabs(double(want.data[i]))));
  }
  if (max_abs) *max_abs = mabs;
  return worst;
}

#define VIT_CHECK_CLOSE(got, want, tol)                                      \
  do {                                                                       \
    double max_abs_ = 0;                                                     \
    double ratio_ = ::vit::testing::worst_ratio(got, want, tol, &max_abs_);  \
    INFO("max |error| " << max_abs_ << ", worst error/tolerance " << ratio_); \
    CHECK(ratio_ <= 1.0);                                                    \
  } while (0)

// One attention case on B and on the reference backend (inputs from `seed`).
template <Backend B>
void check_attention_case(B& b, reference::Backend& ref, const AttentionCase& c, std::uint32_t seed, Tolerance tol) {
  INFO("attention " << c.name << " (head_dim " << c.hd << ", scale " << c.qk_scale() << ")");
  const HostTensor qkv = random_tensor(Shape{c.batch, c.n, 3 * c.d()}, seed, 0.0f, c.stddev);
  auto ob = b.alloc(Shape{c.batch, c.n, c.d()});
  auto orf = ref.alloc(Shape{c.batch, c.n, c.d()});
  b.attention(b.upload(qkv), c.heads, c.qk_scale(), ob);
  ref.attention(ref.upload(qkv), c.heads, c.qk_scale(), orf);
  VIT_CHECK_CLOSE(b.download(ob), ref.download(orf), tol);
}

// Runs every op on B and on the reference backend and compares. `tol` is for fp32 backends;
// reduced-precision backends pass a looser one.
template <Backend B>
void check_ops_against_reference(B& b, Tolerance tol = {}) {
  reference::Backend ref;
  std::uint32_t seed = 1;

  SECTION("linear") {
    for (const LinearCase& c : cases_for(linear_cases(), Use::test)) {
      INFO("linear " << c.name);
      HostTensor w = random_tensor(Shape{c.n, c.k}, seed++, 0.0f, 1.0f / std::sqrt(float(c.k)));
      HostTensor bv = random_tensor(Shape{c.n}, seed++);
      HostTensor x = random_tensor(Shape{c.m, c.k}, seed++);
      HostTensor y0 = random_tensor(Shape{c.m, c.n}, seed++);
      auto lb = b.make_linear(w, c.bias ? &bv : nullptr);
      auto lr = ref.make_linear(w, c.bias ? &bv : nullptr);
      auto xb = b.upload(x);
      auto yb = b.upload(y0);
      auto xr = ref.upload(x);
      auto yr = ref.upload(y0);
      b.linear(lb, xb, yb, c.act, c.accumulate);
      ref.linear(lr, xr, yr, c.act, c.accumulate);
      VIT_CHECK_CLOSE(b.download(yb), ref.download(yr), tol);
    }
  }

  SECTION("layer_norm") {
    for (const LayerNormCase& c : cases_for(layer_norm_cases(), Use::test)) {
      INFO("layer_norm " << c.name);
      HostTensor x = random_tensor(Shape{c.m, c.d}, seed++, 3.0f, 2.0f);  // offset mean: tests the variance numerics
      HostTensor g = random_tensor(Shape{c.d}, seed++, 1.0f, 0.5f);
      HostTensor be = random_tensor(Shape{c.d}, seed++);
      auto yb = b.alloc(Shape{c.m, c.d});
      auto yr = ref.alloc(Shape{c.m, c.d});
      b.layer_norm(b.upload(x), b.upload(g), b.upload(be), c.eps, yb);
      ref.layer_norm(ref.upload(x), ref.upload(g), ref.upload(be), c.eps, yr);
      VIT_CHECK_CLOSE(b.download(yb), ref.download(yr), tol);
    }
  }

  SECTION("attention") {
    for (const AttentionCase& c : cases_for(attention_cases(), Use::test)) check_attention_case(b, ref, c, seed++, tol);
    // A scale that is not finite or not positive is refused (ErrorKind::argument, one line).
    auto qkv = b.alloc(Shape{1, 3, 12});
    auto out = b.alloc(Shape{1, 3, 4});
    for (float bad : {0.0f, -0.5f, NAN, INFINITY}) {
      INFO("scale " << bad);
      try {
        b.attention(qkv, 2, bad, out);
        FAIL_CHECK("accepted");
      } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::argument);
        CHECK(std::string(e.what()).find("attention: scale must be finite and > 0, got ") != std::string::npos);
        CHECK(std::string(e.what()).find('\n') == std::string::npos);
      }
    }
  }

  SECTION("im2patch") {
    for (const Im2PatchCase& c : cases_for(im2patch_cases(), Use::test)) {
      INFO("im2patch " << c.name);
      HostTensor img = random_tensor(Shape{c.batch, 3, c.h, c.w}, seed++, 0.5f, 0.3f);
      HostTensor mean(Shape{3}, {0.48145466f, 0.4578275f, 0.40821073f});
      HostTensor sd(Shape{3}, {0.26862954f, 0.26130258f, 0.27577711f});
      Shape out{c.batch * (c.h / c.p) * (c.w / c.p), 3 * c.p * c.p};
      auto ob = b.alloc(out);
      auto orf = ref.alloc(out);
      b.im2patch(b.upload(img), c.p, b.upload(mean), b.upload(sd), ob);
      ref.im2patch(ref.upload(img), c.p, ref.upload(mean), ref.upload(sd), orf);
      VIT_CHECK_CLOSE(b.download(ob), ref.download(orf), tol);
    }
  }

  SECTION("assemble_tokens and gather_tokens") {
    for (const TokensCase& c : cases_for(tokens_cases(), Use::test)) {
      INFO("tokens " << c.name);
      HostTensor prefix = random_tensor(Shape{c.s, c.d}, seed++);
      HostTensor patches = random_tensor(Shape{c.batch * c.t, c.d}, seed++);
      HostTensor pos = random_tensor(Shape{c.t, c.d}, seed++);
      Shape hs{c.batch, c.s + c.t, c.d};
      auto hb = b.alloc(hs);
      auto hr = ref.alloc(hs);
      b.assemble_tokens(b.upload(prefix), b.upload(patches), b.upload(pos), hb);
      ref.assemble_tokens(ref.upload(prefix), ref.upload(patches), ref.upload(pos), hr);
      VIT_CHECK_CLOSE(b.download(hb), ref.download(hr), tol);

      std::vector<std::int64_t> idx;
      for (std::int64_t i = c.s + c.t - 1; i >= 0; i -= 2) idx.push_back(i);
      idx.push_back(0);
      Shape gs{c.batch, std::int64_t(idx.size()), c.d};
      auto gb = b.alloc(gs);
      auto gr = ref.alloc(gs);
      b.gather_tokens(hb, idx, gb);
      ref.gather_tokens(hr, idx, gr);
      VIT_CHECK_CLOSE(b.download(gb), ref.download(gr), tol);
    }
  }
}

}  // namespace vit::testing
