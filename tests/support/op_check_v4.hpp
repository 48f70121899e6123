// Op checks for what C-RADIOv4 adds, shared by the cpu, vulkan and cuda op tests (each runs them
// on its own backend against the reference / host math):
//   check_attention_head_dims   attention at head dims 64, 72, 80: global shapes, ViTDet window
//                               shapes (batch B·nw, N = w² tokens) and odd token counts
//   check_activation_op         activation(x, act, y) for every Activation, in place too
//   check_scatter_tokens_op     scatter_tokens: gather -> scatter round trip, rows not named keep
//                               their values, a permutation in place, no indices, and the errors
// A backend's own test adds what only it has (threads, precisions, chunking, graph capture).
#pragma once
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "op_check.hpp"
#include "vit/nn/optional_ops.hpp"

namespace vit::testing {

// One attention shape: qkv [batch, n, 3·heads·hd].
struct AttentionCase {
  std::int64_t batch, n;
  int heads;
  std::int64_t hd;
};

// For each head dim 64, 72, 80 (C-RADIOv3, C-RADIOv4-SO400M, C-RADIOv4-H): ViTDet windows of
// 2x2, 8x8 and 14x14 patches (batch = images x windows), 3x3 windows and other odd N (N = 1, 9,
// 37, 203: token counts that are not multiples of any tile), a global sequence with 10 prefix
// tokens (3 cls + 7 registers, as SO400M) and the real SO400M / v4-H head count at small N.
inline std::vector<AttentionCase> head_dim_attention_cases() {
  std::vector<AttentionCase> cases;
  for (std::int64_t hd : {64, 72, 80}) {
    cases.push_back({8, 4, 2, hd});     // 2 images x 4 windows of 2x2
    cases.push_back({4, 64, 2, hd});    // 8x8 windows
    cases.push_back({2, 196, 1, hd});   // 14x14 windows
    cases.push_back({6, 9, 3, hd});     // 3x3 windows
    cases.push_back({1, 1, 1, hd});     // one token
    cases.push_back({2, 37, 2, hd});
    cases.push_back({1, 203, 2, hd});   // 10 prefix tokens + 193
    cases.push_back({1, 26, int(hd == 80 ? 1280 / 80 : hd == 72 ? 1152 / 72 : 12), hd});  // the real widths: 16 x 72 = 1152, 16 x 80 = 1280
  }
  return cases;
}

// Attention over head_dim_attention_cases() (inputs ~N(0, 1.5), as the shared op grid).
template <Backend B>
void check_attention_head_dims(B& b, Tolerance tol = {}) {
  reference::Backend ref;
  std::uint32_t seed = 700;
  for (const AttentionCase& c : head_dim_attention_cases()) {
    INFO("attention B=" << c.batch << " N=" << c.n << " heads=" << c.heads << " head_dim=" << c.hd);
    const std::int64_t d = c.heads * c.hd;
    const HostTensor qkv = random_tensor(Shape{c.batch, c.n, 3 * d}, seed++, 0.0f, 1.5f);
    auto ob = b.alloc(Shape{c.batch, c.n, d});
    auto orf = ref.alloc(Shape{c.batch, c.n, d});
    b.attention(b.upload(qkv), c.heads, default_attention_scale(c.hd), ob);
    ref.attention(ref.upload(qkv), c.heads, default_attention_scale(c.hd), orf);
    VIT_CHECK_CLOSE(b.download(ob), ref.download(orf), tol);
  }
}

// Inputs for the activations: N(0, 2) and the edges (0, ±1e-3, large ±x where GELU is x or 0 and
// exp/tanh would overflow in a naive kernel).
inline HostTensor activation_input(const Shape& s, std::uint32_t seed) {
  HostTensor x = random_tensor(s, seed, 0.0f, 2.0f);
  const float edges[] = {0.0f, -0.0f, 1e-3f, -1e-3f, 3.0f, -3.0f, 6.0f, -6.0f, 10.0f, -10.0f, 30.0f, -30.0f, 100.0f, -100.0f, 1e4f, -1e4f};
  for (std::size_t i = 0; i < std::size(edges) && i < x.data.size(); ++i) x.data[i] = edges[i];
  return x;
}

// activation(x, act, y) for every Activation against vit::activate (double), over several sizes
// (one value; not a multiple of any vector width; large enough for a parallel split) and in place.
template <Backend B>
void check_activation_op(B& b, Tolerance tol = {}) {
  std::uint32_t seed = 800;
  for (const Shape& s : {Shape{1}, Shape{7, 333}, Shape{3, 5, 4304}})
    for (Activation act : {Activation::none, Activation::gelu, Activation::gelu_tanh, Activation::quick_gelu}) {
      INFO("activation " << to_string(act) << " on " << s.str());
      const HostTensor x = activation_input(s, seed++);
      HostTensor want(s);
      nn::host::activation(x, act, want);
      auto xb = b.upload(x);
      auto yb = b.alloc(Shape{s.numel()});  // another shape, same element count
      b.activation(xb, act, yb);
      HostTensor got = b.download(yb);
      got.shape = s;
      VIT_CHECK_CLOSE(got, want, tol);
      CHECK(b.download(xb).data == x.data);  // the input is untouched
      b.activation(xb, act, xb);             // in place
      VIT_CHECK_CLOSE(b.download(xb), want, tol);
    }
  // The four activations differ by more than the tolerance on these inputs, so a kernel that
  // computes the wrong one fails above.
  const HostTensor x = activation_input(Shape{7, 333}, 900);
  HostTensor g(x.shape), t(x.shape), q(x.shape);
  nn::host::activation(x, Activation::gelu, g);
  nn::host::activation(x, Activation::gelu_tanh, t);
  nn::host::activation(x, Activation::quick_gelu, q);
  CHECK(worst_ratio(g, t, tol) > 1.0);
  CHECK(worst_ratio(g, q, tol) > 1.0);
  CHECK(worst_ratio(g, x, tol) > 1.0);

  auto y = b.alloc(Shape{7, 332});
  CHECK_THROWS_MATCHES(b.activation(b.alloc(Shape{7, 333}), Activation::gelu, y), Error,
                       Catch::Predicate<Error>([](const Error& e) { return e.kind() == ErrorKind::shape; }));
}

// The window order of ViTDet on a gh x gw grid with `prefix` leading tokens: the patch tokens of
// each w x w window in turn, row-major inside a window (indices into [prefix + gh·gw] tokens).
inline std::vector<std::int64_t> window_order(std::int64_t prefix, std::int64_t gh, std::int64_t gw, std::int64_t w) {
  std::vector<std::int64_t> idx;
  for (std::int64_t wy = 0; wy < gh / w; ++wy)
    for (std::int64_t wx = 0; wx < gw / w; ++wx)
      for (std::int64_t y = 0; y < w; ++y)
        for (std::int64_t x = 0; x < w; ++x) idx.push_back(prefix + (wy * w + y) * gw + wx * w + x);
  return idx;
}

// scatter_tokens on B: results equal the host math exactly (it is a copy).
template <Backend B>
void check_scatter_tokens_op(B& b) {
  std::uint32_t seed = 1000;
  struct Case {
    std::int64_t batch, prefix, gh, gw, w, d;
  };
  // ViTDet layouts (10 prefix tokens as SO400M, or none) and a width that is no multiple of 4.
  for (Case c : {Case{2, 10, 4, 6, 2, 72}, Case{1, 0, 8, 8, 4, 80}, Case{3, 3, 6, 3, 3, 5}, Case{2, 1, 28, 28, 14, 64}}) {
    const std::int64_t n = c.prefix + c.gh * c.gw;
    const std::vector<std::int64_t> idx = window_order(c.prefix, c.gh, c.gw, c.w);
    const std::int64_t len = std::int64_t(idx.size());
    INFO("scatter_tokens B=" << c.batch << " N=" << n << " D=" << c.d << " window " << c.w << " (" << len << " indices)");
    const HostTensor h = random_tensor(Shape{c.batch, n, c.d}, seed++);
    const HostTensor before = random_tensor(Shape{c.batch, n, c.d}, seed++);  // what the target holds first

    // gather into window order, scatter back into another tensor: the indexed rows come back, the
    // prefix rows keep what the target held.
    auto hb = b.upload(h);
    auto windows = b.alloc(Shape{c.batch * len / (c.w * c.w), c.w * c.w, c.d});
    b.gather_tokens(hb, idx, windows);
    auto target = b.upload(before);
    b.scatter_tokens(windows, idx, target);
    HostTensor want = before;
    nn::host::scatter_tokens(b.download(windows), idx, want);
    const HostTensor got = b.download(target);
    CHECK(got.data == want.data);
    for (std::int64_t bi = 0; bi < c.batch; ++bi)
      for (std::int64_t i = 0; i < n; ++i) {
        const float* src = (i < c.prefix ? before : h).data.data() + (bi * n + i) * c.d;
        if (!std::equal(src, src + c.d, got.data.data() + (bi * n + i) * c.d)) FAIL_CHECK("row " << i << " of batch " << bi << " is wrong");
      }

    // A permutation of every row, in place (x is h), against the host math.
    std::vector<std::int64_t> perm(static_cast<std::size_t>(n));
    std::iota(perm.begin(), perm.end(), 0);
    std::reverse(perm.begin(), perm.begin() + c.prefix);
    std::copy(idx.begin(), idx.end(), perm.begin() + c.prefix);
    auto inplace = b.upload(h);
    b.scatter_tokens(inplace, perm, inplace);
    HostTensor want_perm(h.shape);
    nn::host::scatter_tokens(h, perm, want_perm);
    CHECK(b.download(inplace).data == want_perm.data);
  }

  // No indices: nothing is written.
  const HostTensor h = random_tensor(Shape{2, 5, 3}, seed++);
  auto hb = b.upload(h);
  std::vector<std::int64_t> none;
  b.scatter_tokens(b.alloc(Shape{2, 0, 3}), none, hb);
  CHECK(b.download(hb).data == h.data);

  // Errors: an index outside [0, N), negative, twice; x of the wrong size; h not [B, N, D].
  auto is_shape_error = [](const Error& e) { return e.kind() == ErrorKind::shape; };
  auto x = b.upload(random_tensor(Shape{2, 2, 3}, seed++));
  std::vector<std::int64_t> bad{0, 5};
  CHECK_THROWS_MATCHES(b.scatter_tokens(x, bad, hb), Error, Catch::Predicate<Error>(is_shape_error));
  bad = {-1, 2};
  CHECK_THROWS_MATCHES(b.scatter_tokens(x, bad, hb), Error, Catch::Predicate<Error>(is_shape_error));
  bad = {3, 3};
  CHECK_THROWS_WITH(b.scatter_tokens(x, bad, hb), Catch::Contains("index 3 appears twice"));
  bad = {1, 2, 3};
  CHECK_THROWS_MATCHES(b.scatter_tokens(x, bad, hb), Error, Catch::Predicate<Error>(is_shape_error));
  auto flat = b.alloc(Shape{10, 3});
  bad = {0, 1};
  CHECK_THROWS_MATCHES(b.scatter_tokens(x, bad, flat), Error, Catch::Predicate<Error>(is_shape_error));
  CHECK(b.download(hb).data == h.data);  // a refused scatter wrote nothing
}

}  // namespace vit::testing
