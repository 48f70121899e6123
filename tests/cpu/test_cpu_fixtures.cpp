// The CPU backend against the official PyTorch outputs (max |error| <= fixture_max_abs_error).
#include "fixture_check.hpp"
#include "radio_v4_check.hpp"
#include "vit/backends/cpu.hpp"

TEST_CASE("cpu backend matches the PyTorch fixtures") {
  for (int threads : {1, 2}) {
    DYNAMIC_SECTION("threads=" << threads) {
      vit::cpu::Backend b(vit::cpu::Options{threads});
      vit::testing::check_radio_fixtures(b);
    }
  }
}

TEST_CASE("cpu backend matches the C-RADIOv4 fixture (adaptors, intermediates, ViTDet)") {
  for (int threads : {1, 2}) {
    DYNAMIC_SECTION("threads=" << threads) {
      vit::cpu::Backend b(vit::cpu::Options{threads});
      vit::testing::check_radio_v4_fixture(b);
    }
  }
}
