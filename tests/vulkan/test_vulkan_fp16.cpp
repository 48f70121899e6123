// Options::precision = fp16: weights stored in fp16, linear and attention products in fp16 with fp32 sums
// (over K, the head dim and the keys) and fp32 softmax/LayerNorm statistics. Looser tolerances,
// measured on lavapipe (see docs/vulkan-backend.md).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>

#include "fixture_check.hpp"
#include "op_check_v4.hpp"
#include "vulkan_test_support.hpp"

using namespace vit;

// Measured on lavapipe (Mesa 22.3.6): op grid max |error| 6.8e-3 (attention, inputs ~N(0, 1.5)),
// worst error/(5e-3 + 5e-3|want|) 0.69; fixtures max |error| 6.7e-3. Bounds: about 1.5x (ops,
// at 1e-2 + 1e-2|want|: ~3x) and 3x (fixtures) those.
constexpr testing::Tolerance fp16_tolerance{1e-2f, 1e-2f};
constexpr double fp16_fixture_max_abs = 2e-2;

namespace {
vulkan::Options fp16_options() {
  auto o = testing::vulkan_test_options();
  o.precision = Precision::fp16;
  return o;
}
}  // namespace

TEST_CASE("vulkan refuses a precision it does not compute in, before touching a device") {
  auto o = testing::vulkan_test_options();
  for (Precision p : {Precision::bf16, Precision::tf32}) {
    o.precision = p;
    CHECK_THROWS_WITH(vulkan::Backend(o), std::string("vulkan backend: precision ") + to_string(p) + " is not supported (supported: fp32, fp16)");
  }
}

TEST_CASE("vulkan fp16 ops match the reference backend at the fp16 tolerance") {
  vulkan::Backend b(fp16_options());
  INFO("device: " << b.description());
  testing::check_ops_against_reference(b, fp16_tolerance);
  // No fp32 linear/attention kernel ran (the section's op, if linear or attention, ran in fp16).
  CHECK(b.dispatches("linear") == 0);
  CHECK(b.dispatches("attention") == 0);
}

// fp16 is really computed: on fixture A the fp16 forward runs only fp16 linear/attention kernels,
// differs from the fp32 forward by an fp16-sized amount (fp32 backends agree to ~1e-6; fp16
// rounding of weights and products gives ~1e-3), and is within the fp16 bound of PyTorch.
TEST_CASE("vulkan fp16 computes in fp16: fp16 kernels dispatched, fp16-sized difference from fp32") {
  const std::string dir = testing::fixture_dir("A");
  auto snap = models::radio::open_snapshot(dir);
  const HostTensor input = io::read_npy(dir + "/input_sq128.npy");
  const HostTensor golden = io::read_npy(dir + "/sq128/spatial_features.npy");
  vulkan::Backend b16(fp16_options()), b32(testing::vulkan_test_options());
  const HostTensor f16 = models::radio::Model<vulkan::Backend>(b16, snap.config, *snap.weights).forward(input).features;
  const HostTensor f32 = models::radio::Model<vulkan::Backend>(b32, snap.config, *snap.weights).forward(input).features;
  CHECK(b16.dispatches("linear_f16") > 0);
  CHECK(b16.dispatches("attention_f16") > 0);
  CHECK(b16.dispatches("linear") + b16.dispatches("attention") + b16.dispatches("attention_scalar") == 0);
  CHECK(b16.notes().empty());  // head dim 16: no fp32 fallback
  CHECK(b32.dispatches("linear_f16") + b32.dispatches("attention_f16") == 0);
  double diff = 0, err16 = 0;
  testing::worst_ratio(f16, f32, {1.0f, 0.0f}, &diff);
  testing::worst_ratio(f16, golden, {1.0f, 0.0f}, &err16);
  std::printf("fixture A/sq128: vulkan fp16 vs fp32 max |diff| %.2e, fp16 vs PyTorch max |error| %.2e\n", diff, err16);
  CHECK(diff > 1e-4);
  CHECK(err16 <= fp16_fixture_max_abs);
}

// Head dims not a multiple of 4 have no fp16 attention kernel: the fp32 scalar kernel runs, and
// the backend says so (notes(), description(), and on stderr with Options::verbose).
TEST_CASE("vulkan fp16: attention with a head dim not a multiple of 4 runs in fp32 and is reported") {
  const HostTensor qkv = testing::random_tensor(Shape{2, 37, 3 * 12}, 21);  // 2 heads of dim 6
  auto run = [&](vulkan::Backend& b) {
    auto ob = b.alloc(Shape{2, 37, 12});
    b.attention(b.upload(qkv), 2, default_attention_scale(6), ob);
    return b.download(ob);
  };
  vulkan::Backend b16(fp16_options()), b32(testing::vulkan_test_options());
  CHECK(b16.notes().empty());
  const HostTensor a = run(b16), c = run(b32);
  CHECK(a.data == c.data);  // the fp32 kernel, bit for bit
  CHECK(b16.dispatches("attention_scalar") == 1);
  CHECK(b16.dispatches("attention_f16") == 0);
  REQUIRE(b16.notes().size() == 1);
  CHECK(b16.notes()[0] == "attention with head dim 6 (not a multiple of 4) runs in fp32");
  CHECK(b16.description().find("head dim 6 (not a multiple of 4) runs in fp32") != std::string::npos);
  CHECK(b32.notes().empty());  // fp32 asked, fp32 given: nothing to report
  run(b16);
  CHECK(b16.notes().size() == 1);  // once per head dim
}

TEST_CASE("vulkan fp16 matches the PyTorch fixtures at the fp16 bound") {
  vulkan::Backend b(fp16_options());
  testing::check_radio_fixtures(b, fp16_fixture_max_abs);
}

TEST_CASE("vulkan fp16 with bindings capped (fp16 weight rows chunked) equals the unchunked run") {
  const HostTensor w = testing::random_tensor(Shape{200, 256}, 1, 0.0f, 0.06f), bias = testing::random_tensor(Shape{200}, 2);
  const HostTensor x = testing::random_tensor(Shape{300, 256}, 3);
  auto run = [&](vulkan::Options o) {
    vulkan::Backend b = testing::uncapped_backend(o);  // `capped` lowers the limit itself
    auto yb = b.alloc(Shape{300, 200});
    b.linear(b.make_linear(w, &bias), b.upload(x), yb, Activation::gelu, false);
    return b.download(yb);
  };
  auto capped = fp16_options();
  capped.max_binding_bytes = 64 * 1024;  // W: 200 rows x 512 bytes = 100 KiB in fp16
  const HostTensor a = run(fp16_options()), c = run(capped);
  CHECK(a.data == c.data);
}

// Head dims 72 and 80 (C-RADIOv4) are multiples of 4: the fp16 attention kernel runs them, with no
// fp32 fallback note.
TEST_CASE("vulkan fp16: attention at head dims 64, 72, 80 runs the fp16 kernel") {
  vulkan::Backend b(fp16_options());
  testing::check_attention_head_dims(b, fp16_tolerance);
  CHECK(b.dispatches("attention_f16") > 0);
  CHECK(b.dispatches("attention") + b.dispatches("attention_scalar") == 0);
  CHECK(b.notes().empty());
}

// activation and scatter_tokens work on the fp32 activations in every mode: fp16 gives the fp32
// results (exactly for the copy; within the fp32 tolerance for the activation).
TEST_CASE("vulkan fp16: activation and scatter_tokens are the fp32 ops") {
  vulkan::Backend b(fp16_options());
  testing::check_activation_op(b);
  testing::check_scatter_tokens_op(b);
}
