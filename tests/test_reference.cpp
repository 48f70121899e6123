// The reference backend against the official PyTorch outputs.
#include "fixture_check.hpp"

TEST_CASE("reference backend matches the PyTorch fixtures") {
  vit::reference::Backend b;
  vit::testing::check_radio_fixtures(b);
}

TEST_CASE("reference resample_pos_embed matches the PyTorch position embedding") {
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
      reference::Backend b;
      auto out = b.alloc(Shape{std::int64_t(gh) * gw, cfg.embed_dim});
      b.resample_pos_embed(b.upload(pos), gh, gw, out);
      HostTensor want = io::read_npy(dir + "/" + fc.name + "/inter_02_pos_embed.npy");
      HostTensor got = b.download(out);
      got.shape = want.shape;
      VIT_CHECK_CLOSE(got, want, (testing::Tolerance{1e-6f, 0.0f}));
    }
  }
}
