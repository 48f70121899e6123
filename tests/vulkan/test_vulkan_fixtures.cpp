// The whole C-RADIO forward on the Vulkan backend against the PyTorch golden fixtures.
#include "fixture_check.hpp"
#include "radio_v4_check.hpp"
#include "vulkan_test_support.hpp"

TEST_CASE("vulkan backend matches the PyTorch fixtures") {
  vit::vulkan::Backend b(vit::testing::vulkan_test_options());
  vit::testing::check_radio_fixtures(b, vit::testing::vulkan_fixture_max_abs_error);
}

TEST_CASE("vulkan backend matches the C-RADIOv4 fixture (adaptors, intermediates, ViTDet)") {
  vit::vulkan::Backend b(vit::testing::vulkan_test_options());
  vit::testing::check_radio_v4_fixture(b, vit::testing::vulkan_radio_v4_max_abs_error);
}
