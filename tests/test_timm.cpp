// The timm family: hub snapshots load with the right architecture, and the reference and cpu
// backends match timm's own outputs (tests/data/timm, made by scripts/make_timm_fixtures.py).
#include <catch2/catch.hpp>

#include "timm_fixture_check.hpp"
#include "vit/backends/reference.hpp"
#ifdef VIT_HAS_CPU_BACKEND
#include "vit/backends/cpu.hpp"
#endif

using namespace vit;

TEST_CASE("timm snapshots load with the architecture timm builds") {
  auto vit = models::timm::open_snapshot(testing::timm_dir("vit"));
  const Architecture& a = vit.architecture;
  CHECK(a.patch_size == 16);
  CHECK(a.embed_dim == 48);
  CHECK(a.depth == 2);
  CHECK(a.num_heads == 3);
  CHECK(a.num_prefix_tokens() == 1);
  CHECK(a.pos_prefix_rows == 1);
  CHECK(a.position == PositionRule::fixed);
  CHECK(a.mean == std::array<float, 3>{0.5f, 0.5f, 0.5f});

  auto reg = models::timm::open_snapshot(testing::timm_dir("dinov2_reg"));
  CHECK(reg.architecture.patch_size == 14);
  CHECK(reg.architecture.num_registers == 4);
  CHECK(reg.architecture.pos_prefix_rows == 0);  // no_embed_class: registers and cls take no position
  CHECK(reg.architecture.layer_scale);
  CHECK(reg.architecture.position == PositionRule::bicubic);

  auto swiglu = models::timm::open_snapshot(testing::timm_dir("dinov2_swiglu"));
  CHECK(swiglu.architecture.mlp == MlpKind::swiglu);
  CHECK(swiglu.architecture.mlp_hidden == 128);

  auto siglip = models::timm::open_snapshot(testing::timm_dir("siglip"));
  CHECK(siglip.architecture.num_prefix_tokens() == 0);
  CHECK(siglip.architecture.pooling == Pooling::attention);
  CHECK(siglip.architecture.mlp_act == Activation::gelu_tanh);
}

TEST_CASE("a fixed-size timm model refuses another input size") {
  reference::Backend b;
  auto snap = models::timm::open_snapshot(testing::timm_dir("vit"));
  Model<reference::Backend> model(b, snap.architecture, *snap.weights);
  CHECK_THROWS_WITH(model.forward(HostTensor(Shape{1, 3, 32, 64})), Catch::Contains("fixed 64x64 input, got 32x64"));
}

TEST_CASE("reference backend matches timm") {
  reference::Backend b;
  testing::check_timm_fixtures(b);
}

#ifdef VIT_HAS_CPU_BACKEND
TEST_CASE("cpu backend matches timm") {
  cpu::Backend b(cpu::Options{2});
  testing::check_timm_fixtures(b);
}
#endif
