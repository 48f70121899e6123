// Op checks for what C-RADIOv4 adds, shared by the cpu, vulkan and cuda op tests (each runs them
// on its own backend against the reference / host math, over the cases of op_cases.hpp):
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

// Attention over the test cases of attention_head_dim_cases() (op_cases.hpp).
template <Backend B>
void check_attention_head_dims(B& b, Tolerance tol = {}) {
  reference::Backend ref;
  std::uint32_t seed = 700;
  for (const AttentionCase& c : cases_for(attention_head_dim_cases(), Use::test)) check_attention_case(b, ref, c, seed++, tol);
}

// Inputs for the activations: N(0, 2) and the edges (0, ±1e-3, large ±x where GELU is x or 0 and
// exp/tanh would overflow in a naive kernel).
inline HostTensor activation_input(const Shape& s, std::uint32_t seed) {
  HostTensor x = random_tensor(s, seed, 0.0f, 2.0f);
  const float edges[] = {0.0f, -0.0f, 1e-3f, -1e-3f, 3.0f, -3.0f, 6.0f, -6.0f, 10.0f, -10.0f, 30.0f, -30.0f, 100.0f, -100.0f, 1e4f, -1e4f};
  for (std::size_t i = 0; i < std::size(edges) && i < x.data.size(); ++i) x.data[i] = edges[i];
  return x;
}

// activation(x, act, y) for the test cases of activation_cases() (every Activation) against
// vit::activate (double), and in place.
template <Backend B>
void check_activation_op(B& b, Tolerance tol = {}) {
  std::uint32_t seed = 800;
  for (const ActivationCase& c : cases_for(activation_cases(), Use::test)) {
    INFO("activation " << c.name);
    const HostTensor x = activation_input(c.shape, seed++);
    HostTensor want(c.shape);
    nn::host::activation(x, c.act, want);
    auto xb = b.upload(x);
    auto yb = b.alloc(Shape{c.shape.numel()});  // another shape, same element count
    b.activation(xb, c.act, yb);
    HostTensor got = b.download(yb);
    got.shape = c.shape;
    VIT_CHECK_CLOSE(got, want, tol);
    CHECK(b.download(xb).data == x.data);  // the input is untouched
    b.activation(xb, c.act, xb);           // in place
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

// scatter_tokens on B over the test cases of scatter_cases(): results equal the host math exactly
// (it is a copy).
template <Backend B>
void check_scatter_tokens_op(B& b) {
  std::uint32_t seed = 1000;
  for (const ScatterCase& c : cases_for(scatter_cases(), Use::test)) {
    const std::int64_t n = c.prefix + c.gh * c.gw;
    const std::vector<std::int64_t> idx = vitdet_window_order(c.prefix, c.gh, c.gw, c.w);
    const std::int64_t len = std::int64_t(idx.size());
    INFO("scatter_tokens " << c.name << " (" << len << " indices)");
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
