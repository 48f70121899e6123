// Tensors over the device's binding limits (maxStorageBufferRange, maxTexelBufferElements): ops
// split their dispatches by rows. The limit is lowered with Options::max_binding_bytes so the
// chunked paths run on small inputs; results must equal the unchunked run bit for bit. The
// unchunked side is built with $VIT_VULKAN_MAX_BINDING_BYTES unset (it would cap that side too).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <functional>
#include <string>

#include "fixture_check.hpp"
#include "op_check_v4.hpp"
#include "vulkan_test_support.hpp"

using namespace vit;

namespace {
constexpr std::uint64_t cap = 64 * 1024;

vulkan::Options capped(std::uint64_t bytes = cap) {
  auto o = testing::vulkan_test_options();
  o.max_binding_bytes = bytes;
  return o;
}

// Runs `op` on an uncapped and a capped backend: equal results, and more dispatches when capped.
void check_same(const char* what, const std::function<HostTensor(vulkan::Backend&)>& op) {
  INFO(what);
  vulkan::Backend whole = testing::uncapped_backend(testing::vulkan_test_options()), chunked(capped());
  const HostTensor a = op(whole);
  const HostTensor b = op(chunked);
  CHECK(a.shape == b.shape);
  CHECK(a.data == b.data);
}

// Dispatches recorded by `op` (not yet submitted).
std::size_t dispatches(vulkan::Backend& b, const std::function<void(vulkan::Backend&)>& op) {
  b.synchronize();
  op(b);
  return b.pending_commands();
}
}  // namespace

TEST_CASE("vulkan ops with bindings capped at 64 KiB (row-chunked) match the reference") {
  vulkan::Backend b(capped());
  testing::check_ops_against_reference(b);
}

TEST_CASE("vulkan with bindings capped at 64 KiB matches the PyTorch fixtures") {
  vulkan::Backend b(capped());
  testing::check_radio_fixtures(b, testing::vulkan_fixture_max_abs_error);
}

TEST_CASE("vulkan chunked dispatches equal the unchunked run exactly") {
  const HostTensor w = testing::random_tensor(Shape{200, 256}, 1, 0.0f, 0.06f), bias = testing::random_tensor(Shape{200}, 2);
  const HostTensor x = testing::random_tensor(Shape{300, 256}, 3), y0 = testing::random_tensor(Shape{300, 200}, 4);
  check_same("linear 300x256x200 (x, y and W chunked), bias, GELU, accumulate", [&](vulkan::Backend& b) {
    auto l = b.make_linear(w, &bias);
    auto xb = b.upload(x);
    auto yb = b.upload(y0);
    b.linear(l, xb, yb, Activation::gelu, true);
    return b.download(yb);
  });
  const HostTensor xs = testing::random_tensor(Shape{300, 30}, 5);  // K % 4 != 0: scalar texels
  const HostTensor ws = testing::random_tensor(Shape{70, 30}, 6);
  check_same("linear 300x30x70", [&](vulkan::Backend& b) {
    auto yb = b.alloc(Shape{300, 70});
    b.linear(b.make_linear(ws, nullptr), b.upload(xs), yb, Activation::none, false);
    return b.download(yb);
  });
  const HostTensor xl = testing::random_tensor(Shape{40, 1000}, 7, 2.0f, 3.0f), g = testing::random_tensor(Shape{1000}, 8),
                   be = testing::random_tensor(Shape{1000}, 9);
  check_same("layer_norm 40x1000", [&](vulkan::Backend& b) {
    auto yb = b.alloc(xl.shape);
    b.layer_norm(b.upload(xl), b.upload(g), b.upload(be), 1e-6f, yb);
    return b.download(yb);
  });
  const HostTensor qkv = testing::random_tensor(Shape{2, 150, 3 * 64}, 10, 0.0f, 1.5f);
  check_same("attention B=2 N=150 (queries and keys chunked)", [&](vulkan::Backend& b) {
    auto ob = b.alloc(Shape{2, 150, 64});
    b.attention(b.upload(qkv), 2, default_attention_scale(32), ob);
    return b.download(ob);
  });
  const HostTensor qkv6 = testing::random_tensor(Shape{2, 700, 18}, 11);
  check_same("attention head dim 6 (scalar kernel, per batch element)", [&](vulkan::Backend& b) {
    auto ob = b.alloc(Shape{2, 700, 6});
    b.attention(b.upload(qkv6), 1, default_attention_scale(6), ob);
    return b.download(ob);
  });
  const HostTensor img = testing::random_tensor(Shape{2, 3, 64, 96}, 12), mean(Shape{3}, {0.4f, 0.5f, 0.6f}), sd(Shape{3}, {0.2f, 0.3f, 0.25f});
  check_same("im2patch 2x3x64x96 p16", [&](vulkan::Backend& b) {
    auto ob = b.alloc(Shape{2 * 4 * 6, 3 * 256});
    b.im2patch(b.upload(img), 16, b.upload(mean), b.upload(sd), ob);
    return b.download(ob);
  });
  const HostTensor prefix = testing::random_tensor(Shape{8, 64}, 13), patches = testing::random_tensor(Shape{600, 64}, 14),
                   pos = testing::random_tensor(Shape{300, 64}, 15);
  check_same("assemble_tokens B=2 S=8 T=300 D=64", [&](vulkan::Backend& b) {
    auto hb = b.alloc(Shape{2, 308, 64});
    b.assemble_tokens(b.upload(prefix), b.upload(patches), b.upload(pos), hb);
    return b.download(hb);
  });

  SECTION("the cap really splits the dispatches") {
    vulkan::Backend whole = testing::uncapped_backend(testing::vulkan_test_options()), chunked(capped());
    auto run = [&](vulkan::Backend& b) {
      auto l = b.make_linear(w, &bias);
      auto xb = b.upload(x);
      auto yb = b.alloc(Shape{300, 200});
      auto ab = b.upload(qkv);
      auto ob = b.alloc(Shape{2, 150, 64});
      return dispatches(b, [&](vulkan::Backend& bb) {
        bb.linear(l, xb, yb, Activation::none, false);
        bb.attention(ab, 2, default_attention_scale(32), ob);
      });
    };
    CHECK(run(whole) == 2);
    CHECK(run(chunked) > 6);
  }
}

