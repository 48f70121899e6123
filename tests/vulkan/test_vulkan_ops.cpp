// Every op of the Vulkan backend against the reference backend (lavapipe in CI), validation on.
#include "op_check.hpp"
#include "vulkan_test_support.hpp"

using namespace vit;

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
