// Options::precision = fp16: weights stored in fp16, linear and attention products in fp16 with fp32 sums
// (over K, the head dim and the keys) and fp32 softmax/LayerNorm statistics; the model's product
// operands are fp16 tensors (TypedTensors), the residual stream fp32. Looser tolerances, measured
// on lavapipe (see docs/vulkan-backend.md).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "fixture_check.hpp"
#include "op_check_v4.hpp"
#include "radio_v4_check.hpp"
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
// writing fp16 operands (the *_y16 variants), differs from the fp32 forward by an fp16-sized amount
// (fp32 backends agree to ~1e-6; fp16 rounding of weights, operands and products gives ~1e-3), and is
// within the fp16 bound of PyTorch.
TEST_CASE("vulkan fp16 computes in fp16: fp16 kernels dispatched, fp16-sized difference from fp32") {
  const std::string dir = testing::fixture_dir("A");
  auto snap = models::radio::open_snapshot(dir);
  const HostTensor input = io::read_npy(dir + "/input_sq128.npy");
  const HostTensor golden = io::read_npy(dir + "/sq128/spatial_features.npy");
  vulkan::Backend b16(fp16_options()), b32(testing::vulkan_test_options());
  const HostTensor f16 = models::radio::Model<vulkan::Backend>(b16, snap.config, *snap.weights).forward(input).features;
  const HostTensor f32 = models::radio::Model<vulkan::Backend>(b32, snap.config, *snap.weights).forward(input).features;
  CHECK(b16.dispatches("linear_f16") > 0);       // into the fp32 residual stream (proj, fc2, patch embedding)
  CHECK(b16.dispatches("linear_f16_y16") > 0);   // into fp16 operands (qkv, fc1)
  CHECK(b16.dispatches("attention_f16_y16") > 0);
  CHECK(b16.dispatches("layer_norm_y16") > 0);
  CHECK(b16.dispatches("im2patch_y16") == 1);
  CHECK(b16.dispatches("linear") + b16.dispatches("attention") + b16.dispatches("attention_scalar") + b16.dispatches("attention_f16") == 0);
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

// Fixture F through every path with fp16 operands: adaptor heads (activation on fp16 tensors),
// intermediates, ViTDet windows (fp16 qkv gathered, attention outputs scattered, prefix rows zeroed).
TEST_CASE("vulkan fp16 matches the C-RADIOv4 fixture (adaptors, intermediates, ViTDet) at the fp16 bound") {
  vulkan::Backend b(fp16_options());
  {  // the heads' activations run on fp16 tensors
    models::Snapshot snap = models::open_model(testing::radio_v4_dir());
    snap.choose_adaptors({"siglip2-g", "dino_v3"});
    Model<vulkan::Backend>(b, snap.architecture, *snap.weights).forward(io::read_npy(testing::radio_v4_dir() + "/input_sq128.npy"));
    CHECK(b.dispatches("activation_x16_y16") > 0);
    CHECK(b.dispatches("activation") == 0);
    CHECK(b.dispatches("attention_f16_y16") > 0);
  }
  testing::check_radio_v4_fixture(b, fp16_fixture_max_abs);
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

namespace {

// A tensor of type t on backend b holding h (rounded to t).
template <class B>
typename B::Tensor typed(B& b, const HostTensor& h, DType t) {
  auto x = b.alloc(h.shape, t);
  b.upload(h, x);
  return x;
}

}  // namespace

TEST_CASE("vulkan fp16: tensors carry their type; upload rounds to fp16, download widens, copy converts") {
  vulkan::Backend b(fp16_options());
  CHECK(b.operand_dtype() == DType::f16);
  CHECK(nn::alloc_operand(b, Shape{3}).dtype == DType::f16);
  CHECK_THROWS_WITH(b.alloc(Shape{3}, DType::bf16), "vulkan backend: cannot allocate a BF16 tensor (expected F32 or F16)");
  vulkan::Backend b32(testing::vulkan_test_options());
  CHECK(b32.operand_dtype() == DType::f32);
  CHECK_THROWS_WITH(b32.alloc(Shape{3}, DType::f16), "vulkan backend: cannot allocate a F16 tensor (expected F32)");

  const HostTensor h = testing::random_tensor(Shape{7, 5}, 3, 0.0f, 100.0f);  // odd count: the last half shares a word
  auto t16 = typed(b, h, DType::f16);
  const HostTensor got = b.download(t16);
  for (std::size_t i = 0; i < h.data.size(); ++i) CHECK(got.data[i] == round_to(DType::f16, h.data[i]));
  auto t32 = b.alloc(h.shape);
  b.copy(t16, t32);  // widen on the device
  CHECK(b.download(t32).data == got.data);
  auto back = b.alloc(h.shape, DType::f16);
  b.copy(b.upload(h), back);  // round on the device
  CHECK(b.download(back).data == got.data);
  CHECK(b.dispatches("activation_x16") == 1);
  CHECK(b.dispatches("activation_y16") == 1);
}

// Every op on fp16 tensors where the model puts them, against the reference backend computing
// fp16 (its oracle: the same stored values, sums in double): the fp16 shader variants run.
TEST_CASE("vulkan fp16 ops on fp16 tensors match the reference backend's fp16 oracle") {
  vulkan::Backend b(fp16_options());
  reference::Backend ref({Precision::fp16});
  const DType h16 = DType::f16, f32 = DType::f32;
  auto both = [&](auto&& op, const Shape& out_shape, DType out_type, const std::string& what, HostTensor y0 = {}) {
    INFO(what);
    auto yb = b.alloc(out_shape, out_type);
    auto yr = ref.alloc(out_shape, out_type);
    if (!y0.data.empty()) b.upload(y0, yb), ref.upload(y0, yr);
    op(b, yb);
    op(ref, yr);
    VIT_CHECK_CLOSE(b.download(yb), ref.download(yr), fp16_tolerance);
  };

  SECTION("linear: fp16 x (vec4 and single-half texels) into fp16 y, or summed into fp32 y") {
    for (std::int64_t k : {72, 30}) {
      const HostTensor w = testing::random_tensor(Shape{50, k}, 1, 0.0f, 0.15f), bias = testing::random_tensor(Shape{50}, 2);
      const HostTensor x = testing::random_tensor(Shape{37, k}, 3), y0 = testing::random_tensor(Shape{37, 50}, 4);
      const auto lb = b.make_linear(w, &bias);
      const auto lr = ref.make_linear(w, &bias);
      auto op = [&](Activation act, bool acc) {
        return [&, act, acc](auto& be, auto& y) {
          if constexpr (std::is_same_v<std::decay_t<decltype(be)>, vulkan::Backend>) be.linear(lb, typed(be, x, h16), y, act, acc);
          else be.linear(lr, typed(be, x, h16), y, act, acc);
        };
      };
      both(op(Activation::gelu, false), Shape{37, 50}, h16, "K " + std::to_string(k) + ", fp16 y, gelu");
      both(op(Activation::none, true), Shape{37, 50}, f32, "K " + std::to_string(k) + ", fp32 y summed into", y0);
    }
    CHECK(b.dispatches("linear_f16_y16") == 2);
    CHECK(b.dispatches("linear_f16") == 2);
  }

  SECTION("layer_norm: every pair of fp32 / fp16 x and y") {
    const HostTensor x = testing::random_tensor(Shape{9, 72}, 5, 3.0f, 2.0f), g = testing::random_tensor(Shape{72}, 6, 1.0f, 0.5f),
                     be = testing::random_tensor(Shape{72}, 7);
    for (DType xt : {f32, h16})
      for (DType yt : {f32, h16})
        both([&](auto& bk, auto& y) { bk.layer_norm(typed(bk, x, xt), bk.upload(g), bk.upload(be), 1e-6f, y); }, Shape{9, 72}, yt,
             std::string("x ") + dtype_name(xt) + ", y " + dtype_name(yt));
    for (const char* v : {"layer_norm", "layer_norm_x16", "layer_norm_y16", "layer_norm_x16_y16"}) CHECK(b.dispatches(v) == 1);
  }

  SECTION("attention: fp16 qkv and out at head dims 64, 72 and 6 (the scalar kernel)") {
    for (std::int64_t hd : {64, 72, 6}) {
      const HostTensor qkv = testing::random_tensor(Shape{2, 37, 3 * 2 * hd}, 8, 0.0f, 1.5f);
      both([&](auto& bk, auto& out) { bk.attention(typed(bk, qkv, h16), 2, default_attention_scale(hd), out); }, Shape{2, 37, 2 * hd}, h16,
           "head dim " + std::to_string(hd));
    }
    CHECK(b.dispatches("attention_f16_y16") == 2);
    CHECK(b.dispatches("attention_scalar_x16_y16") == 1);
    CHECK(b.dispatches("attention_f16") + b.dispatches("attention_scalar") == 0);
  }

  SECTION("im2patch into fp16 patches") {
    const HostTensor img = testing::random_tensor(Shape{2, 3, 32, 48}, 9), mean(Shape{3}, {0.4f, 0.5f, 0.6f}), sd(Shape{3}, {0.2f, 0.3f, 0.25f});
    both([&](auto& bk, auto& out) { bk.im2patch(bk.upload(img), 16, bk.upload(mean), bk.upload(sd), out); }, Shape{12, 768}, h16, "im2patch");
    CHECK(b.dispatches("im2patch_y16") == 1);
  }

  SECTION("activation on fp16 tensors, and gather/scatter of fp16 rows") {
    const HostTensor x = testing::random_tensor(Shape{5, 33}, 10, 0.0f, 2.0f);
    for (Activation act : {Activation::gelu, Activation::gelu_tanh, Activation::quick_gelu})
      both([&](auto& bk, auto& y) { nn::activation(bk, typed(bk, x, h16), act, y); }, Shape{5, 33}, h16, to_string(act));
    CHECK(b.dispatches("activation_x16_y16") == 3);

    const HostTensor h = testing::random_tensor(Shape{2, 5, 8}, 11), rows = testing::random_tensor(Shape{2, 3, 8}, 12);
    const std::vector<std::int64_t> idx{3, 1, 4};
    both([&](auto& bk, auto& out) { bk.gather_tokens(typed(bk, h, h16), idx, out); }, Shape{2, 3, 8}, h16, "gather_tokens");
    both([&](auto& bk, auto& out) { nn::scatter_tokens(bk, typed(bk, rows, h16), idx, out); }, Shape{2, 5, 8}, h16, "scatter_tokens", h);
    auto wide = b.alloc(Shape{2, 3, 8});
    CHECK_THROWS_WITH(b.gather_tokens(typed(b, h, h16), idx, wide), "vulkan gather_tokens: expected tensors of one type, got F16 and F32");
  }
}

// Chunked attention (bindings capped) into an fp16 output: the unnormalised sums between key
// chunks stay in an fp32 scratch, so the result equals the unchunked one.
TEST_CASE("vulkan fp16 attention into fp16 with bindings capped (key chunks) equals the unchunked run") {
  const HostTensor qkv = testing::random_tensor(Shape{1, 300, 3 * 64}, 13, 0.0f, 1.5f);  // 300 rows x 384 bytes in fp16
  auto run = [&](vulkan::Options o) {
    vulkan::Backend b = testing::uncapped_backend(o);
    auto q = b.alloc(qkv.shape, DType::f16);
    b.upload(qkv, q);
    auto out = b.alloc(Shape{1, 300, 64}, DType::f16);
    b.attention(q, 1, default_attention_scale(64), out);
    return b.download(out);
  };
  auto capped = fp16_options();
  capped.max_binding_bytes = 64 * 1024;
  const HostTensor a = run(fp16_options()), c = run(capped);
  CHECK(a.data == c.data);
}

// Chunk sizes count an fp16 row at 2 bytes: under a 64 KiB cap, LayerNorm on [24, 1000] and an
// activation on 30000 values in fp16 (48 / 59 KiB) fit one binding each, so one dispatch each
// (at 4 bytes a value they would take two), with the uncapped results.
TEST_CASE("vulkan fp16 tensors under capped bindings are chunked by their 2-byte size") {
  const HostTensor x = testing::random_tensor(Shape{24, 1000}, 14, 1.0f, 2.0f), g = testing::random_tensor(Shape{1000}, 15),
                   be = testing::random_tensor(Shape{1000}, 16), v = testing::random_tensor(Shape{30000}, 17);
  auto run = [&](vulkan::Options o, std::size_t* norm_dispatches, std::size_t* act_dispatches) {
    vulkan::Backend b = testing::uncapped_backend(o);
    auto xs = b.alloc(x.shape, DType::f16), ys = b.alloc(x.shape, DType::f16), vs = b.alloc(v.shape, DType::f16), ws = b.alloc(v.shape, DType::f16);
    b.upload(x, xs);
    b.upload(v, vs);
    const auto gs = b.upload(g), bs = b.upload(be);
    b.synchronize();
    b.layer_norm(xs, gs, bs, 1e-6f, ys);
    *norm_dispatches = b.pending_commands();
    b.synchronize();
    b.activation(vs, Activation::gelu, ws);
    *act_dispatches = b.pending_commands();
    return std::pair{b.download(ys), b.download(ws)};
  };
  auto capped = fp16_options();
  capped.max_binding_bytes = 64 * 1024;
  std::size_t n_whole = 0, a_whole = 0, n_capped = 0, a_capped = 0;
  const auto whole = run(fp16_options(), &n_whole, &a_whole), chunked = run(capped, &n_capped, &a_capped);
  CHECK(n_capped == n_whole);
  CHECK(a_capped == a_whole);
  CHECK(chunked.first.data == whole.first.data);
  CHECK(chunked.second.data == whole.second.data);
}