TEST_CASE("vulkan: what cannot be chunked under the binding limit is a clear unsupported error") {
  auto message_of = [](auto&& f) -> std::string {
    try {
      f();
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::unsupported);
      CHECK(std::string(e.what()).find('\n') == std::string::npos);
      return e.what();
    }
    FAIL("no vit::Error thrown");
    return {};
  };
  vulkan::Backend b(capped(4096));
  auto x = b.alloc(Shape{2, 2048}), g = b.alloc(Shape{2048}), be = b.alloc(Shape{2048}), y = b.alloc(Shape{2, 2048});
  const std::string ln = message_of([&] { b.layer_norm(x, g, be, 1e-6f, y); });
  CHECK(ln.find("layer_norm") != std::string::npos);
  CHECK(ln.find("VIT_VULKAN_MAX_BINDING_BYTES") != std::string::npos);
  auto qkv = b.alloc(Shape{1, 200, 18}), o = b.alloc(Shape{1, 200, 6});  // scalar kernel: one batch element is 14 KiB
  CHECK(message_of([&] { b.attention(qkv, 1, default_attention_scale(6), o); }).find("one batch element") != std::string::npos);
  try {
    vulkan::Backend tiny(capped(100));
    FAIL("a cap under 4096 bytes was accepted");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::argument);
  }
}

// At the device's own limits (no cap): an output of 184 MB, over lavapipe's 128 MiB
// maxStorageBufferRange. Hidden (allocates ~0.8 GB, a few seconds): run with `test_vulkan [big]`.
TEST_CASE("vulkan linear with an output over the device's maxStorageBufferRange", "[.big]") {
  vulkan::Backend b(testing::vulkan_test_options());
  reference::Backend ref;
  const std::int64_t m = 9000, k = 8, n = 5120;
  const HostTensor w = testing::random_tensor(Shape{n, k}, 1), x = testing::random_tensor(Shape{m, k}, 2), bias = testing::random_tensor(Shape{n}, 3);
  auto yb = b.alloc(Shape{m, n});
  b.linear(b.make_linear(w, &bias), b.upload(x), yb, Activation::gelu, false);
  auto yr = ref.alloc(Shape{m, n});
  ref.linear(ref.make_linear(w, &bias), ref.upload(x), yr, Activation::gelu, false);
  VIT_CHECK_CLOSE(b.download(yb), ref.download(yr), testing::Tolerance{});
}

TEST_CASE("vulkan with bindings capped at 64 KiB: head dims 64, 72, 80, activation, scatter_tokens") {
  vulkan::Backend b(capped());
  testing::check_attention_head_dims(b);
  testing::check_activation_op(b);
  testing::check_scatter_tokens_op(b);
}

TEST_CASE("vulkan activation chunked equals unchunked exactly, in more dispatches") {
  const HostTensor x = testing::activation_input(Shape{3, 5, 4304}, 77);  // 252 KiB: 4 chunks at 64 KiB
  for (Activation act : {Activation::gelu, Activation::gelu_tanh, Activation::quick_gelu}) {
    INFO(to_string(act));
    check_same("activation [3, 5, 4304]", [&](vulkan::Backend& b) {
      auto yb = b.alloc(x.shape);
      b.activation(b.upload(x), act, yb);
      return b.download(yb);
    });
  }
  vulkan::Backend whole = testing::uncapped_backend(testing::vulkan_test_options()), chunked(capped());
  auto op = [&](vulkan::Backend& b) {
    auto xb = b.upload(x);
    auto yb = b.alloc(x.shape);
    return dispatches(b, [&](vulkan::Backend& be) { be.activation(xb, Activation::gelu, yb); });
  };
  CHECK(op(whole) == 1);
  CHECK(op(chunked) == 4);
}
