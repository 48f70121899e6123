// The timm family: hub snapshots load with the right architecture, and the reference and cpu
// backends match timm's own outputs (tests/data/timm, made by scripts/make_timm_fixtures.py).
#include <catch2/catch.hpp>

#include <algorithm>

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

TEST_CASE("timm: Architecture::parameter_count is exactly the number of weight values the model loads") {
  for (const char* m : {"vit", "deit", "dinov2", "dinov2_reg", "dinov2_swiglu", "siglip"}) {
    INFO(m);
    auto snap = models::timm::open_snapshot(testing::timm_dir(m));
    reference::Backend b;
    Model<reference::Backend> model(b, snap.architecture, *snap.weights);
    const auto& st = dynamic_cast<SafeTensorsWeights&>(*snap.weights);
    const auto unused = st.unused();
    std::int64_t used = 0;
    for (const auto& t : st.file().tensors())
      if (std::find(unused.begin(), unused.end(), t.name) == unused.end()) used += t.shape.numel();
    CHECK(snap.architecture.parameter_count() == used);
  }
}

TEST_CASE("timm: a config field of the wrong type is a one-line error naming it; null means not set") {
  auto st = std::make_shared<io::SafeTensors>(testing::timm_dir("vit") + "/model.safetensors");
  const SafeTensorsWeights w(st, "");
  const std::string text = io::read_text_file(testing::timm_dir("vit") + "/config.json");
  auto with = [&](const std::string& from, const std::string& to) {
    std::string t = text;
    const auto at = t.find(from);
    REQUIRE(at != std::string::npos);
    return json::parse(t.replace(at, from.size(), to));
  };
  const std::string heads = "\"num_heads\": 3";
  for (auto [to, message] : {std::pair{"\"num_heads\": \"3\"", "config.json: field 'model_args.num_heads': expected an integer, got the string \"3\""},
                             {"\"num_heads\": 0", "field 'model_args.num_heads': expected an integer in [1, 65536], got 0"},
                             {"\"num_heads\": 3, \"class_token\": 1", "field 'model_args.class_token': expected true or false, got the number 1"},
                             {"\"num_heads\": 3, \"act_layer\": []", "field 'model_args.act_layer': expected a string, got an array of 0 elements"}}) {
    INFO(to);
    CHECK_THROWS_WITH(models::timm::architecture_from_hub(with(heads, to), w, "config.json"), Catch::Contains(message));
  }
  // null: not set, so the architecture's default (vit_base_patch16_224: 12 heads)
  CHECK(models::timm::architecture_from_hub(with(heads, "\"num_heads\": null"), w, "config.json").num_heads == 12);
  CHECK_THROWS_WITH(models::timm::architecture_from_hub(with("\"model_args\": {", "\"model_args\": 7, \"x\": {"), w, "config.json"),
                    Catch::Contains("field 'model_args': expected an object, got the number 7"));
}

TEST_CASE("a fixed-size timm model refuses another input size") {
  reference::Backend b;
  auto snap = models::timm::open_snapshot(testing::timm_dir("vit"));
  Model<reference::Backend> model(b, snap.architecture, *snap.weights);
  CHECK_THROWS_WITH(model.forward(HostTensor(Shape{1, 3, 32, 64})), Catch::Contains("fixed 64x64 input, got 32x64"));
}

TEST_CASE("Architecture::attention_scale reaches every attention (blocks and attention pooling)") {
  reference::Backend b;
  auto snap = models::timm::open_snapshot(testing::timm_dir("siglip"));
  CHECK(snap.architecture.attention_scale == 0);  // timm's default: 1/sqrt(head_dim)
  const HostTensor x = testing::random_tensor(Shape{1, 3, 64, 64}, 3, 0.5f, 0.2f);
  auto run = [&](float scale, int depth) {
    Architecture a = snap.architecture;
    a.attention_scale = scale;
    a.depth = depth;  // 0: only the attention pooling attends
    return Model<reference::Backend>(b, a, *snap.weights).forward(x);
  };
  const int depth = snap.architecture.depth;
  const HostOutput base = run(0, depth), same = run(default_attention_scale(snap.architecture.head_dim()), depth), other = run(0.05f, depth);
  CHECK(same.summary.data == base.summary.data);
  CHECK(same.features.data == base.features.data);
  CHECK(other.features.data != base.features.data);
  CHECK(run(0.05f, 0).summary.data != run(0, 0).summary.data);
  CHECK_THROWS_WITH(run(-1.0f, depth), Catch::Contains("attention_scale must be finite and >= 0"));
  CHECK_THROWS_WITH(run(NAN, depth), Catch::Contains("attention_scale must be finite and >= 0"));
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
