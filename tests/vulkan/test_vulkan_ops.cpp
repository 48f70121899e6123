// Every op of the Vulkan backend against the reference backend (lavapipe in CI), validation on.
#include "op_check.hpp"
#include "op_check_v4.hpp"
#include "vulkan_test_support.hpp"

using namespace vit;

// The optional ops C-RADIOv4 needs are native here, not the host fallback.
static_assert(nn::HasActivation<vulkan::Backend>);
static_assert(nn::HasScatterTokens<vulkan::Backend>);
static_assert(!nn::uses_host_fallback<vulkan::Backend>(nn::OptionalNeeds{.activation = true, .scatter_tokens = true}));

TEST_CASE("vulkan copy round-trips and batches work into one submit") {
  vulkan::Backend b(testing::vulkan_test_options());
  HostTensor x = testing::random_tensor(Shape{3, 37}, 7);
  auto xb = b.upload(x);
  auto yb = b.alloc(x.shape);
  auto zb = b.alloc(x.shape);
  b.copy(xb, yb);
  b.copy(yb, zb);
  CHECK(b.pending_commands() == 2);  // recorded, not yet submitted
  HostTensor z = b.download(zb);
  CHECK(b.pending_commands() == 0);
  CHECK(z.data == x.data);
  HostTensor empty = b.download(b.alloc(Shape{0, 5}));
  CHECK(empty.shape == (Shape{0, 5}));
}

TEST_CASE("vulkan ops match the reference backend") {
  vulkan::Backend b(testing::vulkan_test_options());
  INFO("device: " << b.description());
  testing::check_ops_against_reference(b);
}

TEST_CASE("vulkan splits grids larger than maxComputeWorkGroupCount") {
  vulkan::Backend b(testing::vulkan_test_options());
  reference::Backend ref;
  b.tuning().elementwise = 1;  // one invocation per workgroup: 70,000 groups > 65,535
  const std::int64_t s = 2, t = 34999, d = 2;
  HostTensor prefix = testing::random_tensor(Shape{s, d}, 1), patches = testing::random_tensor(Shape{t, d}, 2),
             pos = testing::random_tensor(Shape{t, d}, 3);
  auto hb = b.alloc(Shape{1, s + t, d});
  auto hr = ref.alloc(Shape{1, s + t, d});
  b.assemble_tokens(b.upload(prefix), b.upload(patches), b.upload(pos), hb);
  ref.assemble_tokens(ref.upload(prefix), ref.upload(patches), ref.upload(pos), hr);
  VIT_CHECK_CLOSE(b.download(hb), ref.download(hr), testing::Tolerance{});
}

TEST_CASE("vulkan linear at a C-RADIO-B width, fused GELU and accumulate") {
  vulkan::Backend b(testing::vulkan_test_options());
  reference::Backend ref;
  HostTensor w = testing::random_tensor(Shape{3072, 768}, 11, 0.0f, 0.036f), bias = testing::random_tensor(Shape{3072}, 12);
  HostTensor x = testing::random_tensor(Shape{21, 768}, 13), y0 = testing::random_tensor(Shape{21, 3072}, 14);
  auto lb = b.make_linear(w, &bias);
  auto yb = b.upload(y0);
  auto yr = ref.upload(y0);
  b.linear(lb, b.upload(x), yb, Activation::gelu, true);
  ref.linear(ref.make_linear(w, &bias), ref.upload(x), yr, Activation::gelu, true);
  VIT_CHECK_CLOSE(b.download(yb), ref.download(yr), testing::Tolerance{});
}

TEST_CASE("vulkan attention with a head dim that is not a multiple of 4 (scalar kernel)") {
  vulkan::Backend b(testing::vulkan_test_options());
  reference::Backend ref;
  const std::int64_t batch = 2, n = 37, heads = 3, hd = 6, d = heads * hd;
  HostTensor qkv = testing::random_tensor(Shape{batch, n, 3 * d}, 21);
  auto ob = b.alloc(Shape{batch, n, d});
  auto orf = ref.alloc(Shape{batch, n, d});
  b.attention(b.upload(qkv), int(heads), default_attention_scale(hd), ob);
  ref.attention(ref.upload(qkv), int(heads), default_attention_scale(hd), orf);
  VIT_CHECK_CLOSE(b.download(ob), ref.download(orf), testing::Tolerance{});
}

