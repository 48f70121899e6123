// The timm family on the Vulkan backend against timm's own outputs (the Vulkan fp32 bound).
#include "timm_fixture_check.hpp"
#include "vulkan_test_support.hpp"

TEST_CASE("vulkan backend matches timm") {
  vit::vulkan::Backend b(vit::testing::vulkan_test_options());
  vit::testing::check_timm_fixtures(b, vit::testing::vulkan_fixture_max_abs_error);
}
