// Op tests shared by every backend (the ggml test-backend-ops pattern): each op of the Backend
// concept runs on backend B and on the reference backend over a grid of shapes (odd sizes,
// single rows, tile boundaries), and the results must agree within a per-op tolerance.
#pragma once
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <string>
#include <vector>

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

// Runs every op on B and on the reference backend and compares. `tol` is for fp32 backends;
// reduced-precision backends pass a looser one.
template <Backend B>
void check_ops_against_reference(B& b, Tolerance tol = {}) {
  reference::Backend ref;
  std::uint32_t seed = 1;

  SECTION("linear") {
    struct Case { std::int64_t m, k, n; };
    for (Case c : {Case{1, 1, 1}, Case{7, 13, 5}, Case{33, 64, 48}, Case{65, 96, 130}, Case{257, 128, 384}, Case{3, 768, 17}})
      for (bool bias : {false, true})
        for (Activation act : {Activation::none, Activation::gelu})
          for (bool acc : {false, true}) {
            INFO("linear M=" << c.m << " K=" << c.k << " N=" << c.n << " bias=" << bias << " gelu=" << (act == Activation::gelu) << " accumulate=" << acc);
            HostTensor w = random_tensor(Shape{c.n, c.k}, seed++, 0.0f, 1.0f / std::sqrt(float(c.k)));
            HostTensor bv = random_tensor(Shape{c.n}, seed++);
            HostTensor x = random_tensor(Shape{c.m, c.k}, seed++);
            HostTensor y0 = random_tensor(Shape{c.m, c.n}, seed++);
            auto lb = b.make_linear(w, bias ? &bv : nullptr);
            auto lr = ref.make_linear(w, bias ? &bv : nullptr);
            auto xb = b.upload(x);
            auto yb = b.upload(y0);
            auto xr = ref.upload(x);
            auto yr = ref.upload(y0);
            b.linear(lb, xb, yb, act, acc);
            ref.linear(lr, xr, yr, act, acc);
            VIT_CHECK_CLOSE(b.download(yb), ref.download(yr), tol);
          }
  }

  SECTION("layer_norm") {
    for (auto [m, d] : {std::pair<std::int64_t, std::int64_t>{1, 1}, {3, 7}, {17, 768}, {5, 5120}, {130, 48}})
      for (float eps : {1e-6f, 1e-5f}) {
        INFO("layer_norm M=" << m << " D=" << d << " eps=" << eps);
        HostTensor x = random_tensor(Shape{m, d}, seed++, 3.0f, 2.0f);  // offset mean: tests the variance numerics
        HostTensor g = random_tensor(Shape{d}, seed++, 1.0f, 0.5f);
        HostTensor be = random_tensor(Shape{d}, seed++);
        auto yb = b.alloc(Shape{m, d});
        auto yr = ref.alloc(Shape{m, d});
        b.layer_norm(b.upload(x), b.upload(g), b.upload(be), eps, yb);
        ref.layer_norm(ref.upload(x), ref.upload(g), ref.upload(be), eps, yr);
        VIT_CHECK_CLOSE(b.download(yb), ref.download(yr), tol);
      }
  }

  SECTION("attention") {
    struct Case { std::int64_t batch, n; int heads; std::int64_t hd; };
    for (Case c : {Case{1, 1, 1, 4}, Case{2, 5, 2, 8}, Case{1, 67, 3, 16}, Case{2, 130, 4, 64}, Case{1, 300, 2, 80},
                   Case{1, 517, 1, 64}, Case{1, 40, 2, 72}}) {
      INFO("attention B=" << c.batch << " N=" << c.n << " heads=" << c.heads << " head_dim=" << c.hd);
      const std::int64_t d = c.heads * c.hd;
      HostTensor qkv = random_tensor(Shape{c.batch, c.n, 3 * d}, seed++, 0.0f, 1.5f);
      auto ob = b.alloc(Shape{c.batch, c.n, d});
      auto orf = ref.alloc(Shape{c.batch, c.n, d});
      b.attention(b.upload(qkv), c.heads, default_attention_scale(c.hd), ob);
      ref.attention(ref.upload(qkv), c.heads, default_attention_scale(c.hd), orf);
      VIT_CHECK_CLOSE(b.download(ob), ref.download(orf), tol);
    }
  }

  SECTION("attention with an explicit scale") {
    // Scales far from 1/sqrt(hd) (0.125 at 64, 0.35 at 8, 0.41 at 6): a kernel that ignores the
    // argument fails. Inputs keep the logits' spread near 1 (std = scale · stddev² · sqrt(hd)).
    struct Case { std::int64_t batch, n; int heads; std::int64_t hd; float scale, stddev; };
    for (Case c : {Case{2, 37, 2, 64, 0.05f, 1.5f}, Case{1, 130, 2, 8, 1.0f, 0.7f}, Case{1, 40, 1, 72, 0.05f, 1.5f},
                   Case{2, 17, 3, 6, 1.0f, 0.7f}}) {
      INFO("attention B=" << c.batch << " N=" << c.n << " heads=" << c.heads << " head_dim=" << c.hd << " scale=" << c.scale);
      const std::int64_t d = c.heads * c.hd;
      HostTensor qkv = random_tensor(Shape{c.batch, c.n, 3 * d}, seed++, 0.0f, c.stddev);
      auto ob = b.alloc(Shape{c.batch, c.n, d});
      auto orf = ref.alloc(Shape{c.batch, c.n, d});
      b.attention(b.upload(qkv), c.heads, c.scale, ob);
      ref.attention(ref.upload(qkv), c.heads, c.scale, orf);
      VIT_CHECK_CLOSE(b.download(ob), ref.download(orf), tol);
    }
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
    struct Case { std::int64_t batch, h, w; int p; };
    for (Case c : {Case{1, 16, 16, 16}, Case{2, 32, 48, 16}, Case{1, 28, 14, 14}, Case{1, 6, 9, 3}, Case{3, 2, 2, 1}}) {
      INFO("im2patch B=" << c.batch << " H=" << c.h << " W=" << c.w << " p=" << c.p);
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
    for (auto [batch, s, t, d] : {std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t>{1, 1, 1, 1}, {2, 8, 12, 5}, {3, 4, 35, 48}}) {
      INFO("tokens B=" << batch << " S=" << s << " T=" << t << " D=" << d);
      HostTensor prefix = random_tensor(Shape{s, d}, seed++);
      HostTensor patches = random_tensor(Shape{batch * t, d}, seed++);
      HostTensor pos = random_tensor(Shape{t, d}, seed++);
      Shape hs{batch, s + t, d};
      auto hb = b.alloc(hs);
      auto hr = ref.alloc(hs);
      b.assemble_tokens(b.upload(prefix), b.upload(patches), b.upload(pos), hb);
      ref.assemble_tokens(ref.upload(prefix), ref.upload(patches), ref.upload(pos), hr);
      VIT_CHECK_CLOSE(b.download(hb), ref.download(hr), tol);

      std::vector<std::int64_t> idx;
      for (std::int64_t i = s + t - 1; i >= 0; i -= 2) idx.push_back(i);
      idx.push_back(0);
      Shape gs{batch, std::int64_t(idx.size()), d};
      auto gb = b.alloc(gs);
      auto gr = ref.alloc(gs);
      b.gather_tokens(hb, idx, gb);
      ref.gather_tokens(hr, idx, gr);
      VIT_CHECK_CLOSE(b.download(gb), ref.download(gr), tol);
    }
  }
}

}  // namespace vit::testing
