// The reference backend against the official PyTorch outputs.
#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

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
      HostTensor pos = snap.weights->get("model.patch_generator.pos_embed", Shape{1, std::int64_t(cfg.pos_grid_h) * cfg.pos_grid_w, cfg.embed_dim});
      pos.shape = Shape{cfg.pos_grid_h, cfg.pos_grid_w, cfg.embed_dim};
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
  CHECK(message([&] { b.attention(t(Shape{1, 5, 25}), 1, 0.5f, out); }) == "reference attention input: expected [B, N, 3D], got [1, 5, 25]");
  CHECK(message([&] { b.attention(t(Shape{1, 5, 24}), 3, 0.5f, out); }) == "reference attention: width 8 is not divisible by 3 heads");
  CHECK(message([&] { b.attention(t(Shape{1, 6, 24}), 2, 0.5f, out); }) == "reference attention output: expected shape [1, 6, 8], got [1, 5, 8]");
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
    vit::check_precision("reference", vit::Precision::tf32, vit::reference::Backend::precisions);
    FAIL("tf32 accepted");
  } catch (const vit::Error& e) {
    CHECK(e.kind() == vit::ErrorKind::unsupported);
    CHECK(std::string(e.what()) == "reference backend: precision tf32 is not supported (supported: fp32, bf16, fp16)");
  }
}

// attention(qkv, heads, scale) against a plain double-precision softmax written out here.
TEST_CASE("reference attention applies its scale: against a double-precision host softmax") {
  using namespace vit;
  reference::Backend b;
  struct Case { std::int64_t batch, n; int heads; std::int64_t hd; float scale; };
  std::uint32_t seed = 40;
  for (Case c : {Case{2, 7, 2, 8, default_attention_scale(8)}, Case{1, 33, 3, 16, 0.05f}, Case{2, 19, 1, 64, 0.05f}, Case{1, 12, 2, 4, 1.0f},
                 Case{1, 1, 1, 3, 1.0f}}) {
    INFO("B=" << c.batch << " N=" << c.n << " heads=" << c.heads << " head_dim=" << c.hd << " scale=" << c.scale);
    const std::int64_t d = c.heads * c.hd;
    const HostTensor qkv = testing::random_tensor(Shape{c.batch, c.n, 3 * d}, seed++, 0.0f, 1.5f);
    auto at = [&](std::int64_t bi, std::int64_t tok, int part, std::int64_t h, std::int64_t k) {
      return double(qkv.data[std::size_t(((bi * c.n + tok) * 3 + part) * d + h * c.hd + k)]);
    };
    HostTensor want(Shape{c.batch, c.n, d});
    for (std::int64_t bi = 0; bi < c.batch; ++bi)
      for (std::int64_t h = 0; h < c.heads; ++h)
        for (std::int64_t i = 0; i < c.n; ++i) {
          std::vector<double> w(std::size_t(c.n));
          for (std::int64_t j = 0; j < c.n; ++j)
            for (std::int64_t k = 0; k < c.hd; ++k) w[std::size_t(j)] += double(c.scale) * at(bi, i, 0, h, k) * at(bi, j, 1, h, k);
          const double mx = *std::max_element(w.begin(), w.end());
          double sum = 0;
          for (double& v : w) sum += (v = std::exp(v - mx));
          for (std::int64_t k = 0; k < c.hd; ++k) {
            double o = 0;
            for (std::int64_t j = 0; j < c.n; ++j) o += w[std::size_t(j)] / sum * at(bi, j, 2, h, k);
            want.data[std::size_t((bi * c.n + i) * d + h * c.hd + k)] = float(o);
          }
        }
    auto out = b.alloc(Shape{c.batch, c.n, d});
    b.attention(b.upload(qkv), c.heads, c.scale, out);
    VIT_CHECK_CLOSE(b.download(out), want, (testing::Tolerance{1e-6f, 1e-6f}));
  }
  // A bad scale: an argument error with a one-line message.
  auto qkv = b.alloc(Shape{1, 5, 24}), out = b.alloc(Shape{1, 5, 8});
  for (auto [scale, text] : {std::pair{0.0f, "0"}, std::pair{-2.0f, "-2"}, std::pair{NAN, "nan"}, std::pair{INFINITY, "inf"}}) {
    try {
      b.attention(qkv, 2, scale, out);
      FAIL_CHECK("scale " << text << " accepted");
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::argument);
      CHECK(std::string(e.what()) == std::string("reference attention: scale must be finite and > 0, got ") + text);
    }
  }
}

TEST_CASE("reference backend matches the C-RADIOv4 fixture (adaptors, intermediates, ViTDet)") {
  vit::reference::Backend b;
  vit::testing::check_radio_v4_fixture(b);
}
