// The timm family on the Vulkan backend against timm's own outputs (<= 1e-4).
#include "timm_fixture_check.hpp"
#include "vulkan_test_support.hpp"

TEST_CASE("vulkan backend matches timm") {
  vit::vulkan::Backend b(vit::testing::vulkan_test_options());
  vit::testing::check_timm_fixtures(b);
}