TEST_CASE("vulkan linear and attention with other tile shapes (the GPU defaults and odd ones)") {
  vulkan::Backend b(testing::vulkan_test_options());
  reference::Backend ref;
  HostTensor w = testing::random_tensor(Shape{70, 52}, 31, 0.0f, 0.1f), bias = testing::random_tensor(Shape{70}, 32);
  HostTensor x = testing::random_tensor(Shape{19, 52}, 33), qkv = testing::random_tensor(Shape{1, 45, 3 * 32}, 34);
  auto yr = ref.alloc(Shape{19, 70});
  ref.linear(ref.make_linear(w, &bias), ref.upload(x), yr, Activation::gelu, false);
  auto orf = ref.alloc(Shape{1, 45, 32});
  ref.attention(ref.upload(qkv), 2, default_attention_scale(16), orf);
  const HostTensor want_y = ref.download(yr), want_o = ref.download(orf);
  struct T { std::uint32_t lx, tm, tn, block, queries; };
  for (T t : {T{64, 4, 2, 4, 1}, T{8, 3, 5, 1, 3}, T{16, 1, 1, 7, 2}}) {
    INFO("LX " << t.lx << " TM " << t.tm << " TN " << t.tn << " key block " << t.block << " queries " << t.queries);
    b.tuning().gemm_lanes = t.lx, b.tuning().gemm_tm = t.tm, b.tuning().gemm_tn = t.tn;
    b.tuning().attn_lanes = t.lx, b.tuning().attn_block = t.block, b.tuning().attn_queries = t.queries;
    auto yb = b.alloc(Shape{19, 70});
    b.linear(b.make_linear(w, &bias), b.upload(x), yb, Activation::gelu, false);
    VIT_CHECK_CLOSE(b.download(yb), want_y, testing::Tolerance{});
    auto ob = b.alloc(Shape{1, 45, 32});
    b.attention(b.upload(qkv), 2, default_attention_scale(16), ob);
    VIT_CHECK_CLOSE(b.download(ob), want_o, testing::Tolerance{});
  }
}

TEST_CASE("vulkan attention at head dims 64, 72, 80: global, ViTDet windows, odd N, on the vec4 kernel") {
  vulkan::Backend b(testing::vulkan_test_options());
  testing::check_attention_head_dims(b);
  CHECK(b.dispatches("attention") > 0);
  CHECK(b.dispatches("attention_scalar") == 0);  // 64, 72 and 80 are multiples of 4: never the scalar kernel
}

TEST_CASE("vulkan attention at head dims 72 and 80 with the GPU tile defaults and odd ones") {
  vulkan::Backend b(testing::vulkan_test_options());
  reference::Backend ref;
  struct T { std::uint32_t lx, block, queries; };
  std::uint32_t seed = 50;
  for (T t : {T{64, 4, 1}, T{8, 3, 3}, T{16, 7, 2}})
    for (const testing::AttentionCase& c : {testing::attention_case(4, 64, 2, 72), testing::attention_case(3, 37, 2, 80)}) {
      INFO("LX " << t.lx << " key block " << t.block << " queries " << t.queries);
      b.tuning().attn_lanes = t.lx, b.tuning().attn_block = t.block, b.tuning().attn_queries = t.queries;
      testing::check_attention_case(b, ref, c, seed++, testing::Tolerance{});
    }
}

TEST_CASE("vulkan activation: every kind, in place") {
  vulkan::Backend b(testing::vulkan_test_options());
  testing::check_activation_op(b);
  CHECK(b.dispatches("activation") > 0);
}

TEST_CASE("vulkan scatter_tokens: round trip, untouched rows, in place, errors") {
  vulkan::Backend b(testing::vulkan_test_options());
  testing::check_scatter_tokens_op(b);
}
