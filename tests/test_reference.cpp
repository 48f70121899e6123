// The reference backend against the official PyTorch outputs.
#include "fixture_check.hpp"
#include "radio_v4_check.hpp"
#include "vit/nn/position.hpp"

TEST_CASE("reference backend matches the PyTorch fixtures") {
  vit::reference::Backend b;
  vit::testing::check_radio_fixtures(b);
}

TEST_CASE("RADIO's position rule (host, square_crop) matches the PyTorch position embedding") {
  using namespace vit;
  for (const auto& fc : testing::fixture_cases()) {
    DYNAMIC_SECTION(fc.model << "/" << fc.name) {
      const std::string dir = testing::fixture_dir(fc.model);
      auto snap = models::radio::open_snapshot(dir);
      const auto& cfg = snap.config;
      HostTensor input = io::read_npy(dir + "/input_" + fc.name + ".npy");
      const int gh = int(input.shape[2]) / cfg.patch_size, gw = int(input.shape[3]) / cfg.patch_size;
      HostTensor pos = snap.weights->get("model.patch_generator.pos_embed", Shape{1, std::int64_t(cfg.pos_grid) * cfg.pos_grid, cfg.embed_dim});
      pos.shape = Shape{cfg.pos_grid, cfg.pos_grid, cfg.embed_dim};
      HostTensor got = nn::resample_square_crop(pos, gh, gw);
      HostTensor want = io::read_npy(dir + "/" + fc.name + "/inter_02_pos_embed.npy");
      got.shape = want.shape;
      VIT_CHECK_CLOSE(got, want, (testing::Tolerance{1e-6f, 0.0f}));
    }
  }
}

// The shared op validation (vit/op_checks.hpp, used by every backend): shape errors with one-line
// messages prefixed by the backend's name.
TEST_CASE("reference ops reject bad shapes with the shared one-line messages") {
  using namespace vit;
  reference::Backend b;
  auto message = [](auto&& f) -> std::string {
    try {
      f();
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::shape);
      return e.what();
    }
    return "no error";
  };
  auto t = [&](Shape s) { return b.alloc(s); };
  HostTensor w(Shape{8, 4}), bias(Shape{8});
  auto lin = b.make_linear(w, &bias);
  auto y = t(Shape{3, 7});
  CHECK(message([&] { b.make_linear(HostTensor(Shape{8}), nullptr); }) == "reference linear weight: expected [N, K], got [8]");
  CHECK(message([&] { b.linear(lin, t(Shape{3, 5}), y, Activation::none, false); }) ==
        "reference linear input: expected last dimension 4, got [3, 5]");
  CHECK(message([&] { b.linear(lin, t(Shape{3, 4}), y, Activation::none, false); }) ==
        "reference linear output: expected [3, 8] (24 values), got [3, 7]");
  auto ln = t(Shape{2, 8});
  CHECK(message([&] { b.layer_norm(t(Shape{2, 8}), t(Shape{8}), t(Shape{7}), 1e-6f, ln); }) ==
        "reference layer_norm bias: expected 8 values (as the weight [8]), got [7]");
  auto out = t(Shape{1, 5, 8});
  CHECK(message([&] { b.attention(t(Shape{1, 5, 25}), 1, out); }) == "reference attention input: expected [B, N, 3D], got [1, 5, 25]");
  CHECK(message([&] { b.attention(t(Shape{1, 5, 24}), 3, out); }) == "reference attention: width 8 is not divisible by 3 heads");
  CHECK(message([&] { b.attention(t(Shape{1, 6, 24}), 2, out); }) == "reference attention output: expected shape [1, 6, 8], got [1, 5, 8]");
  auto patches = t(Shape{4, 3 * 16 * 16});
  CHECK(message([&] { b.im2patch(t(Shape{1, 3, 32, 32}), 16, t(Shape{2}), t(Shape{3}), patches); }) ==
        "reference im2patch: mean/std must have 3 values, got [2] and [3]");
  auto h = t(Shape{2, 5, 4});
  CHECK(message([&] { b.assemble_tokens(t(Shape{1, 4}), t(Shape{6, 4}), t(Shape{3, 4}), h); }) ==
        "reference assemble_tokens: prefix [1, 4] + patches [6, 4] + pos [3, 4] do not make [2, 5, 4]");
  std::vector<std::int64_t> idx{0, 5};
  auto g = t(Shape{2, 2, 4});
  CHECK(message([&] { b.gather_tokens(h, idx, g); }) == "reference gather_tokens: index 5 outside [0, 5)");
  auto g_bad = t(Shape{2, 3, 4});
  CHECK(message([&] { b.gather_tokens(h, idx, g_bad); }) == "reference gather_tokens output: expected [2, 2, 4] (16 values), got [2, 3, 4]");
}

TEST_CASE("precision: one name parser and one refusal, the same for every backend") {
  CHECK(vit::parse_precision("bf16") == vit::Precision::bf16);
  CHECK(vit::parse_precision("fp32") == vit::Precision::fp32);
  CHECK_THROWS_WITH(vit::parse_precision("fp8"), "precision: expected fp32, tf32, bf16 or fp16, got 'fp8'");
  CHECK_NOTHROW(vit::check_precision("reference", vit::Precision::fp32, vit::reference::Backend::precisions));
  try {
    vit::check_precision("reference", vit::Precision::fp16, vit::reference::Backend::precisions);
    FAIL("fp16 accepted");
  } catch (const vit::Error& e) {
    CHECK(e.kind() == vit::ErrorKind::unsupported);
    CHECK(std::string(e.what()) == "reference backend: precision fp16 is not supported (supported: fp32)");
  }
}

TEST_CASE("reference backend matches the C-RADIOv4 fixture (adaptors, intermediates, ViTDet)") {
  vit::reference::Backend b;
  vit::testing::check_radio_v4_fixture(b);
}
